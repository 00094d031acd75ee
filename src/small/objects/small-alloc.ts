/**
 * SmallAlloc: any size, by size classes over mempools (Tarantool's `small_alloc`), with read
 * views (MVCC snapshots) and frees from any worker. Its contract (memory source, thread-safety,
 * failure, read views, adoption) is on the class. Size classes are in size-class.ts, the large
 * path's page tags in large.ts and this allocator's set of them in small-alloc-large.ts.
 *
 * This file keeps the fast paths and every change to the allocator's own state. Cold code sits
 * beside it and reads the allocator through small-alloc-parts.ts: the options, the checked free
 * (small-alloc-free.ts), realloc, info, the read view handle, stats, check and adoption.
 *
 * Fast paths: alloc maps a size to its pool with one array load (`bySize`, by granule) and the
 * pool's alloc is small enough for V8 to inline. A free takes one of three routes, each named
 * where it is taken: local (our pool's slab, found from the page map and the slab header: the
 * pool's freeIn, which retires the slot), remote (another worker's slab: free-route.ts sets a
 * bit) and large (small-alloc-large.ts); a sized free and the first free after the memory grew
 * take the same local route from the checked free. Deferred frees due and debug mode cost one
 * field test each (`fastMax`, `fastFree`); debug mode checks on the same routes, and every
 * checkEvery operations runs the whole check() (its pools included).
 *
 * Its pools call nothing of it: a pool that finds no slab returns 0, and the SmallAlloc takes
 * in what all its pools hold (remote frees, releasable deferred frees) and tries again.
 *
 * Read views: `openReadView()` returns a view with generation g = ++gen. While any view is
 * open, a free (local, or remote when taken in) defers its slot (block-header.ts's deferred
 * state: not reused, refused by every free path) or a large allocation's pages, in a FIFO
 * tagged with the newest generation then. An entry tagged t is released once the oldest open
 * view is newer than t: BATCH per alloc/free call while views stay open, everything at the next
 * allocation, stats() or check() once the last has closed. A view closed by the garbage
 * collector is counted in `stats().viewsCollected`. The arena's views (`arena.openReadView()`,
 * any worker; arena-views.ts) hold frees the same way, in the same FIFO, each entry also tagged
 * with the arena epoch its batch took; while such entries wait, a pool that needs a new slab
 * returns 0 when some may go, and the SmallAlloc releases everything releasable at once.
 *
 * Invariants (checked by `check()`, in small-alloc-check.ts):
 * - every pool passes Mempool.check; each pool sits at its class index (or among the adopted);
 * - |deferred queue| == Σ pool.deferred + large allocations in state DEFERRED;
 * - large count == allocations in state LIVE or REMOTE; their page tags name this allocator;
 * - open views == views not closed; generations in the queue never decrease.
 */
import { callocBytes, checkInstance, checkInt } from '../../internal/checks.js';
import { FREED_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import { readStringAt, STRING_PREFIX, stringArg, writeString } from '../../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../../internal/typed.js';
import { holdViews, MAX_BYTE_LENGTH, type HeldViews, type Memory } from '../../memory.js';
import { adoptableThread, adoptWhenExited, type ExitingWorker } from '../../internal/thread.js';
import { isPageRun } from './large.js';
import { Mark, Word } from './block-header.js';
import { slotAlign } from './geometry.js';
import { freeRemote } from './free-route.js';
import { Mempool } from './mempool.js';
import { newPoolId, type BlockOwner } from './owners.js';
import { ReadViews, type ViewRecord } from './read-views.js';
import { SizeClasses } from './size-class.js';
import { adoptBlocks, type AdoptingAlloc, type SmallAdoption } from './small-alloc-adopt.js';
import { checkSmallAlloc } from './small-alloc-check.js';
import { freeChecked, poolOf } from './small-alloc-free.js';
import { liveSize, type AllocationInfo } from './small-alloc-info.js';
import { LargeAllocations } from './small-alloc-large.js';
import { sizeClassesFor, type SmallAllocOptions } from './small-alloc-options.js';
import { smallStats, type SmallStats } from './small-alloc-stats.js';
import { reallocIn, reallocSlow, slabOfOurs } from './small-alloc-realloc.js';
import { newReadView, type ReadView } from './small-alloc-view.js';
import { Page } from '../slabs/page-map.js';
import { SlabCache, slabOf } from '../slabs/slab-cache.js';
import { tryGetPages } from '../spare-block.js';

export type { SmallAdoption } from './small-alloc-adopt.js';
export type { AllocationInfo } from './small-alloc-info.js';
export type { SmallAllocOptions } from './small-alloc-options.js';
export type { SmallClassStats, SmallStats } from './small-alloc-stats.js';
export type { ReadView } from './small-alloc-view.js';

/** Deferred frees released per alloc/free/stats/check call. */
const BATCH = 16;
/** Entries of the class table: sizes up to TABLE_MAX_ENTRIES - 1 granules are looked up. */
const TABLE_MAX_ENTRIES = 4096;
/** The memory's views this class holds in fields of its own (see holdViews). @internal */
export interface SmallAlloc extends HeldViews {}

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
 * `tryAlloc` returns 0. A failed allocation changes no live allocation, no used byte and no
 * quota byte; before failing, every remote free and every releasable deferred free is taken in,
 * and cached empty memory goes back (each pool's spare block, the caches' free slabs; and a
 * failure that remains makes other workers give theirs back at their next slow path), so no memory
 * sits empty in a pool while an allocation fails, and `total` may drop. A pointer that is not a non-negative
 * integer is a `RangeError`; a free of anything that is not a live allocation throws
 * `InvalidPointerError`; a `size` given to `free` that does not match a live allocation is a
 * `RangeError`. All change nothing.
 *
 * Read views: while a view from {@link SmallAlloc.openReadView} is open, memory freed through
 * this allocator is neither reused nor written until every view opened before the free has
 * closed; a view dropped without `close()` is closed when the garbage collector reclaims it, so
 * a forgotten view cannot pin memory forever. A view of the arena (`arena.openReadView()`, in
 * any worker) holds this allocator's frees the same way; `stats().deferredBytes` is what it
 * holds back for either kind.
 *
 * Adoption: the allocations of a worker that has exited are taken over by
 * {@link SmallAlloc.adopt}.
 * @category The small family
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

  /** Its cache's owner id. @internal */
  declare readonly ownerId: number;
  /** The pool of each class, created on first use. @internal */
  declare readonly pools: (Mempool | null)[];
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
  /** Pools adopted with an objsize outside the classes, by objsize. @internal */
  readonly extra = new Map<number, Mempool>();
  /** The open views and the frees held back for them (and for debug mode's quarantine), shared with the pools. @internal */
  declare readonly views: ReadViews;
  /** Views closed by the garbage collector (dropped without close()). @internal */
  viewsCollected = 0;

  /** The arena's page map. @internal */
  declare readonly pageMap: Uint8Array;
  /** Large allocations held (live, remote-freed, deferred) and their counters. @internal */
  declare readonly large: LargeAllocations;

  /**
   * A size-class allocator over `cache`.
   * @throws TypeError if `cache` is not a SlabCache or an option has the wrong type.
   * @throws RangeError if an option is out of range.
   */
  constructor(cache: SlabCache, opts?: SmallAllocOptions) {
    const where = 'SmallAlloc';
    checkInstance(where, 'cache', cache, SlabCache);
    this.cache = cache;
    this.classes = sizeClassesFor(where, cache, opts);
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
    this.views = new ReadViews(cache.arena.views, d.enabled ? d.quarantine : 0, d.quarantineBytes);
    this.id = newPoolId(this);
    this.ownerId = cache.ownerId;
    const memory = cache.arena.memory;
    this.memory = memory;
    holdViews(memory, this);
    this.pageMap = cache.arena.pageMap;
    this.large = new LargeAllocations(cache, cache.arena.pageTags, this.id, this.views);
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
    return this.allocFast(size, true);
  }

  /**
   * `size` bytes, or 0 when there is no memory for them.
   * @throws RangeError if `size` is not an integer in [0, 4 GiB].
   */
  tryAlloc(size: number): number {
    return this.allocFast(size, false);
  }

  /**
   * The one fast path of alloc and tryAlloc, kept small so that V8 inlines it and the pool's
   * alloc into the caller; what it leaves goes to the slow path, which throws when `throwing`
   * and returns 0 otherwise.
   */
  private allocFast(size: number, throwing: boolean): number {
    if (typeof size === 'number' && (size >>> 0) === size && size <= this.fastMax) {
      const pool = this.bySize[(size + this.granMask) >>> this.granShift]!;
      if (pool !== null) {
        // Our pools never throw for want of memory: 0 says the cache had no slab for the pool
        // (or held frees may go), and the slow path reclaims and tries again.
        const p = pool.alloc();
        if (p !== 0) return p;
      }
    }
    return this.allocSlow(size, throwing);
  }

  /**
   * Everything the fast path leaves: deferred frees due (a pool hands its call back when the
   * arena's views let some go), large or odd sizes, a new pool.
   */
  private allocSlow(size: number, throwing: boolean): number {
    if (this.releasable) this.collect(BATCH);
    if (typeof size !== 'number' || (size >>> 0) !== size || size > this.objsizeMax) {
      return this.allocLarge(throwing ? 'SmallAlloc.alloc' : 'SmallAlloc.tryAlloc', size, throwing);
    }
    const cls = this.classes.classOf(size);
    const made = this.pools[cls] === null;
    const pool = made ? this.makePool(cls) : this.pools[cls]!;
    // Our pools return 0 when the cache has no slab, or when frees held for the arena's views
    // may go: every remote free, retired slot and releasable deferred free counts then, and
    // the allocation is tried again (again while that frees something: a view may close
    // between the tries).
    let p = pool.tryAlloc();
    while (p === 0 && this.reclaimAll()) p = pool.tryAlloc();
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
  calloc(size: number): number;
  /**
   * C's form: `n` elements of `size` bytes, `n * size` bytes in all, zero. Throws
   * `OutOfMemoryError` / `QuotaExceededError`.
   * @throws TypeError if `n` or `size` is not a number.
   * @throws RangeError if either is not an integer in [0, 4 GiB], or `n * size` is above 4 GiB (C's overflow).
   * @throws OutOfMemoryError / QuotaExceededError when no memory can be had.
   */
  calloc(n: number, size: number): number;
  calloc(a: number, b?: number): number {
    const where = 'SmallAlloc.calloc';
    const size = callocBytes(where, a, b, MAX_BYTE_LENGTH);
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
    const s = typeof ptr === 'number' && (ptr >>> 0) === ptr ? slabOfOurs(this, ptr) : 0;
    if (s !== 0) {
      const pool = this.pools[this.u32[(s >>> 2) + Word.CLASS]!]!;
      if (pool.holds(ptr, s)) return reallocIn(this, pool, ptr, s, size);
    }
    return reallocSlow(this, ptr, size);
  }

  /**
   * `length` elements of `type` in a fresh allocation, as a typed array over the memory that
   * starts at the allocation's first byte (`view.byteOffset` is its pointer) and is aligned to
   * the element size. `free(view)` frees it, as does `free(view.byteOffset)`. Throws
   * `OutOfMemoryError` / `QuotaExceededError`.
   *
   * @remarks
   * Nothing is padded in front, so that `free` can take a typed array only where it starts at
   * an allocation's first byte and refuse every other view (a `subarray`, a view built inside
   * an allocation). Class objects are 4-aligned, and 8-aligned when the class size is a
   * multiple of 8 (every class with the default granularity of 8). With a finer granularity,
   * an 8-byte element type takes the smallest class at least as large whose objects are all
   * 8-aligned, or the large path (a page) where no class is: free such a view without a
   * `size`, or with that class's size.
   * @throws TypeError if `type` is not a typed array constructor; RangeError for a bad `length`.
   * @throws OutOfMemoryError / QuotaExceededError when no memory can be had.
   */
  allocAs<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T {
    const where = 'SmallAlloc.allocAs';
    const bytes = typedBytes(where, type, length, MAX_BYTE_LENGTH);
    const p = this.tryAllocAligned(where, bytes, type.BYTES_PER_ELEMENT);
    if (p === 0) this.cache.noMemory(where, bytes);
    return new type(this.memory.buffer, p, length);
  }

  /**
   * `bytes` (at most 4 GiB) in an allocation whose first byte is aligned to `align` (1, 2, 4
   * or 8), or 0. Large allocations start on a page; a class object is aligned to its class's
   * slotAlign, so a class that falls short hands the request to the next class that does not.
   */
  private tryAllocAligned(where: string, bytes: number, align: number): number {
    if (bytes > this.objsizeMax) return this.tryAlloc(bytes);
    const classes = this.classes;
    const first = this.classOf(bytes);
    let cls = first;
    while (cls < classes.count && slotAlign(classes.sizeOf(cls)) < align) cls++;
    if (cls === first) return this.tryAlloc(bytes);
    // A request of a class's own size is served by that class (sizeOf increases with the class).
    return cls < classes.count ? this.tryAlloc(classes.sizeOf(cls)) : this.allocLarge(where, bytes, false);
  }

  /**
   * Frees `ptr`, handed out by this allocator or by any worker's allocator over the same
   * arena. A typed array stands for its first byte: it frees the allocation it starts exactly
   * at ({@link SmallAlloc.allocAs}'s view, or any view built there), and a view that starts
   * anywhere else (a `subarray`, a view inside an allocation) is refused as that address
   * would be. `size`, when given, must be what was asked for (any size of the same class does).
   * @throws TypeError if `ptr` is neither a number nor a typed array; RangeError if it is not a non-negative integer, or `size` does not match.
   * @throws InvalidPointerError if it is not a live allocation (a double free, an interior or foreign pointer).
   */
  free(ptr: number | TypedArray, size?: number): void {
    if (typeof ptr !== 'number' || (ptr >>> 0) !== ptr || size !== undefined) {
      this.freeSlow(ptr, size);
      return;
    }
    // realloc's slabOfOurs, written out, with the remote route besides: as a call it cost about 1.5 ns a
    // free (workload (a): 0.52-0.54x TLSF against 0.56-0.58x, in one process each).
    const o = this.pageMap[ptr >>> Page.SHIFT]! - 1;
    if ((o >>> 0) >= Page.MAX_BLOCK) {
      this.freeSlow(ptr, size);
      return;
    }
    const s = ptr - (ptr & ((Page.BYTES << o) - 1));
    const h = s >>> 2;
    const u32 = this.u32;
    const cls = u32[h + Word.CLASS]!;
    const pool = cls < this.pools.length ? this.pools[cls]! : null;
    if (pool !== null && u32[h + Word.OWNER] === this.ownerId && pool.poolId === u32[h + Word.POOL]) {
      // The local route: our pool's slab (debug mode's checks run on the pool's free too).
      pool.freeIn(ptr, s);
    } else if (u32[h + Word.MAGIC] === Mark.MEMPOOL && u32[h + Word.OWNER] !== this.ownerId) {
      // The remote route: another worker's slab; only a bit is set (it checks the slot).
      freeRemote('SmallAlloc', u32, this.i32, ptr, s, Page.BYTES << o);
    } else {
      this.freeSlow(ptr, size);
      return;
    }
    if (this.fastFree !== true) this.afterFree();
  }

  /** Every free the fast path leaves: a typed array, a size, a large allocation, anything odd. */
  private freeSlow(arg: number | TypedArray, size: number | undefined): void {
    freeChecked(this, arg, size);
    this.afterFree();
  }

  /** After a free while deferred frees are due (a batch goes) or in debug mode (one more operation). */
  private afterFree(): void {
    if (this.releasable) this.collect(BATCH);
    if (this.debug) this.debugOp();
  }

  /**
   * {@link BlockOwner.freeOwned}: a free of our large allocation `ptr` (`s` is the same
   * address), made here or through another allocator of this worker. @internal
   */
  freeOwned(ptr: number, s: number, caller: string): void {
    this.large.freeOwned(ptr, s, caller);
  }

  /** The class of `size` (at most objsizeMax): one table load for the sizes the table covers. @internal */
  classOf(size: number): number {
    return size <= this.tableMax ? this.table[(size + this.granMask) >>> this.granShift]! : this.classes.classOf(size);
  }

  /** Takes the memory's current views (it grew past ours): the one way, as every allocator's. @internal */
  refresh(): void {
    holdViews(this.memory, this);
  }

  // ---- the large path ----

  private allocLarge(where: string, size: number, throwing: boolean): number {
    checkInt(where, 'size', size, 0, MAX_BYTE_LENGTH);
    const large = this.large;
    if (large.sinceScan >= large.held.size && large.held.size > 0) {
      large.sinceScan = 0;
      large.takeRemote();
    }
    let s = tryGetPages(this.cache, size);
    if (s === 0 && this.reclaimAll()) s = tryGetPages(this.cache, size);
    if (s === 0) {
      if (!throwing) return 0;
      this.cache.noMemory(where, size);
    }
    large.sinceScan++;
    if (s >= this.viewEnd) this.refresh();
    large.add(s, size);
    if (this.debug) this.debugOp();
    return s;
  }

  // ---- read views ----

  /** A read view: until it is closed, memory freed through this allocator keeps its bytes. */
  openReadView(): ReadView {
    const rec = this.views.openView();
    if (this.views.open === 1) this.viewsChanged();
    return newReadView(this, rec);
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
    if (!this.views.anyOpen) {
      this.viewsChanged();
      // Debug mode: what views kept readable and the quarantine still holds is poisoned now,
      // as a free with no view open poisons at once (check() then finds writes into it).
      if (this.debug) for (const [p, n] of this.views.entries()) this.memory.u8.fill(FREED_BYTE, p, p + n);
    }
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

  /**
   * Debug mode: one more operation; what left the quarantine's window goes; every checkEvery
   * operations, check everything.
   */
  private debugOp(): void {
    this.updateReleasable();
    if (this.releasable) this.collect(BATCH);
    if (this.periodic.due()) this.verify(false);
  }

  /** Releases up to `max` deferred frees that no open view can see. Returns how many. */
  private collect(max: number): number {
    // With no view open, nothing can see any of them: all go at once.
    if (!this.views.anyOpen) max = Infinity;
    let n = 0;
    for (let ptr; n < max && (ptr = this.views.takeReleasable()) !== 0; n++) this.releaseOne(ptr);
    this.views.syncHeld();
    this.updateReleasable();
    return n;
  }

  private releaseOne(ptr: number): void {
    if (ptr >= this.viewEnd) this.refresh();
    if (isPageRun(this.cache.arena, ptr)) {
      this.large.deferred--;
      this.large.drop(ptr);
      return;
    }
    const s = slabOf(this.cache.arena, ptr) >>> 0;
    poolOf(this, s)!.releaseDeferred(ptr, s);
  }

  /**
   * Takes in every remote free and releases every deferred free no open view can see, debug
   * mode's quarantine included (it never makes an allocation fail); true if any.
   */
  private reclaimAll(): boolean {
    let n = this.takeRemoteAll() + this.settleAll();
    for (let ptr; (ptr = this.views.takeUnseen()) !== 0; n++) this.releaseOne(ptr);
    this.views.syncHeld();
    this.updateReleasable();
    return n > 0;
  }

  private takeRemoteAll(): number {
    let n = this.large.takeRemote();
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
    const real = liveSize(this, ptr, 'SmallAlloc.info');
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
    const real = liveSize(this, ptr, where);
    return readStringAt(this.u8, this.dv, ptr, ptr + (real < 0 ? -real : real), where);
  }

  /**
   * Statistics; remote frees are taken in, retired slots settled and a batch of deferred frees
   * released first (all of those releasable when no view of this allocator is open).
   */
  stats(): SmallStats {
    this.takeRemoteAll();
    this.settleAll();
    if (this.releasable) this.collect(BATCH);
    return smallStats(this);
  }

  /** Settles every pool's retired slots (Mempool.settle), then asks what may go. */
  private settleAll(): number {
    let n = 0;
    for (const p of this.pools) if (p !== null) n += p.settleAll();
    for (const p of this.extra.values()) n += p.settleAll();
    this.updateReleasable();
    return n;
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
    this.takeRemoteAll();
    if (release) this.settleAll();
    if (release && this.releasable) this.collect(BATCH);
    checkSmallAlloc(this);
  }

  // ---- a worker's exit ----

  /**
   * Worker `threadId` has exited: takes over every slab its slab caches held (through
   * `cache.adopt`). Mempool slabs join this allocator's pool of their objsize (created if
   * needed; live objects stay live and may be freed here, with the sizes they were asked
   * with), empty ones go back, large allocations become this allocator's, and blocks of other
   * allocators go back to the cache.
   *
   * Precondition: the worker has emitted `'exit'`. Adopting a worker that still runs hands
   * its memory out twice; the library refuses it where it can know (this thread's own id, a
   * worker watched by {@link SmallAlloc.adoptOnExit} that has not exited, a `Worker` object)
   * and cannot for any other id. {@link SmallAlloc.adoptOnExit} cannot be misused.
   * @throws TypeError if `threadId` is not a number; RangeError for a bad id or one known to be alive.
   */
  adopt(threadId: number): SmallAdoption {
    adoptableThread('SmallAlloc.adopt', threadId);
    return this.adoptSlabs(this.cache.adopt(threadId));
  }

  /**
   * Adopts `worker` (see {@link SmallAlloc.adopt}) when it emits `'exit'`: its id is taken now,
   * while it runs, and refused to `adopt` until then. Call it right after `new Worker(...)`.
   * The promise resolves with what was adopted (or rejects with the error adopt threw).
   * @throws TypeError if `worker` is not a Worker; RangeError if it has exited already (its id is gone).
   */
  adoptOnExit(worker: ExitingWorker): Promise<SmallAdoption> {
    return adoptWhenExited('SmallAlloc.adoptOnExit', worker, (id) => this.adopt(id));
  }

  /**
   * Takes over blocks this worker's cache now holds but no allocator of it owns (from
   * `cache.adopt`, or `Mempool.adopt`'s `others`). @internal
   */
  adoptSlabs(starts: readonly number[]): SmallAdoption {
    return adoptBlocks(this, starts);
  }

  /** {@link AdoptingAlloc.poolOfSize}: our pool of class `cls`, or (-1) of adopted `objsize`. @internal */
  poolOfSize(objsize: number, cls: number): Mempool {
    if (cls >= 0) return this.pools[cls] ?? this.makePool(cls);
    let pool = this.extra.get(objsize);
    if (pool === undefined) {
      pool = new Mempool(this.cache, objsize, this.views, Mark.NO_CLASS);
      this.extra.set(objsize, pool);
    }
    return pool;
  }

  /** Every slab and large allocation back to the cache; open views are closed. */
  destroy(): void {
    for (const p of this.pools) if (p !== null) p.destroy();
    for (const p of this.extra.values()) p.destroy();
    this.pools.fill(null);
    this.bySize.fill(null);
    this.extra.clear();
    this.large.clear();
    this.views.reset();
    this.releasable = false;
    this.fastPaths();
  }
}
