/** The worker side of demo.ts: allocates records in the shared arena and reports their pointers. */
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc } from 'binalloc';

const arena = SlabArena.attach(workerData.arena);
const cache = new SlabCache(arena);
const small = new SmallAlloc(cache);
const ptrs: number[] = [];
for (let i = 0; i < workerData.count; i++) {
  const p = small.alloc(32);
  arena.memory.dv.setUint32(p, i, true);
  ptrs.push(p);
}
parentPort!.postMessage(ptrs);
// `leave`: exit holding the records, as a worker that crashes would; the main thread adopts them.
if (workerData.leave) parentPort!.close();
else parentPort!.once('message', () => {
  parentPort!.postMessage(small.stats().used); // stats() takes in the frees made by the main thread
  small.destroy();
  cache.destroy();
  parentPort!.close();
});
