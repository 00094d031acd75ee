/**
 * Mempool: a pool of fixed-size objects (Tarantool's `mempool`), O(1) alloc and free. Its
 * contract (memory source, thread-safety, failure) is on the class. Its state and every change
 * to it, the fast paths included, are the core's (mempool-core.ts); this class adds the public
 * operations that only call the core and read it: argument checks, strings
 * (mempool-strings.ts), calloc, stats (mempool-stats.ts) and adoption (mempool-adopt.ts). It
 * holds no state of its own. (check() is the core's, since debug mode runs it from there; its
 * invariants are listed in mempool-check.ts.)
 */
import { checkInstance, checkInt } from '../../internal/checks.js';
import { SlabCache } from '../slabs/slab-cache.js';
import { allocWord, heldWord, Mark, remoteWord, slotBit } from './block-header.js';
import { mempoolObjsizeMax } from './geometry.js';
import { adoptThread, slabFits, type MempoolAdoption } from './mempool-adopt.js';
import { MempoolCore } from './mempool-core.js';
import { liveObjects, mempoolStats, type MempoolStats } from './mempool-stats.js';
import { allocString, readString } from './mempool-strings.js';
import type { ReadViews } from './read-views.js';

export type { MempoolAdoption } from './mempool-adopt.js';
export type { MempoolStats } from './mempool-stats.js';

/**
 * A pool of fixed-size objects over a SlabCache.
 *
 * @remarks
 * Memory source: slabs of one order from a {@link SlabCache}; the slab order is picked so the
 * slab header and the unusable tail cost about 1% (plus the three bitmap bits per object), and
 * so that a slab holds at least 96 objects or is at least 64 KiB.
 *
 * Thread-safety: a Mempool belongs to the worker that created it: only that worker may call
 * `alloc`, `stats`, `check`, `destroy`. Any worker may `free` a pointer it handed out, through
 * any Mempool or SmallAlloc over the same SlabArena; the owner takes such remote frees in on
 * its allocation slow path, and at the latest in `stats()` / `check()`.
 *
 * Failure: `alloc` throws `OutOfMemoryError`/`QuotaExceededError` (from the cache), `tryAlloc`
 * returns 0. A failed allocation changes no live object, no used byte and no quota byte; before
 * it fails it gives cached empty memory back (the spare block each pool over the cache keeps),
 * so a pool's `total` may drop. A free of a pointer that is not a live object of this
 * pool (double free, foreign, interior or out-of-range pointer) throws `InvalidPointerError`
 * and changes nothing.
 *
 * Adoption: the objects of a worker that has exited are taken over by {@link Mempool.adopt}.
 * @category The small family
 */
export class Mempool extends MempoolCore {
  /**
   * A pool of `objsize`-byte objects over `cache`. `objsize` is an integer in
   * [1, largest that fits the cache's biggest slab].
   * @throws TypeError if `cache` is not a SlabCache; RangeError if `objsize` is not an integer in [1, the largest that fits a slab].
   */
  constructor(cache: SlabCache, objsize: number);
  /** @internal */
  constructor(cache: SlabCache, objsize: number, views: ReadViews, classIndex: number);
  constructor(cache: SlabCache, objsize: number, views: ReadViews | null = null, classIndex: number = Mark.NO_CLASS) {
    const where = 'Mempool';
    checkInstance(where, 'cache', cache, SlabCache);
    checkInt(where, 'objsize', objsize, 1, mempoolObjsizeMax(cache));
    super(cache, objsize, views, classIndex);
  }

  /** True when slab `s` (a formatted mempool slab) has this pool's objsize and geometry. @internal */
  fits(s: number): boolean {
    return slabFits(this, s);
  }

  /** Live objects. */
  get count(): number {
    return liveObjects(this);
  }

  /** Bytes handed out and live: count * objsize. */
  get used(): number {
    return liveObjects(this) * this.objsize;
  }

  /** Bytes of slabs held. */
  get total(): number {
    return this.slabs.length * this.slabSize;
  }

  /**
   * True when `ptr` is a live object (allocated, not freed by another worker) of our slab `s`,
   * exactly at a slot's start. @internal
   */
  holds(ptr: number, s: number): boolean {
    const idx = this.slot(ptr - s - this.first);
    if (idx < 0) return false;
    const w = allocWord(s, idx);
    const bit = slotBit(idx);
    return (this.i32[w]! & bit) !== 0 && ((this.i32[remoteWord(w, this.bw)]! | this.i32[heldWord(w, this.bw)]!) & bit) === 0;
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32) in one object; returns its pointer (free
   * it as any other). `RangeError` if it needs more than `objsize` bytes.
   * @throws TypeError if `s` is not a string; RangeError if it needs more than `objsize` bytes; OutOfMemoryError when the cache has no slab.
   */
  allocString(s: string): number {
    return allocString(this, s);
  }

  /**
   * The string `allocString` stored at `ptr`, a live object of this pool. `InvalidPointerError`
   * if it is not one, or if its length runs past the object.
   * @throws RangeError if `ptr` is not a non-negative integer; InvalidPointerError if it is not a live object of this pool.
   */
  readString(ptr: number): string {
    return readString(this, ptr, this.slabMask);
  }

  /**
   * An object of `objsize` bytes, all zero. Throws `OutOfMemoryError` when the cache has no slab.
   * @throws OutOfMemoryError / QuotaExceededError when the cache has no slab.
   */
  calloc(): number {
    const p = this.tryAlloc();
    if (p === 0) this.cache.noMemory('Mempool.calloc', this.objsize);
    this.u8.fill(0, p, p + this.objsize);
    return p;
  }

  /**
   * Worker `threadId` has exited: takes over, through the cache, every slab its slab caches
   * held. Mempool slabs of this objsize join this pool (their live objects stay live and may
   * be freed here); slabs of no allocator of this family go back to the cache; slabs this
   * pool cannot take (another objsize, large allocations) are returned in `others`, for
   * `SmallAlloc.adoptSlabs` (SmallAlloc.adopt takes everything in one call).
   * @throws RangeError for a bad `threadId`, or the calling thread's own.
   */
  adopt(threadId: number): MempoolAdoption {
    return adoptThread(this, threadId);
  }

  /**
   * Statistics (remote frees are taken in first, and a pool of its own releases what the
   * arena's views no longer see).
   */
  stats(): MempoolStats {
    if (!this.hosted) {
      this.settleAll();
      this.releaseHeld(false);
    }
    return mempoolStats(this, this.hosted, this.slabMask);
  }

  /** Deferred slots held now (SmallAlloc's check compares them with its queue). @internal */
  get deferred(): number {
    return this.deferredCount;
  }
}
