// Worker for slab-cache.test.ts: allocates and frees blocks from its own SlabCache, forever,
// until the test terminates it mid-operation.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, type SlabArenaHandle } from '../../../src/index.js';
import { rngFromSeed } from '../../../dev/rng.js';

const { handle, seed } = workerData as { handle: SlabArenaHandle; seed: number };
const cache = new SlabCache(SlabArena.attach(handle));
const rng = rngFromSeed(seed);
const live: number[] = [];
let ops = 0;
for (;;) {
  if (live.length > 0 && rng.chance(0.45)) {
    const i = rng.int(0, live.length - 1);
    cache.put(live[i]!);
    live[i] = live[live.length - 1]!;
    live.pop();
  } else {
    const size = rng.chance(0.03) ? rng.int(cache.arena.slabSize + 1, 2 * cache.arena.slabSize) : rng.int(0, 40_000);
    const p = cache.tryGet(size);
    if (p !== 0) live.push(p);
    else if (live.length > 0) cache.put(live.pop()!);
  }
  if (++ops === 2000) parentPort!.postMessage('running');
}
