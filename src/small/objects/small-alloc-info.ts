/**
 * What a pointer given to a SmallAlloc is, checked: the usable bytes of a live allocation of
 * any allocator over the arena, for `SmallAlloc.info` and `SmallAlloc.readString`, and the
 * InvalidPointerError the allocator's slow paths throw.
 *
 * Memory source: none; it reads the slab headers, bitmaps and page tags of the allocator's
 * memory, and changes nothing.
 *
 * Thread-safety: the allocator's worker; the pointer may be any worker's allocation, and the
 * bitmap words other workers change are read with `Atomics`.
 *
 * Failure: RangeError for a pointer that is not a non-negative integer, InvalidPointerError for
 * one that is not live.
 */
import { InvalidPointerError } from '../../errors.js';
import { checkPointer, describe } from '../../internal/checks.js';
import { slabOf } from '../slabs/slab-cache.js';
import { allocWord, bitmapWords, heldWord, Mark, remoteWord, slotBit, slotOf, Word } from './block-header.js';
import { isPageRun, largeId, liveLargeWord } from './large.js';
import { ownerOf } from './owners.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/**
 * What {@link SmallAlloc.info} tells of a live allocation.
 * @category The small family
 */
export interface AllocationInfo {
  /** True for a run of pages of its own: above `objsizeMax`, or an allocAs no class could align. */
  isLarge: boolean;
  /** Usable bytes: the class size, or a large allocation's pages. */
  realSize: number;
}

/**
 * The usable bytes of the live allocation at `ptr`, any allocator's over the arena (as
 * free() accepts it), asked through `a`: its class size, or (negated) a large allocation's
 * pages. InvalidPointerError naming `where` if it is not live. @internal
 */
export function liveSize(a: SmallAllocParts, ptr: number, where: string): number {
  if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
  const arena = a.cache.arena;
  if (ptr === 0 || ptr >= arena.maximum) invalid(where, ptr, 'is not a pointer into the arena');
  if (ptr >= a.viewEnd) a.refresh();
  // Any allocator's pointer is answered, as free() accepts it; one of this worker's must
  // still belong to a live allocator.
  const mine = arena.slabOwner[Math.floor(ptr / arena.slabSize)] === a.ownerId;
  if (isPageRun(arena, ptr)) {
    const w = liveLargeWord(arena, ptr, where);
    if (mine && ownerOf(largeId(w)) === undefined) invalid(where, ptr, 'is in a block of no live allocator');
    return -a.cache.pagesSize(a.large.size(ptr));
  }
  const s = slabOf(arena, ptr) >>> 0;
  if (s === 0 || s + Word.BYTES > a.viewEnd) invalid(where, ptr, 'is not in a block handed out by the arena');
  const u32 = a.u32;
  const i32 = a.i32;
  const h = s >>> 2;
  if (u32[h + Word.MAGIC] !== Mark.MEMPOOL) invalid(where, ptr, 'is not in a mempool slab or a large allocation');
  if (mine && ownerOf(u32[h + Word.POOL]!) === undefined) invalid(where, ptr, 'is in a block of no live allocator');
  const idx = slotOf(u32, s, ptr);
  if (idx < 0) invalid(where, ptr, 'is not at an object boundary');
  const bw = bitmapWords(u32[h + Word.COUNT]!);
  const w = allocWord(s, idx);
  const bit = slotBit(idx);
  // Live: ALLOCATED set, REMOTE and HELD clear (block-header.ts's states).
  if ((Atomics.load(i32, w) & bit) === 0 || ((Atomics.load(i32, remoteWord(w, bw)) | Atomics.load(i32, heldWord(w, bw))) & bit) !== 0) {
    invalid(where, ptr, 'is not a live allocation');
  }
  return u32[h + Word.OBJSIZE]!;
}

/** Throws InvalidPointerError: `ptr` given to `where` is no good, `why`. @internal */
export function invalid(where: string, ptr: unknown, why: string): never {
  throw new InvalidPointerError(typeof ptr === 'number' ? ptr : NaN, `${where}: pointer ${describe(ptr)} ${why}`);
}
