/**
 * SmallAlloc's options: their shape, their checks, and the size classes they give over a cache.
 *
 * Memory source: none; it reads the cache's slab sizes.
 *
 * Thread-safety: pure; any worker.
 *
 * Failure: TypeError for an option of the wrong type, RangeError for one out of range, both
 * naming `SmallAlloc` (the constructor, which has made nothing yet).
 */
import { checkInt, optionsBag, rangeError, typeError } from '../../internal/checks.js';
import type { SlabCache } from '../slabs/slab-cache.js';
import { mempoolObjsizeMax } from './geometry.js';
import { SizeClasses } from './size-class.js';

/**
 * Options of the {@link SmallAlloc} constructor.
 * @category The small family
 */
export interface SmallAllocOptions {
  /** Size of the smallest class, rounded up to granularity. Default 16. */
  objsizeMin?: number;
  /** Every class size is a multiple of it: a power of two in [1, 4096]. Default 8. */
  granularity?: number;
  /** Desired growth between classes, in (1, 2]. Default 1.05. */
  allocFactor?: number;
}

/**
 * The size classes `opts` give over `cache`, its options checked; `where` names the
 * constructor for the errors. @internal
 */
export function sizeClassesFor(where: string, cache: SlabCache, opts: SmallAllocOptions | undefined): SizeClasses {
  const o = optionsBag<SmallAllocOptions>(where, opts);
  const granularity = o.granularity ?? 8;
  if (typeof granularity !== 'number') typeError(where, 'granularity', 'a number', granularity);
  if (!Number.isInteger(granularity) || granularity < 1 || granularity > 4096 || (granularity & (granularity - 1)) !== 0) {
    rangeError(where, 'granularity', 'a power of two in [1, 4096]', granularity);
  }
  const factor = o.allocFactor ?? 1.05;
  if (typeof factor !== 'number') typeError(where, 'allocFactor', 'a number', factor);
  if (!(factor > 1 && factor <= 2)) rangeError(where, 'allocFactor', 'a number in (1, 2]', factor);
  // As Tarantool: at least 16 of the largest objects fit the biggest slab.
  const maxSlab = cache.order0Size * 2 ** cache.orderMax;
  const max = Math.floor((maxSlab - 64) / 16 / granularity) * granularity;
  const objsizeMin = o.objsizeMin ?? 16;
  checkInt(where, 'objsizeMin', objsizeMin, 1, Math.max(1, max - 16 * granularity));
  return new SizeClasses(objsizeMin, granularity, factor, Math.min(max, mempoolObjsizeMax(cache)));
}
