// Worker for trust/attach.test.ts: attaches a good SlabArena handle and maps and stamps a slab
// through it, and tries a corrupt one, reporting what attach said.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, type SlabArenaHandle } from '../../../src/index.js';

const { good, bad, stamp } = workerData as { good: SlabArenaHandle; bad: unknown; stamp: number };
let refused = '';
try {
  SlabArena.attach(bad as SlabArenaHandle);
} catch (e) {
  refused = `${(e as Error).name}: ${(e as Error).message}`;
}
const a = SlabArena.attach(good);
a.check();
const ptr = a.map();
a.memory.u32.fill(stamp, ptr >>> 2, (ptr + a.slabSize) >>> 2);
parentPort!.postMessage({ ptr, refused, used: a.used });
