/**
 * Size classes for SmallAlloc: which mempool serves a request of `size` bytes, in O(1).
 *
 * Memory source: none; pure arithmetic.
 * Thread-safety: immutable after construction; share freely.
 * Failure: the constructor throws RangeError on parameters that give no usable classes.
 *
 * The classes grow by `granularity` for the first 2^n of them, then geometrically: every
 * time the size doubles, it does so in 2^n equal steps, so the step between neighbouring
 * classes is a factor of about 2^(1/2^n). `n` (the "effective bits") is picked so that
 * 2^(1/2^n) is the closest such factor to the requested `allocFactor`
 * (1.05 -> n = 4 -> actualFactor = 2^(1/16) ~ 1.0443).
 *
 * The lookup reads the request as a binary number: after removing the `objsizeMin` shift and
 * the `granularity` bits that never matter, the position of its highest bit gives the
 * power-of-two group and the n bits after it give the step inside the group:
 *
 * ```
 *   x = (size - shift - 1) >> log2(granularity)       shift = objsizeMin - granularity
 *
 *   x < 2^n:        class = x                          (linear part, steps of granularity)
 *   otherwise:      l = msb(x >> n)                    (which doubling)
 *                   class = (x >> l) + (l << n)        (x >> l keeps the leading 1 and n bits)
 *
 *   size of class c:  c' = c + 1, lin = c' mod 2^n, l = c' >> n
 *                     if l > 0: l -= 1, lin += 2^n
 *                     size = shift + (lin << l << log2(granularity))
 * ```
 *
 * Invariants (checked by the tests for every size up to objsizeMax):
 * - sizeOf(classOf(s)) >= s for every s in [0, objsizeMax];
 * - classOf(s) is the smallest class with that property;
 * - sizeOf(c) is a multiple of granularity, strictly increasing in c, and the last class's
 *   size is exactly objsizeMax.
 */
import { rangeError } from '../../internal/checks.js';

/** The size-class table of one SmallAlloc. */
export class SizeClasses {
  /** Every class size is a multiple of this (a power of two). */
  declare readonly granularity: number;
  /** Size of class 0 (the requested minimum rounded up to granularity). */
  declare readonly objsizeMin: number;
  /** The largest class size; bigger requests are not served by a class. */
  declare readonly objsizeMax: number;
  /** n: each doubling of the size is split into 2^n classes. */
  declare readonly effectiveBits: number;
  /** The growth factor between neighbouring classes once the linear part is over. */
  declare readonly actualFactor: number;
  /** Number of classes: classes are 0 .. count - 1. */
  declare readonly count: number;

  private declare readonly shiftPlus1: number;
  private declare readonly shift: number;
  private declare readonly ignoreBits: number;
  private declare readonly effSize: number;

  /**
   * @param objsizeMin smallest class size (rounded up to granularity), >= 1
   * @param granularity a power of two; every class size is a multiple of it
   * @param allocFactor desired growth factor in (1, 2]
   * @param objsizeMax the largest class size (rounded down to granularity)
   */
  constructor(objsizeMin: number, granularity: number, allocFactor: number, objsizeMax: number) {
    const where = 'SizeClasses';
    this.granularity = granularity;
    this.ignoreBits = 31 - Math.clz32(granularity);
    const min = Math.ceil(objsizeMin / granularity) * granularity;
    this.objsizeMin = min;
    const max = Math.floor(objsizeMax / granularity) * granularity;
    if (max < min) rangeError(where, 'objsizeMin', `at most ${max}`, objsizeMin);
    this.objsizeMax = max;
    // The integer n whose factor 2^(1/2^n) is closest (in log-log terms) to the request.
    const bits = Math.floor(Math.log2(Math.LN2 / Math.log(allocFactor)) + 0.5);
    this.effectiveBits = Math.max(0, Math.min(bits, 20));
    this.effSize = 1 << this.effectiveBits;
    this.actualFactor = 2 ** (1 / this.effSize);
    this.shift = min - granularity;
    this.shiftPlus1 = this.shift + 1;
    this.count = this.classOf(max) + 1;
  }

  /** The class serving `size` bytes; `size` must be in [0, objsizeMax]. */
  classOf(size: number): number {
    let x = size - this.shiftPlus1;
    if (x < 0) return 0;
    x >>>= this.ignoreBits;
    const eb = this.effectiveBits;
    if (x < this.effSize) return x;
    const l = 31 - Math.clz32(x >>> eb);
    return (x >>> l) + (l << eb);
  }

  /** The object size of class `cls`, in [0, count). The last class is capped at objsizeMax. */
  sizeOf(cls: number): number {
    const c = cls + 1;
    let lin = c & (this.effSize - 1);
    let l = c >>> this.effectiveBits;
    if (l !== 0) {
      l--;
      lin |= this.effSize;
    }
    const size = this.shift + lin * 2 ** (l + this.ignoreBits);
    return size < this.objsizeMax ? size : this.objsizeMax;
  }
}
