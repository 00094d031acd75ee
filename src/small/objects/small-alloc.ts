/**
 * SmallAlloc: any size, by size classes over mempools (Tarantool's `small_alloc`), with read
 * views (MVCC snapshots) and frees from any worker. Its contract (memory source, thread-safety,
 * failure, read views, adoption) is on the class. The size classes are in size-class.ts; the
 * LARGE path (requests above `objsizeMax`) is in large.ts. A free from another worker only
 * sets bits with `Atomics` (see free-route.ts).
 *
 * Fast paths: alloc maps a size to its pool with one array load (`bySize`, by granule, for
 * sizes up to TABLE_MAX_ENTRIES granules) and the pool's alloc is small enough for V8 to
 * inline; free finds the block's order in the arena's page map, the class in the slab header,
 * and checks owner and pool id before the pool's own free. Deferred frees due and read views
 * cost one field test each (`fastMax`, `fastFree`, the pools' `quick` flag). In debug mode
 * the fast paths are off: every call takes the slow paths, which count this allocator's
 * operations and run its whole check() (its pools included) every checkEvery of them.
 *
 * Its pools call nothing of it: a pool that finds no slab returns 0, and the SmallAlloc takes
 * in what all its pools hold (remote frees, releasable deferred frees) and tries again.
 *
 * Read views: `openReadView()` returns a view with generation g = ++gen. While any view is
 * open, a free (local, or remote when taken in) clears the ALLOCATED bit (so a second free is
 * still caught) and joins a FIFO tagged with the newest generation at that moment. An entry
 * tagged t is released once the oldest open view is newer than t. While views stay open,
 * releases go in bounded batches (BATCH per alloc/free call); once the last view has closed,
 * the next allocation, `stats()` or `check()` releases everything at once. A view closed by
 * the garbage collector is counted in `stats().viewsCollected` (debug mode warns).
 *
 * Invariants (checked by `check()`):
 * - every pool passes Mempool.check; each pool sits at its class index (or among the adopted);
 * - |deferred queue| == Σ pool.deferred + large allocations in state DEFERRED;
 * - large count == allocations in state LIVE or REMOTE; their page tags name this allocator;
 * - open views == views not closed; generations in the queue never decrease.
 */
import { InvalidPointerError } from '../../errors.js';
import { checkInstance, checkInt, checkPointer, describe, optionsBag, rangeError, typeError } from '../../internal/checks.js';
import { getDebug, PeriodicCheck } from '../../debug.js';
import { readStringAt, STRING_PREFIX, stringArg, writeString } from '../../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../../internal/typed.js';
import { holdViews, MAX_BYTE_LENGTH, type Memory } from '../../memory.js';
import { currentThreadId } from '../../internal/thread.js';
import { LargeState, isPageRun, largeFail, largeId, largeState, largeWord, liveLargeWord, tagIndex } from './large.js';
import { Mark, retireSlab, Word } from './block-header.js';
import { freeAnywhere, freeRemote } from './free-route.js';
import { mempoolObjsizeMax, slotAt } from './geometry.js';
import { Mempool, type MempoolStats } from './mempool.js';
import { newPoolId, ownerOf, type BlockOwner } from './owners.js';
import { ReadViews, type ViewRecord } from './read-views.js';
import { SizeClasses } from './size-class.js';
import { Page } from '../slabs/page-map.js';
import { SlabCache, slabOf, slabSizeAt } from '../slabs/slab-cache.js';
import { tryGetPages } from '../spare-block.js';

/** Deferred frees released per alloc/free/stats/check call. */
const BATCH = 16;
/** Entries of the class table: sizes up to TABLE_MAX_ENTRIES - 1 granules are looked up. */
const TABLE_MAX_ENTRIES = 4096;

/** Options of the {@link SmallAlloc} constructor. */
export interface SmallAllocOptions {
  /** Size of the smallest class, rounded up to granularity. Default 16. */
  objsizeMin?: number;
  /** Every class size is a multiple of it: a power of two in [1, 4096]. Default 8. */
  granularity?: number;
  /** Desired growth between classes, in (1, 2]. Default 1.05. */
  allocFactor?: number;
}

/** A read view: while open, memory freed through its allocator keeps its bytes. */
export interface ReadView {
  /** Ends the view; idempotent. */
  close(): void;
  /** Same as close(), for `using view = alloc.openReadView()`. */
  [Symbol.dispose](): void;
}

/** One size class in {@link SmallStats}. */
export interface SmallClassStats extends MempoolStats {
  /** Class index (-1 for a pool adopted from an exited worker with a size outside the classes). */
  cls: number;
}

/** The result of {@link SmallAlloc.stats}; JSON-serializable. */
export interface SmallStats {
  /** Bytes handed out and live: class objects at their class size, large ones as asked. */
  used: number;
  /** Bytes of slabs and runs held. */
  total: number;
  /** Live allocations (small and large). */
  count: number;
  /** Allocations above objsizeMax. */
  large: {
    /** Live large allocations. */
    count: number;
    /** Bytes asked for by them. */
    used: number;
    /** Bytes of pages they hold. */
    total: number;
  };
  /** Frees held back for read views. */
  deferred: number;
  /** Read views open now. */
  views: number;
  /** Read views dropped without close() and closed when the garbage collector reclaimed them. */
  viewsCollected: number;
  /** Pools that exist, by object size. */
  classes: SmallClassStats[];
}

/** What {@link SmallAlloc.info} tells of a live allocation. */
export interface AllocationInfo {
  /** True for an allocation above `objsizeMax` (a run of pages of its own). */
  isLarge: boolean;
  /** Usable bytes: the class size, or a large allocation's pages. */
  realSize: number;
}

/** The result of {@link SmallAlloc.adopt}. */
export interface SmallAdoption {
  /** Mempool slabs taken over. */
  slabs: number;
  /** Live small objects in them. */
  objects: number;
  /** Live large allocations taken over. */
  large: number;
}

class SmallReadView implements ReadView {
  constructor(private readonly owner: SmallAlloc, private readonly rec: ViewRecord) {}

  close(): void {
    if (!this.rec.closed) {
      viewReaper.unregister(this.rec);
      this.owner.closeView(this.rec);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Closes a view the program dropped without close(), when the garbage collector reclaims it. */
const viewReaper = new FinalizationRegistry<{ owner: SmallAlloc; rec: ViewRecord }>(({ owner, rec }) => {
  if (!rec.closed) owner.closeView(rec, true);
});

/**
 * Allocations of any size over size-class mempools; read views; frees from any worker.
 *
 * @remarks
 * Memory source: a {@link SlabCache}. Requests up to `objsizeMax` go to the mempool of their
 * size class (pools created on first use). Larger requests take a run of pages of their own
 * from the cache, still in the arena's buffer and charged to its quota, with their bookkeeping
 * outside the block: a large allocation of n bytes holds n rounded up to a 4 KiB page (to
 * whole slabs above a slab).
 *
 * Thread-safety: a SmallAlloc belongs to the worker that created it. Any worker may `free` (and
 * `info`) a pointer it handed out, through any SmallAlloc or Mempool over the same SlabArena;
 * the owner takes such a free in on its allocation slow path, or at the latest in `stats()` /
 * `check()`. A free through another allocator of the same worker goes straight to the
 * allocator that handed the memory out.
 *
 * Failure: `alloc` throws `OutOfMemoryError`/`QuotaExceededError` naming `SmallAlloc.alloc`,
 * `tryAlloc` returns 0, and nothing changes; before failing, every remote free and every
 * releasable deferred free is taken in, and the pools' spare block goes back to the cache (so
 * no memory sits empty in a pool while an allocation fails). A pointer that is not a non-negative
 * integer is a `RangeError`; a free of anything that is not a live allocation throws
 * `InvalidPointerError`; a `size` given to `free` that does not match a live allocation is a
 * `RangeError`. All change nothing.
 *
 * Read views: while a view from {@link SmallAlloc.openReadView} is open, memory freed through
 * this allocator is neither reused nor written until every view opened before the free has
 * closed; a view dropped without `close()` is closed when the garbage collector reclaims it, so
 * a forgotten view cannot pin memory forever.
 *
 * Adoption: the allocations of a worker that has exited are taken over by
 * {@link SmallAlloc.adopt}.
 */
export class SmallAlloc {
  /** The memory source. */
  declare readonly cache: SlabCache;
  /** Growth factor between classes actually achieved. */
  declare readonly actualFactor: number;
  /** The largest class size; above it allocations take the large path. */
  declare readonly objsizeMax: number;
  /** The size classes. @internal */
  declare readonly classes: SizeClasses;
  /** This allocator's id: Word.POOL of its pools' slabs' allocator registry, and in its large allocations' tags. @internal */
  declare readonly id: number;
  /** The memory its pointers are offsets into (the arena's). */
  declare readonly memory: Memory;

  private declare readonly ownerId: number;
  /** The pool of each class, created on first use. */
  private declare pools: (Mempool | null)[];
  /**
   * classOf(size) for size <= tableMax, at index ceil(size / granularity): class sizes are
   * multiples of the granularity, so one entry serves every size of its granule.
   */
  private declare readonly table: Uint16Array;
  /**
   * The pool of table[i] at index i (null until it exists): alloc's fast path finds its
   * pool with one load instead of two.
   */
  private declare readonly bySize: (Mempool | null)[];
  private declare readonly tableMax: number;
  /**
   * tableMax, or -1 while deferred frees are due or in debug mode (the slow path releases them
   * and counts operations): alloc's fast path tests both at once.
   */
  private declare fastMax: number;
  /** False while deferred frees are due or in debug mode: free's fast path tests one field. */
  private fastFree = true;
  private declare readonly granShift: number;
  private declare readonly granMask: number;
  /** True when the front of the deferred queue may be released (no open view can see it). */
  private releasable = false;
  private declare readonly debug: boolean;
  private readonly periodic: PeriodicCheck;
  /** Pools adopted with an objsize outside the classes, by objsize. */
  private extra = new Map<number, Mempool>();
  /** The open views and the frees held back for them, shared with the pools. */
  private readonly views = new ReadViews();
  /** Views closed by the garbage collector (dropped without close()). */
  private viewsCollected = 0;

  /** Views of the memory (see holdViews). @internal */
  declare u8: Uint8Array;
  /** @internal */
  declare dv: DataView;
  /** @internal */
  declare i32: Int32Array;
  /** @internal */
  declare u32: Uint32Array;
  /** @internal */
  declare f64: Float64Array;
  /** Byte length our views cover. @internal */
  declare viewEnd: number;
  private declare readonly pageMap: Uint8Array;

  /** Large allocations held (live, remote-freed, deferred), by start. */
  private larges = new Set<number>();
  private declare readonly tags: Int32Array;
  private largeLive = 0;
  private largeUsed = 0;
  private largeTotal = 0;
  private largeDeferred = 0;
  private largeSinceScan = 0;

  /**
   * A size-class allocator over `cache`.
   * @throws TypeError if `cache` is not a SlabCache or an option has the wrong type.
   * @throws RangeError if an option is out of range.
   */
  constructor(cache: SlabCache, opts?: SmallAllocOptions) {
    const where = 'SmallAlloc';
    checkInstance(where, 'cache', cache, SlabCache);
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
    this.cache = cache;
    this.classes = new SizeClasses(objsizeMin, granularity, factor, Math.min(max, mempoolObjsizeMax(cache)));
    this.actualFactor = this.classes.actualFactor;
    this.objsizeMax = this.classes.objsizeMax;
    this.pools = new Array<Mempool | null>(this.classes.count).fill(null);
    const g = this.classes.granularity;
    this.granShift = 31 - Math.clz32(g);
    this.granMask = g - 1;
    const entries = Math.min(TABLE_MAX_ENTRIES, Math.floor(this.objsizeMax / g) + 1);
    // `| 0` keeps these small integers for V8 (Math.floor's result may be held as a double).
    this.tableMax = ((entries - 1) * g) | 0;
    this.table = new Uint16Array(entries);
    for (let i = 0; i < entries; i++) this.table[i] = this.classes.classOf(i * g);
    this.bySize = new Array<Mempool | null>(entries).fill(null);
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
    this.id = newPoolId(this);
    this.ownerId = cache.ownerId;
    const memory = cache.arena.memory;
    this.memory = memory;
    holdViews(memory, this);
    this.pageMap = cache.arena.pageMap;
    this.tags = cache.arena.pageTags;
    this.fastPaths();
  }

  /** Sets the fast paths' flags: off while deferred frees are due, and in debug mode. */
  private fastPaths(): void {
    const fast = !this.releasable && !this.debug;
    this.fastMax = fast ? this.tableMax : -1;
    this.fastFree = fast;
  }

  /**
   * `size` bytes (0 allowed). Throws `OutOfMemoryError` / `QuotaExceededError`.
   * @throws RangeError if `size` is not an integer in [0, 4 GiB].
   * @throws OutOfMemoryError (QuotaExceededError when the quota refused) when no memory can be had.
   */
  alloc(size: number): number {
    // The fast path, kept small so that V8 inlines it and the pool's alloc into the caller.
    if (typeof size === 'number' && (size >>> 0) === size && size <= this.fastMax) {
      const pool = this.bySize[(size + this.granMask) >>> this.granShift]!;
      if (pool !== null) {
        // 0: the cache had no slab for the pool; the slow path reclaims and tries again.
        const p = pool.alloc();
        if (p !== 0) return p;
      }
    }
    return this.allocSlow(size, true);
  }

  /**
   * `size` bytes, or 0 when there is no memory for them.
   * @throws RangeError if `size` is not an integer in [0, 4 GiB].
   */
  tryAlloc(size: number): number {
    if (typeof size === 'number' && (size >>> 0) === size && size <= this.fastMax) {
      const pool = this.bySize[(size + this.granMask) >>> this.granShift]!;
      if (pool !== null) {
        const p = pool.tryAlloc();
        if (p !== 0) return p;
      }
    }
    return this.allocSlow(size, false);
  }

  /** Everything the fast path leaves: deferred frees due, large or odd sizes, a new pool. */
  private allocSlow(size: number, throwing: boolean): number {
    if (this.releasable) this.collect(BATCH);
    if (typeof size !== 'number' || (size >>> 0) !== size || size > this.objsizeMax) {
      return this.allocLarge(throwing ? 'SmallAlloc.alloc' : 'SmallAlloc.tryAlloc', size, throwing);
    }
    const cls = this.classes.classOf(size);
    const made = this.pools[cls] === null;
    const pool = made ? this.makePool(cls) : this.pools[cls]!;
    // Our pools return 0 when the cache has no slab: every remote free and releasable deferred
    // free counts then, and the allocation is tried again.
    let p = pool.tryAlloc();
    if (p === 0 && this.reclaimAll()) p = pool.tryAlloc();
    if (p === 0) {
      // A pool made for this allocation goes again: a failed allocation leaves nothing behind,
      // not even an empty class in stats().
      if (made) this.setPool(cls, null);
      if (throwing) this.cache.noMemory('SmallAlloc.alloc', size);
      return 0;
    }
    if (this.debug) this.debugOp();
    return p;
  }

  private makePool(cls: number): Mempool {
    const pool = new Mempool(this.cache, this.classes.sizeOf(cls), this.views, cls);
    this.setPool(cls, pool);
    return pool;
  }

  /** Files `pool` (or null) as the pool of class `cls`, in pools and bySize. */
  private setPool(cls: number, pool: Mempool | null): void {
    this.pools[cls] = pool;
    const table = this.table;
    for (let i = 0; i < table.length; i++) if (table[i] === cls) this.bySize[i] = pool;
  }

  /**
   * `size` bytes, all zero. Throws `OutOfMemoryError` / `QuotaExceededError`.
   * @throws RangeError for a bad `size`; OutOfMemoryError / QuotaExceededError when no memory can be had.
   */
  calloc(size: number): number {
    const where = 'SmallAlloc.calloc';
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_BYTE_LENGTH);
    const p = this.tryAlloc(size);
    if (p === 0) this.cache.noMemory(where, size);
    if (p + size > this.viewEnd) this.refresh();
    this.u8.fill(0, p, p + size);
    return p;
  }

  /**
   * Resizes the allocation at `ptr` (one of this allocator's) to `size` bytes: in place while
   * `size` falls in the same size class (for a large allocation: needs the same pages), else
   * moved: a new allocation, the bytes that fit copied, the old one freed. Returns the
   * pointer to use from now on. `realloc(0, size)` is `alloc(size)`. On failure it throws
   * `OutOfMemoryError` / `QuotaExceededError` and the old allocation stays live and intact;
   * a pointer that is not a live allocation of this allocator is an `InvalidPointerError`.
   * @throws RangeError for a `ptr` that is not a non-negative integer, or a bad `size`.
   * @throws InvalidPointerError if `ptr` is not a live allocation of this allocator.
   * @throws OutOfMemoryError / QuotaExceededError when a move finds no memory (the old allocation stays).
   */
  realloc(ptr: number, size: number): number {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt('SmallAlloc.realloc', 'size', size, 0, MAX_BYTE_LENGTH);
    // A class object of ours, found as free's fast path finds it.
    const s = typeof ptr === 'number' && (ptr >>> 0) === ptr ? this.slabOfOurs(ptr) : 0;
    if (s !== 0) {
      const pool = this.pools[this.u32[(s >>> 2) + Word.CLASS]!]!;
      if (pool.holds(ptr, s)) return this.reallocIn(pool, ptr, s, size);
    }
    return this.reallocSlow(ptr, size);
  }

  /** realloc of `ptr`, a live object of our `pool`'s slab `s`. */
  private reallocIn(pool: Mempool, ptr: number, s: number, size: number): number {
    const real = pool.objsize;
    // The same class holds the sizes above the previous class, up to its own.
    if (size <= real && real <= this.objsizeMax && this.classOf(size) === this.classOf(real)) return ptr;
    const q = this.moveTo(ptr, real, size);
    pool.freeIn(ptr, s);
    return q;
  }

  /** realloc of 0, of a large allocation, of an adopted pool's object, past our views, or of what is not ours. */
  private reallocSlow(ptr: number, size: number): number {
    const where = 'SmallAlloc.realloc';
    if (ptr === 0) {
      const p = this.tryAlloc(size);
      if (p === 0) this.cache.noMemory(where, size);
      return p;
    }
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
    if (ptr >= this.viewEnd) {
      this.refresh();
      if (ptr < this.viewEnd) return this.realloc(ptr, size);
    }
    const arena = this.cache.arena;
    if (ptr < arena.maximum && isPageRun(arena, ptr)) {
      const w = liveLargeWord(arena, ptr, where);
      if (largeId(w) === this.id && this.larges.has(ptr)) {
        const pages = this.cache.pagesSize(this.largeSize(ptr));
        if (size > this.objsizeMax && this.cache.pagesSize(size) === pages) {
          const t = tagIndex(ptr) + 1;
          this.largeUsed += size - (this.tags[t]! >>> 0);
          this.tags[t] = size | 0;
          return ptr;
        }
        const q = this.moveTo(ptr, pages, size);
        this.freeLarge(ptr);
        return q;
      }
    } else if (ptr < arena.maximum) {
      // An object of a pool the fast path does not look at (adopted, of another geometry).
      const s = slabOf(arena, ptr) >>> 0;
      const ours = s !== 0 && s + Word.BYTES <= this.viewEnd && this.u32[(s >>> 2) + Word.OWNER] === this.ownerId;
      const pool = ours ? this.poolOf(s) : null;
      if (pool !== null && pool.holds(ptr, s)) return this.reallocIn(pool, ptr, s, size);
    }
    this.invalid(where, ptr, 'is not a live allocation of this allocator');
  }

  /** A new allocation of `size` bytes holding the first bytes of the `real` at `ptr`. */
  private moveTo(ptr: number, real: number, size: number): number {
    const q = this.tryAlloc(size);
    if (q === 0) this.cache.noMemory('SmallAlloc.realloc', size);
    if (q + size > this.viewEnd) this.refresh();
    this.u8.copyWithin(q, ptr, ptr + (real < size ? real : size));
    return q;
  }

  /**
   * `length` elements of `type` in a fresh allocation, as a typed array over the memory,
   * aligned to the element size. `free(view)` frees it. Throws `OutOfMemoryError` /
   * `QuotaExceededError`.
   * @throws TypeError if `type` is not a typed array constructor; RangeError for a bad `length`.
   * @throws OutOfMemoryError / QuotaExceededError when no memory can be had.
   */
  allocAs<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T {
    const where = 'SmallAlloc.allocAs';
    const bytes = typedBytes(where, type, length, MAX_BYTE_LENGTH);
    const align = type.BYTES_PER_ELEMENT;
    let p = this.tryAlloc(bytes);
    // Class objects are 8-aligned with the default granularity; a finer one may need room to align.
    if (p !== 0 && p % align !== 0) {
      this.free(p);
      p = this.tryAlloc(bytes + align);
      if (p !== 0) p += align - (p % align);
    }
    if (p === 0) this.cache.noMemory(where, bytes);
    return new type(this.memory.buffer, p, length);
  }

  /**
   * Frees `ptr` (or the allocation a typed array from {@link SmallAlloc.allocAs} views), handed
   * out by this allocator or by any worker's allocator over the same arena. `size`, when
   * given, must be what was asked for (any size of the same class does).
   * @throws TypeError if `ptr` is neither a number nor a typed array; RangeError if it is not a non-negative integer, or `size` does not match.
   * @throws InvalidPointerError if it is not a live allocation (a double free, an interior or foreign pointer).
   */
  free(ptr: number | TypedArray, size?: number): void {
    if (this.fastFree !== true || typeof ptr !== 'number' || (ptr >>> 0) !== ptr || size !== undefined) {
      this.freeSlow(ptr, size);
      return;
    }
    const s = this.slabOfOurs(ptr);
    if (s !== 0) this.pools[this.u32[(s >>> 2) + Word.CLASS]!]!.freeIn(ptr, s);
    else this.freeNotOurs(ptr);
  }

  /** A free the fast path found in no slab of ours: another worker's object goes straight to the remote free. */
  private freeNotOurs(ptr: number): void {
    const s = this.blockStart(ptr);
    const h = s >>> 2;
    if (s !== 0 && this.u32[h + Word.MAGIC] === Mark.MEMPOOL && this.u32[h + Word.OWNER] !== this.ownerId) {
      freeRemote('SmallAlloc', this.u32, this.i32, ptr, s);
    } else {
      this.freeSlow(ptr, undefined);
    }
  }

  /**
   * Whose block is `ptr` (a u32) in, as the fast paths of free and realloc decode it: the start
   * of the mempool slab that holds it when one of our class pools owns that slab, else 0 (another
   * worker's slab, a large allocation, another allocator of this worker, past our views, not
   * handed out).
   */
  private slabOfOurs(ptr: number): number {
    const s = this.blockStart(ptr);
    const h = s >>> 2;
    const u32 = this.u32;
    // A pool id is written only with the magic and cleared when the slab goes back, so an
    // owner, class and pool id that match are our own mempool slab. Past our views' end the
    // reads give undefined: no match, and the slow paths refresh the views.
    const cls = u32[h + Word.CLASS]!;
    const pool = cls < this.pools.length ? this.pools[cls]! : null;
    return s !== 0 && pool !== null && u32[h + Word.OWNER] === this.ownerId && pool.poolId === u32[h + Word.POOL] ? s : 0;
  }

  /** The start of the buddy block `ptr` (a u32) is in, from the page map; 0 if none is handed out there. */
  private blockStart(ptr: number): number {
    // The page map's byte minus 1 is a handed-out block's order.
    const o = this.pageMap[ptr >>> Page.SHIFT]! - 1;
    return (o >>> 0) < Page.MAX_BLOCK ? ptr - (ptr & ((Page.BYTES << o) - 1)) : 0;
  }

  /** Every free the fast path leaves: deferred frees due, debug mode, a size, anything odd. */
  private freeSlow(arg: number | TypedArray, size: number | undefined): void {
    if (this.releasable) this.collect(BATCH);
    this.freeChecked(arg, size);
    if (this.debug) this.debugOp();
  }

  private freeChecked(arg: number | TypedArray, size: number | undefined): void {
    const where = 'SmallAlloc.free';
    const ptr = ArrayBuffer.isView(arg) ? this.viewStart(arg, where) : arg;
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
    if (size !== undefined && size !== null) checkInt(where, 'size', size, 0, MAX_BYTE_LENGTH);
    if (ptr >= this.viewEnd) this.refresh();
    const arena = this.cache.arena;
    const sized = size !== undefined && size !== null;
    if (ptr !== 0 && ptr < arena.maximum && isPageRun(arena, ptr)) {
      const w = liveLargeWord(arena, ptr, where);
      if (sized && size !== this.tags[tagIndex(ptr) + 1]! >>> 0) {
        rangeError(where, 'size', `${this.tags[tagIndex(ptr) + 1]! >>> 0} (the size allocated at ${ptr})`, size);
      }
      if (largeId(w) === this.id && this.larges.has(ptr)) this.freeOwned(ptr, ptr, 'SmallAlloc');
      else freeAnywhere(arena, this.ownerId, this.u32, this.i32, ptr, 'SmallAlloc');
      return;
    }
    if (sized && ptr !== 0 && ptr < arena.maximum) {
      const s = slabOf(arena, ptr) >>> 0;
      if (s !== 0 && s + Word.BYTES <= this.viewEnd && this.u32[(s >>> 2) + Word.MAGIC] === Mark.MEMPOOL) {
        this.checkSize(ptr, s, size, this.poolOf(s) !== null && this.u32[(s >>> 2) + Word.OWNER] === this.ownerId);
      }
    }
    freeAnywhere(arena, this.ownerId, this.u32, this.i32, ptr, 'SmallAlloc');
  }

  /**
   * {@link BlockOwner.freeOwned}: a free of our large allocation `ptr` (`s` is the same
   * address), made here or through another allocator of this worker. @internal
   */
  freeOwned(ptr: number, s: number, caller: string): void {
    const where = `${caller}.free`;
    const w = liveLargeWord(this.cache.arena, ptr, where);
    if (largeId(w) !== this.id || !this.larges.has(s)) largeFail(where, ptr, 'is not a large allocation of the allocator it names');
    this.freeLarge(s);
  }

  /**
   * RangeError unless `size` could have asked for the object at `ptr` in mempool slab `s`: the
   * same class for our own objects, at most the object size for another worker's (its classes
   * may differ).
   */
  private checkSize(ptr: number, s: number, size: number, ours: boolean): void {
    const h = s >>> 2;
    const u32 = this.u32;
    const recorded = u32[h + Word.OBJSIZE]!;
    const cls = u32[h + Word.CLASS]!;
    const ok = ours && cls < this.classes.count
      ? size <= this.objsizeMax && this.classes.classOf(size) === cls
      : size <= recorded;
    if (!ok) rangeError('SmallAlloc.free', 'size', `a size of the class of ${ptr} (at most ${recorded} bytes)`, size);
  }

  /** The allocation a typed array from allocAs views: the start of the block it lies in. */
  private viewStart(view: ArrayBufferView, where: string): number {
    const addr = view.byteOffset;
    if (view.buffer !== this.memory.buffer) {
      throw new InvalidPointerError(addr, `${where}: the typed array does not view this allocator's memory`);
    }
    const arena = this.cache.arena;
    if (isPageRun(arena, addr)) return slabOf(arena, addr);
    const s = slabOf(arena, addr) >>> 0;
    const pool = s === 0 ? null : this.poolOf(s);
    // Not in one of our slots: the free that follows finds out what it is.
    return pool === null ? addr : pool.slotOf(addr, s) || addr;
  }

  /** The class of `size` (at most objsizeMax): one table load for the sizes the table covers. */
  private classOf(size: number): number {
    return size <= this.tableMax ? this.table[(size + this.granMask) >>> this.granShift]! : this.classes.classOf(size);
  }

  /** Our pool that owns our mempool slab `s`, or null if another allocator of ours owns it. */
  private poolOf(s: number): Mempool | null {
    const u32 = this.u32;
    const h = s >>> 2;
    const id = u32[h + Word.POOL]!;
    const cls = u32[h + Word.CLASS]!;
    if (cls < this.pools.length) {
      const p = this.pools[cls]!;
      return p !== null && p.poolId === id ? p : null;
    }
    const p = this.extra.get(u32[h + Word.OBJSIZE]!);
    return p !== undefined && p.poolId === id ? p : null;
  }

  private invalid(where: string, ptr: unknown, why: string): never {
    throw new InvalidPointerError(typeof ptr === 'number' ? ptr : NaN, `${where}: pointer ${describe(ptr)} ${why}`);
  }

  private refresh(): void {
    holdViews(this.memory, this);
  }

  // ---- the large path ----

  private allocLarge(where: string, size: number, throwing: boolean): number {
    checkInt(where, 'size', size, 0, MAX_BYTE_LENGTH);
    if (this.largeSinceScan >= this.larges.size && this.larges.size > 0) {
      this.largeSinceScan = 0;
      this.takeRemoteLarge();
    }
    let s = tryGetPages(this.cache, size);
    if (s === 0 && this.reclaimAll()) s = tryGetPages(this.cache, size);
    if (s === 0) {
      if (!throwing) return 0;
      this.cache.noMemory(where, size);
    }
    this.largeSinceScan++;
    if (s >= this.viewEnd) this.refresh();
    const t = tagIndex(s);
    this.tags[t + 1] = size | 0;
    Atomics.store(this.tags, t, largeWord(LargeState.LIVE, this.id));
    this.larges.add(s);
    this.largeLive++;
    this.largeUsed += size;
    this.largeTotal += this.cache.pagesSize(size);
    if (this.debug) this.debugOp();
    return s;
  }

  /** Bytes asked for by large allocation `s`. */
  private largeSize(s: number): number {
    return this.tags[tagIndex(s) + 1]! >>> 0;
  }

  /** Our large allocation at `s` (state LIVE or REMOTE) is freed now. */
  private freeLarge(s: number): void {
    this.largeLive--;
    this.largeUsed -= this.largeSize(s);
    if (this.views.anyOpen) {
      Atomics.store(this.tags, tagIndex(s), largeWord(LargeState.DEFERRED, this.id));
      this.largeDeferred++;
      this.views.defer(s);
      return;
    }
    this.dropLarge(s);
  }

  /** Returns large allocation `s` to the cache. */
  private dropLarge(s: number): void {
    this.larges.delete(s);
    this.largeTotal -= this.cache.pagesSize(this.largeSize(s));
    const t = tagIndex(s);
    Atomics.store(this.tags, t, 0);
    this.tags[t + 1] = 0;
    this.cache.put(s);
  }

  /** Takes in large allocations freed by other workers. Returns how many. */
  private takeRemoteLarge(): number {
    let n = 0;
    for (const s of this.larges) {
      if (largeState(Atomics.load(this.tags, tagIndex(s))) === LargeState.REMOTE) {
        n++;
        this.freeLarge(s);
      }
    }
    return n;
  }

  // ---- read views ----

  /** A read view: until it is closed, memory freed through this allocator keeps its bytes. */
  openReadView(): ReadView {
    const rec = this.views.openView();
    if (this.views.open === 1) this.viewsChanged();
    const view = new SmallReadView(this, rec);
    viewReaper.register(view, { owner: this, rec }, rec);
    return view;
  }

  /** Ends view `v`; `collected` when the garbage collector found it dropped unclosed. @internal */
  closeView(v: ViewRecord, collected = false): void {
    if (!this.views.closeView(v)) return;
    if (collected) {
      this.viewsCollected++;
      if (this.debug) {
        console.warn(`SmallAlloc: a read view (generation ${v.gen}) was garbage-collected without close(); close views when done, or use \`using\``);
      }
    }
    if (!this.views.anyOpen) this.viewsChanged();
    this.updateReleasable();
  }

  private updateReleasable(): void {
    this.releasable = this.views.releasable();
    this.fastPaths();
  }

  /** Views opened or all closed: the pools' fast free paths must know. */
  private viewsChanged(): void {
    for (const p of this.pools) if (p !== null) p.viewsChanged();
    for (const p of this.extra.values()) p.viewsChanged();
  }

  /** Debug mode: one more operation; every checkEvery of them, check everything. */
  private debugOp(): void {
    if (this.periodic.due()) this.verify(false);
  }

  /** Releases up to `max` deferred frees that no open view can see. Returns how many. */
  private collect(max: number): number {
    // With no view open, nothing can see any of them: all go at once.
    if (!this.views.anyOpen) max = Infinity;
    let n = 0;
    for (let ptr; n < max && (ptr = this.views.takeReleasable()) !== 0; n++) this.releaseOne(ptr);
    this.updateReleasable();
    return n;
  }

  private releaseOne(ptr: number): void {
    if (ptr >= this.viewEnd) this.refresh();
    if (isPageRun(this.cache.arena, ptr)) {
      this.largeDeferred--;
      this.dropLarge(ptr);
      return;
    }
    const s = slabOf(this.cache.arena, ptr) >>> 0;
    this.poolOf(s)!.releaseDeferred(ptr, s);
  }

  /** Takes in every remote free and releases every releasable deferred free; true if any. */
  private reclaimAll(): boolean {
    let n = this.takeRemoteAll();
    while (this.releasable) n += this.collect(Infinity);
    return n > 0;
  }

  private takeRemoteAll(): number {
    let n = this.takeRemoteLarge();
    for (const p of this.pools) if (p !== null) n += p.takeRemote();
    for (const p of this.extra.values()) n += p.takeRemote();
    return n;
  }

  // ---- inspection ----

  /**
   * What `ptr` is: a class object (`realSize` = its class size) or a large allocation
   * (`realSize` = the usable bytes of its block). `InvalidPointerError` if it is not live.
   * @throws RangeError if `ptr` is not a non-negative integer; InvalidPointerError if it is not live.
   */
  info(ptr: number): AllocationInfo {
    const real = this.liveSize(ptr, 'SmallAlloc.info');
    return real < 0 ? { isLarge: true, realSize: -real } : { isLarge: false, realSize: real };
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32) in a fresh allocation; returns its
   * pointer (free it as any other). Throws `OutOfMemoryError` / `QuotaExceededError`.
   * @throws TypeError if `s` is not a string; OutOfMemoryError / QuotaExceededError when no memory can be had.
   */
  allocString(s: string): number {
    const where = 'SmallAlloc.allocString';
    const n = stringArg(where, s);
    const p = this.tryAlloc(STRING_PREFIX + n);
    if (p === 0) this.cache.noMemory(where, STRING_PREFIX + n);
    if (p + STRING_PREFIX + n > this.viewEnd) this.refresh();
    writeString(this.u8, this.dv, p, s, n);
    return p;
  }

  /**
   * The string `allocString` stored at `ptr` (a live allocation of any allocator over the
   * arena). `InvalidPointerError` if `ptr` is not live or its length runs past the allocation.
   * @throws RangeError if `ptr` is not a non-negative integer; InvalidPointerError if it is not live or its length runs past it.
   */
  readString(ptr: number): string {
    const where = 'SmallAlloc.readString';
    const real = this.liveSize(ptr, where);
    return readStringAt(this.u8, this.dv, ptr, ptr + (real < 0 ? -real : real), where);
  }

  /**
   * The usable bytes of the live allocation at `ptr`, any allocator's over the arena (as
   * free() accepts it): its class size, or (negated) a large allocation's pages.
   * InvalidPointerError naming `where` if it is not live.
   */
  private liveSize(ptr: number, where: string): number {
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
    const arena = this.cache.arena;
    if (ptr === 0 || ptr >= arena.maximum) this.invalid(where, ptr, 'is not a pointer into the arena');
    if (ptr >= this.viewEnd) this.refresh();
    // Any allocator's pointer is answered, as free() accepts it; one of this worker's must
    // still belong to a live allocator.
    const mine = arena.slabOwner[Math.floor(ptr / arena.slabSize)] === this.ownerId;
    if (isPageRun(arena, ptr)) {
      const w = liveLargeWord(arena, ptr, where);
      if (mine && ownerOf(largeId(w)) === undefined) this.invalid(where, ptr, 'is in a block of no live allocator');
      return -this.cache.pagesSize(this.largeSize(ptr));
    }
    const s = slabOf(arena, ptr) >>> 0;
    if (s === 0 || s + Word.BYTES > this.viewEnd) this.invalid(where, ptr, 'is not in a block handed out by the arena');
    const u32 = this.u32;
    const i32 = this.i32;
    const h = s >>> 2;
    if (u32[h + Word.MAGIC] !== Mark.MEMPOOL) this.invalid(where, ptr, 'is not in a mempool slab or a large allocation');
    if (mine && ownerOf(u32[h + Word.POOL]!) === undefined) this.invalid(where, ptr, 'is in a block of no live allocator');
    const idx = slotAt(ptr - s - u32[h + Word.FIRST]!, u32[h + Word.STRIDE]!, u32[h + Word.COUNT]!);
    if (idx < 0) this.invalid(where, ptr, 'is not at an object boundary');
    const bw = Math.ceil(u32[h + Word.COUNT]! / 32);
    const w = h + Word.WORDS + (idx >>> 5);
    const bit = 1 << (idx & 31);
    if ((Atomics.load(i32, w) & bit) === 0 || (Atomics.load(i32, w + bw) & bit) !== 0) this.invalid(where, ptr, 'is not a live allocation');
    return u32[h + Word.OBJSIZE]!;
  }

  /** Statistics; remote frees are taken in and a batch of deferred frees released first. */
  stats(): SmallStats {
    this.takeRemoteAll();
    if (this.releasable) this.collect(BATCH);
    const classes: SmallClassStats[] = [];
    let used = this.largeUsed;
    let total = this.largeTotal;
    let count = this.largeLive;
    let deferred = this.largeDeferred;
    const add = (p: Mempool, cls: number): void => {
      const st = p.stats();
      classes.push({ cls, ...st });
      used += st.used;
      total += st.total;
      count += st.count;
      deferred += st.deferred;
    };
    this.pools.forEach((p, cls) => {
      if (p !== null) add(p, cls);
    });
    for (const p of this.extra.values()) add(p, -1);
    classes.sort((a, b) => a.objsize - b.objsize);
    return {
      used, total, count,
      large: { count: this.largeLive, used: this.largeUsed, total: this.largeTotal },
      deferred,
      views: this.views.open,
      viewsCollected: this.viewsCollected,
      classes,
    };
  }

  /**
   * Throws an Error naming the first broken invariant; takes remote frees in first.
   * @throws Error naming the first broken invariant.
   */
  check(): void {
    this.verify(true);
  }

  /**
   * check(); `release` false skips releasing a batch of deferred frees (the periodic check of
   * debug mode may run in the middle of such a release).
   */
  private verify(release: boolean): void {
    const where = 'SmallAlloc.check';
    const fail = (msg: string): never => {
      throw new Error(`${where}: ${msg}`);
    };
    this.takeRemoteAll();
    if (release && this.releasable) this.collect(BATCH);
    let deferred = 0;
    this.pools.forEach((p, cls) => {
      if (p === null) return;
      if (p.classIndex !== cls || p.objsize !== this.classes.sizeOf(cls)) fail(`pool of objsize ${p.objsize} sits at class ${cls}`);
      p.check();
      deferred += p.deferred;
    });
    for (const [objsize, p] of this.extra) {
      if (p.objsize !== objsize || p.classIndex !== Mark.NO_CLASS) fail(`adopted pool of objsize ${p.objsize} is misfiled`);
      p.check();
      deferred += p.deferred;
    }
    const arena = this.cache.arena;
    let live = 0;
    let liveBytes = 0;
    let held = 0;
    let largeDeferred = 0;
    for (const s of this.larges) {
      const w = Atomics.load(this.tags, tagIndex(s));
      if (largeId(w) !== this.id || arena.slabOwner[Math.floor(s / arena.slabSize)] !== this.ownerId) {
        fail(`large allocation at ${s} has page tags or an owner that do not name this allocator`);
      }
      const size = this.largeSize(s);
      if (slabOf(arena, s) !== s || slabSizeAt(arena, s) !== this.cache.pagesSize(size)) {
        fail(`large allocation at ${s} is not a run of ${this.cache.pagesSize(size)} bytes the cache handed out`);
      }
      const state = largeState(w);
      held += this.cache.pagesSize(size);
      if (state === LargeState.LIVE || state === LargeState.REMOTE) {
        live++;
        liveBytes += size;
      } else if (state === LargeState.DEFERRED) {
        largeDeferred++;
      } else fail(`large allocation at ${s} is in state ${state}`);
    }
    if (live !== this.largeLive || liveBytes !== this.largeUsed) {
      fail(`${live} large allocations of ${liveBytes} bytes are live, counters say ${this.largeLive} of ${this.largeUsed}`);
    }
    if (held !== this.largeTotal) fail(`large allocations hold ${held} bytes, counter says ${this.largeTotal}`);
    if (largeDeferred !== this.largeDeferred) fail(`${largeDeferred} large allocations deferred, counter says ${this.largeDeferred}`);
    if (this.views.size !== deferred + largeDeferred) {
      fail(`the deferred queue holds ${this.views.size} entries, slabs and large allocations hold ${deferred + largeDeferred}`);
    }
    const problem = this.views.problem();
    if (problem !== null) fail(problem);
  }

  // ---- a worker's exit ----

  /**
   * Worker `threadId` has exited: takes over every slab its slab caches held (through
   * `cache.adopt`). Mempool slabs join this allocator's pool of their objsize (created if
   * needed; live objects stay live and may be freed here), empty ones go back, large
   * allocations become this allocator's, and blocks of other allocators go back to the cache.
   * @throws RangeError for a bad `threadId`, or the calling thread's own.
   */
  adopt(threadId: number): SmallAdoption {
    checkInt('SmallAlloc.adopt', 'threadId', threadId, 0, 2 ** 31 - 1);
    if (threadId === currentThreadId) {
      throw new RangeError(`SmallAlloc.adopt: threadId must be the id of a worker that has exited, got ${threadId}, the calling thread's own`);
    }
    return this.adoptSlabs(this.cache.adopt(threadId));
  }

  /**
   * Takes over blocks this worker's cache now holds but no allocator of it owns (from
   * `cache.adopt`, or `Mempool.adopt`'s `others`). @internal
   */
  adoptSlabs(starts: readonly number[]): SmallAdoption {
    this.refresh();
    const result: SmallAdoption = { slabs: 0, objects: 0, large: 0 };
    const arena = this.cache.arena;
    for (const start of starts) {
      const s = start >>> 0;
      if (s + Word.BYTES > this.viewEnd) this.refresh();
      if (isPageRun(arena, s)) {
        if (this.adoptLarge(s)) {
          result.large++;
          continue;
        }
      } else if (this.u32[(s >>> 2) + Word.MAGIC] === Mark.MEMPOOL) {
        const pool = this.poolForAdoption(s);
        if (pool !== null) {
          result.slabs++;
          result.objects += pool.adoptSlab(s);
          continue;
        }
        retireSlab(this.u32, s);
      }
      this.cache.put(s);
    }
    return result;
  }

  /**
   * Takes over page run `s` if it is a live large allocation (LIVE, or REMOTE: freed by another
   * worker and not yet taken in, which the next scan takes in). A deferred one is free now.
   */
  private adoptLarge(s: number): boolean {
    const t = tagIndex(s);
    for (;;) {
      const w = Atomics.load(this.tags, t);
      const state = largeState(w);
      if (state !== LargeState.LIVE && state !== LargeState.REMOTE) {
        Atomics.store(this.tags, t, 0);
        return false;
      }
      // The exchange loses only to a remote free turning LIVE into REMOTE: then look again.
      if (Atomics.compareExchange(this.tags, t, w, largeWord(state, this.id)) !== w) continue;
      const size = this.largeSize(s);
      this.larges.add(s);
      this.largeLive++;
      this.largeUsed += size;
      this.largeTotal += this.cache.pagesSize(size);
      return true;
    }
  }

  /** The pool that can take mempool slab `s`, created if needed; null if none can. */
  private poolForAdoption(s: number): Mempool | null {
    const objsize = this.u32[(s >>> 2) + Word.OBJSIZE]!;
    if (objsize <= this.objsizeMax) {
      const cls = this.classes.classOf(objsize);
      if (this.classes.sizeOf(cls) === objsize) {
        const pool = this.pools[cls] ?? this.makePool(cls);
        if (pool.fits(s)) return pool;
      }
    }
    let pool = this.extra.get(objsize);
    if (pool === undefined) {
      if (objsize < 1 || objsize > mempoolObjsizeMax(this.cache)) return null;
      pool = new Mempool(this.cache, objsize, this.views, Mark.NO_CLASS);
      this.extra.set(objsize, pool);
    }
    return pool.fits(s) ? pool : null;
  }

  /** Every slab and large allocation back to the cache; open views are closed. */
  destroy(): void {
    for (const p of this.pools) if (p !== null) p.destroy();
    for (const p of this.extra.values()) p.destroy();
    this.pools.fill(null);
    this.bySize.fill(null);
    this.extra.clear();
    for (const s of this.larges) {
      Atomics.store(this.tags, tagIndex(s), 0);
      this.cache.put(s);
    }
    this.larges.clear();
    this.largeLive = 0;
    this.largeUsed = 0;
    this.largeTotal = 0;
    this.largeDeferred = 0;
    this.views.reset();
    this.releasable = false;
    this.fastPaths();
  }
}
