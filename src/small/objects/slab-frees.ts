/**
 * A slab's frees taken in by its owner, a batch at a time: its own retired slots (`settleSlab`)
 * and the frees other workers made of its objects (`takeSlab`). Both check the batch against
 * the read views once and either make its slots free or hold them all back (deferred).
 *
 * Retired slots: a local free only sets the slot's HELD bit (block-header.ts); settling clears
 * HELD and ALLOCATED, or, while a view may see them, sets REMOTE beside HELD (the deferred
 * state) and queues them with one arena tag. It costs the free path no look at shared state.
 *
 * Remote frees: The freeing side (free-route.ts) only sets the slot's bit in the slab's REMOTE
 * bitmap and raises the slab's pending flag; here the owner clears those bits and the slots'
 * ALLOCATED bits, which makes them free (or holds them back, setting their HELD bits, while a
 * read view is open: the SmallAlloc's, or the arena's in any worker, whose epoch the frees are
 * tagged with now, at take-in: later than the free, so conservatively). A pool does this on
 * its allocation slow path, in `stats()` / `check()`, and a SmallAlloc for all its pools; never
 * on a fast path. `Mempool.takeRemote` finds the slabs whose flag is up and applies what
 * `takeSlab` returns to its own counters: nothing here writes the pool's fields.
 *
 * Memory source: none; it rewrites the headers and bitmaps of the pool's slabs.
 *
 * Thread-safety: the pool's owner only. Other workers may set REMOTE bits and raise the flag
 * at any time: the flag is lowered before the bitmap is read, and the bits taken are cleared
 * from each REMOTE word atomically, so a free that lands meanwhile is either taken now or
 * raises the flag again for the next scan.
 *
 * Failure: none; a slab with nothing pending costs one atomic load.
 */
import { FREED_BYTE } from '../../debug.js';
import { NO_EPOCH } from '../slabs/arena-views.js';
import { allocBase, heldWord, lowestSlot, popcount, remoteWord, slotStart, Word } from './block-header.js';
import type { PoolParts } from './pool-parts.js';
import { FREE_NOW } from './read-views.js';

/**
 * Checks `pool`'s slab `s`'s retired slots against the read views, as one batch: with none open
 * that could see them (here or in any worker), they become free; else they are all deferred,
 * with one arena tag, and counted in the slab's DEFERRED word. Returns the slots settled (made
 * free or deferred). The only look at the arena's views the local free path costs, once per
 * batch. @internal
 */
export function settleSlab(pool: PoolParts, s: number): number {
  const i32 = pool.i32;
  const bw = pool.bw;
  const aw = allocBase(s);
  let tag = 0;
  let n = 0;
  for (let w = aw; w < aw + bw; w++) {
    const held = heldWord(w, bw);
    const x = i32[held]! & ~i32[remoteWord(w, bw)]!;
    if (x === 0) continue;
    // The views are asked once, at the first retired slot: every one was freed before.
    if (n === 0) tag = pool.views.holdTag();
    n += popcount(x);
    if (tag === FREE_NOW) {
      i32[held] = i32[held]! ^ x;
      i32[w] = i32[w]! & ~x;
      continue;
    }
    // Deferred: REMOTE set beside HELD, as a deferred free's.
    Atomics.or(i32, remoteWord(w, bw), x);
    for (let rest = x; rest !== 0; rest &= rest - 1) {
      pool.views.defer(slotStart(s, pool.first, pool.stride, lowestSlot(w - aw, rest)), pool.objsize, tag);
    }
  }
  if (n !== 0 && tag !== FREE_NOW) {
    pool.u32[(s >>> 2) + Word.DEFERRED]! += n;
    pool.views.syncHeld();
  }
  return n;
}

/**
 * Takes in the remote frees of `pool`'s slab `s`: the flag is lowered first, so a later free
 * raises it again. Returns the slots taken in: made free, or all held back (HELD bits set,
 * counted in the slab's DEFERRED word) while a read view may see them. @internal
 */
export function takeSlab(pool: PoolParts, s: number): number {
  const i32 = pool.i32;
  const u32 = pool.u32;
  const h = s >>> 2;
  const bw = pool.bw;
  Atomics.store(i32, h + Word.PENDING, 0);
  const aw = allocBase(s);
  // Held back (HELD bits) while a read view is open (here or in any worker) or debug mode's
  // quarantine is on: asked once, at the first bit (the frees were all made before).
  let tag = FREE_NOW;
  let views = false;
  let n = 0;
  for (let k = 0; k < bw; k++) {
    const w = aw + k;
    // Atomic: ordered after the flag store above. HELD bits are deferred slots, not frees.
    const bits = Atomics.load(i32, remoteWord(w, bw)) & ~i32[heldWord(w, bw)]!;
    if (bits === 0) continue;
    if (n === 0) {
      tag = pool.views.holdTag();
      views = tag !== FREE_NOW;
    }
    const got = popcount(bits);
    n += got;
    if (views) {
      i32[heldWord(w, bw)]! |= bits;
      u32[h + Word.DEFERRED]! += got;
    } else {
      Atomics.and(i32, remoteWord(w, bw), ~bits);
      i32[w]! &= ~bits;
    }
    if (views || pool.debug) {
      for (let rest = bits; rest !== 0; rest &= rest - 1) {
        const ptr = slotStart(s, pool.first, pool.stride, lowestSlot(k, rest));
        if (views) pool.views.defer(ptr, pool.objsize, tag);
        if (pool.debug && !pool.views.anyOpen && tag === NO_EPOCH) pool.u8.fill(FREED_BYTE, ptr, ptr + pool.objsize);
      }
    }
  }
  if (views) pool.views.syncHeld();
  return n;
}
