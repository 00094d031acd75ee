/**
 * The owner's side of remote frees: a Mempool taking in the frees other workers made of its
 * objects. The freeing side (free-route.ts) only sets the slot's bit in the slab's REMOTE
 * bitmap and raises the slab's pending flag; here the owner clears those bits, takes the slots
 * off ALLOCATED and puts them on the slab's free list (or holds them back while a read view is
 * open). A pool does this on its allocation slow path, in `stats()` / `check()`, and a
 * SmallAlloc for all its pools; never on a fast path.
 *
 * Memory source: none; it rewrites the headers, bitmaps and free slots of the pool's slabs.
 *
 * Thread-safety: the pool's owner only. Other workers may set REMOTE bits and raise the flag
 * at any time: the flag is lowered before the bitmap is read, and each REMOTE word is swapped
 * for 0 atomically, so a free that lands meanwhile is either taken now or raises the flag
 * again for the next scan.
 *
 * Failure: none; a slab with nothing pending costs one atomic load.
 */
import { FREED_BYTE } from '../../debug.js';
import { Mark, Word } from './block-header.js';
import type { Mempool } from './mempool.js';

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
  const isCur = s === pool.cur;
  if (isCur) pool.flush();
  Atomics.store(i32, h + Word.PENDING, 0);
  const ra = h + Word.WORDS + pool.bw;
  const views = pool.views.anyOpen;
  let n = 0;
  const nfree0 = u32[h + Word.NFREE]!;
  for (let w = 0; w < pool.bw; w++) {
    if (Atomics.load(i32, ra + w) === 0) continue; // atomic: ordered after the flag store above
    let bits = Atomics.exchange(i32, ra + w, 0);
    i32[h + Word.WORDS + w]! &= ~bits;
    while (bits !== 0) {
      const b = 31 - Math.clz32(bits & -bits);
      bits &= bits - 1;
      const ptr = s + pool.first + (w * 32 + b) * pool.stride;
      n++;
      if (views) {
        u32[h + Word.DEFERRED]!++;
        pool.deferredCount++;
        pool.views.defer(ptr);
      } else {
        if (pool.debug) pool.u8.fill(FREED_BYTE, ptr, ptr + pool.objsize);
        u32[ptr >>> 2] = u32[h + Word.FREE]!;
        u32[h + Word.FREE] = ptr;
      }
    }
  }
  if (!isCur) pool.liveRest -= n;
  if (views || n === 0) return n;
  const nfree = nfree0 + n;
  u32[h + Word.NFREE] = nfree;
  if (isCur) {
    pool.fl = u32[h + Word.FREE]!;
  } else if (nfree >= pool.coldLimit && u32[h + Word.HEAPIDX] === Mark.NONE) {
    pool.heapPush(s);
  }
  if (nfree === pool.objcount) pool.becameEmpty(s);
  return n;
}
