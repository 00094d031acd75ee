/**
 * BumpArena: bitena's fixed-capacity, lock-free bump arena. Its contract (memory source,
 * thread-safety, failure) is on the class.
 *
 * Debug mode (`setDebug`): the data region is filled with `FRESH_BYTE` when the arena is
 * created and again by `reset()` (which abandons every allocation); nothing else is written.
 *
 * Layout:
 * ```
 *  0        16       20        24       32                  end                 32+capacity
 *  +--------+--------+---------+--------+-------------------+-------------------+
 *  | header | end    | capacity| unused | free              | allocated <------ |
 *  | (16 B) | (u32)  | (u32)   |        |                   |  bumped downward  |
 *  +--------+--------+---------+--------+-------------------+-------------------+
 * ```
 * An allocation of `size` bytes aligned to `align` takes `p = alignDown(end - size, align)` and
 * moves `end` to `p`; the gap above it (< align) is padding and is not counted as remaining.
 * Invariants:
 *   DATA <= end <= DATA + capacity;  remaining() === end - DATA
 *   every live allocation lies in [end, DATA + capacity); no two overlap
 */
import { InvalidPointerError, OutOfMemoryError } from '../errors.js';
import { HandOff } from '../internal/hand-off.js';
import { checkInt, checkPointer, checkPowerOfTwo, describe, optionalBool, optionsBag, typeError } from '../internal/checks.js';
import { FRESH_BYTE, getDebug, PeriodicCheck } from '../debug.js';
import { HEADER_BYTES, Kind, verifyHeader, writeHeader } from '../internal/header.js';
import { newSharedBuffer, requireSharedMemory } from '../internal/shared-memory.js';
import { readStringAt, STRING_ALIGN, STRING_PREFIX, stringArg, writeString } from '../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../internal/typed.js';
import { Memory } from '../memory.js';
import type { Ptr } from '../internal/ptr.js';

/** Layout version of a shared BumpArena buffer; bump it when the layout changes. */
const VERSION = 1;
/** Slot (in u32s) of the end pointer: the lowest allocated byte. */
const END = HEADER_BYTES >>> 2;
/** Slot (in u32s) of the capacity, so that attach() can check the buffer against it. */
const CAPACITY = END + 1;
/** First usable byte; 8-aligned, so 8-aligned allocations waste nothing at the bottom. */
const DATA = 32;
/** The end pointer is a u32 and the header stores the byte length as one. */
const MAX_CAPACITY = 2 ** 32 - 8 - DATA;
/** Size limit: the largest u32 (sizes past what remains just do not fit). */
const MAX_SIZE = 2 ** 32 - 1;
/** Alignment limit: the padding must stay a u32 and the mask an int32. */
const MAX_ALIGN = 2 ** 31;

/**
 * What {@link BumpArena.attach} takes: structured-cloneable, sent with `postMessage`.
 * @category Arenas
 */
export interface BumpArenaHandle {
  /** The arena's buffer: header, end pointer and data. */
  readonly buffer: SharedArrayBuffer;
}

/**
 * Options of the {@link BumpArena} constructor.
 * @category Arenas
 */
export interface BumpArenaOptions {
  /** Back it with a `SharedArrayBuffer` so workers can allocate from it at once. Default false. */
  shared?: boolean;
}

export type { TypedArray, TypedArrayConstructor } from '../internal/typed.js';

/** Set by attach() for the one constructor call that wraps an existing buffer. */
const attaching = new HandOff<SharedArrayBuffer>();

/**
 * A fixed-capacity bump arena whose end pointer moves downward; lock-free across workers when
 * shared.
 *
 * @remarks
 * Memory source: one fixed-length buffer allocated by the constructor (a `SharedArrayBuffer`
 * with `shared: true`, else an `ArrayBuffer`) of 32 + `capacity` bytes. It never grows. Its
 * `memory` is claimed: no other allocator may be given it.
 *
 * Thread-safety: with `shared: true` any number of workers may allocate at once, each through
 * its own `BumpArena.attach(handle)`: the only state, the end pointer, lives in the buffer and
 * moves by `Atomics.compareExchange`, so no two allocations overlap and none is lost. Unshared,
 * the same pointer moves by plain arithmetic. `reset()` needs every allocation abandoned, on
 * every worker (as bitena's does).
 *
 * Failure: `tryAlloc`/`tryAllocSlice` return 0/null and `alloc`, `allocSlice` and
 * `allocString` throw `OutOfMemoryError` (a slice larger than the whole capacity too); either
 * way the end pointer has not moved. `readString` of a pointer argument that is not a number
 * is a `TypeError`, of one that is not a non-negative integer a `RangeError`, and of an
 * integer where no string of this arena lies an `InvalidPointerError`.
 *
 *     const arena = new BumpArena(1 << 20, { shared: true });
 *     worker.postMessage(arena.handle());            // there: BumpArena.attach(handle)
 *     const xs = arena.allocSlice(Float64Array, 16, 0);
 * @category Arenas
 */
export class BumpArena {
  // Fields are `declare`d (assigned only in the constructor, never emitted as class fields):
  // a class field starts out undefined, which makes V8 forget that `u32` always holds a
  // Uint32Array, and tryAlloc then measured 1.6x slower.
  /** The arena's memory: header and state at the start, data after them. */
  declare readonly memory: Memory;
  /** Usable bytes: `remaining()` after `reset()`. */
  declare readonly capacity: number;
  /** True when the buffer is a `SharedArrayBuffer` and allocation uses compare-exchange. */
  declare readonly shared: boolean;
  /** Fixed-length views over the whole buffer (it never grows). */
  declare private readonly u32: Uint32Array;
  declare private readonly u8: Uint8Array;
  declare private readonly dv: DataView;
  /** One past the last usable byte: DATA + capacity. */
  declare private readonly top: number;
  /** Debug mode, read once: poison the data region on reset. */
  declare private readonly debug: boolean;
  declare private readonly periodic: PeriodicCheck;

  /**
   * A new arena of `capacity` usable bytes (>= 1).
   *
   * @throws TypeError if `capacity` is not a number, `opts` is not an object, or `opts.shared` is
   *   not a boolean or is true where there is no `SharedArrayBuffer` (a page that is not
   *   cross-origin isolated).
   * @throws RangeError if `capacity` is not an integer in [1, 2^32 - 40].
   * @throws {@link OutOfMemoryError} if the engine cannot allocate the buffer.
   */
  constructor(capacity: number, opts?: BumpArenaOptions) {
    const where = 'BumpArena';
    let buffer: ArrayBuffer | SharedArrayBuffer;
    let shared: boolean;
    const attached = attaching.take();
    if (attached !== null) {
      // attach(): the buffer and its state were verified there and are taken as they are.
      buffer = attached;
      shared = true;
      capacity = buffer.byteLength - DATA;
    } else {
      checkInt(where, 'capacity', capacity, 1, MAX_CAPACITY);
      const o = optionsBag<BumpArenaOptions>(where, opts);
      shared = optionalBool(where, 'opts.shared', o.shared, false);
      const byteLength = DATA + capacity;
      // Before the try: a context without shared memory is the caller's mistake, not a lack of memory.
      if (shared) requireSharedMemory(where);
      try {
        buffer = shared ? newSharedBuffer(where, byteLength) : new ArrayBuffer(byteLength);
      } catch (e) {
        throw new OutOfMemoryError(byteLength, `${where}: cannot allocate a buffer of ${byteLength} bytes (${(e as Error).message})`);
      }
      writeHeader(new Int32Array(buffer, 0, HEADER_BYTES >>> 2), Kind.BumpArena, VERSION, byteLength);
      const state = new Uint32Array(buffer, 0, DATA >>> 2);
      state[CAPACITY] = capacity;
      state[END] = byteLength;
      if (getDebug().enabled) new Uint8Array(buffer, DATA, capacity).fill(FRESH_BYTE);
    }
    const byteLength = DATA + capacity;
    const memory = Memory.wrap(buffer);
    memory.claim('BumpArena');
    this.memory = memory;
    this.capacity = capacity;
    this.shared = shared;
    this.top = byteLength;
    this.u32 = new Uint32Array(buffer, 0, DATA >>> 2);
    this.u8 = new Uint8Array(buffer, 0, byteLength);
    this.dv = new DataView(buffer, 0, byteLength);
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /**
   * The arena of `handle` (from {@link BumpArena.handle}, maybe in another worker).
   * Throws a `TypeError` if the buffer is not a BumpArena's of this layout version, or is
   * truncated or corrupt.
   *
   * @throws TypeError if `handle` is not a handle of a shared BumpArena of this layout version, or
   *   its buffer is truncated or its state corrupt.
   */
  static attach(handle: BumpArenaHandle): BumpArena {
    const where = 'BumpArena.attach';
    if (typeof handle !== 'object' || handle === null) typeError(where, 'handle', 'a BumpArenaHandle', handle);
    const buffer = (handle as { buffer?: unknown }).buffer;
    const byteLength = verifyHeader(where, buffer, Kind.BumpArena, VERSION, DATA + 1);
    const sab = buffer as SharedArrayBuffer;
    if (sab.growable || sab.byteLength !== byteLength) {
      throw new TypeError(`${where}: buffer is ${sab.byteLength} bytes${sab.growable ? ' and growable' : ''}, its header says ${byteLength} (truncated or foreign)`);
    }
    const u32 = new Uint32Array(sab, 0, DATA >>> 2);
    const capacity = u32[CAPACITY]!;
    const end = Atomics.load(u32, END);
    if (capacity !== byteLength - DATA) {
      throw new TypeError(`${where}: corrupt state (capacity ${capacity}, buffer holds ${byteLength - DATA})`);
    }
    if (end < DATA || end > byteLength) {
      throw new TypeError(`${where}: corrupt state (end pointer ${end} outside [${DATA}, ${byteLength}])`);
    }
    // Through the constructor, so attached and created arenas share one shape (monomorphic).
    return attaching.build(sab, () => new BumpArena(capacity));
  }

  /**
   * A structured-cloneable handle for {@link BumpArena.attach}. `TypeError` if not shared.
   *
   * @throws TypeError if the arena is not shared.
   */
  handle(): BumpArenaHandle {
    if (!this.shared) throw new TypeError('BumpArena.handle: this arena is not shared (create it with { shared: true })');
    return { buffer: this.memory.buffer as SharedArrayBuffer };
  }

  /** Usable bytes left; padding already spent on alignment is not counted. */
  remaining(): number {
    return (this.shared ? Atomics.load(this.u32, END) : this.u32[END]!) - DATA;
  }

  /**
   * `size` bytes at a multiple of `align` (a power of two, default 8).
   * Throws `OutOfMemoryError` when they do not fit; nothing changes then.
   *
   * @throws TypeError if `size` or `align` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `align` is not a power of
   *   two in [1, 2^31].
   * @throws {@link OutOfMemoryError} if the bytes do not fit in what remains.
   */
  alloc(size: number, align?: number): Ptr {
    return this.allocFast('BumpArena.alloc', size, align, true);
  }

  /**
   * `size` bytes at a multiple of `align` (a power of two, default 8), or 0 when they do not fit.
   *
   * @throws TypeError if `size` or `align` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1], or `align` is not a power of
   *   two in [1, 2^31].
   */
  tryAlloc(size: number, align?: number): Ptr {
    return this.allocFast('BumpArena.tryAlloc', size, align, false);
  }

  /**
   * The one path of alloc and tryAlloc: the argument check (its errors name `where`) and the
   * bump. When the bytes do not fit it throws if `throwing`, else returns 0 (the data region
   * starts at DATA, so no allocation is at 0).
   */
  private allocFast(where: string, size: number, align: number | undefined, throwing: boolean): Ptr {
    // The default, by hand: undefined means 8 (and null too, below).
    if (align === undefined) align = 8;
    // Any u32 size is valid (one above what remains simply does not fit); a u32 power of two
    // is at most 2^31, so these two tests are the whole argument check.
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_SIZE);
    if (typeof align !== 'number' || (align >>> 0) !== align || (align & (align - 1)) !== 0 || align === 0) {
      // null, like undefined, means the default.
      align = (align as unknown) === null ? 8 : checkPowerOfTwo(where, 'align', align, 1, MAX_ALIGN);
    }
    const p = this.shared ? this.bumpShared(size, align) : this.bumpPlain(size, align);
    if (this.debug === true) this.tick();
    if (p === 0 && throwing) {
      throw new OutOfMemoryError(size,
        `${where}: ${size} bytes aligned to ${align} do not fit in the ${this.remaining()} bytes remaining`);
    }
    return p;
  }

  /** Debug mode: one more operation; check() when it is due. */
  private tick(): void {
    if (this.periodic.due()) this.check();
  }

  /**
   * A typed-array view of `length` elements over the arena, aligned to its element size,
   * filled with `fill` when given (a bigint for the 64-bit integer arrays); otherwise its
   * contents are whatever the arena held there (zeros in a fresh arena).
   * Throws `OutOfMemoryError` (a `RangeError`) when it does not fit in what remains, its
   * byte size past the whole capacity (or past 2^53) included.
   *
   * @throws TypeError if `type` is not a built-in typed array constructor, `length` is not a number,
   *   or `fill` is not a bigint for a 64-bit array or a number for another.
   * @throws RangeError if `length` is not a non-negative safe integer.
   * @throws {@link OutOfMemoryError} if the slice does not fit in what remains.
   */
  allocSlice<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number, fill?: number | bigint): T {
    const where = 'BumpArena.allocSlice';
    const bytes = this.sliceBytes(where, type, length, fill);
    if (bytes < 0) {
      const need = length * type.BYTES_PER_ELEMENT;
      throw new OutOfMemoryError(need,
        `${where}: length ${describe(length)} of ${type.name} needs ${need} bytes, more than the capacity ${this.capacity}`);
    }
    const p = this.tryAlloc(bytes, type.BYTES_PER_ELEMENT);
    if (p === 0) {
      throw new OutOfMemoryError(bytes,
        `${where}: ${length} ${type.name} elements (${bytes} bytes) do not fit in the ${this.remaining()} bytes remaining`);
    }
    return this.slice(type, p, length, fill);
  }

  /**
   * As {@link BumpArena.allocSlice}, but `null` where that one would refuse the size.
   *
   * @throws TypeError if `type` is not a built-in typed array constructor, `length` is not a number,
   *   or `fill` is not a bigint for a 64-bit array or a number for another.
   * @throws RangeError if `length` is not a non-negative safe integer.
   */
  tryAllocSlice<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number, fill?: number | bigint): T | null {
    const bytes = this.sliceBytes('BumpArena.tryAllocSlice', type, length, fill);
    if (bytes < 0) return null;
    const p = this.tryAlloc(bytes, type.BYTES_PER_ELEMENT);
    return p === 0 ? null : this.slice(type, p, length, fill);
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32, little-endian); returns the pointer to
   * the length, 4-aligned. Read it back with {@link BumpArena.readString}.
   * Throws `OutOfMemoryError` when it does not fit.
   *
   * @throws TypeError if `s` is not a string.
   * @throws {@link OutOfMemoryError} if the string does not fit in what remains.
   */
  allocString(s: string): Ptr {
    const n = stringArg('BumpArena.allocString', s);
    const p = this.tryAlloc(STRING_PREFIX + n, STRING_ALIGN);
    if (p === 0) {
      throw new OutOfMemoryError(STRING_PREFIX + n,
        `BumpArena.allocString: ${n} bytes of UTF-8 (+4 for the length) do not fit in the ${this.remaining()} bytes remaining`);
    }
    writeString(this.u8, this.dv, p, s, n);
    return p;
  }

  /**
   * The string stored at `ptr` by {@link BumpArena.allocString}.
   *
   * @throws TypeError if `ptr` is not a number.
   * @throws RangeError if `ptr` is not a non-negative safe integer.
   * @throws {@link InvalidPointerError} if no string of this arena lies at `ptr`.
   */
  readString(ptr: Ptr): string {
    const where = 'BumpArena.readString';
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
    if (ptr < DATA || ptr + STRING_PREFIX > this.top || ptr % STRING_ALIGN !== 0) {
      throw new InvalidPointerError(ptr, `${where}: ${ptr} is not a string of this arena (data lies in [${DATA}, ${this.top}))`);
    }
    const end = this.shared ? Atomics.load(this.u32, END) : this.u32[END]!;
    if (ptr < end) {
      throw new InvalidPointerError(ptr, `${where}: ${ptr} is not a string of this arena (below the allocated region at ${end})`);
    }
    return readStringAt(this.u8, this.dv, ptr, this.top, where);
  }

  /** Every allocation abandoned: `remaining() === capacity`. No worker may use old pointers. */
  reset(): void {
    if (this.debug) this.u8.fill(FRESH_BYTE, DATA, this.top);
    if (this.shared) Atomics.store(this.u32, END, this.top);
    else this.u32[END] = this.top;
  }

  /**
   * Checks the invariants in the header; throws an `Error` naming the broken one.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const end = this.shared ? Atomics.load(this.u32, END) : this.u32[END]!;
    if (end < DATA || end > this.top) throw new Error(`BumpArena.check: end pointer ${end} outside [${DATA}, ${this.top}]`);
    if (this.u32[CAPACITY] !== this.capacity) throw new Error(`BumpArena.check: stored capacity ${this.u32[CAPACITY]} !== ${this.capacity}`);
  }

  /** `used`: bytes taken (padding included); `total`: the capacity. */
  stats(): {
    /** Bytes taken, alignment padding included: `capacity - remaining()`. */
    used: number;
    /** The capacity. */
    total: number;
    /** What {@link BumpArena.remaining} returns. */
    remaining: number;
  } {
    const remaining = this.remaining();
    return { used: this.capacity - remaining, total: this.capacity, remaining };
  }

  /** The unshared fast path: the end pointer moves by plain arithmetic. */
  private bumpPlain(size: number, align: number): Ptr {
    const u32 = this.u32;
    const end = u32[END]!;
    let p = end - size;
    // Low bits of any safe integer are exact under `&`, so this rounds down even for p < 0.
    p -= p & (align - 1);
    if (p < DATA) return 0;
    u32[END] = p;
    return p;
  }

  /** The shared fast path: compare-exchange until no other worker moved the pointer between. */
  private bumpShared(size: number, align: number): Ptr {
    const u32 = this.u32;
    let end = Atomics.load(u32, END);
    for (;;) {
      let p = end - size;
      p -= p & (align - 1);
      if (p < DATA) return 0;
      const seen = Atomics.compareExchange(u32, END, end, p);
      if (seen === end) return p;
      end = seen;
    }
  }

  /** Byte size of a slice after checking the arguments; -1 when it exceeds the capacity. */
  private sliceBytes(where: string, type: unknown, length: number, fill: unknown): number {
    const bytes = typedBytes(where, type, length, Infinity);
    const t = type as TypedArrayConstructor<TypedArray>;
    if (fill !== undefined && fill !== null) {
      const big = t === (BigInt64Array as unknown) || t === (BigUint64Array as unknown);
      if (big ? typeof fill !== 'bigint' : typeof fill !== 'number') {
        typeError(where, 'fill', big ? `a bigint for ${t.name}` : `a number for ${t.name}`, fill);
      }
    }
    return bytes > this.capacity ? -1 : bytes;
  }

  private slice<T extends TypedArray>(type: TypedArrayConstructor<T>, p: Ptr, length: number, fill: number | bigint | undefined): T {
    const view = new type(this.memory.buffer, p, length);
    if (fill !== undefined && (fill as unknown) !== null) (view as unknown as { fill(v: number | bigint): void }).fill(fill);
    return view;
  }
}
