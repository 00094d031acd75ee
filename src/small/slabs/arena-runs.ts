/**
 * The map and unmap of slab runs in a SlabArena's shared state, without locks: finding and
 * claiming free slabs, carving new ones, publishing a run and taking it back. `SlabArena`'s
 * `take` and `release` call these in order; the slab states and the invariants they keep are
 * in slab-arena.ts's module comment, the words in arena-layout.ts.
 *
 * There are no free lists: each slab's state word says whether it is free, so adjacency is
 * implicit and free slabs coalesce by themselves. A map scans the states from the hint (the
 * lowest slab that may be free) for n adjacent FREE slabs and claims them one by one by
 * compare-exchange (FREE -> CLAIMING), undoing its own claims if one fails; a map that finds
 * no run carves new slabs at the end (quota first, then a compare-exchange on the carved end).
 * The hint's high 32 bits count the frees: a free lowers the hint before its slabs turn FREE,
 * and a map raises it only by a compare-exchange from the value it read, so a map never raises
 * it over a slab freed meanwhile, nor over a CLAIMING one (an unmap about to free it).
 *
 * Memory source: none; the arena's views (`ArenaWords`) and its quota, passed in.
 *
 * Thread-safety: lock-free; any worker that attached the arena may run any of them at any
 * time. Each step is one atomic store or compare-exchange, ordered so that a worker killed in
 * between leaves slabs CLAIMING (leaked), never free below the hint nor handed out twice.
 *
 * Failure: `carve` returns a `MapFailure` (negated) and changes nothing; the others cannot fail.
 */
import { Ctl, LOW, SlabState, type ArenaWords } from './arena-layout.js';
import type { Quota } from './quota.js';

const FREE = SlabState.FREE;
const CLAIMING = SlabState.CLAIMING;

/** Why a map failed (kept per worker by the arena, for the error it throws). */
export const enum MapFailure {
  None = 0,
  Quota = 1,
  Space = 2,
}

/**
 * Claims the lowest run of `n` adjacent free slabs (FREE -> CLAIMING); its first index, or -1
 * when the carved slabs hold none. Raises the hint over the slabs it saw mapped, but never
 * over a CLAIMING (or UNCARVED) one: that may be an unmap about to free it. @internal
 */
export function claimFree(a: ArenaWords, n: number): number {
  const info = a.slabInfo;
  const old = Atomics.load(a.hint, 0);
  const end = Atomics.load(a.ctl, Ctl.CARVED);
  let open = -1; // the first slab seen free, CLAIMING or UNCARVED
  let run = -1;
  for (let i = Number(old & LOW); i < end; i++) {
    const v = info[i]!;
    if (v !== FREE) {
      if (open < 0 && v <= CLAIMING) open = i;
      run = -1;
      continue;
    }
    if (open < 0) open = i;
    if (run < 0) run = i;
    if (i - run + 1 < n) continue;
    const lost = claim(a, run, n);
    if (lost < 0) {
      raiseHint(a.hint, old, open === run ? run + n : open);
      return run;
    }
    // Another map took slab `lost`: go on after it.
    i = lost;
    run = -1;
  }
  raiseHint(a.hint, old, open < 0 ? end : open);
  return -1;
}

/** Claims slabs [s, s + n) one by one; -1 on success, else the slab lost (own claims undone). */
function claim(a: ArenaWords, s: number, n: number): number {
  const info = a.slabInfo;
  for (let j = 0; j < n; j++) {
    if (Atomics.compareExchange(info, s + j, FREE, CLAIMING) !== FREE) {
      if (j > 0) putBack(a, s, j);
      return s + j;
    }
  }
  return -1;
}

/**
 * Carves `n` new slabs (CLAIMING), charging `quota` first; the first one's index, or
 * `-MapFailure.Quota` / `-MapFailure.Space` (nothing changed). @internal
 */
export function carve(a: ArenaWords, quota: Quota, n: number): number {
  const bytes = n * a.slabSize;
  if (quota.tryUse(bytes) < 0) return -MapFailure.Quota;
  let c: number;
  for (;;) {
    c = Atomics.load(a.ctl, Ctl.CARVED);
    if (c + n > a.slabCount) {
      quota.release(bytes);
      return -MapFailure.Space;
    }
    if (Atomics.compareExchange(a.ctl, Ctl.CARVED, c, c + n) === c) break;
  }
  // Ours from the exchange on (UNCARVED below the carved end is never taken as free).
  for (let j = 0; j < n; j++) Atomics.store(a.slabInfo, c + j, CLAIMING);
  return c;
}

/**
 * Hands claimed slabs [s, s + n) out to `owner`: counted first, then owner, then info, the
 * start after its inner slabs, so a worker that sees the run mapped also sees who holds it,
 * and `used` never falls below what is mapped. A worker terminated in between leaves the run
 * CLAIMING (leaked) and counted: mapped <= used <= mapped + claimed, at every instant. @internal
 */
export function publish(a: ArenaWords, s: number, n: number, owner: number): void {
  Atomics.add(a.ctl, Ctl.USED, n);
  const info = a.slabInfo;
  for (let j = 0; j < n; j++) Atomics.store(a.slabOwner, s + j, owner);
  for (let j = 1; j < n; j++) Atomics.store(info, s + j, -j);
  Atomics.store(info, s, n);
}

/**
 * Frees the run of `k` slabs at `idx` that its unmap has claimed (its start CLAIMING) and
 * uncounted (the caller, see SlabArena's release): its owner words, page map and page tags
 * zeroed, then its slabs FREE. @internal
 */
export function unpublish(a: ArenaWords, idx: number, k: number): void {
  for (let j = 0; j < k; j++) Atomics.store(a.slabOwner, idx + j, 0);
  const p0 = idx * a.pagesPerSlab;
  const p1 = (idx + k) * a.pagesPerSlab;
  a.pageMap.fill(0, p0, p1);
  a.pageTags.fill(0, 2 * p0, 2 * p1);
  putBack(a, idx, k);
}

/**
 * Makes claimed slabs [s, s + n) free again: the hint first, so a worker terminated in
 * between leaves them CLAIMING (leaked), never free below the hint. @internal
 */
export function putBack(a: ArenaWords, s: number, n: number): void {
  freed(a.hint, s);
  for (let j = n - 1; j >= 0; j--) Atomics.store(a.slabInfo, s + j, FREE);
}

/**
 * Slab `idx` is about to become free: lower the hint to it and count the free, in one
 * exchange (a map that read the hint before fails to raise it).
 */
function freed(hint: BigUint64Array, idx: number): void {
  for (;;) {
    const old = Atomics.load(hint, 0);
    const low = Math.min(Number(old & LOW), idx);
    const next = (BigInt.asUintN(32, (old >> 32n) + 1n) << 32n) | BigInt(low);
    if (Atomics.compareExchange(hint, 0, old, next) === old) return;
  }
}

/** Raises the hint from `old` to `to`, unless a slab was freed (or the hint moved) since `old` was read. */
function raiseHint(hint: BigUint64Array, old: bigint, to: number): void {
  if (to > Number(old & LOW)) Atomics.compareExchange(hint, 0, old, (old & ~LOW) | BigInt(to));
}
