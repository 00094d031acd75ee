/**
 * A reader of the record store, in a worker thread. The off-heap store's reader attaches to the
 * shared memory (the records' arena, the index's memory), rebuilds the record layout from its
 * plain data, and looks records up while the main thread updates them; every record it reaches
 * must carry the id it looked up. The Map store's reader works on the copy it was sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { defineLayout, Memory, SlabArena, type FieldRecord, type SlabArenaHandle } from 'binalloc';
import { search } from './record-store-lib.js';

interface OffHeapData {
  kind: 'offheap';
  records: SlabArenaHandle;
  index: SharedArrayBuffer;
  head: number;
  fields: FieldRecord;
  lookups: number;
  seed: number;
}
interface MapData {
  kind: 'map';
  records: [number, number][];
  lookups: number;
  seed: number;
}

const data = workerData as OffHeapData | MapData;
let s = data.seed >>> 0 || 1;
const next = (): number => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  s >>>= 0;
  return s;
};

let ok = true;
let sum = 0;
let ms: number;
if (data.kind === 'offheap') {
  const arena = SlabArena.attach(data.records);
  const rec = defineLayout(data.fields).cursor(arena.memory) as { ptr: number; id: number; score: number };
  const index = Memory.wrap(data.index);
  const n = data.lookups;
  const t0 = performance.now();
  let u32 = index.u32;
  let i32 = index.i32;
  for (let i = 0; i < n; i++) {
    const key = 1 + (next() % n);
    if ((i & 0xfff) === 0) {
      u32 = index.u32;
      i32 = index.i32;
    }
    const p = search(u32, i32, data.head, key);
    if (p === 0) continue;
    rec.ptr = p;
    if (rec.id !== key) ok = false;
    sum += rec.score;
  }
  ms = performance.now() - t0;
} else {
  const map = new Map(data.records);
  const n = data.lookups;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sum += map.get(1 + (next() % n)) ?? 0;
  ms = performance.now() - t0;
}
parentPort!.postMessage({ ms, lookups: data.lookups, ok: ok && Number.isFinite(sum) });
