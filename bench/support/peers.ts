/**
 * Peers for the object-allocator benchmarks: the allocators a JavaScript user would reach for
 * instead of `Mempool` / `SmallAlloc`, each behind the same two-method interface.
 *
 * - `TlsfPeer`: AssemblyScript's TLSF allocator (its `minimal` runtime), compiled from a few
 *   lines of AssemblyScript with the `asc` API when a benchmark starts and instantiated as a
 *   WebAssembly module. Nothing binary is committed. Every `alloc`/`free` is a JS -> wasm call:
 *   that crossing is part of what a JS user pays, so it stays in the measurement.
 * - `ThingPeer`: `@thi.ng/malloc`'s `MemPool` over one `ArrayBuffer` (first fit over a free
 *   list kept sorted by address, so `free` is O(free blocks)).
 * - `SmoPeer`: `@daneren2005/shared-memory-objects`' `MemoryHeap`, a fork of that MemPool with
 *   a lock per 1 MiB `SharedArrayBuffer` (loaded through support/shared-memory-objects.ts,
 *   which ports the package's TypeScript sources to Node). The one thread-safe peer: other
 *   workers attach to the same heap.
 * - `WasmCallFloor`: two calls into that module that do nothing, per alloc+free pair: the
 *   share of TLSF's time that is the crossing alone.
 * - `GcPeer`: `new Uint8Array(size)`; "free" drops the reference and leaves the rest to the
 *   garbage collector. Pointers are slot numbers in a table of live arrays (the table is the
 *   least a program must keep to free by handle).
 * - `BareFreeList`: the lower bound of a fixed-size pool: an intrusive free list threaded
 *   through an `Int32Array`, bump allocation behind it, no checks at all.
 * - `CheckedFreeList`: the same with one bit per object, so that a double or foreign free is
 *   refused: the lower bound of a pool that checks its frees as the contract asks.
 *   `CheckedByteFreeList`: the same with a byte per object, which plain stores can set and clear.
 *
 * Memory source: each peer owns its buffer (a wasm memory, an `ArrayBuffer`, the JS heap;
 * `SmoPeer`: `SharedArrayBuffer`s of 1 MiB, shared with the workers that attach).
 * Thread-safety: none, but for `SmoPeer` (its own locks); one benchmark thread.
 * Failure: `alloc` returns 0 when a peer is out of memory (the benchmarks size them so it never
 * happens, and `verifyPeer` checks the basics once the timing is done).
 *
 * `specialize(fn)` gives each allocator its own copy of a workload loop: a loop shared by
 * several allocator classes goes polymorphic (then megamorphic) at its `alloc`/`free` call
 * sites, which would tax whichever allocator happened to run after the first.
 */
import { MemPool } from '@thi.ng/malloc';
import {
  SMO_BUFFER_BYTES, loadSharedMemoryObjects, type SmoHeapMemory, type SmoMemoryHeap, type SmoModule,
} from './shared-memory-objects.js';

/** What every workload drives: a pointer is a positive number, 0 means "out of memory". */
export interface ObjectAllocator {
  /** A pointer (or handle) to `size` fresh bytes; 0 when there is no memory. */
  alloc(size: number): number;
  /** Gives back what `alloc` returned. */
  free(ptr: number): void;
}

/** Copies made so far: each copy's source names its number (see specialize). */
let copies = 0;

/**
 * A fresh copy of `fn` with its own type feedback. `fn` must be self-contained: it may use
 * only its parameters and globals, never a binding of the module that defines it.
 *
 * Each copy's source is made unique with a comment: V8 caches what `new Function` compiles by
 * its source, and from the third compile of one source on it hands back the cached function,
 * type feedback included, so every copy after the first would share one loop.
 */
export function specialize<F extends (...args: never[]) => unknown>(fn: F): F {
  return new Function(`"use strict"; /* copy ${++copies} */ return (${fn.toString()});`)() as F;
}

// AssemblyScript's TLSF --------------------------------------------------------------------

/**
 * The whole AssemblyScript module. `heap.alloc`/`heap.free` are the runtime's `__alloc` and
 * `__free`, which the `minimal` runtime implements with TLSF (rt/tlsf.ts); `stub` would be a
 * bump allocator and `incremental` would add a garbage collector we do not want to time.
 */
const TLSF_SOURCE = `
export function alloc(size: usize): usize { return heap.alloc(size); }
export function free(ptr: usize): void { heap.free(ptr); }
export function heapBase(): usize { return __heap_base; }
export function nop(x: usize): usize { return x; }
`;

interface TlsfExports {
  alloc(size: number): number;
  free(ptr: number): void;
  heapBase(): number;
  nop(x: number): number;
  memory: WebAssembly.Memory;
}

let tlsfBinary: Uint8Array | null = null;

/** Compiles the TLSF module once per process (about half a second) and returns its bytes. */
async function compileTlsf(): Promise<Uint8Array> {
  if (tlsfBinary !== null) return tlsfBinary;
  // Loaded on demand: the compiler (with Binaryen) is large, and only this peer needs it.
  const { default: asc } = await import('assemblyscript/asc');
  const result = await asc.compileString(
    { 'tlsf.ts': TLSF_SOURCE },
    { runtime: 'minimal', optimizeLevel: 3, shrinkLevel: 0, noAssert: true },
  );
  if (result.error !== null || result.binary === null) {
    throw new Error(`compiling the TLSF peer failed: ${result.error?.message ?? ''}\n${result.stderr.toString()}`);
  }
  tlsfBinary = result.binary;
  return tlsfBinary;
}

/** A fresh instance of the TLSF module: its own memory, its heap empty. */
async function instantiateTlsf(): Promise<TlsfExports> {
  const binary = await compileTlsf();
  const imports = {
    env: {
      abort(): never {
        throw new Error('the TLSF peer aborted (out of memory or a corrupt heap)');
      },
    },
  };
  const module = await WebAssembly.compile(binary as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, imports);
  return instance.exports as unknown as TlsfExports;
}

/** AssemblyScript's TLSF allocator in its own wasm instance (so its heap starts empty). */
export class TlsfPeer implements ObjectAllocator {
  readonly name = 'AssemblyScript TLSF (wasm)';
  private readonly wasmAlloc: (size: number) => number;
  private readonly wasmFree: (ptr: number) => void;
  /** The wasm memory; TLSF grows it by doubling. */
  readonly memory: WebAssembly.Memory;
  /** First byte TLSF may manage: everything below is the module's static data. */
  readonly heapBase: number;

  private constructor(exports: TlsfExports) {
    this.wasmAlloc = exports.alloc;
    this.wasmFree = exports.free;
    this.memory = exports.memory;
    this.heapBase = exports.heapBase();
  }

  /** Compiles (once) and instantiates a fresh TLSF heap. */
  static async create(): Promise<TlsfPeer> {
    return new TlsfPeer(await instantiateTlsf());
  }

  alloc(size: number): number {
    // wasm returns an i32: addresses past 2 GiB would come back negative.
    return this.wasmAlloc(size) >>> 0;
  }

  free(ptr: number): void {
    this.wasmFree(ptr);
  }

  /** Bytes of wasm memory committed (TLSF's heap plus the module's static data). */
  get committed(): number {
    return this.memory.buffer.byteLength;
  }
}

/**
 * Two JS -> wasm calls per alloc+free pair and nothing else (each calls an exported identity
 * function of the same module): the part of TLSF's time that any wasm allocator pays when
 * called from JS. Not an allocator: `alloc` returns its argument.
 */
export class WasmCallFloor implements ObjectAllocator {
  readonly name = 'JS -> wasm call (identity)';
  private readonly nop: (x: number) => number;

  private constructor(exports: TlsfExports) {
    this.nop = exports.nop;
  }

  static async create(): Promise<WasmCallFloor> {
    return new WasmCallFloor(await instantiateTlsf());
  }

  alloc(size: number): number {
    return this.nop(size) >>> 0;
  }

  free(ptr: number): void {
    this.nop(ptr);
  }
}


// @thi.ng/malloc ---------------------------------------------------------------------------

/** `@thi.ng/malloc`'s `MemPool` over one `ArrayBuffer` of `bytes`. */
export class ThingPeer implements ObjectAllocator {
  readonly name = '@thi.ng/malloc MemPool';
  readonly pool: MemPool;

  constructor(bytes: number) {
    this.pool = new MemPool({ buf: new ArrayBuffer(bytes), align: 8 });
  }

  alloc(size: number): number {
    return this.pool.malloc(size);
  }

  free(ptr: number): void {
    this.pool.free(ptr);
  }
}

// @daneren2005/shared-memory-objects ------------------------------------------------------

/**
 * `@daneren2005/shared-memory-objects`' `MemoryHeap` behind the benchmarks' allocator
 * interface: `alloc(size)` is `allocUI32(ceil(size / 4)).pointer` (zeroed memory, and an
 * `AllocatedMemory` object per call, as its API gives), `free(ptr)` frees through the buffer
 * the pointer names, as the package's own structures do. Pointers are the package's packed
 * ones (buffer index in the low 12 bits, byte offset above), made unsigned: the package's own
 * are negative from offset 512 KiB on.
 *
 * A bug of the package (0.0.4): the heap counts its buffers as 1 however many
 * `initialBuffers` it was made with, so the first buffer it adds takes index 1 and replaces
 * the buffer there, live blocks and all: the next allocations hand out memory that is still
 * in use (seen in the churn workload: an `alloc` returned a live pointer, a later `free` found
 * nothing to free). So: one initial buffer where the heap must grow (the single-thread
 * benchmarks), and several only where it never grows (the workers' shared heaps, which check).
 */
export class SmoPeer implements ObjectAllocator {
  readonly name = '@daneren2005/shared-memory-objects MemoryHeap';
  readonly heap: SmoMemoryHeap;

  /** A fresh heap of `buffers` 1 MiB buffers, or a second handle on `attach`'s heap. */
  constructor(mod: SmoModule, init: { buffers: number } | { attach: SmoHeapMemory }) {
    this.heap = 'attach' in init
      ? new mod.MemoryHeap(init.attach)
      : new mod.MemoryHeap({ bufferSize: SMO_BUFFER_BYTES, initialBuffers: init.buffers });
  }

  /** Loads the package (once) and makes a fresh heap. */
  static async create(buffers: number): Promise<SmoPeer> {
    return new SmoPeer(await loadSharedMemoryObjects(), { buffers });
  }

  alloc(size: number): number {
    return this.heap.allocUI32((size + 3) >>> 2).pointer >>> 0;
  }

  free(ptr: number): void {
    // getPointer(ptr), without its object. The package answers false, silently, for a pointer
    // it does not know (a double free): thrown here, so that every free timed is a real one.
    if (!this.heap.buffers[ptr & 0xfff]!.free(ptr >>> 12)) throw new Error(`SmoPeer.free: ${ptr} is not allocated`);
  }

  /** The heap's buffers now, to compare later with {@link grewSince}. */
  bufferList(): SharedArrayBuffer[] {
    return this.heap.buffers.map((b) => b.buf);
  }

  /**
   * Whether the heap added or replaced a buffer since `before` (from {@link bufferList}): in a
   * worker, a buffer only that worker knows (and, by the bug above, one that replaced a shared one).
   */
  grewSince(before: readonly SharedArrayBuffer[]): boolean {
    const now = this.heap.buffers;
    return now.length !== before.length || now.some((b, i) => b.buf !== before[i]);
  }

  /** A word-aligned view and index for the first word of `ptr`'s memory (for stamping tests). */
  word(ptr: number): { u32: Uint32Array; index: number } {
    return { u32: new Uint32Array(this.heap.buffers[ptr & 0xfff]!.buf), index: (ptr >>> 12) >>> 2 };
  }
}

// The garbage collector --------------------------------------------------------------------

const EMPTY = new Uint8Array(0);

/** `new Uint8Array(size)`: handles are slot numbers + 1 in a table of live arrays. */
export class GcPeer implements ObjectAllocator {
  readonly name = 'new Uint8Array (GC)';
  private readonly slots: Uint8Array[] = [];
  private freeSlots = new Int32Array(1024);
  private freeCount = 0;

  alloc(size: number): number {
    const bytes = new Uint8Array(size);
    if (this.freeCount > 0) {
      const slot = this.freeSlots[--this.freeCount]!;
      this.slots[slot] = bytes;
      return slot + 1;
    }
    this.slots.push(bytes);
    return this.slots.length;
  }

  free(ptr: number): void {
    const slot = ptr - 1;
    // EMPTY, not undefined: the table keeps one element kind.
    this.slots[slot] = EMPTY;
    if (this.freeCount === this.freeSlots.length) {
      const grown = new Int32Array(this.freeSlots.length * 2);
      grown.set(this.freeSlots);
      this.freeSlots = grown;
    }
    this.freeSlots[this.freeCount++] = slot;
  }
}

// The floor of a fixed-size pool -----------------------------------------------------------

/**
 * A fixed-size pool with nothing but an intrusive free list: the next link of a free object
 * is its first word. Objects are bumped from a fresh region when the list is empty.
 *
 *     i32[ptr >>> 2] === next free object (0 ends the list)   for ptr on the list
 *     8 <= ptr < top <= byteLength,  (ptr - 8) % objsize === 0
 */
export class BareFreeList {
  readonly name = 'bare free list (Int32Array)';
  readonly objsize: number;
  private readonly i32: Int32Array;
  private head = 0;
  private top = 8;
  private readonly end: number;

  /** Room for `capacity` objects of `objsize` bytes (a multiple of 4, at least 4). */
  constructor(objsize: number, capacity: number) {
    if (objsize < 4 || objsize % 4 !== 0) throw new RangeError(`BareFreeList: objsize must be a multiple of 4, got ${objsize}`);
    this.objsize = objsize;
    this.end = 8 + objsize * capacity;
    this.i32 = new Int32Array(this.end >>> 2);
  }

  /** The size argument is ignored: every object is `objsize` bytes. */
  alloc(_size?: number): number {
    const ptr = this.head;
    if (ptr !== 0) {
      this.head = this.i32[ptr >>> 2]!;
      return ptr;
    }
    const top = this.top;
    if (top + this.objsize > this.end) return 0;
    this.top = top + this.objsize;
    return top;
  }

  free(ptr: number): void {
    this.i32[ptr >>> 2] = this.head;
    this.head = ptr;
  }
}

/**
 * The floor of a fixed-size pool that checks its frees as the contract asks: the bare free
 * list plus one bit per object, set by `alloc` and tested and cleared by `free`, and a free of
 * anything but a live object's start refused (a `RangeError`, nothing changed). No slabs, no
 * other worker, one region: what a Mempool could cost if checking were all it did.
 *
 *     bit (ptr - 8) / objsize of `bits` is set  <=>  ptr is live
 */
export class CheckedFreeList {
  readonly name = 'checked free list (Int32Array + bitmap)';
  readonly objsize: number;
  private readonly shift: number;
  private readonly i32: Int32Array;
  private readonly bits: Int32Array;
  private head = 0;
  private top = 8;
  private readonly end: number;

  /** Room for `capacity` objects of `objsize` bytes (a power of two, at least 4). */
  constructor(objsize: number, capacity: number) {
    if (objsize < 4 || (objsize & (objsize - 1)) !== 0) {
      throw new RangeError(`CheckedFreeList: objsize must be a power of two >= 4, got ${objsize}`);
    }
    this.objsize = objsize;
    this.shift = 31 - Math.clz32(objsize);
    this.end = 8 + objsize * capacity;
    this.i32 = new Int32Array(this.end >>> 2);
    this.bits = new Int32Array((capacity + 31) >>> 5);
  }

  /** The size argument is ignored: every object is `objsize` bytes. */
  alloc(_size?: number): number {
    let ptr = this.head;
    if (ptr !== 0) {
      this.head = this.i32[ptr >>> 2]!;
    } else {
      ptr = this.top;
      if (ptr + this.objsize > this.end) return 0;
      this.top = ptr + this.objsize;
    }
    const idx = (ptr - 8) >>> this.shift;
    this.bits[idx >>> 5]! |= 1 << (idx & 31);
    return ptr;
  }

  free(ptr: number): void {
    const idx = (ptr - 8) >>> this.shift;
    const w = idx >>> 5;
    const bit = 1 << (idx & 31);
    const word = this.bits[w]!;
    if ((ptr >>> 0) !== ptr || ptr < 8 || ptr >= this.top || ((ptr - 8) & (this.objsize - 1)) !== 0 || (word & bit) === 0) {
      throw new RangeError(`CheckedFreeList.free: ${ptr} is not a live object`);
    }
    this.bits[w] = word ^ bit;
    this.i32[ptr >>> 2] = this.head;
    this.head = ptr;
  }
}

/**
 * The checked free list with a byte of state per object instead of a bit: `alloc` stores 1,
 * `free` tests for 1 and stores 0, where the bitmap needs a read, an or and a write on both.
 * The cheapest check of a free there is; it costs eight times the bitmap's memory (a Mempool
 * slab keeps three bits per object). A class of its own, not a flag or a subclass of
 * CheckedFreeList: shared methods would see two kinds of receiver and time polymorphic loads.
 *
 *     state[(ptr - 8) / objsize] === 1  <=>  ptr is live
 */
export class CheckedByteFreeList {
  readonly name = 'checked free list (Int32Array + a byte per object)';
  readonly objsize: number;
  private readonly shift: number;
  private readonly i32: Int32Array;
  private readonly state: Uint8Array;
  private head = 0;
  private top = 8;
  private readonly end: number;

  /** Room for `capacity` objects of `objsize` bytes (a power of two, at least 4). */
  constructor(objsize: number, capacity: number) {
    if (objsize < 4 || (objsize & (objsize - 1)) !== 0) {
      throw new RangeError(`CheckedByteFreeList: objsize must be a power of two >= 4, got ${objsize}`);
    }
    this.objsize = objsize;
    this.shift = 31 - Math.clz32(objsize);
    this.end = 8 + objsize * capacity;
    this.i32 = new Int32Array(this.end >>> 2);
    this.state = new Uint8Array(capacity);
  }

  /** The size argument is ignored: every object is `objsize` bytes. */
  alloc(_size?: number): number {
    let ptr = this.head;
    if (ptr !== 0) {
      this.head = this.i32[ptr >>> 2]!;
    } else {
      ptr = this.top;
      if (ptr + this.objsize > this.end) return 0;
      this.top = ptr + this.objsize;
    }
    this.state[(ptr - 8) >>> this.shift] = 1;
    return ptr;
  }

  free(ptr: number): void {
    const idx = (ptr - 8) >>> this.shift;
    if ((ptr >>> 0) !== ptr || ptr < 8 || ptr >= this.top || ((ptr - 8) & (this.objsize - 1)) !== 0 || this.state[idx] !== 1) {
      throw new RangeError(`CheckedByteFreeList.free: ${ptr} is not a live object`);
    }
    this.state[idx] = 0;
    this.i32[ptr >>> 2] = this.head;
    this.head = ptr;
  }
}

// Sanity after timing ----------------------------------------------------------------------

/**
 * Throws unless `a` hands out distinct, non-zero pointers for live objects and reuses freed
 * memory: the least a peer must do for its timings to mean anything.
 *
 * Call it after the timing, on the instance that was timed. Called before, its own calls to
 * `alloc`/`free` changed the code V8 later compiled for the timed loops: the bare free list
 * then took 2.2-2.5 ns per pair instead of 1.2-1.3 ns, and Mempool about 0.6 ns more, which
 * flattered every ratio to the free list.
 */
export function verifyPeer(name: string, a: ObjectAllocator, size = 64, count = 64): void {
  const live = new Set<number>();
  const ptrs: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = a.alloc(size);
    if (p === 0) throw new Error(`${name}: alloc(${size}) returned 0 after ${i} allocations`);
    if (live.has(p)) throw new Error(`${name}: alloc(${size}) returned live pointer ${p} twice`);
    live.add(p);
    ptrs.push(p);
  }
  const freed = new Set<number>();
  for (let i = 0; i < count; i += 2) {
    a.free(ptrs[i]!);
    freed.add(ptrs[i]!);
    live.delete(ptrs[i]!);
  }
  // Reused at once by most, after the rest of its slab by a pool (a free retires its slot
  // until the slab's search runs out); so allocate until a freed pointer comes back.
  let reused = 0;
  for (let i = 0; i < 100_000 && reused === 0; i++) {
    const p = a.alloc(size);
    if (p === 0 || live.has(p)) throw new Error(`${name}: alloc(${size}) after frees returned ${p}, which is live or 0`);
    if (freed.has(p)) reused++;
    live.add(p);
  }
  if (reused === 0) throw new Error(`${name}: freed memory was never handed out again`);
  for (const p of live) a.free(p);
}

/**
 * Throws unless `a` refuses a double free and a pointer inside an object: for the peers whose
 * timings include checking their frees, so that the check timed is a check that works.
 */
export function verifyChecksFrees(name: string, a: ObjectAllocator, size = 64): void {
  const p = a.alloc(size);
  const q = a.alloc(size);
  a.free(p);
  for (const [bad, what] of [[p, 'a double free'], [q + 4, 'a pointer inside an object']] as const) {
    let refused = false;
    try {
      a.free(bad);
    } catch {
      refused = true;
    }
    if (!refused) throw new Error(`${name}: accepted ${what} (${bad})`);
  }
  a.free(q);
}

// Workloads --------------------------------------------------------------------------------
//
// Self-contained loops (no module bindings), so `specialize` can copy them per allocator.
// Each checks for 0 (a peer out of memory must not pass for a fast one) and returns a
// checksum so that no work is dead code. The checksum is an xor: a sum of 1000 pointers above
// 2 MiB leaves the small-integer range and would time float additions, more for allocators
// whose addresses are high.

/** (a) `n` pairs of `alloc(size)` then `free`: the fast path and nothing else. */
export function pairsLoop(a: ObjectAllocator, n: number, size: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = a.alloc(size);
    if (p === 0) throw new Error('out of memory in pairsLoop');
    sum ^= p;
    a.free(p);
  }
  return sum;
}

/**
 * (b) `n` allocations of `sizes[base + i]`, then their frees in the order
 * `order[base + i]` (a permutation of 0..n-1). `ptrs` holds at least `n` slots.
 */
export function batchLoop(a: ObjectAllocator, sizes: Int32Array, order: Int32Array, ptrs: Uint32Array, base: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = a.alloc(sizes[base + i]!);
    if (p === 0) throw new Error('out of memory in batchLoop');
    ptrs[i] = p;
  }
  for (let i = 0; i < n; i++) {
    const p = ptrs[order[base + i]!]!;
    sum ^= p;
    a.free(p);
  }
  return sum;
}

/** Allocates `sizes[i]` into `ptrs[i]` for every slot of `ptrs`: the live set for `churnLoop`. */
export function fillLoop(a: ObjectAllocator, sizes: Int32Array, ptrs: Uint32Array): void {
  for (let i = 0; i < ptrs.length; i++) {
    const p = a.alloc(sizes[i]!);
    if (p === 0) throw new Error('out of memory in fillLoop');
    ptrs[i] = p;
  }
}

/**
 * (c) `n` steps over a live set: step k frees the object in slot `victims[k]` and puts a new
 * one of `sizes[k]` bytes there; k runs from `start` (wrapping at the arrays' length, a power
 * of two).
 */
export function churnLoop(a: ObjectAllocator, ptrs: Uint32Array, victims: Int32Array, sizes: Int32Array, start: number, n: number): number {
  const mask = victims.length - 1;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const k = (start + i) & mask;
    const slot = victims[k]!;
    a.free(ptrs[slot]!);
    const p = a.alloc(sizes[k]!);
    if (p === 0) throw new Error('out of memory in churnLoop');
    ptrs[slot] = p;
    sum ^= p;
  }
  return sum;
}

/** Frees every pointer in `ptrs` (the end of a churn run). */
export function drainLoop(a: ObjectAllocator, ptrs: Uint32Array): void {
  for (let i = 0; i < ptrs.length; i++) a.free(ptrs[i]!);
}
