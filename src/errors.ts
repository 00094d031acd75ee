/**
 * The three errors every allocator in the library throws; each one's contract is on its class.
 */

/**
 * An allocation (or a `grow`) could not be satisfied; the allocator is as it was before the call.
 *
 * @remarks
 * It extends `RangeError` because the request was out of the range the allocator can serve now.
 * @category Errors and debug
 */
export class OutOfMemoryError extends RangeError {
  /** Bytes asked for by the call that failed. */
  readonly requested: number;

  /** @param requested bytes asked for; `message` defaults to one that names them. */
  constructor(requested: number, message?: string) {
    super(message ?? `out of memory: ${requested} bytes requested`);
    this.name = 'OutOfMemoryError';
    this.requested = requested;
  }
}

/**
 * An {@link OutOfMemoryError} because a `Quota` said no: the allocation would have taken it past
 * its limit. The allocator is as it was before the call.
 * @category Errors and debug
 */
export class QuotaExceededError extends OutOfMemoryError {
  /** The quota's total (its limit rounded up to `Quota.UNIT`) when the call failed. */
  readonly limit: number;

  /** @param limit the quota's total when the call failed; `message` defaults to one naming both. */
  constructor(requested: number, limit: number, message?: string) {
    super(requested, message ?? `quota exceeded: ${requested} bytes requested, limit ${limit}`);
    this.name = 'QuotaExceededError';
    this.limit = limit;
  }
}

/**
 * A free (or lookup) of a pointer that is not a live allocation of this allocator; the allocator
 * is as it was before the call.
 *
 * @remarks
 * A double free, a foreign or an interior pointer.
 * @category Errors and debug
 */
export class InvalidPointerError extends Error {
  /** The offending pointer, as passed. */
  readonly ptr: number;

  /** @param ptr the pointer as passed; `message` defaults to one that names it. */
  constructor(ptr: number, message?: string) {
    super(message ?? `invalid pointer ${ptr}`);
    this.name = 'InvalidPointerError';
    this.ptr = ptr;
  }
}
