/**
 * Region: a stack-like allocator. Allocate any size; free everything at once (`reset`) or
 * everything allocated after a savepoint (`truncate(savepoint)`, where a savepoint is just the
 * value of `used`). Tarantool's `region`. Its contract (memory source, thread-safety, failure)
 * is on the class.
 *
 * Debug mode (`setDebug`): bytes handed out are filled with `FRESH_BYTE` and bytes truncated
 * or freed with `FREED_BYTE`, except room the caller was given by `reserve`: what was written
 * there is what the next `alloc` of it returns, as without debug mode.
 *
 * Unlike Tarantool's region, `reset()` bounds what is held: it keeps the bottom slab (unless
 * it is larger than `REGION_SLAB_CAP`) and one spare (the largest slab popped that is not),
 * and returns every other slab to the cache, so after any `reset()`
 * `total <= 2 * REGION_SLAB_CAP` and a loop of allocations and resets cannot grow.
 * `truncate` pops whole slabs newest first under the same rule.
 *
 * Layout (slabs in the order they were taken; the top slab is the one being bumped):
 * ```
 *   slab 0 (bottom)          slab 1                 slab n-1 (top)
 *   +-----------+---+        +--------------+--+    +-----------+-----------------+
 *   | used[0]   |///|  ...   | used[1]      |//|    | pos-start | free: pos..end  |
 *   +-----------+---+        +--------------+--+    +-----------+-----------------+
 *                ^ tail left unused when a request did not fit
 * ```
 * Invariants:
 *   used  = Σ_{i < top} slabUsed[i] + (pos - slabPtr[top])
 *   total = Σ_i slabSize[i] + spareSize
 *   slabPtr[top] <= pos <= end = slabPtr[top] + slabSize[top]
 *   fastEnd = debug ? 0 : end            (debug mode sends every call down the slow path)
 *   reservedEnd = 0, or (debug only) the end of the last reserve's room in the top slab
 *   spareSize <= REGION_SLAB_CAP;  after reset: total <= 2 * REGION_SLAB_CAP
 *   n = 0  =>  pos = end = fastEnd = 0
 */
import { OutOfMemoryError } from '../../errors.js';
import { checkInstance, checkInt, checkPowerOfTwo } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import { readStringArg, STRING_ALIGN, STRING_PREFIX, stringArg, writeString } from '../../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../../internal/typed.js';
import type { Memory } from '../../memory.js';
import { SlabCache } from '../slabs/slab-cache.js';
import { tryGetBlock } from '../spare-block.js';
import { neverFits } from './buffer-sizes.js';
import { asPtr, type Ptr } from '../../internal/ptr.js';

/** A byte offset into the region's `Memory`; 0 is null. */

/**
 * The largest slab a region grows to by doubling (a larger request still gets its own).
 * @category Buffers
 */
export const REGION_SLAB_CAP = 256 * 1024;

const MAX_SIZE = 2 ** 32 - 1;
const MAX_ALIGN = 2 ** 31;

/**
 * What {@link Region.stats} returns.
 * @category Buffers
 */
export interface RegionStats {
  /** Bytes handed out (alignment padding included) and not truncated. */
  used: number;
  /** Bytes of slabs held from the cache, the spare included. */
  total: number;
  /** Slabs in the stack. */
  slabs: number;
  /** Size of the empty slab kept for the next growth; 0 if none. */
  spare: number;
}

/**
 * Stack-like allocator over a `SlabCache`: allocate, then truncate to a savepoint or reset.
 *
 * @remarks
 * Memory source: a `SlabCache`. Slabs start at the cache's smallest order and double with
 * each new slab up to `REGION_SLAB_CAP`; a request larger than that gets a slab (or a run of
 * arena slabs) of its own. The region keeps its bookkeeping in its own fields, so every byte
 * of a slab is the caller's.
 *
 * Thread-safety: none. A region belongs to the worker that created it (as its `SlabCache`
 * does); the memory it hands out may be read and written from any worker.
 *
 * Failure: `alloc`, `alignedAlloc`, `reserve` and `join` throw `OutOfMemoryError` (or
 * `QuotaExceededError`) naming the method called, and `tryAlloc` returns 0, when the cache
 * cannot give a slab; the region, `used` and the quota have not changed then. Before it fails
 * the cache's empty memory (the pools' spare block, the cache's free slab) may go back, so the
 * cache's `total` may drop. Bad arguments throw `TypeError`/`RangeError`
 * and change nothing.
 * @category Buffers
 */
export class Region {
  /** The memory source. */
  readonly cache: SlabCache;
  /** The address space pointers index into. */
  readonly memory: Memory;

  /** Next free byte of the top slab. */
  private pos = 0;
  /** End of the top slab (0 when there is none). */
  private end = 0;
  /** `end`, or 0 in debug mode so that every call takes the checked slow path. */
  private fastEnd = 0;
  /** Start of the top slab. */
  private slabStart = 0;
  /** Σ used of the slabs under the top one. */
  private usedBelow = 0;
  /** Total slab bytes in the stack. */
  private held = 0;

  /** Slab pointers, bottom first. */
  private readonly slabPtr: number[] = [];
  /** Slab sizes (the cache's real sizes). */
  private readonly slabSize: number[] = [];
  /** Bytes used in each slab; valid below the top (the top's is `pos - slabStart`). */
  private readonly slabUsed: number[] = [];

  /**
   * Debug mode only: end of the room the last `reserve` gave in the top slab (0 for none). The
   * caller may have written it, so an `alloc` of it must not fill it with FRESH_BYTE.
   */
  private reservedEnd = 0;

  /** An empty slab kept after a truncate, taken before asking the cache. */
  private spare = 0;
  private spareSize = 0;

  private readonly cap: number;
  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;

  /**
   * A region drawing slabs from `cache`. It takes nothing until the first allocation.
   *
   * @throws TypeError if `cache` is not a {@link SlabCache}.
   */
  constructor(cache: SlabCache) {
    checkInstance('new Region', 'cache', cache, SlabCache);
    this.cache = cache;
    this.memory = cache.arena.memory;
    this.cap = Math.max(cache.order0Size, Math.min(REGION_SLAB_CAP, cache.arena.slabSize));
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /** Bytes handed out and live; a savepoint for {@link truncate}. Padding counts. */
  get used(): number {
    return this.usedBelow + (this.pos - this.slabStart);
  }

  /** Bytes of slabs held from the cache. */
  get total(): number {
    return this.held + this.spareSize;
  }

  /**
   * `size` bytes (any size >= 0).
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  alloc(size: number): Ptr {
    return this.allocFast('Region.alloc', size, true);
  }

  /**
   * As {@link alloc}, but returns 0 when no slab can be had.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   */
  tryAlloc(size: number): Ptr {
    return this.allocFast('Region.tryAlloc', size, false);
  }

  /**
   * The one fast path of alloc and tryAlloc: a bump within the top slab. What it leaves goes
   * to the slow path, whose errors name `where`; it throws when `throwing`, else returns 0.
   */
  private allocFast(where: string, size: number, throwing: boolean): Ptr {
    // typeof first: a BigInt must reach the checks, not throw from the arithmetic.
    if (typeof size === 'number') {
      const pos = this.pos;
      const next = pos + size;
      if (next < this.fastEnd && (size >>> 0) === size) {
        this.pos = next;
        return pos;
      }
    }
    return this.allocSlow(where, size, 1, throwing);
  }

  /**
   * `size` bytes at a multiple of `align` (a power of two). The padding in front is counted
   * in `used`, so a savepoint taken before still truncates it.
   *
   * @throws TypeError if `size` or `align` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `align` is not a power of
   *   two in [1, 2^31].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  alignedAlloc(size: number, align: number): Ptr {
    return this.alignedFast('Region.alignedAlloc', size, align, true);
  }

  /**
   * As {@link alignedAlloc}, but returns 0 when no slab can be had.
   *
   * @throws TypeError if `size` or `align` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `align` is not a power of
   *   two in [1, 2^31].
   */
  tryAlignedAlloc(size: number, align: number): Ptr {
    return this.alignedFast('Region.tryAlignedAlloc', size, align, false);
  }

  /**
   * The one fast path of alignedAlloc and tryAlignedAlloc, in 31-bit integer arithmetic (align
   * a power of two, pos + align - 1 < 2^31); the rest goes to the slow path, whose errors name
   * `where` and which throws when `throwing`, else returns 0.
   */
  private alignedFast(where: string, size: number, align: number, throwing: boolean): Ptr {
    if (typeof size === 'number' && typeof align === 'number') {
      const pos = this.pos;
      const mask = align - 1;
      const ptr = (pos + mask) & ~mask;
      const next = ptr + size;
      if (next < this.fastEnd && (size >>> 0) === size && (align >>> 0) === align && align !== 0 &&
          (align & mask) === 0 && pos + mask <= 0x7fffffff) {
        this.pos = next;
        return ptr;
      }
    }
    if (typeof align !== 'number' || (align >>> 0) !== align || (align & (align - 1)) !== 0 || align === 0) {
      checkPowerOfTwo(where, 'align', align, 1, MAX_ALIGN);
    }
    return this.allocSlow(where, size, align, throwing);
  }

  /**
   * `size` bytes, all zero.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  calloc(size: number): Ptr {
    const p = this.allocSlow('Region.calloc', size, 1, true);
    this.memory.u8.fill(0, p, p + size);
    return p;
  }

  /**
   * `length` elements of `type` as a typed array over the memory, aligned to the element size;
   * freed with the region (`truncate`, `reset`, `free`).
   *
   * @throws TypeError if `type` is not a built-in typed array constructor, or `length` is not a
   *   number.
   * @throws RangeError if `length` is not a non-negative safe integer.
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the array is
   *   larger than 4 GiB, or the cache cannot give a slab.
   */
  allocAs<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T {
    const bytes = typedBytes('Region.allocAs', type, length, MAX_SIZE);
    const p = this.allocSlow('Region.allocAs', bytes, type.BYTES_PER_ELEMENT, true);
    return new type(this.memory.buffer, p, length);
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32), 4-aligned; returns its pointer, freed
   * with the region.
   *
   * @throws TypeError if `s` is not a string.
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  allocString(s: string): Ptr {
    const where = 'Region.allocString';
    const n = stringArg(where, s);
    const p = this.allocSlow(where, STRING_PREFIX + n, STRING_ALIGN, true);
    writeString(this.memory.u8, this.memory.dv, p, s, n);
    return p;
  }

  /**
   * The string `allocString` stored at `ptr`. The region keeps no record of what it handed
   * out: a pointer whose length runs past the memory is an `InvalidPointerError`, any other
   * pointer reads whatever bytes lie there.
   *
   * @throws TypeError if `ptr` is not a number.
   * @throws RangeError if `ptr` is not a non-negative safe integer.
   * @throws {@link InvalidPointerError} if the string's length at `ptr` runs past the memory.
   */
  readString(ptr: Ptr): string {
    const m = this.memory;
    return readStringArg('Region.readString', m.u8, m.dv, ptr, m.byteLength);
  }

  /**
   * `size` contiguous bytes of room, not counted in `used`: the next `alloc(k)` with
   * `k <= size` returns the same pointer. May start a new slab.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  reserve(size: number): Ptr {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt('Region.reserve', 'size', size, 0, MAX_SIZE);
    const p = this.fits(this.pos, size) ? this.pos : this.grow('Region.reserve', size, true);
    if (this.debug && p + size > this.reservedEnd) this.reservedEnd = p + size;
    return p;
  }

  /**
   * Frees everything allocated after the savepoint `used` (a value `used` had before), newest
   * slabs first. The bottom slab and one spare are kept.
   *
   * @throws TypeError if `used` is not a number.
   * @throws RangeError if `used` is not an integer in [0, used now].
   */
  truncate(used: number): void {
    const now = this.used;
    if (!Number.isSafeInteger(used) || used < 0 || used > now) checkInt('Region.truncate', 'used', used, 0, now);
    this.cut(now - used);
  }

  /**
   * The last `size` bytes allocated, made contiguous. When they already lie in one slab this
   * returns a pointer to them and allocates nothing; otherwise they are copied, in order,
   * into `size` newly allocated bytes (so `used` grows by `size`, as in Tarantool).
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, used now].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab.
   */
  join(size: number): Ptr {
    const used = this.used;
    if (typeof size !== 'number' || (size >>> 0) !== size || size > used) checkInt('Region.join', 'size', size, 0, used);
    if (size === 0) return this.allocSlow('Region.join', 0, 1, true);
    const topUsed = this.pos - this.slabStart;
    if (topUsed >= size) return this.pos - size;
    const dst = this.fits(this.pos, size) ? this.pos : this.grow('Region.join', size, true);
    // Copy the pieces newest first into the tail of dst; a freshly pushed top slab has used 0.
    const u8 = this.memory.u8;
    let remaining = size;
    for (let i = this.slabPtr.length - 1; remaining > 0; i--) {
      const start = this.slabPtr[i]!;
      const u = i === this.slabPtr.length - 1 ? this.pos - start : this.slabUsed[i]!;
      const take = u < remaining ? u : remaining;
      u8.copyWithin(dst + remaining - take, start + u - take, start + u);
      remaining -= take;
    }
    this.pos = dst + size;
    return dst;
  }

  /** used === 0; keeps the bottom slab and one spare, returns the rest to the cache. */
  reset(): void {
    this.cut(this.used);
  }

  /** Every slab back to the cache; the region is empty and may be used again. */
  free(): void {
    if (this.debug) this.poisonAbove(0);
    for (let i = this.slabPtr.length - 1; i >= 0; i--) this.cache.put(this.slabPtr[i]!);
    if (this.spare !== 0) this.cache.put(this.spare);
    this.reservedEnd = 0;
    this.slabPtr.length = 0;
    this.slabSize.length = 0;
    this.slabUsed.length = 0;
    this.spare = this.spareSize = 0;
    this.pos = this.end = this.fastEnd = this.slabStart = this.usedBelow = this.held = 0;
  }

  /** A plain snapshot of the counters. */
  stats(): RegionStats {
    return { used: this.used, total: this.total, slabs: this.slabPtr.length, spare: this.spareSize };
  }

  /**
   * Throws an `Error` naming the first broken invariant.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`Region.check: ${what}`);
    };
    const n = this.slabPtr.length;
    if (this.slabSize.length !== n || this.slabUsed.length !== n) fail('slab arrays differ in length');
    if (n === 0) {
      if (this.pos !== 0 || this.end !== 0 || this.fastEnd !== 0 || this.usedBelow !== 0 || this.held !== 0) {
        fail(`empty region with pos=${this.pos} end=${this.end} usedBelow=${this.usedBelow} held=${this.held}`);
      }
    } else {
      const top = n - 1;
      if (this.slabStart !== this.slabPtr[top]) fail(`slabStart ${this.slabStart} is not the top slab ${this.slabPtr[top]}`);
      if (this.end !== this.slabStart + this.slabSize[top]!) fail(`end ${this.end} is not the top slab's end`);
      if (this.pos < this.slabStart || this.pos > this.end) fail(`pos ${this.pos} outside the top slab [${this.slabStart}, ${this.end}]`);
      if (this.fastEnd !== (this.debug ? 0 : this.end)) fail(`fastEnd ${this.fastEnd} is stale`);
    }
    if (this.reservedEnd !== 0 && (!this.debug || n === 0 || this.reservedEnd < this.slabStart || this.reservedEnd > this.end)) {
      fail(`reservedEnd ${this.reservedEnd} outside the top slab [${this.slabStart}, ${this.end}]`);
    }
    let below = 0;
    let held = 0;
    const spans: number[][] = [];
    for (let i = 0; i < n; i++) {
      const p = this.slabPtr[i]!;
      const s = this.slabSize[i]!;
      if (!(p > 0) || !(s > 0)) fail(`slab ${i} is ${p}+${s}`);
      if (p + s > this.memory.byteLength) fail(`slab ${i} ends past the memory`);
      if (i < n - 1) {
        const u = this.slabUsed[i]!;
        if (u < 0 || u > s) fail(`slab ${i} used ${u} outside [0, ${s}]`);
        below += u;
      }
      held += s;
      spans.push([p, s]);
    }
    if (below !== this.usedBelow) fail(`usedBelow ${this.usedBelow} but slabs under the top use ${below}`);
    if (held !== this.held) fail(`held ${this.held} but slabs sum to ${held}`);
    if ((this.spare === 0) !== (this.spareSize === 0)) fail('spare and spareSize disagree');
    if (this.spare !== 0) spans.push([this.spare, this.spareSize]);
    spans.sort((a, b) => a[0]! - b[0]!);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i - 1]![0]! + spans[i - 1]![1]! > spans[i]![0]!) fail(`slabs at ${spans[i - 1]![0]} and ${spans[i]![0]} overlap`);
    }
  }

  // ---- slow paths -------------------------------------------------------------------------

  /** True when `size` bytes at `at` fit the top slab (a zero size must not sit on its end). */
  private fits(at: number, size: number): boolean {
    const next = at + size;
    return this.slabPtr.length !== 0 && (next < this.end || (next === this.end && size !== 0));
  }

  private allocSlow(where: string, size: number, align: number, throwing: boolean): Ptr {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_SIZE);
    let ptr = align === 1 ? this.pos : alignUpPtr(this.pos, align);
    if (!this.fits(ptr, size)) {
      const start = this.grow(where, align > this.cache.order0Size ? size + align - 1 : size, throwing);
      if (start === 0) return 0;
      ptr = alignUpPtr(start, align);
    }
    this.pos = ptr + size;
    if (this.debug) this.afterAlloc(ptr, size);
    return ptr;
  }

  /**
   * Pushes a new top slab with at least `need` bytes (the spare if it is big enough, else one
   * from the cache) and returns its start; 0 (or a throw) when the cache has none.
   */
  private grow(where: string, need: number, throwing: boolean): Ptr {
    const n = this.slabPtr.length;
    const want = Math.max(need, n === 0 ? this.cache.order0Size : Math.min(this.cap, 2 * this.slabSize[n - 1]!));
    let ptr = 0;
    let size = 0;
    if (this.spare !== 0 && this.spareSize >= need) {
      ptr = this.spare;
      size = this.spareSize;
      this.spare = this.spareSize = 0;
    } else {
      if (need > this.memory.maxByteLength) {
        if (!throwing) return 0;
        throw neverFits(where, need);
      }
      // Ask for the doubled size first; if that fails, for just what is needed.
      ptr = want > need ? tryGetBlock(this.cache, want) : 0;
      if (ptr !== 0) size = this.cache.realSize(want);
      else {
        ptr = tryGetBlock(this.cache, need);
        if (ptr === 0) {
          if (!throwing) return 0;
          this.cache.noMemory(where, need);
        }
        size = this.cache.realSize(need);
      }
    }
    ptr = asPtr(ptr);
    if (n !== 0) {
      const u = this.pos - this.slabStart;
      this.slabUsed[n - 1] = u;
      this.usedBelow += u;
    }
    this.slabPtr.push(ptr);
    this.slabSize.push(size);
    this.slabUsed.push(0);
    this.held += size;
    this.slabStart = this.pos = ptr;
    this.end = ptr + size;
    this.fastEnd = this.debug ? 0 : this.end;
    this.reservedEnd = 0;
    return ptr;
  }

  /** Frees the newest `cut` bytes: trims the top slab or pops whole slabs. */
  private cut(cut: number): void {
    if (this.debug && cut > 0) {
      this.poisonAbove(this.used - cut);
      this.reservedEnd = 0;
    }
    while (this.slabPtr.length !== 0) {
      const top = this.slabPtr.length - 1;
      const topUsed = this.pos - this.slabStart;
      if (topUsed > cut || (top === 0 && this.slabSize[0]! <= this.cap)) {
        this.pos -= cut;
        break;
      }
      cut -= topUsed;
      this.popTop();
    }
    if (this.debug) this.tick();
  }

  private popTop(): void {
    const top = this.slabPtr.length - 1;
    this.reservedEnd = 0;
    const ptr = this.slabPtr.pop()!;
    const size = this.slabSize.pop()!;
    this.slabUsed.pop();
    this.held -= size;
    // Keep the largest popped slab that is not oversized as the spare.
    if (size <= this.cap && size > this.spareSize) {
      if (this.spare !== 0) this.cache.put(this.spare);
      this.spare = ptr;
      this.spareSize = size;
    } else {
      this.cache.put(ptr);
    }
    if (top === 0) {
      this.pos = this.end = this.fastEnd = this.slabStart = 0;
      return;
    }
    const u = this.slabUsed[top - 1]!;
    this.usedBelow -= u;
    this.slabStart = this.slabPtr[top - 1]!;
    this.pos = this.slabStart + u;
    this.end = this.slabStart + this.slabSize[top - 1]!;
    this.fastEnd = this.debug ? 0 : this.end;
  }

  /** Debug mode: fills every byte handed out above the savepoint `used` with FREED_BYTE. */
  private poisonAbove(used: number): void {
    const u8 = this.memory.u8;
    let base = this.usedBelow;
    for (let i = this.slabPtr.length - 1; i >= 0; i--) {
      const start = this.slabPtr[i]!;
      const u = i === this.slabPtr.length - 1 ? this.pos - start : this.slabUsed[i]!;
      if (i !== this.slabPtr.length - 1) base -= u;
      const from = used > base ? used - base : 0;
      if (from < u) u8.fill(FREED_BYTE, start + from, start + u);
      if (used >= base) break;
    }
  }

  /** Debug mode: fills the bytes handed out with FRESH_BYTE, but not reserved room. */
  private afterAlloc(ptr: number, size: number): void {
    // reservedEnd lies in the top slab (it is cleared when the top changes) and ptr does too.
    const from = ptr > this.reservedEnd ? ptr : this.reservedEnd;
    if (ptr + size > from) this.memory.u8.fill(FRESH_BYTE, from, ptr + size);
    this.tick();
  }

  private tick(): void {
    if (this.periodic.due()) this.check();
  }
}

/** `p` rounded up to a multiple of `align`, exact for pointers up to 2^53. */
function alignUpPtr(p: number, align: number): number {
  return align === 1 ? p : asPtr(Math.ceil(p / align) * align);
}

