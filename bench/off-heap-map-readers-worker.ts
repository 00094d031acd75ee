// Worker for off-heap-map-readers.bench.ts: looks keys up in batches of 1000, each batch under
// its own arena read view ('map'), or in a Uint32Array table of its own with no view ('private':
// what the machine itself lets this workload scale to); rounds start together at a barrier.
import { parentPort, workerData } from 'node:worker_threads';
import { OffHeapMap, SlabArena, SlabCache, SmallAlloc, type OffHeapMapHandle, type SlabArenaHandle } from '../src/index.js';

/** What the bench sends each worker. */
export interface ReaderParams {
  mode: 'map' | 'private';
  arena: SlabArenaHandle;
  map: OffHeapMapHandle;
  /** The keys to look up (present in the map), in the order to look them up. */
  keys: Uint32Array;
  /** Every key of the map ('private' builds its own table of them). */
  all: Uint32Array;
  /** [0] workers ready (cumulative), [1] round released, [2] workers done (cumulative). */
  sync: SharedArrayBuffer;
  batches: number;
  rounds: number;
}

const BATCH = 1000;
const P = workerData as ReaderParams;
const sync = new Int32Array(P.sync);
const arena = SlabArena.attach(P.arena);
const map = OffHeapMap.attach<number>(P.map, new SmallAlloc(new SlabCache(arena)));

/** The private table: linear probing over [key + 1, value] pairs, as many slots as the map's. */
const cap = P.mode === 'private' ? 2 ** Math.ceil(Math.log2(2 * P.all.length)) : 1;
const own = new Uint32Array(2 * cap);
function home(k: number): number {
  let h = Math.imul(k ^ (k >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & (cap - 1);
}
for (let i = 0; i < (P.mode === 'private' ? P.all.length : 0); i++) {
  const k = P.all[i]!;
  let j = home(k);
  while (own[2 * j] !== 0 && own[2 * j] !== k + 1) j = (j + 1) & (cap - 1);
  own[2 * j] = k + 1;
  own[2 * j + 1] = i;
}
function ownGet(k: number): number | undefined {
  for (let j = home(k); ; j = (j + 1) & (cap - 1)) {
    const x = own[2 * j]!;
    if (x === 0) return undefined;
    if (x === k + 1) return own[2 * j + 1];
  }
}

let at = 0;
function batch(): number {
  let s = 0;
  const keys = P.keys;
  if (P.mode === 'map') {
    const view = arena.openReadView();
    for (let i = 0; i < BATCH; i++) {
      const v = map.get(keys[at]!);
      if (v !== undefined) s ^= v;
      at = at + 1 === keys.length ? 0 : at + 1;
    }
    view.close();
  } else {
    for (let i = 0; i < BATCH; i++) {
      const v = ownGet(keys[at]!);
      if (v !== undefined) s ^= v;
      at = at + 1 === keys.length ? 0 : at + 1;
    }
  }
  return s;
}

let sink = 0;
for (let i = 0; i < 200; i++) sink ^= batch(); // warm-up: optimized code before the first round
for (let r = 1; r <= P.rounds; r++) {
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  Atomics.wait(sync, 1, r - 1);
  for (let b = 0; b < P.batches; b++) sink ^= batch();
  Atomics.add(sync, 2, 1);
  Atomics.notify(sync, 2);
}
parentPort!.postMessage(sink);
