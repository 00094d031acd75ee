/**
 * Strings in a Mempool's objects: `Mempool.allocString` and `Mempool.readString` delegate here.
 * A string is stored as its UTF-8 byte length (a u32) followed by the bytes, in one object
 * (internal/strings.ts holds the format, shared with every allocator of the package).
 *
 * Memory source: one object of the pool per string, allocated with `tryAlloc` (so from the
 * pool's slabs); freed as any other object.
 *
 * Thread-safety: the pool's owner's, as `alloc` is (both may refresh the pool's views).
 *
 * Failure: TypeError for a non-string, RangeError for one that does not fit an object,
 * OutOfMemoryError / QuotaExceededError when the cache has no slab (nothing allocated then);
 * InvalidPointerError for a read of anything but a live object of the pool, or of a length
 * that runs past the object.
 */
import { InvalidPointerError } from '../../errors.js';
import { checkPointer, describe, rangeError } from '../../internal/checks.js';
import { readStringAt, STRING_PREFIX, stringArg, writeString } from '../../internal/strings.js';
import type { PoolParts } from './pool-parts.js';

/** A pool whose strings these are: {@link PoolParts} and its `holds`. @internal */
export interface StringPool extends PoolParts {
  holds(ptr: number, s: number): boolean;
}

/** {@link Mempool.allocString}: `s` stored in one object of `pool`; returns its pointer. @internal */
export function allocString(pool: StringPool, s: string): number {
  const where = 'Mempool.allocString';
  const n = stringArg(where, s);
  if (STRING_PREFIX + n > pool.objsize) {
    rangeError(where, 's', `a string of at most ${pool.objsize - STRING_PREFIX} bytes of UTF-8 (objsize ${pool.objsize})`, s);
  }
  const p = pool.tryAlloc();
  if (p === 0) pool.cache.noMemory(where, pool.objsize);
  const dv = pool.cache.arena.memory.dv;
  writeString(pool.u8, dv, p, s, n);
  return p;
}

/**
 * {@link Mempool.readString}: the string stored at `ptr`, a live object of `pool`, whose slabs
 * are aligned to `slabMask + 1` bytes. @internal
 */
export function readString(pool: StringPool, ptr: number, slabMask: number): string {
  const where = 'Mempool.readString';
  if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
  const s = ptr - (ptr & slabMask);
  if (ptr >= pool.viewEnd) pool.refresh();
  if (ptr >= pool.viewEnd || pool.f64[(s >>> 3) + 1] !== pool.tag || !pool.holds(ptr, s)) {
    throw new InvalidPointerError(ptr, `${where}: pointer ${describe(ptr)} is not a live object of this pool`);
  }
  return readStringAt(pool.u8, pool.cache.arena.memory.dv, ptr, ptr + pool.objsize, where);
}
