/**
 * Adoption for a Mempool: taking over the slabs of a worker that has exited. `Mempool.adopt`
 * and `fits` delegate here, and `Mempool.adoptSlab` has a slab's header and bitmaps rewritten
 * here before it lists the slab as its own; a SmallAlloc calls the last two for each pool of
 * its own. Nothing here writes the pool's fields: it reads them (PoolParts) and returns counts.
 *
 * Memory source: the exited worker's blocks, which `SlabCache.adopt` hands to this worker's
 * cache; a slab joins the pool, anything it cannot take goes back to the cache or to the
 * caller (`others`).
 *
 * Thread-safety: the adopting pool's owner only. The old owner is gone, but other workers may
 * still free into its slabs: the pending flag is lowered before the REMOTE words are swapped
 * for 0, so a free that lands meanwhile is taken in by the next scan.
 *
 * Failure: RangeError for a bad thread id or the caller's own (nothing changed); otherwise none.
 *
 * Invariant kept: once adoptBits returns, the slab's header and bitmaps meet the pool's
 * invariants (mempool-check.ts): re-tagged, its pending and deferred slots made free (or all
 * held back), NFREE and DEFERRED counted; the pool then lists it (Mempool.adoptSlab).
 */
import { adoptableThread } from '../../internal/thread.js';
import { FREED_BYTE } from '../../debug.js';
import { allocBase, allocWord, heldWord, lowestSlot, Mark, popcount, remoteWord, slotBit, slotStart, tailBits, Word } from './block-header.js';
import { isPageRun, LargeState, largeState, tagIndex } from './large.js';
import type { PoolParts } from './pool-parts.js';
import { slabSizeAt } from '../slabs/slab-cache.js';
import { NO_EPOCH } from '../slabs/arena-views.js';

/** A pool that adopts slabs: {@link PoolParts} and its adoptSlab. @internal */
export interface AdoptingPool extends PoolParts {
  fits(s: number): boolean;
  adoptSlab(s: number): number;
}

/**
 * The result of {@link Mempool.adopt}.
 * @category The small family
 */
export interface MempoolAdoption {
  /** Slabs that joined this pool. */
  slabs: number;
  /** Live objects in them (now this pool's). */
  objects: number;
  /** Starts of slabs and large runs this pool could not take; they are this worker's now. */
  others: number[];
}

/** True when slab `s` (a formatted mempool slab) has `pool`'s objsize and geometry. @internal */
export function slabFits(pool: PoolParts, s: number): boolean {
  // A pool made before the buffer last grew holds views that end before the slab: past their
  // end every read is undefined and the slab would fit no pool, live objects and all.
  if (s + Word.BYTES > pool.viewEnd) pool.refresh();
  const u32 = pool.u32;
  const h = s >>> 2;
  // The block must be as big as the header says: adoption rewrites the bitmaps the pool's
  // geometry places, and a smaller block would put them in its neighbour.
  return slabSizeAt(pool.cache.arena, s) === pool.slabSize && u32[h + Word.MAGIC] === Mark.MEMPOOL && u32[h + Word.OBJSIZE] === pool.objsize && u32[h + Word.STRIDE] === pool.stride &&
    u32[h + Word.COUNT] === pool.objcount && u32[h + Word.FIRST] === pool.first && u32[h + Word.SLABSIZE] === pool.slabSize;
}

/**
 * Rewrites slab `s` (a mempool slab of `pool`'s objsize and slab size whose owner is gone, in
 * `pool`'s views) for `pool`: re-tags it and makes free the slots freed by other workers and
 * not taken in, and those the old owner held back for its read views; while an arena read view
 * is open (in any worker) it holds them all back instead, in the pool's queue. Writes the
 * slab's NFREE and DEFERRED; returns the live objects it holds. @internal
 */
export function adoptBits(pool: PoolParts, s: number): number {
  const u32 = pool.u32;
  const i32 = pool.i32;
  const h = s >>> 2;
  u32[h + Word.OWNER] = pool.ownerId;
  u32[h + Word.POOL] = pool.poolId;
  u32[h + Word.CLASS] = pool.classIndex;
  u32[h + Word.ADOPTED] = 1;
  Atomics.store(i32, h + Word.PENDING, 0);
  const aw = allocBase(s);
  const bw = pool.bw;
  let taken = -popcount(tailBits(pool.objcount));
  let held = 0;
  // An arena view open now (in any worker) may see what the old owner freed or held: all of it
  // stays held, with a tag taken now (later than the frees, so conservatively).
  const arena = pool.cache.arena.views;
  const tag = arena.tag();
  let deferred = 0;
  for (let k = 0; k < bw; k++) {
    const w = aw + k;
    // The old owner's frees: remote ones not taken in, deferred, and retired (HELD alone).
    const hw = i32[heldWord(w, bw)]!;
    const remote = Atomics.load(i32, remoteWord(w, bw));
    held += popcount(hw & remote);
    const freed = remote | hw;
    if (tag !== NO_EPOCH) {
      // Every freed slot held (deferred: REMOTE and HELD set, ALLOCATED stays).
      if ((hw & ~remote) !== 0) Atomics.or(i32, remoteWord(w, bw), hw & ~remote);
      i32[heldWord(w, bw)] = freed;
      deferred += popcount(freed);
      for (let rest = freed; rest !== 0; rest &= rest - 1) {
        pool.views.defer(slotStart(s, pool.first, pool.stride, lowestSlot(k, rest)), pool.objsize, tag);
      }
      taken += popcount(i32[w]!);
      continue;
    }
    // The old owner's remote frees not taken in and its deferred slots: all free now.
    Atomics.and(i32, remoteWord(w, bw), ~freed);
    i32[heldWord(w, bw)] = 0;
    const a = i32[w]! & ~freed;
    i32[w] = a;
    taken += popcount(a);
  }
  // The dead owner's held slots leave the arena's count of held bytes with it (those held again
  // were counted again by defer).
  arena.unhold(held * pool.objsize);
  pool.views.syncHeld();
  if (pool.debug && tag === NO_EPOCH) poisonFree(pool, s);
  u32[h + Word.NFREE] = pool.objcount - taken;
  u32[h + Word.DEFERRED] = deferred;
  return taken - deferred;
}

/** Fills every free slot of slab `s` with the poison debug mode checks for. */
function poisonFree(pool: PoolParts, s: number): void {
  for (let idx = 0; idx < pool.objcount; idx++) {
    if ((pool.i32[allocWord(s, idx)]! & slotBit(idx)) !== 0) continue;
    const ptr = slotStart(s, pool.first, pool.stride, idx);
    pool.u8.fill(FREED_BYTE, ptr, ptr + pool.objsize);
  }
}

/**
 * Worker `threadId` has exited: `pool` takes over, through its cache, every slab that worker's
 * slab caches held (see {@link Mempool.adopt}).
 * @throws RangeError for a bad `threadId`, or the calling thread's own.
 * @internal
 */
export function adoptThread(pool: AdoptingPool, threadId: number): MempoolAdoption {
  adoptableThread('Mempool.adopt', threadId);
  const starts = pool.cache.adopt(threadId);
  pool.refresh();
  const result: MempoolAdoption = { slabs: 0, objects: 0, others: [] };
  const arena = pool.cache.arena;
  for (const start of starts) {
    const s = start >>> 0;
    if (isPageRun(arena, s)) {
      if (largeState(Atomics.load(arena.pageTags, tagIndex(s))) !== LargeState.NONE) result.others.push(s);
      else pool.cache.put(s);
    } else if (pool.fits(s)) {
      result.slabs++;
      result.objects += pool.adoptSlab(s);
    } else if (pool.u32[(s >>> 2) + Word.MAGIC] === Mark.MEMPOOL) {
      result.others.push(s);
    } else {
      pool.cache.put(s);
    }
  }
  return result;
}
