// Worker for scaling.bench.ts: the same batch workload on its own SmallAlloc over the shared
// arena ('small'), on the one lock-guarded shared allocator ('locked'), on a lock-guarded
// allocator of its own ('private'), or on its handle on one shared MemoryHeap of
// @daneren2005/shared-memory-objects ('smo'), in timed rounds that start together at a
// shared barrier.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../src/index.js';
import { rngFromSeed } from '../dev/rng.js';
import { LockedFreeList, lockedFreeListBuffer } from './scaling-locked.js';
import { loadSharedMemoryObjects, type SmoHeapMemory } from './support/shared-memory-objects.js';
import { SmoPeer } from './support/peers.js';

export interface ScalingParams {
  /** small: own SmallAlloc on the shared arena; locked: the one shared locked allocator;
   *  private: a locked free list of its own (nothing shared: the machine's own scaling);
   *  smo: a handle on the one shared shared-memory-objects MemoryHeap. */
  mode: 'small' | 'locked' | 'private' | 'smo';
  /** The arena ('small') or the locked allocator's buffer ('locked'). */
  handle: SlabArenaHandle | null;
  locked: SharedArrayBuffer | null;
  /** The MemoryHeap's buffers ('smo'). */
  smo: SmoHeapMemory | null;
  /** [0] workers ready (cumulative), [1] round released, [2] workers done (cumulative). */
  sync: SharedArrayBuffer;
  seed: number;
  batch: number;
  batches: number;
  rounds: number;
  warmBatches: number;
  /** Calls of one batch each that start the warm-up (see below). */
  warmCalls: number;
  /** Batches checked for overlapping allocations before the warm-up. */
  verifyBatches: number;
}

interface Allocator {
  alloc(size: number): number;
  free(ptr: number): void;
}

const P = workerData as ScalingParams;
const sync = new Int32Array(P.sync);
const arena = P.mode === 'small' ? SlabArena.attach(P.handle!) : null;
const own = P.mode === 'private' ? lockedFreeListBuffer(16 * 1024 * 1024) : null;
const listBuffer = own ?? P.locked;
const smo = P.mode === 'smo' ? new SmoPeer(await loadSharedMemoryObjects(), { attach: P.smo! }) : null;
const smoBuffers = smo?.bufferList() ?? [];
const a: Allocator = arena !== null ? new SmallAlloc(new SlabCache(arena)) : smo ?? new LockedFreeList(listBuffer!);

// Eight different batches of sizes (16..256) and free orders, cycled.
const VARIANTS = 8;
const rng = rngFromSeed(P.seed);
const sizes = new Int32Array(VARIANTS * P.batch);
const order = new Int32Array(VARIANTS * P.batch);
for (let v = 0; v < VARIANTS; v++) {
  const perm: number[] = [];
  for (let i = 0; i < P.batch; i++) {
    sizes[v * P.batch + i] = rng.int(16, 256);
    perm.push(i);
  }
  rng.shuffle(perm);
  for (let i = 0; i < P.batch; i++) order[v * P.batch + i] = perm[i]!;
}
const ptrs = new Uint32Array(P.batch);

/** `n` batches: `batch` allocations, then their frees in a shuffled order. */
function work(n: number): number {
  let sum = 0;
  const m = P.batch;
  for (let b = 0; b < n; b++) {
    const base = (b % VARIANTS) * m;
    for (let i = 0; i < m; i++) ptrs[i] = a.alloc(sizes[base + i]!);
    for (let i = 0; i < m; i++) {
      const p = ptrs[order[base + i]!]!;
      sum ^= p;
      a.free(p);
    }
  }
  return sum;
}

/** One batch that stamps every allocation and checks the stamps before freeing: a sanity check of the allocator under contention. */
function verifiedBatch(tag: number): void {
  for (let i = 0; i < P.batch; i++) {
    const p = a.alloc(sizes[i]!);
    // shared-memory-objects' pointers keep the buffer's index in their low 12 bits.
    if (p === 0 || (smo !== null ? p >>> 12 : p) % 8 !== 0) throw new Error(`${P.mode}: alloc returned ${p}`);
    ptrs[i] = p;
  }
  // Views taken after the allocations, which may have grown the arena's buffer.
  const u32 = arena !== null ? arena.memory.u32 : smo !== null ? null : new Uint32Array(listBuffer!);
  const word = (p: number): [Uint32Array, number] => {
    if (u32 !== null) return [u32, p >>> 2];
    const w = smo!.word(p);
    return [w.u32, w.index];
  };
  for (let i = 0; i < P.batch; i++) {
    const [view, at] = word(ptrs[i]!);
    view[at] = (tag + i) >>> 0;
  }
  for (let i = 0; i < P.batch; i++) {
    const [view, at] = word(ptrs[i]!);
    if (view[at] !== (tag + i) >>> 0) throw new Error(`${P.mode}: an allocation was overwritten (handed out twice?)`);
  }
  for (let i = 0; i < P.batch; i++) a.free(ptrs[i]!);
}

for (let k = 0; k < P.verifyBatches; k++) verifiedBatch((P.seed & 0xfff) * 0x100000 + k * P.batch);
// Warm up with many short calls first: a single long call lets V8 settle, in about one worker
// in three, on an optimized work() with nothing inlined (~15% slower for its whole life).
let keep = 0;
for (let k = 0; k < P.warmCalls; k++) keep ^= work(1);
keep ^= work(P.warmBatches);
for (let r = 1; r <= P.rounds; r++) {
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  while (Atomics.load(sync, 1) < r) Atomics.wait(sync, 1, r - 1, 100);
  keep ^= work(P.batches);
  Atomics.add(sync, 2, 1);
  Atomics.notify(sync, 2);
}
// A heap that had to add a buffer added it for this worker alone (the package shares new
// buffers only through a callback the benchmark does not wire): the run would not be shared.
if (smo !== null && smo.grewSince(smoBuffers)) {
  throw new Error(`smo: the heap added a buffer in a worker (${smoBuffers.length} before, ${smo.heap.buffers.length} now): give it more`);
}
parentPort!.postMessage(keep);
