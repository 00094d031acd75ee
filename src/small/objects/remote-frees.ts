/**
 * The owner's side of remote frees: a Mempool taking in the frees other workers made of its
 * objects. The freeing side (free-route.ts) only sets the slot's bit in the slab's REMOTE
 * bitmap and raises the slab's pending flag; here the owner clears those bits and the slots'
 * ALLOCATED bits, which makes them free (or holds them back, setting their HELD bits, while a
 * read view is open: the SmallAlloc's, or the arena's in any worker, whose epoch the frees are
 * tagged with now, at take-in: later than the free, so conservatively). A pool does this on its allocation slow path, in `stats()` / `check()`,
 * and a SmallAlloc for all its pools; never on a fast path.
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
import { allocBase, heldWord, lowestSlot, Mark, popcount, remoteWord, slotStart, Word } from './block-header.js';
import type { Mempool } from './mempool.js';
import { becameEmpty } from './mempool-slabs.js';
import { FREE_NOW } from './read-views.js';

/**
 * Takes in the remote frees of every slab of `pool` whose pending flag is up. Returns the
 * slots freed. @internal
 */
export function takeRemote(pool: Mempool): number {
  let total = 0;
  const i32 = pool.i32;
  // Backwards: a slab returned to the cache is swapped with the last, already visited.
  for (let i = pool.slabs.length - 1; i >= 0; i--) {
    const s = pool.slabs[i];
    if (s === undefined) continue;
    if (Atomics.load(i32, (s >>> 2) + Word.PENDING) !== 0) total += takeSlab(pool, s);
  }
  return total;
}

/** Takes in slab `s`'s remote frees: lower the flag first, so a later free raises it again. */
function takeSlab(pool: Mempool, s: number): number {
  const i32 = pool.i32;
  const u32 = pool.u32;
  const h = s >>> 2;
  const bw = pool.bw;
  const isCur = s === pool.cur;
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
      pool.deferredCount += got;
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
  if (!isCur) pool.liveRest -= n;
  if (views) pool.views.syncHeld();
  if (views || n === 0) return n;
  if (isCur) {
    if (pool.nfree(s) === pool.objcount) becameEmpty(pool, s);
    return n;
  }
  const nfree = u32[h + Word.NFREE]! + n;
  u32[h + Word.NFREE] = nfree;
  if (nfree >= pool.coldLimit && u32[h + Word.HEAPIDX] === Mark.NONE) pool.heapPush(s);
  if (nfree === pool.objcount) becameEmpty(pool, s);
  return n;
}
