/** The reader of readers.ts: batches of lookups, each under a read view of the arena. */
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena } from 'binalloc';

const arena = SlabArena.attach(workerData.arena);
const index = new Int32Array(workerData.index);
const stop = new Int32Array(workerData.stop);
let reads = 0;
let torn = 0;
while (Atomics.load(stop, 0) === 0) {
  using view = arena.openReadView(); // open a view, look up, read; it closes at the block's end
  let dv = arena.memory.dv;
  for (let k = 0; k < 100; k++, reads++) {
    const p = Atomics.load(index, (reads * 7919) % index.length);
    if (p + 32 > dv.byteLength) dv = arena.memory.dv; // a record in memory grown since
    let sum = 0;
    for (let j = 0; j < 7; j++) sum ^= dv.getUint32(p + 4 * j, true);
    if ((sum >>> 0) !== dv.getUint32(p + 28, true)) torn++;
  }
  void view;
}
parentPort!.postMessage({ reads, torn });
