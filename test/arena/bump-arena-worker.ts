/**
 * Worker side of the shared BumpArena test: attaches to the arena, waits at the gate so that
 * every worker starts at once, then allocates random sizes and alignments until the arena
 * refuses or `count` is reached, stamping each allocation's bytes with its id.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BumpArena, type BumpArenaHandle } from '../../src/arena/bump-arena.js';
import { rngFromSeed } from '../../dev/rng.js';

interface Job {
  handle: BumpArenaHandle;
  gate: Int32Array; // [0]: 1 once the main thread opens it; [1]: workers ready
  id: number;
  seed: number;
  count: number;
}

const { handle, gate, id, seed, count } = workerData as Job;
const arena = BumpArena.attach(handle);
const rng = rngFromSeed(seed);
const ptrs = new Uint32Array(count);
const sizes = new Uint32Array(count);
const aligns = new Uint32Array(count);
const u8 = arena.memory.u8;

Atomics.add(gate, 1, 1);
Atomics.notify(gate, 1);
Atomics.wait(gate, 0, 0);

let n = 0;
while (n < count) {
  const size = rng.int(1, 64);
  const align = 1 << rng.int(0, 4);
  const p = arena.tryAlloc(size, align);
  if (p === 0) break;
  u8.fill(id, p, p + size);
  ptrs[n] = p;
  sizes[n] = size;
  aligns[n] = align;
  n++;
}
parentPort!.postMessage({ id, n, ptrs, sizes, aligns });
