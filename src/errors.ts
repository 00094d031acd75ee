/**
 * The three errors every allocator in the library throws.
 *
 * - `OutOfMemoryError`: an allocation (or a `grow`) could not be satisfied. It extends
 *   `RangeError` because the request was out of the range the allocator can serve now.
 * - `QuotaExceededError`: the same, because a `Quota` said no.
 * - `InvalidPointerError`: a free of something that is not a live allocation of that allocator
 *   (a double free, a foreign or interior pointer).
 *
 * None of them is thrown after a partial change: the allocator is as it was before the call.
 */

/** An allocation could not be satisfied; nothing was changed. */
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

/** An allocation would have taken a `Quota` past its limit; nothing was changed. */
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

/** A free (or lookup) of a pointer that is not a live allocation of this allocator. */
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
