// Worker for off-heap-map-workers.test.ts. Roles:
// - 'writer' w: `ops` sets and deletes of the keys k with k % 2 === w (so each key has one
//   writer, and the final contents are each writer's own replay), values encoding the key, the
//   writer and the op's sequence number; sends its replay as [key, value] pairs.
// - 'reader': until the stop word is set, looks keys up under arena read views and checks that
//   every value found was written for that key; iterates now and then; reports its reads.
import { parentPort, workerData } from 'node:worker_threads';
import { OffHeapMap, SlabArena, SlabCache, SmallAlloc, type OffHeapMapHandle, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { keyOf, valueProblem, KEYS } from './off-heap-map-values.js';

/** What the test sends each worker. */
export interface MapWorkerParams {
  role: 'writer' | 'reader';
  writer: number;
  ops: number;
  arena: SlabArenaHandle;
  map: OffHeapMapHandle;
  /** Int32 word 0: 1 stops the readers. */
  control: SharedArrayBuffer;
  seed: number;
}

/** A reader's report. */
export interface MapReaderReport {
  reads: number;
  found: number;
  bad: number;
  firstProblem: string | null;
}

const P = workerData as MapWorkerParams;
const alloc = new SmallAlloc(new SlabCache(SlabArena.attach(P.arena)));
const map = OffHeapMap.attach<number | string>(P.map, alloc);
const rng = rngFromSeed(P.seed);
const port = parentPort!;

if (P.role === 'writer') {
  const replay = new Map<number | string, number>();
  for (let seq = 1; seq <= P.ops; seq++) {
    const n = 2 * rng.int(0, KEYS / 2 - 1) + P.writer;
    const key = keyOf(map.keyKind, n);
    if (rng.chance(0.2)) {
      map.delete(key);
      replay.delete(key);
    } else {
      const value = ((n << 20) | (P.writer << 19) | seq) >>> 0;
      map.set(key, value);
      replay.set(key, value);
    }
  }
  port.postMessage([...replay]);
} else {
  const stop = new Int32Array(P.control);
  const arena = alloc.cache.arena;
  let reads = 0;
  let found = 0;
  let bad = 0;
  let firstProblem: string | null = null;
  port.postMessage('ready');
  while (Atomics.load(stop, 0) === 0) {
    const view = arena.openReadView();
    try {
      for (let k = 0; k < 64; k++) {
        const n = rng.int(0, KEYS - 1);
        const v = map.get(keyOf(map.keyKind, n));
        reads++;
        if (v === undefined) continue;
        found++;
        const problem = valueProblem(n, v);
        if (problem !== null) {
          bad++;
          firstProblem ??= problem;
        }
      }
      if (rng.chance(0.01)) {
        for (const [key, v] of map) {
          const n = typeof key === 'string' ? Number(key.slice(1)) : key;
          const problem = valueProblem(n, v);
          if (problem !== null) {
            bad++;
            firstProblem ??= `iterating: ${problem}`;
          }
        }
      }
    } finally {
      view.close();
    }
  }
  const report: MapReaderReport = { reads, found, bad, firstProblem };
  port.postMessage(report);
}
