/**
 * SmallAlloc's checked free, the slow path of `free` (a typed array, a size given, a pointer the
 * fast path did not find in its own slabs, debug mode): the argument checked and decoded, the
 * size checked against what was allocated, and the free routed to whoever owns the block. Also
 * the pool of a slab of ours, which the allocator's other slow paths use too.
 *
 * Memory source: none; it reads the slab headers and page tags of the allocator's memory.
 *
 * Thread-safety: the allocator's worker. Another worker's block gets a remote free, which only
 * sets bits with `Atomics` (free-route.ts).
 *
 * Failure: TypeError or RangeError for a bad argument or a size that does not match,
 * InvalidPointerError for anything that is not a live allocation; nothing changed then.
 */
import { InvalidPointerError } from '../../errors.js';
import { checkInt, checkPointer, rangeError } from '../../internal/checks.js';
import type { TypedArray } from '../../internal/typed.js';
import { MAX_BYTE_LENGTH } from '../../memory.js';
import { slabOf } from '../slabs/slab-cache.js';
import { Mark, Word } from './block-header.js';
import { freeAnywhere } from './free-route.js';
import { isPageRun, largeId, liveLargeWord, tagIndex } from './large.js';
import type { Mempool } from './mempool.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/**
 * Frees `arg` (a pointer, or a typed array standing for its first byte) through `a`, checked.
 * `size`, when given, must be what was asked for (any size of the same class does). @internal
 */
export function freeChecked(a: SmallAllocParts, arg: number | TypedArray, size: number | undefined): void {
  const large = a.large;
  const where = 'SmallAlloc.free';
  const ptr = ArrayBuffer.isView(arg) ? viewStart(a, arg, where) : arg;
  if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
  if (size !== undefined && size !== null) checkInt(where, 'size', size, 0, MAX_BYTE_LENGTH);
  if (ptr >= a.viewEnd) a.refresh();
  const arena = a.cache.arena;
  const sized = size !== undefined && size !== null;
  if (ptr !== 0 && ptr < arena.maximum && isPageRun(arena, ptr)) {
    const w = liveLargeWord(arena, ptr, where);
    if (sized && size !== large.tags[tagIndex(ptr) + 1]! >>> 0) {
      rangeError(where, 'size', `${large.tags[tagIndex(ptr) + 1]! >>> 0} (the size allocated at ${ptr})`, size);
    }
    if (largeId(w) === a.id && large.held.has(ptr)) large.freeOwned(ptr, ptr, 'SmallAlloc');
    else freeAnywhere(arena, a.ownerId, a.u32, a.i32, ptr, 'SmallAlloc');
    return;
  }
  const s = ptr !== 0 && ptr < arena.maximum ? slabOf(arena, ptr) >>> 0 : 0;
  if (s !== 0 && s + Word.BYTES <= a.viewEnd && a.u32[(s >>> 2) + Word.MAGIC] === Mark.MEMPOOL) {
    const pool = a.u32[(s >>> 2) + Word.OWNER] === a.ownerId ? poolOf(a, s) : null;
    if (sized) checkSize(a, ptr, s, size, pool !== null);
    // The local route, as free's fast path takes it (a sized free, or the first after growth).
    if (pool !== null) {
      pool.freeLocal(ptr, s, 'SmallAlloc');
      return;
    }
  }
  // Another worker's block (the remote route), or another allocator's of this worker.
  freeAnywhere(arena, a.ownerId, a.u32, a.i32, ptr, 'SmallAlloc');
}

/**
 * RangeError unless `size` could have asked for the object at `ptr` in mempool slab `s`: the
 * same class for objects of our own slabs, at most the object size for another worker's and
 * for adopted slabs (the classes they were allocated with may differ from ours).
 */
function checkSize(a: SmallAllocParts, ptr: number, s: number, size: number, ours: boolean): void {
  const h = s >>> 2;
  const u32 = a.u32;
  const recorded = u32[h + Word.OBJSIZE]!;
  const cls = u32[h + Word.CLASS]!;
  const ok = ours && cls < a.classes.count && u32[h + Word.ADOPTED] === 0
    ? size <= a.objsizeMax && a.classes.classOf(size) === cls
    : size <= recorded;
  if (!ok) rangeError('SmallAlloc.free', 'size', `a size of the class of ${ptr} (at most ${recorded} bytes)`, size);
}

/**
 * The pointer a typed array given to free stands for: its first byte, whatever view it is
 * (allocAs's, a `subarray(0)`, one built by hand). allocAs puts no padding in front, so the
 * allocation is freed only when the view starts at its first byte, and the free that follows
 * refuses an interior address as it refuses the same number. Views of another buffer are
 * refused here.
 */
function viewStart(a: SmallAllocParts, view: ArrayBufferView, where: string): number {
  const addr = view.byteOffset;
  if (!a.memory.owns(view.buffer)) {
    throw new InvalidPointerError(addr, `${where}: the typed array does not view this allocator's memory`);
  }
  return addr;
}

/**
 * The pool of `a` (a class pool, or an adopted one by objsize) that owns mempool slab `s`, as
 * its header reads; null if another allocator owns it. @internal
 */
export function poolOf(a: SmallAllocParts, s: number): Mempool | null {
  const u32 = a.u32;
  const pools = a.pools;
  const h = s >>> 2;
  const id = u32[h + Word.POOL]!;
  const cls = u32[h + Word.CLASS]!;
  if (cls < pools.length) {
    const p = pools[cls]!;
    return p !== null && p.poolId === id ? p : null;
  }
  const p = a.extra.get(u32[h + Word.OBJSIZE]!);
  return p !== undefined && p.poolId === id ? p : null;
}
