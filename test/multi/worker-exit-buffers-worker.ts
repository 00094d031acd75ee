// Worker for worker-exit-buffers.test.ts: over a shared arena it attaches, it takes slabs every
// way a worker can (an LSRegion and plain maps straight from the arena; a Region, an Ibuf, an
// Obuf and a SmallAlloc over its own SlabCache), reports what it holds, and exits without
// giving anything back.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import {
  Ibuf, LSRegion, Obuf, Region, SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle,
} from '../../src/index.js';

export interface BuffersParams {
  handle: SlabArenaHandle;
  /** SmallAlloc objects to leave live. */
  objects: number;
}

export interface BuffersReport {
  threadId: number;
  /** The arena's used bytes once everything is taken. */
  used: number;
  /** Pointers of the live SmallAlloc objects, with their sizes. */
  live: [number, number][];
}

const P = workerData as BuffersParams;
const arena = SlabArena.attach(P.handle);
const slab = arena.slabSize;

const ls = new LSRegion(arena);
for (let id = 1; id <= 40; id++) ls.alloc(slab / 8, id); // 5 slabs
ls.alloc(3 * slab, 41); // a run of 3
arena.map();
arena.map();
arena.mapRun(2);

const cache = new SlabCache(arena);
const region = new Region(cache);
for (let i = 0; i < 50; i++) region.alloc(3000);
const ibuf = new Ibuf(cache);
ibuf.alloc(slab / 2);
const obuf = new Obuf(cache);
for (let i = 0; i < 20; i++) obuf.alloc(5000);
const alloc = new SmallAlloc(cache);
const live: [number, number][] = [];
for (let i = 0; i < P.objects; i++) {
  const size = 8 + (i % 200);
  live.push([alloc.alloc(size), size]);
}
alloc.alloc(2 * slab); // a large allocation, left live too

const report: BuffersReport = { threadId, used: arena.used, live };
parentPort!.postMessage(report);
