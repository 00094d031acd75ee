/**
 * SlabArena under many workers: random runs mapped and unmapped at once by several workers
 * over one arena, each worker stamping what it holds; then the same with a worker terminated
 * in the middle. Seeded: the seed is printed, and `SEED=n` replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena } from '../../../src/index.js';
import { runWorkers } from '../../multi/support.js';
import { seeded } from '../../../dev/rng.js';
import type { StressParams, StressReport } from './slab-arena-stress-worker.js';

const KB64 = 64 * 1024;
const SCRIPT = new URL('./slab-arena-stress-worker.js', import.meta.url);

test('workers mapping and unmapping random runs at once never share a slab, and every free slab coalesces at the end', async () => {
  const rng = seeded('slab arena stress');
  const quota = new Quota(48 * KB64);
  const a = new SlabArena({ quota, slabSize: KB64, maximum: 96 * KB64 });
  const workers = 4;
  const sync = new SharedArrayBuffer(4 * (2 + workers));
  const params: StressParams[] = Array.from({ length: workers }, (_, i) => ({
    handle: a.handle(), id: i + 1, workers, seed: (rng.seed + 7919 * (i + 1)) >>> 0,
    steps: 2000, ms: 4000, maxRun: 6, maxLive: 6, sync,
  }));
  const reports = await runWorkers<StressReport>(SCRIPT, params, 30_000);
  for (const r of reports) {
    assert.deepEqual(r.bad, [], `worker ${r.id}`);
    assert.ok(r.maps > 0 && r.unmaps === r.maps, `worker ${r.id}: ${JSON.stringify(r)}`);
  }
  assert.ok(reports.some((r) => r.runs > 0), 'runs were mapped');
  assert.equal(a.used, 0, 'every worker unmapped what it mapped');
  a.check();
  assert.equal(quota.used, a.carved, 'the quota holds exactly the carved slabs');
  const carved = a.carved / KB64;
  const all = a.tryMapRun(carved);
  assert.equal(all, a.ctrlSlabs * KB64, `one run of all ${carved} carved slabs maps, from the first`);
  assert.equal(quota.used, carved * KB64, 'nothing new was carved for it');
  a.unmap(all);
  a.check();
});

test('a worker terminated while it maps and unmaps corrupts nothing: check() passes, attach works, the arena goes on', async () => {
  const rng = seeded('slab arena kill');
  for (let round = 0; round < 3; round++) {
    const quota = new Quota(32 * KB64);
    const a = new SlabArena({ quota, slabSize: KB64, maximum: 64 * KB64 });
    const sync = new Int32Array(new SharedArrayBuffer(4 * 3));
    const data: StressParams = {
      handle: a.handle(), id: 1, workers: 1, seed: (rng.seed + 101 * round) >>> 0,
      steps: -1, ms: 30_000, maxRun: 4, maxLive: 5, sync: sync.buffer as SharedArrayBuffer,
    };
    const w = new Worker(SCRIPT, { workerData: data });
    let error: Error | null = null;
    w.on('error', (e) => { error = e; });
    try {
      const killAt = rng.int(100, 3000);
      const deadline = Date.now() + 10_000;
      while (Atomics.load(sync, 2) < killAt) {
        assert.equal(error, null);
        assert.ok(Date.now() < deadline, 'the worker makes progress');
        await sleep(1);
      }
    } finally {
      await w.terminate();
    }
    assert.equal(error, null);
    a.check();
    const b = SlabArena.attach(structuredClone(a.handle()));
    b.check();
    // At most what the worker held (5 runs of at most 4 slabs) and one map in flight is lost.
    const got: number[] = [];
    for (let p = b.tryMap(); p !== 0; p = b.tryMap()) got.push(p);
    assert.ok(got.length >= 32 - 5 * 4 - 4, `round ${round}: ${got.length} slabs could still be mapped`);
    for (const p of got) a.unmap(p);
    a.check();
  }
});
