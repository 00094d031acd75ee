/**
 * createAllocator: the whole small family in one call, for a program that just wants memory.
 * Its contract (memory source, thread-safety, failure) is on the function.
 */
import { checkInt, isPowerOfTwo, optionalBool, optionsBag, rangeError } from '../../internal/checks.js';
import { requireSharedMemory } from '../../internal/shared-memory.js';
import { MAX_BYTE_LENGTH } from '../../memory.js';
import { Quota } from '../slabs/quota.js';
import { SlabArena } from '../slabs/slab-arena.js';
import { SlabCache } from '../slabs/slab-cache.js';
import { SmallAlloc, type SmallAllocOptions } from './small-alloc.js';

/**
 * Options of {@link createAllocator}.
 * @category The small family
 */
export interface CreateAllocatorOptions extends SmallAllocOptions {
  /** Bytes the allocator may take in all (the quota's limit): at least one slab, `slabSize - 1023`. */
  limit: number;
  /**
   * Bytes per arena slab: a power of two in [64 KiB, 1 GiB]. Default 4 MiB, or for a limit
   * under 32 MiB the largest power of two that fits the limit eight times (at least 64 KiB),
   * so that a small limit still holds several slabs.
   */
  slabSize?: number;
  /**
   * Share the memory with workers (a `SharedArrayBuffer`). Default true; where there is no
   * `SharedArrayBuffer` (a page that is not cross-origin isolated) pass false, and the quota,
   * arena and memory are this thread's own, in a resizable `ArrayBuffer`.
   */
  shared?: boolean;
}

/**
 * A ready {@link SmallAlloc} over a fresh quota of `limit` bytes, arena and cache.
 *
 * @remarks
 * Memory source: it builds a {@link Quota} of `limit` bytes, a {@link SlabArena} over it, this
 * worker's {@link SlabCache} and a {@link SmallAlloc}, and returns the SmallAlloc. Its parts
 * stay reachable: `alloc.cache`, `alloc.cache.arena`, `alloc.cache.arena.quota`.
 *
 * Thread-safety: that of {@link SmallAlloc}; a worker can be handed
 * `alloc.cache.arena.handle()`, and another `Region` or `LSRegion` can share the arena.
 *
 * Failure: bad options are a `TypeError`/`RangeError` naming the option (as each part's own
 * constructor names it); nothing is left behind. A `limit` whose quota cannot pay for one slab
 * (below `slabSize - 1023`, the quota counting whole KiB) is a `RangeError` naming the minimum:
 * such an allocator could never allocate.
 *
 *     const alloc = createAllocator({ limit: 64 << 20 });
 *     const p = alloc.alloc(100);
 * @category The small family
 */
export function createAllocator(opts: CreateAllocatorOptions): SmallAlloc {
  const where = 'createAllocator';
  const o = optionsBag<CreateAllocatorOptions>(where, opts);
  checkInt(where, 'limit', o.limit, 1, MAX_BYTE_LENGTH);
  const limit = o.limit as number;
  const slabSize = o.slabSize ?? defaultSlabSize(limit);
  // Every allocation draws on a slab, and the quota (the limit rounded up to a unit) pays for
  // whole slabs: below one, the allocator could be made and never allocate. A slabSize that is
  // no power of two is left to the arena, whose message names it.
  const min = typeof slabSize === 'number' && isPowerOfTwo(slabSize) ? slabSize - Quota.UNIT + 1 : 1;
  if (limit < min) rangeError(where, 'limit', `at least ${min} (a quota of one ${slabSize}-byte slab)`, limit);
  const shared = optionalBool(where, 'shared', o.shared, true);
  if (shared) requireSharedMemory(where);
  const quota = new Quota(limit, { shared });
  const arena = new SlabArena({
    quota,
    slabSize,
    shared,
  });
  const cache = new SlabCache(arena);
  try {
    return new SmallAlloc(cache, {
      ...(o.objsizeMin !== undefined ? { objsizeMin: o.objsizeMin } : {}),
      ...(o.granularity !== undefined ? { granularity: o.granularity } : {}),
      ...(o.allocFactor !== undefined ? { allocFactor: o.allocFactor } : {}),
    });
  } catch (e) {
    cache.destroy();
    throw e;
  }
}

/** 4 MiB, or for a small limit the largest power of two that fits it eight times, at least 64 KiB. */
function defaultSlabSize(limit: number): number {
  const DEFAULT = 4 * 1024 * 1024;
  const MIN = 64 * 1024;
  let size = DEFAULT;
  while (size > MIN && size * 8 > limit) size /= 2;
  return size;
}
