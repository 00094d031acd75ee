import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { OffHeapMap, Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import type { MapReaderReport, MapWorkerParams } from './off-heap-map-worker.js';

const SCRIPT = new URL('./off-heap-map-worker.js', import.meta.url);
const OPS = 20_000;

for (const keys of ['u32', 'string'] as const) {
  test(`OffHeapMap (${keys} keys): two writer workers and two reader workers; the contents are the writers' replays, readers see only values written for their key`, async (t) => {
    const rng = seeded(`off-heap map workers ${keys}`);
    const arena = new SlabArena({ quota: new Quota(256 * 1024 * 1024) });
    const alloc = new SmallAlloc(new SlabCache(arena));
    const map = new OffHeapMap<number | string>(alloc, { keys });
    const control = new SharedArrayBuffer(4);
    const start = (role: 'writer' | 'reader', i: number): Worker => {
      const params: MapWorkerParams = { role, writer: i, ops: OPS, arena: arena.handle(), map: map.handle(), control, seed: (rng.seed + 17 * i + (role === 'reader' ? 1000 : 0)) >>> 0 };
      const w = new Worker(SCRIPT, { workerData: params });
      void alloc.adoptOnExit(w);
      return w;
    };
    const readers = [0, 1].map((i) => start('reader', i));
    const reports = readers.map((w) => once(w, 'message').then(() => once(w, 'message')).then(([m]) => m as MapReaderReport));
    await Promise.all(readers.map((w) => once(w, 'online')));
    const writers = [0, 1].map((i) => start('writer', i));
    try {
      const replays = await Promise.all(writers.map((w) => once(w, 'message').then(([m]) => m as [number | string, number][])));
      Atomics.store(new Int32Array(control), 0, 1);
      const got = await Promise.all(reports);
      const reads = got.reduce((n, r) => n + r.reads, 0);
      const found = got.reduce((n, r) => n + r.found, 0);
      const bad = got.reduce((n, r) => n + r.bad, 0);
      t.diagnostic(`${reads} reads (${found} found) during ${2 * OPS} writes`);
      assert.equal(bad, 0, `${bad} bad reads (first: ${got.find((r) => r.firstProblem)?.firstProblem})`);
      assert.ok(found > 1000, `the readers found values (${found} of ${reads})`);
      const expected = new Map<number | string, number>([...replays[0]!, ...replays[1]!]);
      assert.deepEqual(new Map(map.entries()), expected);
      assert.equal(map.size, expected.size);
      map.check();
    } finally {
      Atomics.store(new Int32Array(control), 0, 1);
      await Promise.all([...readers, ...writers].map((w) => w.terminate()));
    }
    // The workers are gone: their allocators' memory is adopted; the map is still whole, and
    // emptying it frees everything (the deleted keys the writers freed included).
    await new Promise((r) => setTimeout(r, 50));
    map.check();
    map.clear();
    alloc.stats();
    alloc.check();
  });
}
