// Worker for cross-free.bench.ts. Two of these share one arena, each with its own SmallAlloc,
// and take turns: in round r the owner (worker r % 2) allocates N objects and publishes them;
// the other worker frees them all through ITS SmallAlloc (cross-worker frees, timed); then the
// owner takes them in (timed, by stats() or on its allocation path), allocates N again, and
// frees them itself (same-worker frees, timed). Times are reported per round.
//
// In mode 'smo' the two workers share one MemoryHeap of @daneren2005/shared-memory-objects
// instead: the same turns, where a cross-worker free is the same call as a same-worker free
// (a lock on the block's buffer and a search of its list of used blocks) and there is
// nothing to take in, so the owner just allocates again (allocAfterRemote).
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../src/index.js';
import { rngFromSeed } from '../dev/rng.js';
import { loadSharedMemoryObjects, type SmoHeapMemory } from './support/shared-memory-objects.js';
import { SmoPeer } from './support/peers.js';

export interface CrossParams {
  id: 0 | 1;
  mode: 'small' | 'smo';
  /** The arena ('small'). */
  handle: SlabArenaHandle | null;
  /** The MemoryHeap's buffers ('smo'). */
  smo: SmoHeapMemory | null;
  /** N pointers, written by the owner of the round. */
  ptrs: SharedArrayBuffer;
  /** [0] barrier counter. */
  sync: SharedArrayBuffer;
  n: number;
  rounds: number;
  warmRounds: number;
  seed: number;
}

/** Nanoseconds per object for each timed step, one entry per timed round it ran in. */
export interface CrossReport {
  remoteFree: number[];
  localFree: number[];
  takeInStats: number[];
  idleStats: number[];
  allocAfterTakeIn: number[];
  allocTakingIn: number[];
  allocAfterLocal: number[];
  /** 'smo': the owner's allocations right after the other worker freed its objects. */
  allocAfterRemote: number[];
}

const P = workerData as CrossParams;
const small = P.mode === 'small' ? new SmallAlloc(new SlabCache(SlabArena.attach(P.handle!))) : null;
const smo = P.mode === 'smo' ? new SmoPeer(await loadSharedMemoryObjects(), { attach: P.smo! }) : null;
const smoBuffers = smo?.bufferList() ?? [];
// One class per worker: the call sites below stay monomorphic.
const alloc: { alloc(size: number): number; free(ptr: number): void } = small ?? smo!;
const ptrs = new Uint32Array(P.ptrs);
const sync = new Int32Array(P.sync);
const N = P.n;
const rng = rngFromSeed(P.seed);
const sizes = new Int32Array(N);
for (let i = 0; i < N; i++) sizes[i] = rng.int(16, 256);
const perm: number[] = [];
for (let i = 0; i < N; i++) perm.push(i);
const order = Int32Array.from(rng.shuffle(perm));
const mine = new Uint32Array(N);
const rep: CrossReport = {
  remoteFree: [], localFree: [], takeInStats: [], idleStats: [], allocAfterTakeIn: [], allocTakingIn: [], allocAfterLocal: [],
  allocAfterRemote: [],
};
let gen = 0;

/** Both workers meet here. */
function meet(): void {
  gen++;
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  for (let v = Atomics.load(sync, 0); v < 2 * gen; v = Atomics.load(sync, 0)) Atomics.wait(sync, 0, v, 50);
}

function allocAll(into: Uint32Array): number {
  const t = performance.now();
  for (let i = 0; i < N; i++) into[i] = alloc.alloc(sizes[i]!);
  return ((performance.now() - t) * 1e6) / N;
}

function freeAll(from: Uint32Array): number {
  const t = performance.now();
  for (let i = 0; i < N; i++) alloc.free(from[order[i]!]!);
  return ((performance.now() - t) * 1e6) / N;
}

let stats = 0;
for (let r = 0; r < P.warmRounds + P.rounds; r++) {
  const timed = r >= P.warmRounds;
  const owner = r % 2 === P.id;
  // Rounds 0, 1 of every 4 take the frees in with stats(); rounds 2, 3 on the allocation path.
  const byStats = (r & 2) === 0;
  if (owner) allocAll(ptrs);
  meet();
  if (!owner) {
    const ns = freeAll(ptrs);
    if (timed) rep.remoteFree.push(ns);
  }
  meet();
  if (owner) {
    if (small === null) {
      const ns = allocAll(mine);
      if (timed) rep.allocAfterRemote.push(ns);
    } else if (byStats) {
      let t = performance.now();
      stats += small.stats().count;
      const takeIn = ((performance.now() - t) * 1e6) / N;
      t = performance.now();
      stats += small.stats().count;
      const idle = ((performance.now() - t) * 1e6) / N;
      const ns = allocAll(mine);
      if (timed) {
        rep.takeInStats.push(takeIn);
        rep.idleStats.push(idle);
        rep.allocAfterTakeIn.push(ns);
      }
    } else {
      const ns = allocAll(mine);
      if (timed) rep.allocTakingIn.push(ns);
    }
    const local = freeAll(mine);
    const again = allocAll(mine);
    freeAll(mine);
    if (timed) {
      rep.localFree.push(local);
      rep.allocAfterLocal.push(again);
    }
  }
  meet();
}
if (stats < 0) console.log(stats);
if (smo !== null && smo.grewSince(smoBuffers)) {
  throw new Error(`smo: the heap added a buffer in a worker (${smoBuffers.length} before, ${smo.heap.buffers.length} now): give it more`);
}
parentPort!.postMessage(rep);
