/**
 * SmallAlloc's realloc off its first test: in place while the new size falls in the same class
 * (a large allocation: needs the same pages), else moved (a new allocation, the bytes that fit
 * copied, the old one freed). `SmallAlloc.realloc` finds its own class objects as free's fast
 * path does and hands them here with their pool; everything else comes here whole.
 *
 * Memory source: the allocator's (`tryAlloc`); the old allocation is freed through its pool or
 * the large allocations.
 *
 * Thread-safety: the allocator's worker only, as `realloc` is.
 *
 * Failure: OutOfMemoryError / QuotaExceededError when a move finds no memory, the old
 * allocation live and intact; InvalidPointerError for a pointer that is not a live allocation
 * of this allocator, RangeError for one that is not a non-negative integer: nothing changed.
 */
import { checkPointer } from '../../internal/checks.js';
import { Page } from '../slabs/page-map.js';
import { slabOf } from '../slabs/slab-cache.js';
import { Word } from './block-header.js';
import { isPageRun, largeId, liveLargeWord } from './large.js';
import type { Mempool } from './mempool.js';
import { poolOf } from './small-alloc-free.js';
import { invalid } from './small-alloc-info.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/**
 * realloc copies up to this many bytes word by word, more with copyWithin, a call into the
 * runtime (`npm run bench -- records`, Node 20 and 24: copyWithin 15-18 ns for 16 or 64 bytes
 * and 20-23 ns for 128; the word loop 4, 13-15 and 32-38 ns).
 */
const WORD_COPY_MAX = 64;

/** A SmallAlloc as realloc sees it: its parts, its class of a size, and realloc itself. @internal */
export interface ReallocAlloc extends SmallAllocParts {
  /** The arena's page map. */
  readonly pageMap: Uint8Array;
  /** The class of `size` (at most objsizeMax). */
  classOf(size: number): number;
  realloc(ptr: number, size: number): number;
}

/**
 * Whose block is `ptr` (a u32) in, as `a`'s free fast path decodes it (a copy kept inline
 * there): the start of the mempool slab that holds it when one of `a`'s class pools owns that
 * slab, else 0 (another worker's slab, a large allocation, another allocator of this worker,
 * past the views, not handed out). @internal
 */
export function slabOfOurs(a: ReallocAlloc, ptr: number): number {
  // The page map's byte minus 1 is a handed-out block's order.
  const o = a.pageMap[ptr >>> Page.SHIFT]! - 1;
  if ((o >>> 0) >= Page.MAX_BLOCK) return 0;
  const s = ptr - (ptr & ((Page.BYTES << o) - 1));
  const h = s >>> 2;
  const u32 = a.u32;
  // A pool id is written only with the magic and cleared when the slab goes back, so an
  // owner, class and pool id that match are our own mempool slab. Past the views' end the
  // reads give undefined: no match, and the slow path refreshes the views.
  const cls = u32[h + Word.CLASS]!;
  const pool = cls < a.pools.length ? a.pools[cls]! : null;
  return pool !== null && u32[h + Word.OWNER] === a.ownerId && pool.poolId === u32[h + Word.POOL] ? s : 0;
}

/** realloc through `a` of `ptr`, a live object of its `pool`'s slab `s`. @internal */
export function reallocIn(a: ReallocAlloc, pool: Mempool, ptr: number, s: number, size: number): number {
  const real = pool.objsize;
  // The same class holds the sizes above the previous class, up to its own.
  if (size <= real && a.classOf(size) === pool.classIndex) return ptr;
  const q = moveTo(a, ptr, real, size);
  pool.freeIn(ptr, s);
  return q;
}

/** realloc through `a` of 0, of a large allocation, of an adopted pool's object, past its views, or of what is not its own. @internal */
export function reallocSlow(a: ReallocAlloc, ptr: number, size: number): number {
  const where = 'SmallAlloc.realloc';
  if (ptr === 0) {
    const p = a.tryAlloc(size);
    if (p === 0) a.cache.noMemory(where, size);
    return p;
  }
  if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
  if (ptr >= a.viewEnd) {
    a.refresh();
    if (ptr < a.viewEnd) return a.realloc(ptr, size);
  }
  const arena = a.cache.arena;
  const large = a.large;
  if (ptr < arena.maximum && isPageRun(arena, ptr)) {
    const w = liveLargeWord(arena, ptr, where);
    if (largeId(w) === a.id && large.held.has(ptr)) {
      const pages = a.cache.pagesSize(large.size(ptr));
      if (size > a.objsizeMax && a.cache.pagesSize(size) === pages) {
        large.resize(ptr, size);
        return ptr;
      }
      const q = moveTo(a, ptr, pages, size);
      large.free(ptr);
      return q;
    }
  } else if (ptr < arena.maximum) {
    // An object of a pool the fast path does not look at (adopted, of another geometry).
    const s = slabOf(arena, ptr) >>> 0;
    const ours = s !== 0 && s + Word.BYTES <= a.viewEnd && a.u32[(s >>> 2) + Word.OWNER] === a.ownerId;
    const pool = ours ? poolOf(a, s) : null;
    if (pool !== null && pool.holds(ptr, s)) return reallocIn(a, pool, ptr, s, size);
  }
  invalid(where, ptr, 'is not a live allocation of this allocator');
}

/** A new allocation of `size` bytes from `a` holding the first bytes of the `real` at `ptr`. */
function moveTo(a: ReallocAlloc, ptr: number, real: number, size: number): number {
  const q = a.tryAlloc(size);
  if (q === 0) a.cache.noMemory('SmallAlloc.realloc', size);
  if (q + size > a.viewEnd) a.refresh();
  const n = real < size ? real : size;
  // A short copy word by word (see WORD_COPY_MAX).
  if (n <= WORD_COPY_MAX && ((q | ptr | n) & 3) === 0) {
    const i32 = a.i32;
    for (let i = ptr >>> 2, j = q >>> 2, end = (ptr + n) >>> 2; i < end; i++, j++) i32[j] = i32[i]!;
  } else {
    a.u8.copyWithin(q, ptr, ptr + n);
  }
  return q;
}
