/**
 * LSRegion: a log-structured region, Tarantool's `lsregion`. Every allocation carries an id,
 * and ids never decrease; `gc(minId)` frees every slab whose allocations all have ids
 * `<= minId`. Nothing is freed one by one and no slab is ever freed in part: LSM trees
 * allocate into it and drop a whole dump at once. Its contract (memory source, thread-safety,
 * failure) is on the class.
 *
 * Debug mode (`setDebug`): each allocation is filled with `FRESH_BYTE` as it is handed out
 * (an lsregion has no `reserve`, so nothing handed out before is written), and bytes collected
 * by `gc` or `destroy` with `FREED_BYTE`.
 *
 * Layout: a log of slabs, oldest first; the current slab is bumped; a run taken for a large
 * allocation joins the log where its id puts it.
 * ```
 *   closed[0]      closed[1]        closed[2] (run of 3 slabs)           current
 *   +---------+    +---------+      +---------------------------+       +------+-------+
 *   |ids<=m0  |//  |ids<=m1  |//    | one allocation, id m2     |       |used  | room  |
 *   +---------+    +---------+      +---------------------------+       +------+-------+
 *   m0 <= m1 <= m2 <= ...                                       curMax = max id in current
 * ```
 * Invariants:
 *   closed entries sorted by their max id;  every max <= last id = max(lastId, curMax)
 *   used  = Σ closed used + (pos - curStart)
 *   total = Σ closed sizes + (current ? slabSize : 0) + (cached ? slabSize : 0)
 *   fastEnd = end, or 0 in debug mode, with no current slab, after a large allocation (so
 *   the next call checks its id against lastId), or when ids near 2^53 would make the fast
 *   id check inexact
 */
import { OutOfMemoryError } from '../../errors.js';
import { checkInstance, checkInt, checkPowerOfTwo } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import { readStringArg, STRING_ALIGN, STRING_PREFIX, stringArg, writeString } from '../../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../../internal/typed.js';
import type { Memory } from '../../memory.js';
import { SlabArena } from '../slabs/slab-arena.js';
import { asPtr, type Ptr } from '../../internal/ptr.js';
import { tryMapSlabs } from '../spare-block.js';
import { neverFits } from './buffer-sizes.js';

/** A byte offset into the region's `Memory`; 0 is null. */

const MAX_SIZE = 2 ** 32 - 1;
const MAX_ALIGN = 2 ** 31;
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Above this the fast path's `(id - curMax) >>> 0` test could accept an unsafe id. */
const FAST_ID_LIMIT = MAX_ID - 2 ** 32;

/**
 * What {@link LSRegion.stats} returns.
 * @category Buffers
 */
export interface LSRegionStats {
  /** Bytes handed out (alignment padding included) and not yet collected. */
  used: number;
  /** Bytes of slabs held from the arena, the cached slab included. */
  total: number;
  /** Slabs and runs in the log, the current slab included. */
  slabs: number;
  /** Runs (allocations larger than a slab) in the log. */
  runs: number;
  /** 1 when a freed slab is kept for reuse. */
  cached: number;
  /** The largest id allocated so far. */
  lastId: number;
}

/**
 * Log-structured allocator: allocations tagged with non-decreasing ids, freed by id.
 *
 * @remarks
 * Memory source: a `SlabArena` directly (not a `SlabCache`): slabs of `arena.slabSize` bytes
 * for allocations that fit one, and runs of adjacent slabs (`arena.mapRun`) for larger ones,
 * so large allocations live in the same buffer and are charged to the same quota. One freed
 * slab is kept as a cache and reused before the arena is asked again. The bookkeeping lives in
 * the region's own fields: every byte of a slab is the caller's.
 *
 * Thread-safety: none. An lsregion belongs to the worker that created it; the arena under it
 * is shared, and the memory it hands out may be read and written from any worker.
 *
 * Failure: `alloc`/`alignedAlloc` throw `OutOfMemoryError` (`QuotaExceededError` when the
 * quota refuses) naming the method called, and `tryAlloc`/`tryAlignedAlloc` return 0; nothing
 * has changed then, not even the last id: no live allocation, no used byte, no quota byte, and
 * (its cached slab is kept, for a later allocation) not `total` either. A decreasing id is a `RangeError` naming `id`.
 * @category Buffers
 */
export class LSRegion {
  /** The memory source. */
  readonly arena: SlabArena;
  /** The address space pointers index into. */
  readonly memory: Memory;
  /** Bytes in one slab: larger allocations take a run of slabs. */
  readonly slabSize: number;

  /** Next free byte of the current slab. */
  private pos = 0;
  /** End of the current slab; 0 when there is none. */
  private end = 0;
  /** `end`, or 0 to send every call down the checked slow path (see the invariants). */
  private fastEnd = 0;
  /** Start of the current slab. */
  private curStart = 0;
  /** Largest id allocated in the current slab (kept after the slab goes). */
  private curMax = 0;
  /** Largest id allocated by a slow path; the largest id of all is max(lastId, curMax). */
  private lastId = 0;
  /** Σ used of the closed entries. */
  private usedClosed = 0;
  /** Σ sizes of the closed entries and the current slab. */
  private held = 0;

  /** Closed entries, sorted by max id: slab or run start, bytes, bytes used, max id. */
  private readonly entPtr: number[] = [];
  private readonly entSize: number[] = [];
  private readonly entUsed: number[] = [];
  private readonly entMax: number[] = [];
  private runs = 0;

  /** A freed slab kept for reuse; 0 if none. */
  private cached = 0;

  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;

  /**
   * A log-structured region drawing slabs from `arena`; it takes nothing until used.
   *
   * @throws TypeError if `arena` is not a {@link SlabArena}.
   */
  constructor(arena: SlabArena) {
    checkInstance('new LSRegion', 'arena', arena, SlabArena);
    this.arena = arena;
    this.memory = arena.memory;
    this.slabSize = arena.slabSize;
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /** Bytes handed out and not yet collected; alignment padding counts. */
  get used(): number {
    return this.usedClosed + (this.pos - this.curStart);
  }

  /** Bytes of slabs held from the arena, the cached slab included. */
  get total(): number {
    return this.held + (this.cached !== 0 ? this.slabSize : 0);
  }

  /**
   * `size` bytes tagged with `id` (an integer >= every id used before).
   *
   * @throws TypeError if `size` or `id` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `id` is not an integer in
   *   [the largest id used so far, 2^53 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the arena cannot
   *   give a slab or run.
   */
  alloc(size: number, id: number): Ptr {
    return this.allocFast('LSRegion.alloc', size, id, true);
  }

  /**
   * As {@link alloc}, but returns 0 when the arena has no slab.
   *
   * @throws TypeError if `size` or `id` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `id` is not an integer in
   *   [the largest id used so far, 2^53 - 1].
   */
  tryAlloc(size: number, id: number): Ptr {
    return this.allocFast('LSRegion.tryAlloc', size, id, false);
  }

  /**
   * The one fast path of alloc and tryAlloc: a bump within the current slab, for an id no
   * smaller than the last. What it leaves goes to the slow path, whose errors name `where`; it
   * throws when `throwing`, else returns 0.
   */
  private allocFast(where: string, size: number, id: number, throwing: boolean): Ptr {
    // typeof first: a BigInt must reach the checks, not throw from the arithmetic.
    if (typeof size === 'number' && typeof id === 'number') {
      const pos = this.pos;
      const next = pos + size;
      const d = id - this.curMax;
      if (next < this.fastEnd && (size >>> 0) === size && (d >>> 0) === d) {
        this.pos = next;
        this.curMax = id;
        return pos;
      }
    }
    return this.allocSlow(where, size, 1, id, throwing);
  }

  /**
   * `size` bytes, all zero, tagged with `id`.
   *
   * @throws TypeError if `size` or `id` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `id` is not an integer in
   *   [the largest id used so far, 2^53 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the arena cannot
   *   give a slab or run.
   */
  calloc(size: number, id: number): Ptr {
    const p = this.allocSlow('LSRegion.calloc', size, 1, id, true);
    this.memory.u8.fill(0, p, p + size);
    return p;
  }

  /**
   * `length` elements of `type`, tagged with `id`, as a typed array over the memory, aligned to
   * the element size; freed by `gc`.
   *
   * @throws TypeError if `type` is not a built-in typed array constructor, or `length` or `id` is
   *   not a number.
   * @throws RangeError if `length` is not a non-negative safe integer, or `id` is not an integer in
   *   [the largest id used so far, 2^53 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the array is
   *   larger than 4 GiB, or the arena cannot give a slab or run.
   */
  allocAs<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number, id: number): T {
    const bytes = typedBytes('LSRegion.allocAs', type, length, MAX_SIZE);
    const p = this.allocSlow('LSRegion.allocAs', bytes, type.BYTES_PER_ELEMENT, id, true);
    return new type(this.memory.buffer, p, length);
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32), 4-aligned, tagged with `id`; returns its
   * pointer, freed by `gc`.
   *
   * @throws TypeError if `s` is not a string, or `id` is not a number.
   * @throws RangeError if `id` is not an integer in [the largest id used so far, 2^53 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the arena cannot
   *   give a slab or run.
   */
  allocString(s: string, id: number): Ptr {
    const where = 'LSRegion.allocString';
    const n = stringArg(where, s);
    const p = this.allocSlow(where, STRING_PREFIX + n, STRING_ALIGN, id, true);
    writeString(this.memory.u8, this.memory.dv, p, s, n);
    return p;
  }

  /**
   * The string `allocString` stored at `ptr`. A pointer whose length runs past the memory is
   * an `InvalidPointerError`; the lsregion keeps no record of what it handed out.
   *
   * @throws TypeError if `ptr` is not a number.
   * @throws RangeError if `ptr` is not a non-negative safe integer.
   * @throws {@link InvalidPointerError} if the string's length at `ptr` runs past the memory.
   */
  readString(ptr: Ptr): string {
    const m = this.memory;
    return readStringArg('LSRegion.readString', m.u8, m.dv, ptr, m.byteLength);
  }

  /**
   * `size` bytes at a multiple of `align` (a power of two), tagged with `id`.
   *
   * @throws TypeError if `size`, `align` or `id` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], `align` is not a power of two in
   *   [1, 2^31], or `id` is not an integer in [the largest id used so far, 2^53 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the arena cannot
   *   give a slab or run.
   */
  alignedAlloc(size: number, align: number, id: number): Ptr {
    // Fast path in 31-bit integer arithmetic: align a power of two, pos + align - 1 < 2^31.
    if (typeof size === 'number' && typeof align === 'number' && typeof id === 'number') {
      const pos = this.pos;
      const mask = align - 1;
      const ptr = (pos + mask) & ~mask;
      const next = ptr + size;
      const d = id - this.curMax;
      if (next < this.fastEnd && (size >>> 0) === size && (d >>> 0) === d &&
          (align >>> 0) === align && align !== 0 && (align & mask) === 0 && pos + mask <= 0x7fffffff) {
        this.pos = next;
        this.curMax = id;
        return ptr;
      }
    }
    if (typeof align !== 'number' || (align >>> 0) !== align || align === 0 || (align & (align - 1)) !== 0) {
      checkPowerOfTwo('LSRegion.alignedAlloc', 'align', align, 1, MAX_ALIGN);
    }
    return this.allocSlow('LSRegion.alignedAlloc', size, align, id, true);
  }

  /**
   * As {@link alignedAlloc}, but returns 0 when the arena has no slab.
   *
   * @throws TypeError if `size`, `align` or `id` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], `align` is not a power of two in
   *   [1, 2^31], or `id` is not an integer in [the largest id used so far, 2^53 - 1].
   */
  tryAlignedAlloc(size: number, align: number, id: number): Ptr {
    if (typeof align !== 'number' || (align >>> 0) !== align || align === 0 || (align & (align - 1)) !== 0) {
      checkPowerOfTwo('LSRegion.tryAlignedAlloc', 'align', align, 1, MAX_ALIGN);
    }
    return this.allocSlow('LSRegion.tryAlignedAlloc', size, align, id, false);
  }

  /**
   * Frees every slab and run whose allocations all have ids `<= minId`. A slab holding any
   * larger id stays whole. One freed slab is kept for reuse; the rest go back to the arena.
   *
   * @throws TypeError if `minId` is not a number.
   * @throws RangeError if `minId` is not a non-negative safe integer.
   */
  gc(minId: number): void {
    if (!Number.isSafeInteger(minId) || minId < 0) checkInt('LSRegion.gc', 'minId', minId, 0, MAX_ID);
    let k = 0;
    const n = this.entPtr.length;
    while (k < n && this.entMax[k]! <= minId) {
      this.usedClosed -= this.entUsed[k]!;
      this.release(this.entPtr[k]!, this.entSize[k]!, this.entUsed[k]!);
      k++;
    }
    if (k > 0) {
      this.entPtr.splice(0, k);
      this.entSize.splice(0, k);
      this.entUsed.splice(0, k);
      this.entMax.splice(0, k);
    }
    if (this.end !== 0 && this.curMax <= minId) {
      this.release(this.curStart, this.slabSize, this.pos - this.curStart);
      this.pos = this.end = this.fastEnd = this.curStart = 0;
    }
    if (this.debug) this.tick();
  }

  /**
   * Every slab, run and the cached slab back to the arena; the region may be used again, its
   * ids starting over.
   */
  destroy(): void {
    for (let i = 0; i < this.entPtr.length; i++) {
      if (this.debug) this.poison(this.entPtr[i]!, this.entUsed[i]!);
      this.arena.unmap(this.entPtr[i]!);
    }
    if (this.end !== 0) {
      if (this.debug) this.poison(this.curStart, this.pos - this.curStart);
      this.arena.unmap(this.curStart);
    }
    if (this.cached !== 0) this.arena.unmap(this.cached);
    this.entPtr.length = this.entSize.length = this.entUsed.length = this.entMax.length = 0;
    this.pos = this.end = this.fastEnd = this.curStart = this.curMax = this.lastId = 0;
    this.usedClosed = this.held = this.runs = this.cached = 0;
  }

  /** A plain snapshot of the counters. */
  stats(): LSRegionStats {
    return {
      used: this.used, total: this.total, slabs: this.entPtr.length + (this.end !== 0 ? 1 : 0),
      runs: this.runs, cached: this.cached !== 0 ? 1 : 0, lastId: Math.max(this.lastId, this.curMax),
    };
  }

  /**
   * Throws an `Error` naming the first broken invariant.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`LSRegion.check: ${what}`);
    };
    const S = this.slabSize;
    const n = this.entPtr.length;
    const last = Math.max(this.lastId, this.curMax);
    if (this.entSize.length !== n || this.entUsed.length !== n || this.entMax.length !== n) fail('entry arrays differ in length');
    let used = 0;
    let held = 0;
    let runs = 0;
    const spans: number[][] = [];
    for (let i = 0; i < n; i++) {
      const p = this.entPtr[i]!;
      const s = this.entSize[i]!;
      const u = this.entUsed[i]!;
      if (!(p > 0) || p % S !== 0) fail(`entry ${i} at ${p} is not a slab start`);
      if (!(s > 0) || s % S !== 0) fail(`entry ${i} size ${s} is not whole slabs`);
      if (u < 0 || u > s) fail(`entry ${i} used ${u} outside [0, ${s}]`);
      if (i > 0 && this.entMax[i]! < this.entMax[i - 1]!) fail(`entry ${i} max id ${this.entMax[i]} below entry ${i - 1}'s`);
      if (this.entMax[i]! > last) fail(`entry ${i} max id ${this.entMax[i]} above the last id ${last}`);
      if (s > S) runs++;
      used += u;
      held += s;
      spans.push([p, s]);
    }
    if (used !== this.usedClosed) fail(`usedClosed ${this.usedClosed} but entries use ${used}`);
    if (runs !== this.runs) fail(`runs ${this.runs} but ${runs} entries are runs`);
    if (this.end !== 0) {
      if (this.curStart <= 0 || this.curStart % S !== 0) fail(`current slab at ${this.curStart}`);
      if (this.end !== this.curStart + S) fail(`end ${this.end} is not the current slab's end`);
      if (this.pos < this.curStart || this.pos > this.end) fail(`pos ${this.pos} outside the current slab`);
      held += S;
      spans.push([this.curStart, S]);
    } else if (this.pos !== 0 || this.curStart !== 0 || this.fastEnd !== 0) {
      fail(`no current slab but pos=${this.pos} curStart=${this.curStart} fastEnd=${this.fastEnd}`);
    }
    if (this.fastEnd !== 0 && this.fastEnd !== this.end) fail(`fastEnd ${this.fastEnd} is stale`);
    if (this.debug && this.fastEnd !== 0) fail('fast path open in debug mode');
    if (held !== this.held) fail(`held ${this.held} but slabs sum to ${held}`);
    if (this.cached !== 0) {
      if (this.cached % S !== 0) fail(`cached slab at ${this.cached}`);
      spans.push([this.cached, S]);
    }
    spans.sort((a, b) => a[0]! - b[0]!);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i - 1]![0]! + spans[i - 1]![1]! > spans[i]![0]!) fail(`slabs at ${spans[i - 1]![0]} and ${spans[i]![0]} overlap`);
    }
    if (spans.length > 0 && spans[spans.length - 1]![0]! + spans[spans.length - 1]![1]! > this.memory.byteLength) {
      fail('a slab ends past the memory');
    }
  }

  // ---- slow paths -------------------------------------------------------------------------

  private allocSlow(where: string, size: number, align: number, id: number, throwing: boolean): Ptr {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_SIZE);
    const last = this.lastId > this.curMax ? this.lastId : this.curMax;
    if (!Number.isSafeInteger(id) || id < last) checkInt(where, 'id', id, last, MAX_ID);
    const S = this.slabSize;
    const need = align > S ? size + align - 1 : size;
    if (need > S) return this.allocLarge(where, size, align, need, id, throwing);
    let ptr = align === 1 ? this.pos : asPtr(Math.ceil(this.pos / align) * align);
    const next = ptr + size;
    if (this.end === 0 || !(next < this.end || (next === this.end && size !== 0))) {
      // A new current slab: the cached one, else one from the arena.
      let slab = this.cached;
      if (slab === 0) {
        slab = tryMapSlabs(this.arena, 1);
        if (slab === 0) {
          if (!throwing) return 0;
          this.arena.noMemory(where, size, 1);
        }
      } else {
        this.cached = 0;
      }
      slab = asPtr(slab);
      if (this.end !== 0) this.closeCurrent();
      this.held += S;
      this.curStart = slab;
      this.end = slab + S;
      ptr = slab; // slabs are aligned to S >= align
    }
    this.pos = ptr + size;
    this.curMax = id;
    this.lastId = id;
    this.fastEnd = this.debug || id > FAST_ID_LIMIT ? 0 : this.end;
    if (this.debug) this.fresh(ptr, size);
    return ptr;
  }

  /** An allocation of its own run of slabs, logged before the current slab. */
  private allocLarge(where: string, size: number, align: number, need: number, id: number, throwing: boolean): Ptr {
    const S = this.slabSize;
    if (need > this.memory.maxByteLength) {
      if (!throwing) return 0;
      throw neverFits(where, size);
    }
    const slabs = Math.ceil(need / S);
    const run = tryMapSlabs(this.arena, slabs);
    if (run === 0) {
      if (!throwing) return 0;
      this.arena.noMemory(where, size, slabs);
    }
    const ptr = asPtr(Math.ceil(run / align) * align);
    const used = ptr - run + size;
    // Its id is >= every max logged so far, so appending keeps the log sorted.
    this.entPtr.push(run);
    this.entSize.push(slabs * S);
    this.entUsed.push(used);
    this.entMax.push(id);
    this.usedClosed += used;
    this.held += slabs * S;
    if (slabs > 1) this.runs++;
    this.lastId = id;
    // The current slab's curMax may now lag lastId: the next call must check its id in full.
    this.fastEnd = 0;
    if (this.debug) this.fresh(ptr, size);
    return ptr;
  }

  /**
   * Logs the current slab as closed. Runs logged while it was current may carry larger ids
   * than its max, so it is inserted before them to keep the log sorted.
   */
  private closeCurrent(): void {
    const u = this.pos - this.curStart;
    const m = this.curMax;
    let k = this.entPtr.length;
    while (k > 0 && this.entMax[k - 1]! > m) k--;
    this.entPtr.splice(k, 0, this.curStart);
    this.entSize.splice(k, 0, this.slabSize);
    this.entUsed.splice(k, 0, u);
    this.entMax.splice(k, 0, m);
    this.usedClosed += u;
  }

  /** Gives a slab or run back: one single slab is kept as the cache. */
  private release(ptr: number, size: number, used: number): void {
    if (this.debug) this.poison(ptr, used);
    this.held -= size;
    if (size > this.slabSize) {
      this.runs--;
      this.arena.unmap(ptr);
    } else if (this.cached === 0) {
      this.cached = ptr;
    } else {
      this.arena.unmap(ptr);
    }
  }

  private fresh(ptr: number, size: number): void {
    if (size > 0) this.memory.u8.fill(FRESH_BYTE, ptr, ptr + size);
    this.tick();
  }

  private poison(ptr: number, used: number): void {
    if (used > 0) this.memory.u8.fill(FREED_BYTE, ptr, ptr + used);
  }

  private tick(): void {
    if (this.periodic.due()) this.check();
  }
}

