/**
 * Allocation failures told as the caller's: an allocator that asks a lower layer for memory
 * (a `SlabCache`, a `SlabArena`) and gets an `OutOfMemoryError` back rethrows it under the
 * method the user called, so that `Region.alloc` fails with a message that starts
 * `Region.alloc:` and a `requested` that counts the bytes the call needed, not the slab the
 * region asked its cache for.
 */
import { OutOfMemoryError, QuotaExceededError } from '../errors.js';

/**
 * Rethrows `e` as a failure of `where` asking for `requested` bytes: the same class (a
 * `QuotaExceededError` keeps its `limit`), the lower layer's message kept after the caller's.
 * Anything that is not an `OutOfMemoryError` is rethrown as it is.
 */
export function failedAs(where: string, requested: number, e: unknown): never {
  if (e instanceof QuotaExceededError) {
    throw new QuotaExceededError(requested, e.limit, `${where}: no memory for ${requested} bytes (${e.message})`);
  }
  if (e instanceof OutOfMemoryError) {
    throw new OutOfMemoryError(requested, `${where}: no memory for ${requested} bytes (${e.message})`);
  }
  throw e;
}
