/**
 * Memory: the address space an allocator hands out offsets into. Its contract (memory source,
 * thread-safety, failure) is on the class.
 *
 * One claimant: a `Memory` given to an allocator (`new Arena({ memory })`, or the one a
 * `SlabArena` or `BumpArena` makes for itself) is claimed by it, and giving it to a second
 * allocator throws a `TypeError` naming `opts.memory` and the first claimant: two allocators
 * carving one address space would hand out the same bytes twice. The claim is per `Memory`
 * object and lasts as long as it does; the allocators over a `SlabCache` share their arena's
 * memory through the arena and claim nothing. Wrapping a shared buffer in another `Memory`
 * (as every worker does to reach it) is not a claim and is not checked.
 *
 * Views: `u8`, `dv`, `i32`, `u32` and `f64` are fixed-length views over the whole current
 * buffer, rebuilt when the buffer grows or (for wasm) is swapped. Fixed-length views are used
 * on purpose: a length-tracking view over a growable `SharedArrayBuffer` is about 50x slower
 * per access than a fixed-length one. Allocators keep their own copies of the views, taken by
 * `holdViews` when they are made and again when they meet memory past their copies' end.
 *
 * Invariants: `byteLength <= maxByteLength`; `byteLength` never decreases; after `sync()` (and
 * on every read of a view getter) the views cover exactly `[0, byteLength)` of `buffer`.
 */
import { OutOfMemoryError } from './errors.js';
import { checkInt, describe, isSharedBuffer, optionalBool, optionalInt, optionsBag, typeError } from './internal/checks.js';
import { hasSharedMemory, newSharedBuffer } from './internal/shared-memory.js';

/**
 * The largest byte length a growable buffer can reserve on Node 20: 4 GiB.
 * @category Memory
 */
export const MAX_BYTE_LENGTH = 2 ** 32;
const WASM_PAGE = 65536;

/**
 * What `Memory.wrap` needs of a `WebAssembly.Memory` (declared here so the library's types do
 * not depend on the DOM lib; a real `WebAssembly.Memory` satisfies it).
 * @category Memory
 */
export interface WasmMemoryLike {
  /** The memory's current buffer; growing it may swap this for a new one. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `deltaPages` 64 KiB pages; returns the previous size in pages. */
  grow(deltaPages: number): number;
}

const WasmMemory = (globalThis as {
  WebAssembly?: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemoryLike };
}).WebAssembly?.Memory;

/**
 * Where `Memory.create` backs memory by a shared wasm memory instead of a growable
 * `SharedArrayBuffer`: on Bun, whose engine (JavaScriptCore) compiles access through views of a
 * growable `SharedArrayBuffer` about 8x slower than through a fixed one (a bare free list's
 * alloc+free: 5.7 ns against 0.7 ns), while the views of a shared wasm memory's buffer are as
 * fast as a fixed buffer's (0.65 ns). V8 compiles both alike, and reserves more address space
 * per wasm memory, so Node and Deno keep the growable buffer.
 */
const WASM_BACKED = WasmMemory !== undefined && typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/** True for a `WebAssembly.Memory`. @internal */
export function isWasmMemory(x: unknown): x is WasmMemoryLike {
  return WasmMemory !== undefined && x instanceof WasmMemory;
}

/**
 * Options of {@link Memory.create}.
 * @category Memory
 */
export interface MemoryOptions {
  /** Bytes committed at creation: any integer up to `maximum`. Default 0. */
  initial?: number;
  /** Bytes reserved: the most `grow` can reach. Default and at most 4 GiB. */
  maximum?: number;
  /** Let workers share it (`handle()` of the allocators over it). Default false. */
  shared?: boolean;
}

/**
 * An address space: one buffer, its views, and growth up to a reserved maximum.
 *
 * @remarks
 * Memory source: a growable `ArrayBuffer`/`SharedArrayBuffer` reserved up to `maximum`
 * (`Memory.create`), or an existing buffer or `WebAssembly.Memory` (`Memory.wrap`).
 *
 * Thread-safety: a `Memory` object belongs to one worker; the shared buffer under it may be
 * wrapped by a `Memory` in every worker. `grow` of a shared buffer is safe from any worker:
 * growing to a length some other worker already passed is a no-op.
 *
 * Failure: `grow` past `maxByteLength` throws `OutOfMemoryError` and changes nothing.
 * @category Memory
 */
export class Memory {
  /**
   * True when workers may share this memory: made with `shared: true`, or wrapping a
   * `SharedArrayBuffer` or a shared wasm memory. A memory made with `shared: false` may still
   * be backed by a `SharedArrayBuffer` (see {@link Memory.create}); it is not handed to workers.
   */
  readonly shared: boolean;
  /** The most `byteLength` can ever reach. */
  readonly maxByteLength: number;
  private readonly wasm: WasmMemoryLike | null;
  /** Made by `create` unshared: only this object grows it. */
  private readonly solo: boolean;
  private current: ArrayBuffer | SharedArrayBuffer;
  private _u8: Uint8Array;
  private _dv: DataView;
  private _i32: Int32Array;
  private _u32: Uint32Array;
  private _f64: Float64Array;
  /** A wasm memory's buffers from before it grew (views made then still view this memory). */
  private earlier: WeakSet<object> | null = null;
  /** The allocator that claimed this memory (see the module comment); null while none has. */
  private claimant: string | null = null;

  private constructor(
    source: ArrayBuffer | SharedArrayBuffer, wasm: WasmMemoryLike | null, maxByteLength: number,
    shared: boolean = isSharedBuffer(source), solo = false,
  ) {
    this.wasm = wasm;
    this.current = source;
    this.shared = shared;
    this.solo = solo;
    this.maxByteLength = maxByteLength;
    this._u8 = new Uint8Array(source, 0, source.byteLength);
    this._dv = new DataView(source, 0, source.byteLength);
    this._i32 = new Int32Array(source, 0, source.byteLength >>> 2);
    this._u32 = new Uint32Array(source, 0, source.byteLength >>> 2);
    this._f64 = new Float64Array(source, 0, source.byteLength >>> 3);
  }

  /**
   * A new address space reserved up to `maximum` bytes, `initial` of them committed, backed by
   * a growable `SharedArrayBuffer`. With `shared: false` the memory is this worker's alone
   * (`shared` is false and no allocator over it gives out a handle), and where the
   * `SharedArrayBuffer` constructor is missing (a browser page that is not cross-origin
   * isolated) it is backed by a resizable `ArrayBuffer` instead. On Bun, memory made with
   * `shared: false` and a `maximum` of whole 64 KiB pages is backed by a shared
   * `WebAssembly.Memory` (see below), which commits whole pages: `byteLength` is `initial`
   * rounded up to a page there, and grows by pages too. (A `SlabArena` gets one shared as
   * well: its handle carries the wasm memory to other workers.)
   *
   * Why not a resizable `ArrayBuffer` always: V8 (Node 20 and 24 alike) compiles access through
   * views of one 2.6-3.4x slower (typed arrays) to 10-20x slower (`DataView`) than through a
   * fixed buffer, while the fixed-length views of a growable `SharedArrayBuffer` are as fast as
   * a fixed buffer's, and, unlike a wasm memory's, stay valid when it grows. A view made over it
   * without a length is about 50x slower (`npm run bench -- memory`): give views a length.
   * JavaScriptCore (Bun) is the other way round: access through views of a growable
   * `SharedArrayBuffer` is about 8x slower than through a fixed one, and those of a shared wasm
   * memory's buffer are as fast as a fixed buffer's, so Bun gets a shared wasm memory.
   *
   * @throws TypeError if `opts` is not an object, or an option has the wrong type, or `shared`
   *   is true where there is no `SharedArrayBuffer` (a page that is not cross-origin isolated).
   * @throws RangeError if `maximum` is not an integer in [0, 4 GiB], or `initial` is not one in
   *   [0, maximum].
   */
  static create(opts?: MemoryOptions): Memory {
    return Memory.make(opts, false);
  }

  /**
   * `Memory.create` for an allocator whose handle carries a wasm memory to other workers (a
   * worker that wraps a wasm memory's buffer alone would not see it grow): where a shared wasm
   * memory is the faster backing (Bun), shared memory gets one too. @internal
   */
  static createHanded(opts: MemoryOptions): Memory {
    return Memory.make(opts, true);
  }

  private static make(opts: MemoryOptions | undefined, wasmWhenShared: boolean): Memory {
    const where = 'Memory.create';
    const o = optionsBag<MemoryOptions>(where, opts);
    const maximum = optionalInt(where, 'maximum', o.maximum, MAX_BYTE_LENGTH, 0, MAX_BYTE_LENGTH);
    const initial = optionalInt(where, 'initial', o.initial, 0, 0, maximum);
    const shared = optionalBool(where, 'shared', o.shared, false);
    // Only a whole number of pages: a wasm memory cannot stop growing inside one.
    if (WASM_BACKED && hasSharedMemory() && maximum % WASM_PAGE === 0 && (!shared || wasmWhenShared)) {
      const wasm = new WasmMemory!({ initial: Math.ceil(initial / WASM_PAGE), maximum: maximum / WASM_PAGE, shared: true });
      return new Memory(wasm.buffer, wasm, maximum, shared, !shared);
    }
    const buffer = shared || hasSharedMemory()
      ? newSharedBuffer(where, initial, maximum)
      : new ArrayBuffer(initial, { maxByteLength: maximum });
    return new Memory(buffer, null, maximum, shared, !shared);
  }

  /**
   * An address space over an existing buffer or wasm memory. A fixed-length buffer cannot
   * grow; a growable one grows to its `maxByteLength`; a wasm memory grows page by page up
   * to `maximum` (default 4 GiB, as the memory itself may refuse earlier).
   *
   * @throws TypeError if `source` is none of the three, or `opts` is not an object.
   * @throws RangeError if `opts.maximum` (for a wasm memory) is not an integer in [0, 4 GiB].
   */
  static wrap(source: ArrayBuffer | SharedArrayBuffer | WasmMemoryLike, opts?: { maximum?: number }): Memory {
    const where = 'Memory.wrap';
    if (isWasmMemory(source)) {
      const o = optionsBag<{ maximum?: number }>(where, opts);
      const maximum = optionalInt(where, 'maximum', o.maximum, MAX_BYTE_LENGTH, 0, MAX_BYTE_LENGTH);
      return new Memory(source.buffer, source, Math.max(maximum, source.buffer.byteLength));
    }
    if (source instanceof ArrayBuffer || isSharedBuffer(source)) {
      const growable = source instanceof ArrayBuffer ? source.resizable : source.growable;
      return new Memory(source, null, growable ? source.maxByteLength : source.byteLength);
    }
    return typeError(where, 'source', 'an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory', source);
  }

  /**
   * Records that the allocator `by` (its class name, which error messages show) carves this
   * memory. A second claim throws `TypeError("<by>: opts.memory is already used by <claimant>")`
   * and changes nothing; `name` replaces `opts.memory` where the memory came in under another
   * name. An allocator calls it once, in its constructor, before it touches the memory.
   * @internal
   */
  claim(by: string, name = 'opts.memory'): void {
    if (this.claimant !== null) throw new TypeError(`${by}: ${name} is already used by ${this.claimant}`);
    this.claimant = by;
  }

  /** The wasm memory behind it, or null (a worker reaches it through this, not `buffer`). @internal */
  get wasmMemory(): WasmMemoryLike | null {
    return this.wasm;
  }

  /** The current buffer; a grown wasm memory swaps it for a new one. */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.wasm !== null ? this.wasm.buffer : this.current;
  }

  /** Bytes committed now. */
  get byteLength(): number {
    return this.solo ? this._u8.length : this.buffer.byteLength;
  }

  /**
   * A `Uint8Array` over all of the current buffer. Getting it checks the buffer's length (on
   * Node 20 about 15 ns for a growable `SharedArrayBuffer` or a shared wasm memory, 3-5 ns for
   * the others): keep it in a local and get it again after the memory may have grown.
   */
  get u8(): Uint8Array {
    this.sync();
    return this._u8;
  }

  /** A `DataView` over all of the current buffer; getting it costs what getting `u8` does. */
  get dv(): DataView {
    this.sync();
    return this._dv;
  }

  /** An `Int32Array` over all of the current buffer (for `Atomics`). */
  get i32(): Int32Array {
    this.sync();
    return this._i32;
  }

  /** A `Uint32Array` over all of the current buffer. */
  get u32(): Uint32Array {
    this.sync();
    return this._u32;
  }

  /** A `Float64Array` over all of the current buffer (its whole 8-byte words). */
  get f64(): Float64Array {
    this.sync();
    return this._f64;
  }

  /** Copies the views as they are, without looking at the buffer again (see holdViews). @internal */
  viewsInto(held: HeldViews): void {
    held.u8 = this._u8;
    held.dv = this._dv;
    held.i32 = this._i32;
    held.u32 = this._u32;
    held.f64 = this._f64;
    held.viewEnd = this._u8.length;
  }

  /**
   * Rebuilds the views if the buffer grew (here or in another worker) or was swapped.
   * Returns true when it did, so a caller knows to re-read its own copies.
   */
  sync(): boolean {
    // Only this object grows a memory it made unshared, and grow() rebuilds the views itself:
    // nothing to look at (a growable SharedArrayBuffer's length costs about 15 ns to read).
    if (this.solo) return false;
    // A non-shared wasm memory detaches its old buffer whenever it grows, so while the buffer
    // held keeps the views' length nothing has changed: the wasm memory's `buffer` getter
    // (about 11 ns on Node 20, four times this test) is then not needed.
    if (this.wasm !== null && !this.shared && this._u8.length !== 0 && this.current.byteLength === this._u8.length) {
      return false;
    }
    const buffer = this.buffer;
    if (buffer === this.current && buffer.byteLength === this._u8.length) return false;
    this.rebuild(buffer);
    return true;
  }

  /**
   * True when `buffer` is this memory's: its buffer now, or one a wasm memory had before it grew
   * (here, in this worker). @internal
   */
  owns(buffer: unknown): boolean {
    return buffer === this.buffer || (this.earlier !== null && this.earlier.has(buffer as object));
  }

  private rebuild(buffer: ArrayBuffer | SharedArrayBuffer): void {
    if (this.wasm !== null && buffer !== this.current) (this.earlier ??= new WeakSet()).add(this.current);
    this.current = buffer;
    const n = buffer.byteLength;
    this._u8 = new Uint8Array(buffer, 0, n);
    this._dv = new DataView(buffer, 0, n);
    this._i32 = new Int32Array(buffer, 0, n >>> 2);
    this._u32 = new Uint32Array(buffer, 0, n >>> 2);
    this._f64 = new Float64Array(buffer, 0, n >>> 3);
  }

  /**
   * Commits memory up to `byteLength` bytes (a wasm memory rounds up to 64 KiB pages).
   * Growing to a length already reached is a no-op. Throws `OutOfMemoryError` past
   * `maxByteLength`, and then nothing has changed.
   *
   * @throws TypeError if `byteLength` is not a number.
   * @throws RangeError if `byteLength` is negative, `NaN` or not an integer.
   * @throws {@link OutOfMemoryError} if `byteLength` is past `maxByteLength`, or the buffer
   *   (or wasm memory) refuses to grow.
   */
  grow(byteLength: number): void {
    if (typeof byteLength !== 'number') typeError('Memory.grow', 'byteLength', 'a number', byteLength);
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      checkInt('Memory.grow', 'byteLength', byteLength, 0, Number.MAX_SAFE_INTEGER);
    }
    if (byteLength > this.maxByteLength) {
      throw new OutOfMemoryError(byteLength,
        `Memory.grow: byteLength ${byteLength} is past maxByteLength ${this.maxByteLength}`);
    }
    if (byteLength <= this.byteLength) return;
    try {
      if (this.wasm !== null) {
        const pages = Math.ceil((byteLength - this.wasm.buffer.byteLength) / WASM_PAGE);
        this.wasm.grow(pages);
      } else {
        growBuffer(this.current, byteLength);
      }
    } catch (e) {
      // Another worker may have grown a shared buffer past us in the meantime: that is success.
      if (this.buffer.byteLength < byteLength) {
        throw new OutOfMemoryError(byteLength, `Memory.grow: cannot grow to ${byteLength} bytes (${describe((e as Error).message)})`);
      }
    }
    if (this.solo) this.rebuild(this.buffer);
    else this.sync();
  }
}

function growBuffer(buffer: ArrayBuffer | SharedArrayBuffer, byteLength: number): void {
  if (isSharedBuffer(buffer)) {
    if (!buffer.growable) throw new RangeError('buffer is not growable');
    // Concurrent growers: a grow to less than the current length throws; retry sees it done.
    while (buffer.byteLength < byteLength) {
      try {
        buffer.grow(byteLength);
      } catch (e) {
        if (buffer.byteLength < byteLength) throw e;
      }
    }
  } else {
    if (!buffer.resizable) throw new RangeError('buffer is not resizable');
    buffer.resize(byteLength);
  }
}

/**
 * The copies of its memory's views an allocator keeps in fields of its own, for fast paths that
 * must not call a getter; `viewEnd` is the byte length they cover. The allocators declare them
 * once, here: each class merges this interface. @internal
 */
export interface HeldViews {
  /** @internal */
  u8: Uint8Array;
  /** @internal */
  dv: DataView;
  /** @internal */
  i32: Int32Array;
  /** @internal */
  u32: Uint32Array;
  /** @internal */
  f64: Float64Array;
  /** @internal */
  viewEnd: number;
}

/**
 * The one way an allocator refreshes its views: takes `memory`'s current ones into `held`, at
 * construction and whenever it meets memory past `held.viewEnd` (the memory grew). All from one
 * look at the buffer: views of different lengths (another worker growing the memory between
 * two getters) would let a header read through one pass and an `Atomics` call on the other
 * throw. @internal
 */
export function holdViews(memory: Memory, held: HeldViews): void {
  memory.sync();
  memory.viewsInto(held);
}
