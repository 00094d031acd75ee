/**
 * SlabCache: a buddy system over arena slabs, one per worker (Tarantool's `slab_cache`). Its
 * contract (memory source, thread-safety, failure, adoption) is on the class.
 *
 * Sizes: `order0Size` is 4096 (one page of the page map) whatever the slab size, so
 * `orderMax = log2(slabSize) - 12` (10 with 4 MiB slabs, 4 with 64 KiB slabs).
 *
 * The page map (`arena.pageMap`, one byte per 4 KiB page) records every block this cache hands
 * out and every free block's first page; its encoding is page-map.ts's.
 * A page run inside an arena slab is cut from a buddy block: the pages past its end go back to
 * the free lists at once, so it holds its size rounded up to a page and no more.
 * A free block's first 8 bytes hold its free-list links (next, prev: page indexes, 0 = none),
 * as Tarantool keeps a slab's header inside the slab.
 *
 * INTERNAL INTERFACE (relied on by Mempool, SmallAlloc, Region, Ibuf, Obuf; keep it stable):
 * `cache.ownerId`, the page map (page-map.ts), `slabOf(arena, ptr)`, `slabSizeAt(arena, start)`,
 * `cache.adopt(threadId)`, `arena.slabOwner[ptr / slabSize]`, and `arena.memory`'s views
 * (call `memory.sync()` / re-read the views after a get, which may have grown the buffer).
 * Additions since it first landed: `cache.destroy()`, `cache.getPages()`, page runs (0xFE),
 * the arena's owner-recording `mapFor`/`unmapFor`, and `cache.tryGetHeld()` / `getPages(size,
 * false)` (a get that maps nothing).
 *
 * Placement: the arena maps the lowest free slabs, and of two wholly free arena slabs the cache
 * keeps the lower and returns the higher, so the slabs in use gather at low addresses and the
 * free ones above them form long runs.
 *
 * Before a get of a run fails, the cache gives its cached free arena slab back to the arena (so
 * a run may form) and tries again. The one empty block the pools over it keep between them is
 * theirs (spare-block.ts): the cache never calls up to them.
 *
 * Adoption (cache-adopt.ts): the arena's registry moves the dead owner's entries to ADOPTING
 * with this cache as adopter; each slab then changes owner by one compare-exchange of its owner
 * word, so it keeps a valid owner (the dead cache, or the adopter) at every instant. What it
 * finds comes back as a tally that `adopt` files here: only this module writes a cache's free
 * lists and counters; cache-adopt.ts and slab-cache-check.ts read them.
 *
 * Invariants (per order k, B(k) = order0Size << k; `check()` verifies them: slab-cache-check.ts):
 *   |free list k| == freeCount[k]; every free block of order k starts with freeByte(k);
 *   no free block of order k < orderMax has its buddy (start XOR B(k)) free at order k;
 *   used == Σ usedCount[k] * B(k) + pageBytes + runBytes;
 *   total == slabsHeld * slabSize + runBytes;
 *   Σ_k (usedCount[k] + freeCount[k]) * B(k) + pageBytes == slabsHeld * slabSize;
 *   at most one wholly free arena slab is cached (freeCount[orderMax] <= 1): the lowest one
 *   this cache has freed since it last took one.
 */
import { currentThreadId } from '../../internal/thread.js';
import { InvalidPointerError } from '../../errors.js';
import { checkInstance, checkInt, checkPointer } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import { holdViews, MAX_BYTE_LENGTH, type HeldViews } from '../../memory.js';
import { adoptSlabs } from './cache-adopt.js';
import { blockByte, blockBytes, blockOrder, fillPages, freeByte, isRun, markRun, Page } from './page-map.js';
import { MapFailure, SlabArena } from './slab-arena.js';
import { checkSlabCache } from './slab-cache-check.js';

// u32 words per page: a page index times this is the u32 index of the page's first word.
const WORDS_PER_PAGE = Page.BYTES >>> 2;

/**
 * One order's line in {@link SlabCacheStats}.
 * @category Arenas
 */
export interface SlabCacheOrderStats {
  /** The order k: blocks of `order0Size << k` bytes. */
  order: number;
  /** Bytes per block of this order. */
  size: number;
  /** Blocks handed out. */
  used: number;
  /** Blocks on the free list. */
  free: number;
}

/**
 * What `SlabCache.stats()` returns; JSON-serializable.
 * @category Arenas
 */
export interface SlabCacheStats {
  /** Bytes handed out and live (blocks and large runs). */
  used: number;
  /** Bytes held from the arena (arena slabs held plus large runs). */
  total: number;
  /** Arena slabs held (large runs not included). */
  slabs: number;
  /** One line per order, 0 to orderMax. */
  orders: SlabCacheOrderStats[];
  /** Page runs handed out: runs of arena slabs (sizes above a slab) and exact runs of pages. */
  large: {
    /** Page runs handed out. */
    count: number;
    /** Their bytes. */
    used: number;
  };
}

/**
 * The start of the handed-out block or page run containing `ptr`, or 0 if `ptr` is in none.
 * Reads only the shared page map and the arena's run info, so any worker may call it: O(1) for
 * buddy blocks and arena runs, O(pages of one slab) inside an exact page run. @internal
 */
export function slabOf(arena: SlabArena, ptr: number): number {
  if (!(ptr >= 0 && ptr < arena.maximum)) return 0;
  const page = Math.floor(ptr / Page.BYTES);
  const v = arena.pageMap[page]!;
  if (isRun(v)) return pageRunStart(arena, page) * Page.BYTES;
  const k = blockOrder(v);
  if (k < 0) return 0;
  const size = blockBytes(k);
  return ptr - (ptr % size);
}

/**
 * Bytes of the handed-out block or page run starting at `start` (as `slabOf` returns it), or 0
 * when none starts there. @internal
 */
export function slabSizeAt(arena: SlabArena, start: number): number {
  if (!(start >= 0 && start < arena.maximum) || start % Page.BYTES !== 0) return 0;
  const page = start / Page.BYTES;
  const v = arena.pageMap[page]!;
  if (v === Page.RUN) return pageRunPages(arena, page) * Page.BYTES;
  const k = blockOrder(v);
  if (k < 0) return 0;
  const size = blockBytes(k);
  return start % size === 0 ? size : 0;
}

/** First page of the page run holding `page` (a Page.RUN or Page.RUN_TAIL page). */
function pageRunStart(arena: SlabArena, page: number): number {
  const per = arena.pagesPerSlab;
  const idx = Math.floor(page / per);
  const info = arena.slabInfo[idx]!;
  // A run of arena slabs: its start is in the arena's run info.
  if (info !== 1) return (info < 0 ? idx + info : idx) * per;
  const pm = arena.pageMap;
  let p = page;
  while (p > idx * per && pm[p] === Page.RUN_TAIL) p--;
  return p;
}

/** Pages of the page run whose first page is `page`. */
function pageRunPages(arena: SlabArena, page: number): number {
  const per = arena.pagesPerSlab;
  const idx = Math.floor(page / per);
  const info = arena.slabInfo[idx]!;
  if (info > 1 && page % per === 0) return info * per;
  const pm = arena.pageMap;
  const end = (idx + 1) * per;
  let p = page + 1;
  while (p < end && pm[p] === Page.RUN_TAIL) p++;
  return p - page;
}

/** The memory's views this class holds in fields of its own (see holdViews). @internal */
export interface SlabCache extends HeldViews {}

/**
 * A buddy allocator of aligned power-of-two blocks over arena slabs; one per worker.
 *
 * @remarks
 * Memory source: a {@link SlabArena}. It maps whole arena slabs and cuts them into blocks of
 * `order0Size << k` bytes (k = 0..orderMax), each aligned to its own size; sizes above an
 * arena slab are runs of adjacent arena slabs (`arena.mapRun`), the "large" path.
 *
 * Thread-safety: one worker owns a cache; its free lists are plain JS state and its paths take
 * no atomics except when it talks to the arena. Other workers may READ the page map (to find
 * the block a pointer is in) and take its slabs over (`Mempool.adopt`, `SmallAlloc.adopt`)
 * once the owner worker has exited.
 *
 * Failure: `get` throws `QuotaExceededError` / `OutOfMemoryError` (from the arena), `tryGet`
 * returns 0. A failed get changes no block handed out, no `used` byte and no quota byte. A get
 * of a run first gives the cached free arena slab back (so that a run may form) and maps a
 * slab back as the cached one when the run still fails: `total` drops only when no slab is
 * free by then (another worker took it). `put` of anything that is not the start of a block
 * or run this cache handed out throws `InvalidPointerError` and changes nothing.
 *
 * Adoption is crash-safe: two adopters of one thread id get disjoint slabs, and an adopter
 * killed half-way leaves slabs that a later adoption of either thread id finds.
 * @category Arenas
 */
export class SlabCache {
  /** The memory source. */
  readonly arena: SlabArena;
  /** Bytes of the smallest block (order 0): 4096. */
  readonly order0Size: number;
  /** The largest order: blocks of `order0Size << orderMax` bytes are whole arena slabs. */
  readonly orderMax: number;
  /**
   * This cache's entry in the arena's owner registry (>= 1, generation-tagged); recorded as the
   * owner of every arena slab it holds. @internal
   */
  readonly ownerId: number;

  private readonly pageMap: Uint8Array;
  private readonly slabOwner: Int32Array;
  private readonly slabSize: number;
  /** log2(slabSize). */
  private readonly slabShift: number;
  private readonly pagesPerSlab: number;
  // Per order: first free block's page index (0 = empty), blocks free, blocks handed out.
  // These and the counters below are @internal for the checker (slab-cache-check.ts) to read.
  /** @internal */
  readonly heads: Int32Array;
  /** @internal */
  readonly freeCount: Int32Array;
  /** @internal */
  readonly usedCount: Int32Array;
  /** Bytes of buddy blocks handed out. @internal */
  usedBytes = 0;
  /** Arena slabs held (runs not included). @internal */
  slabsHeld = 0;
  /** Exact page runs inside held slabs (getPages). @internal */
  pageRuns = 0;
  /** @internal */
  pageBytes = 0;
  /** Runs of arena slabs (sizes above a slab). @internal */
  runs = 0;
  /** @internal */
  runBytes = 0;
  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;
  private destroyed = false;
  /** Why this cache's last failed get failed (the arena's reason, or Space for a run too long). */
  private failure: MapFailure = MapFailure.None;

  /**
   * A cache over `arena`, registered in its owner registry for this worker.
   * @throws TypeError if `arena` is not a SlabArena; OutOfMemoryError when all the arena's owner entries are taken.
   */
  constructor(arena: SlabArena);
  /** @internal `threadId`: the worker the cache is registered for (tests stand in for a worker). */
  constructor(arena: SlabArena, threadId: number);
  constructor(arena: SlabArena, threadId: number = currentThreadId) {
    checkInstance('SlabCache', 'arena', arena, SlabArena);
    this.arena = arena;
    this.order0Size = Page.BYTES;
    this.slabSize = arena.slabSize;
    this.slabShift = arena.slabShift;
    this.orderMax = arena.slabShift - Page.SHIFT;
    this.pagesPerSlab = arena.pagesPerSlab;
    this.pageMap = arena.pageMap;
    this.slabOwner = arena.slabOwner;
    holdViews(arena.memory, this);
    this.heads = new Int32Array(this.orderMax + 1);
    this.freeCount = new Int32Array(this.orderMax + 1);
    this.usedCount = new Int32Array(this.orderMax + 1);
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
    this.ownerId = arena.registerOwner(threadId);
  }

  /** Bytes handed out and live. */
  get used(): number {
    return this.usedBytes + this.pageBytes + this.runBytes;
  }

  /** Bytes held from the arena. */
  get total(): number {
    return this.slabsHeld * this.slabSize + this.runBytes;
  }

  /**
   * A block of `realSize(size)` bytes aligned to that size (an arena slab run for sizes above a
   * slab). Throws `QuotaExceededError` or `OutOfMemoryError`.
   * @throws RangeError for a bad `size`; OutOfMemoryError (QuotaExceededError when the quota refused) when the arena has no memory.
   */
  get(size: number): number {
    const p = this.tryGet(size);
    if (p === 0) this.noMemory('SlabCache.get', size);
    return p;
  }

  /**
   * Same as `get`, or 0 when the arena has no memory for it.
   * @throws RangeError for a bad `size`.
   */
  tryGet(size: number): number {
    return this.getBlock(size, true);
  }

  /**
   * `tryGet` out of the free blocks this cache holds, mapping nothing from the arena: 0 when
   * none is large enough, and always for sizes above a slab. The allocators above try it first,
   * so that empty memory they keep (the spare block) is used before new memory is mapped.
   * @internal
   */
  tryGetHeld(size: number): number {
    return this.getBlock(size, false);
  }

  /** tryGet (`map`: the arena may be asked for a slab or run) or tryGetHeld (it may not). */
  private getBlock(size: number, map: boolean): number {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt('SlabCache.get', 'size', size, 0, MAX_BYTE_LENGTH);
    if (size > this.slabSize) return map ? this.getRun(size) : 0;
    const order = size <= Page.BYTES ? 0 : 32 - Math.clz32(size - 1) - Page.SHIFT;
    const p = this.getOrder(order, map);
    if (this.debug && p !== 0) {
      this.u8.fill(FRESH_BYTE, p, p + (Page.BYTES << order));
      this.tick();
    }
    return p;
  }

  /**
   * `size` bytes rounded up to whole pages (whole slabs above a slab), page-aligned, or 0 when
   * there is no memory. Inside a slab the pages are cut from a buddy block and the rest of the
   * block goes back at once. `put` returns them. @internal
   */
  getPages(size: number, map = true): number {
    if (size > this.slabSize) return map ? this.getRun(size) : 0;
    const pages = size <= Page.BYTES ? 1 : Math.ceil(size / Page.BYTES);
    const order = 31 - Math.clz32(pages) + ((pages & (pages - 1)) === 0 ? 0 : 1);
    const start = this.getOrder(order, map);
    if (start === 0) return 0;
    this.usedCount[order]--;
    this.usedBytes -= Page.BYTES << order;
    const page = start / Page.BYTES;
    this.pageMap.fill(0, page + pages, page + (1 << order));
    markRun(this.pageMap, page, pages);
    // The tail past the run, as the largest aligned blocks that fit, back on the free lists.
    for (let off = pages; off < 1 << order;) {
      const k = 31 - Math.clz32(off & -off);
      this.pushFree(k, start + off * Page.BYTES);
      off += 1 << k;
    }
    this.pageRuns++;
    this.pageBytes += pages * Page.BYTES;
    if (this.debug) {
      this.u8.fill(FRESH_BYTE, start, start + pages * Page.BYTES);
      this.tick();
    }
    return start;
  }

  /**
   * Gives back a block or page run `get`/`getPages` handed out. `InvalidPointerError` for
   * anything else: a pointer inside a block, a block already put, another cache's block.
   * @throws TypeError / RangeError for a `ptr` that is not a non-negative integer; InvalidPointerError if it is not a live block or run of this cache.
   */
  put(ptr: number): void {
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer('SlabCache.put', 'ptr', ptr);
    // Shifts, not a division: a pool gives a block back every time one empties. A pointer of
    // 4 GiB or more is past every page (MAX_BYTE_LENGTH).
    const page = ptr < MAX_BYTE_LENGTH ? ptr >>> Page.SHIFT : this.pageMap.length;
    const v = page < this.pageMap.length ? this.pageMap[page]! : 0;
    if (isRun(v)) {
      this.putRun(ptr, v);
    } else {
      const k = blockOrder(v);
      if (k < 0 || k > this.orderMax) {
        throw new InvalidPointerError(ptr, `SlabCache.put: ${ptr} is not a live block (${v === 0 ? 'never handed out or already put' : 'a free block'})`);
      }
      const size = blockBytes(k);
      if ((ptr & (size - 1)) !== 0) {
        throw new InvalidPointerError(ptr, `SlabCache.put: ${ptr} points inside a block of ${size} bytes starting at ${ptr - (ptr % size)}`);
      }
      this.checkMine(ptr, 'block');
      if (this.debug) this.u8.fill(FREED_BYTE, ptr, ptr + size);
      fillPages(this.pageMap, 0, page, 1 << k);
      this.usedCount[k]--;
      this.usedBytes -= size;
      this.release(ptr, k);
    }
    if (this.debug) this.tick();
  }

  /**
   * The bytes `get(size)` hands out: the smallest order size >= size, or whole slabs above a slab.
   * @throws RangeError for a bad `size`.
   */
  realSize(size: number): number {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt('SlabCache.realSize', 'size', size, 0, MAX_BYTE_LENGTH);
    if (size > this.slabSize) return Math.ceil(size / this.slabSize) * this.slabSize;
    return size <= Page.BYTES ? Page.BYTES : Page.BYTES << (32 - Math.clz32(size - 1) - Page.SHIFT);
  }

  /** The bytes `getPages(size)` hands out: whole pages, or whole slabs above a slab. @internal */
  pagesSize(size: number): number {
    if (size > this.slabSize) return Math.ceil(size / this.slabSize) * this.slabSize;
    return Math.max(1, Math.ceil(size / Page.BYTES)) * Page.BYTES;
  }

  /** Counters by order, and the page runs. */
  stats(): SlabCacheStats {
    const orders: SlabCacheOrderStats[] = [];
    for (let k = 0; k <= this.orderMax; k++) {
      orders.push({ order: k, size: Page.BYTES << k, used: this.usedCount[k]!, free: this.freeCount[k]! });
    }
    return {
      used: this.used,
      total: this.total,
      slabs: this.slabsHeld,
      orders,
      large: { count: this.pageRuns + this.runs, used: this.pageBytes + this.runBytes },
    };
  }

  /**
   * Walks every free list and every page of every arena slab this cache holds, and throws with a
   * precise message if they disagree with each other or with the counters.
   * @throws Error naming the first broken invariant.
   */
  check(): void {
    this.refresh();
    checkSlabCache(this);
  }

  /**
   * Takes over every arena slab of the caches registered by worker `threadId`, which the caller
   * asserts has exited: their owner becomes this cache, the free blocks in them join this cache's
   * free lists (wholly free slabs beyond the one kept go back to the arena), and their registry
   * entries are released. Returns the starts of the blocks and page runs that were handed out
   * in them (now this cache's), so allocators above can adopt the objects they hold.
   * `RangeError` for the calling thread's own id. @internal
   */
  adopt(threadId: number): number[] {
    const found = adoptSlabs(this.arena, this.ownerId, this.orderMax, threadId);
    this.refresh();
    this.slabsHeld += found.slabs;
    this.runs += found.runs;
    this.runBytes += found.runBytes;
    this.pageRuns += found.pageRuns;
    this.pageBytes += found.pageBytes;
    for (let k = 0; k <= this.orderMax; k++) {
      this.usedCount[k] += found.blocks[k]!;
      this.usedBytes += found.blocks[k]! * blockBytes(k);
    }
    // Wholly free arena slabs beyond the one kept go back to the arena as they are filed.
    for (let i = 0; i < found.free.length; i += 2) this.addFree(found.free[i]!, found.free[i + 1]!);
    return found.live;
  }

  /**
   * Gives every arena slab and run this cache holds back to the arena (blocks still handed out
   * included: they become invalid) and releases its owner entry. A destroyed cache maps nothing
   * more: `get` throws. Idempotent. A slab the arena refuses (shared state corrupted by another
   * worker) does not stop it: everything else goes back, and the first refusal is thrown last.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const arena = this.arena;
    const info = arena.slabInfo;
    const end = arena.carvedEnd();
    let refused: unknown = null;
    for (let idx = arena.ctrlSlabs; idx < end; idx++) {
      const n = info[idx]!;
      if (this.slabOwner[idx] !== this.ownerId || n <= 0) continue;
      try {
        arena.unmapFor(idx * this.slabSize, this.ownerId);
      } catch (e) {
        refused ??= e;
      }
      idx += Math.min(n, end - idx) - 1;
    }
    this.heads.fill(0);
    this.freeCount.fill(0);
    this.usedCount.fill(0);
    this.usedBytes = this.slabsHeld = this.pageRuns = this.pageBytes = this.runs = this.runBytes = 0;
    arena.releaseOwner(this.ownerId);
    if (refused !== null) throw refused;
  }

  /**
   * Throws the error a failed allocation of `requested` bytes made through `where` (the method
   * the user called) deserves: the arena's, for the slabs that a get of `bytes` (by default the
   * same) could not have. Call it right after a failed try. @internal
   */
  noMemory(where: string, requested: number, bytes: number = requested): never {
    if (this.destroyed) this.usedAfterDestroy();
    const slabs = bytes > this.slabSize ? Math.ceil(bytes / this.slabSize) : 1;
    this.arena.noMemory(where, requested, slabs, this.failure);
  }

  // ---- internals ----

  private usedAfterDestroy(): never {
    throw new Error('SlabCache: used after destroy()');
  }

  private tick(): void {
    if (this.periodic.due()) this.check();
  }

  /** @internal */
  refresh(): void {
    holdViews(this.arena.memory, this);
  }

  /** InvalidPointerError unless this cache owns the arena slab of `ptr`. */
  private checkMine(ptr: number, what: string): void {
    if (this.slabOwner[ptr >>> this.slabShift] !== this.ownerId) {
      throw new InvalidPointerError(ptr, `SlabCache.put: ${what} ${ptr} belongs to another slab cache`);
    }
  }

  /** False once `destroy` ran. @internal */
  get live(): boolean {
    return !this.destroyed;
  }

  /**
   * Gives the cached wholly free arena slab back to the arena (memory pressure); true if there
   * was one. @internal
   */
  releaseFree(): boolean {
    if (this.destroyed) return false;
    if (this.freeCount[this.orderMax] === 0) return false;
    this.releaseFreeSlabs();
    return true;
  }

  /** Gives the cached wholly free arena slab (if any) back to the arena. */
  private releaseFreeSlabs(): void {
    const max = this.orderMax;
    while (this.freeCount[max]! > 0) {
      const page = this.heads[max]!;
      this.unlink(max, page);
      this.pageMap[page] = 0;
      this.slabsHeld--;
      this.arena.unmapFor(page * Page.BYTES, this.ownerId);
    }
  }

  /** Maps one slab back as the cached free slab (after releaseFreeSlabs did not help). */
  private retakeFreeSlab(): void {
    const s = this.arena.mapFor(this.ownerId, 1);
    if (s === 0) return;
    this.slabsHeld++;
    this.refresh();
    this.pushFree(this.orderMax, s);
  }

  private getOrder(order: number, map: boolean): number {
    let k = order;
    const max = this.orderMax;
    while (k <= max && this.heads[k] === 0) k++;
    let start: number;
    if (k > max) {
      if (!map) return 0;
      if (this.destroyed) this.usedAfterDestroy();
      start = this.arena.mapFor(this.ownerId, 1);
      if (start === 0) {
        this.failure = this.arena.failure;
        return 0;
      }
      this.slabsHeld++;
      this.refresh();
      k = max;
    } else {
      const page = this.heads[k]!;
      this.unlink(k, page);
      this.pageMap[page] = 0;
      start = page * Page.BYTES;
    }
    // Split: the upper halves go on the free lists, the lower half is split further.
    while (k > order) {
      k--;
      this.pushFree(k, start + (Page.BYTES << k));
    }
    const page = start >>> Page.SHIFT;
    fillPages(this.pageMap, blockByte(order), page, 1 << order);
    this.usedCount[order]++;
    this.usedBytes += Page.BYTES << order;
    return start;
  }

  /** Frees block `start` of order `k`, merging with free buddies upwards. */
  private release(start: number, k: number): void {
    const pm = this.pageMap;
    const max = this.orderMax;
    while (k < max) {
      const buddy = (start ^ (Page.BYTES << k)) >>> 0;
      const bpage = buddy >>> Page.SHIFT;
      if (pm[bpage] !== freeByte(k)) break;
      this.unlink(k, bpage);
      pm[bpage] = 0;
      if (buddy < start) start = buddy;
      k++;
    }
    this.addFree(k, start);
  }

  /** A free block: cached, or (a whole arena slab when one is already cached) back to the arena. */
  private addFree(k: number, start: number): void {
    if (k === this.orderMax && this.freeCount[k]! > 0) {
      // One free slab is kept, the lower of the two: the arena maps lowest first, so the slabs
      // it gets back lie above the memory in use and form the longest runs they can.
      const kept = this.heads[k]! * Page.BYTES;
      if (start < kept) {
        this.unlink(k, kept >>> Page.SHIFT);
        this.pageMap[kept >>> Page.SHIFT] = 0;
        this.pushFree(k, start);
        start = kept;
      }
      // The arena clears the owner as it takes the slab back.
      this.slabsHeld--;
      this.arena.unmapFor(start, this.ownerId);
      return;
    }
    this.pushFree(k, start);
  }

  private pushFree(k: number, start: number): void {
    const page = start >>> Page.SHIFT;
    const u32 = this.u32;
    const head = this.heads[k]!;
    u32[page * WORDS_PER_PAGE] = head;
    u32[page * WORDS_PER_PAGE + 1] = 0;
    if (head !== 0) u32[head * WORDS_PER_PAGE + 1] = page;
    this.heads[k] = page;
    this.freeCount[k]++;
    this.pageMap[page] = freeByte(k);
  }

  private unlink(k: number, page: number): void {
    const u32 = this.u32;
    const next = u32[page * WORDS_PER_PAGE]!;
    const prev = u32[page * WORDS_PER_PAGE + 1]!;
    if (prev === 0) this.heads[k] = next;
    else u32[prev * WORDS_PER_PAGE] = next;
    if (next !== 0) u32[next * WORDS_PER_PAGE + 1] = prev;
    this.freeCount[k]--;
  }

  /** A run of whole arena slabs for `size` bytes (above a slab), or 0. */
  private getRun(size: number): number {
    const n = Math.ceil(size / this.slabSize);
    if (n > this.arena.slabCount - this.arena.ctrlSlabs) {
      this.failure = MapFailure.Space;
      return 0;
    }
    if (this.destroyed) this.usedAfterDestroy();
    let p = this.arena.mapFor(this.ownerId, n);
    if (p === 0) {
      // The cached free slab back to the arena may complete a run; if not, it is taken again,
      // so the failed get changes nothing here.
      const cached = this.freeCount[this.orderMax]!;
      this.releaseFreeSlabs();
      p = this.arena.mapFor(this.ownerId, n);
      if (p === 0) {
        this.failure = this.arena.failure;
        for (let i = 0; i < cached; i++) this.retakeFreeSlab();
        return 0;
      }
    }
    const idx = p / this.slabSize;
    markRun(this.pageMap, idx * this.pagesPerSlab, n * this.pagesPerSlab);
    this.runs++;
    this.runBytes += n * this.slabSize;
    this.refresh();
    if (this.debug) {
      this.u8.fill(FRESH_BYTE, p, p + n * this.slabSize);
      this.tick();
    }
    return p;
  }

  /** put() of a pointer in a page run (`v` is its page byte). */
  private putRun(ptr: number, v: number): void {
    if (v !== Page.RUN || ptr % Page.BYTES !== 0) {
      throw new InvalidPointerError(ptr, `SlabCache.put: ${ptr} points inside a run of pages, not at its start`);
    }
    this.checkMine(ptr, 'run');
    const page = ptr / Page.BYTES;
    const pages = pageRunPages(this.arena, page);
    if (this.debug) this.u8.fill(FREED_BYTE, ptr, ptr + pages * Page.BYTES);
    this.pageMap.fill(0, page, page + pages);
    const idx = Math.floor(ptr / this.slabSize);
    if (this.arena.slabInfo[idx]! > 1 && ptr % this.slabSize === 0) {
      this.runs--;
      this.runBytes -= pages * Page.BYTES;
      this.arena.unmapFor(ptr, this.ownerId);
      return;
    }
    this.pageRuns--;
    this.pageBytes -= pages * Page.BYTES;
    // Back as the largest aligned buddy blocks that fit, each merging with free buddies.
    for (let off = 0; off < pages;) {
      let k = off === 0 ? this.orderMax : 31 - Math.clz32(off & -off);
      while (off + (1 << k) > pages) k--;
      this.release(ptr + off * Page.BYTES, k);
      off += 1 << k;
    }
  }
}
