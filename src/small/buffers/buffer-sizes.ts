/**
 * The sizes the buffers ask their memory source for, checked one way: the start capacity of a
 * buffer over a `SlabCache` (Ibuf, Obuf: their constructors' one contract), and the error for a
 * size the address space can never hold (every buffer, before it asks for the memory).
 *
 * Memory source: none. Thread-safety: pure functions. Failure: `startCapacityOver` throws
 * `TypeError`/`RangeError` naming its argument; `neverFits` returns its error for the caller
 * to throw.
 */
import { OutOfMemoryError } from '../../errors.js';
import { checkInstance, optionalInt } from '../../internal/checks.js';
import { SlabCache } from '../slabs/slab-cache.js';

/**
 * The start capacity of a buffer `where` builds over `cache` (`new Ibuf`, `new Obuf`): the
 * cache checked to be a SlabCache, `startCapacity` an integer in [1, 4 GiB], by default the
 * cache's smallest block. @internal
 */
export function startCapacityOver(where: string, cache: SlabCache, startCapacity: number | undefined): number {
  checkInstance(where, 'cache', cache, SlabCache);
  return optionalInt(where, 'startCapacity', startCapacity, cache.order0Size, 1, 2 ** 32);
}

/**
 * The error for a request of `size` bytes made through `where` that needs `bytes` (by default
 * `size`) in one piece, more than the address space can ever hold. @internal
 */
export function neverFits(where: string, size: number, bytes: number = size): OutOfMemoryError {
  return new OutOfMemoryError(size, `${where}: ${bytes} bytes can never fit the address space`);
}
