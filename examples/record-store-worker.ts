/**
 * A reader of the record store, in a worker thread, running while the main thread updates the
 * records. The off-heap store's reader attaches to the shared memory (the records' arena and
 * their `OffHeapMap` index), rebuilds the record layout from its plain data, and looks records
 * up in batches, each under a read view of the arena: every record it reaches must carry the id
 * it looked up, or it counts as torn or reused. The Map store's reader works on the copy it was
 * sent (it never sees an update).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { defineLayout, OffHeapMap, SlabArena, SlabCache, SmallAlloc, type FieldRecord, type OffHeapMapHandle, type SlabArenaHandle } from 'binalloc';

interface OffHeapData {
  kind: 'offheap';
  arena: SlabArenaHandle;
  index: OffHeapMapHandle;
  fields: FieldRecord;
  n: number;
  seed: number;
  stop: SharedArrayBuffer;
}
interface MapData {
  kind: 'map';
  records: [number, number][];
  n: number;
  seed: number;
  stop: SharedArrayBuffer;
}

const BATCH = 64;
const data = workerData as OffHeapData | MapData;
const stop = new Int32Array(data.stop);
let s = data.seed >>> 0 || 1;
const next = (): number => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  s >>>= 0;
  return s;
};

let bad = 0;
let sum = 0;
let lookups = 0;
let t0: number;
if (data.kind === 'offheap') {
  const arena = SlabArena.attach(data.arena);
  const index = OffHeapMap.attach<number>(data.index, new SmallAlloc(new SlabCache(arena)));
  const rec = defineLayout(data.fields).cursor(arena.memory) as { ptr: number; id: number; score: number };
  Atomics.add(stop, 1, 1);
  t0 = performance.now();
  while (Atomics.load(stop, 0) === 0) {
    const view = arena.openReadView(); // look up, read, close: the writer never waits
    for (let k = 0; k < BATCH; k++) {
      const key = 1 + (next() % data.n);
      const p = index.get(key);
      if (p === undefined) continue;
      rec.ptr = p;
      if (rec.id !== key) bad++;
      sum += rec.score;
    }
    view.close();
    lookups += BATCH;
  }
} else {
  const map = new Map(data.records);
  Atomics.add(stop, 1, 1);
  t0 = performance.now();
  while (Atomics.load(stop, 0) === 0) {
    for (let k = 0; k < BATCH; k++) sum += map.get(1 + (next() % data.n)) ?? 0;
    lookups += BATCH;
  }
}
parentPort!.postMessage({ ms: performance.now() - t0, lookups, bad: Number.isFinite(sum) ? bad : bad + 1 });
