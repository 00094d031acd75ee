/**
 * Obuf: an output buffer kept as a chain of up to `OBUF_IOV_MAX` (31) buffers, ready for a
 * gathering write (`socket.write` of each view, `writev`). Tarantool's `obuf`. Its contract
 * (memory source, thread-safety, failure) is on the class.
 *
 * Savepoints: one is valid while every byte written before it is still there, unchanged. A
 * `reset()` or `destroy()` makes every savepoint taken before it stale; a `rollbackTo` makes
 * stale every savepoint past the point rolled back to (its bytes were dropped, and may have
 * been written again since). To tell, a savepoint carries the obuf's generation (new at each
 * reset, unique across obufs) and its epoch: the rollback after which the bytes before it
 * were last rewritten. The obuf keeps that as a step function of the size (`rbEpoch`,
 * `rbTarget`): a rollback to size `x` is step `(epoch, x)`, and the epoch of the bytes before
 * size `u` is that of the last step with `x < u`.
 *
 * Debug mode (`setDebug`): a new buffer is filled with `FRESH_BYTE` before anything is written
 * into it, and bytes dropped by `rollbackTo`, `reset` or `destroy` with `FREED_BYTE`. Reserved
 * room is never filled: what was written there is what `alloc` then counts.
 *
 * Layout:
 * ```
 *   iov 0 (cap c0)        iov 1 (cap >= 2 c0)          iov pos (cap >= 2^pos c0)   iov nIov..
 *   +-----------+--+      +----------------------+--+  +--------+-------------+    (none yet)
 *   | len[0]    |//|  ->  | len[1]               |//|  | len    | room        |
 *   +-----------+--+      +----------------------+--+  +--------+-------------+
 *               ^ tail skipped when a reserve did not fit
 * ```
 * (A buffer the cache could not give at its share is smaller: the largest halving it had.)
 * Invariants:
 *   size = Σ_{i <= pos} len[i];   len[i] = 0 for i > pos;   len[i] > 0 for i < pos
 *   0 <= len[i] <= cap[i];  cap[i] > 0 <=> i < nIov;  pos <= nIov <= OBUF_IOV_MAX
 *   rbEpoch and rbTarget strictly increase;  every rbTarget <= size;  top rbEpoch <= epoch
 */
import { OutOfMemoryError } from '../../errors.js';
import { checkInt, describe, typeError } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import type { Memory } from '../../memory.js';
import type { SlabCache } from '../slabs/slab-cache.js';
import { tryGetBlock } from '../spare-block.js';
import { neverFits, startCapacityOver } from './buffer-sizes.js';
import { type Ptr } from '../../internal/ptr.js';

/** A byte offset into the buffer's `Memory`; 0 is null. */

/**
 * Most buffers in one obuf's chain.
 * @category Buffers
 */
export const OBUF_IOV_MAX = 31;

const MAX_SIZE = 2 ** 32 - 1;

/**
 * A position in an {@link Obuf}: roll back to it with {@link Obuf.rollbackTo}.
 * @category Buffers
 */
export interface ObufSavepoint {
  /** Index of the buffer being written. */
  readonly pos: number;
  /** Bytes in that buffer. */
  readonly iovLen: number;
  /** `size` of the obuf. */
  readonly used: number;
  /** The obuf's generation when it was taken (a reset starts a new one). Opaque. */
  readonly gen: number;
  /** The rollback after which the bytes before it were last rewritten. Opaque. */
  readonly epoch: number;
}

/** Generations of every obuf in this worker: a savepoint of one obuf is foreign to the rest. */
let generations = 0;

/**
 * What {@link Obuf.stats} returns.
 * @category Buffers
 */
export interface ObufStats {
  /** Bytes written: `size`. */
  used: number;
  /** Bytes of the buffers held. */
  total: number;
  /** Buffers held. */
  buffers: number;
}

/**
 * An output buffer as a chain of doubling buffers.
 *
 * @remarks
 * Memory source: a `SlabCache`. Buffer i has at least `startCapacity * 2^i` bytes, so the
 * chain doubles and large output is never copied to grow: a request that does not fit the
 * current buffer moves on to the next one. A request larger than a buffer's share gets a
 * buffer big enough for it. When the cache cannot give a buffer its share, it gets the
 * largest halving of it the cache can give (at least the request). `reset` keeps the buffers for the next message; `destroy` returns
 * them.
 *
 * Thread-safety: none; an obuf belongs to the worker that created it. The views returned by
 * `toBuffers()` may be handed to any writer, but their bytes must stay put until the write is
 * done: do not `reset`, `rollbackTo` or `destroy` the obuf meanwhile.
 *
 * Failure: `reserve`, `alloc` and `dup` throw `OutOfMemoryError` (`tryReserve`/`tryAlloc`
 * return 0) when the cache has no buffer to give or the chain is full; `size`, the positions,
 * every byte written and the quota are then as before (a `dup` that fails part-way is rolled
 * back). Before it fails the cache's empty memory (the pools' spare block, the cache's free
 * slab) may go back, so the cache's `total` may drop.
 * `rollbackTo` a savepoint that is stale (see {@link Obuf.rollbackTo}) or not this obuf's
 * throws `RangeError` and changes nothing.
 * @category Buffers
 */
export class Obuf {
  /** The memory source. */
  readonly cache: SlabCache;
  /** The address space pointers index into. */
  readonly memory: Memory;
  /** The capacity of the first buffer; buffer i gets at least `startCapacity * 2^i`. */
  readonly startCapacity: number;

  /** Index of the buffer being written. */
  private pos = 0;
  /** Buffers held (all at indices below it). */
  private nIov = 0;
  /** Bytes written. */
  private used = 0;
  private readonly base = new Float64Array(OBUF_IOV_MAX + 1);
  private readonly len = new Float64Array(OBUF_IOV_MAX + 1);
  private readonly cap = new Float64Array(OBUF_IOV_MAX + 1);
  /** Current generation: a new one at construction, `reset` and `destroy`. */
  private gen = ++generations;
  /** Rollbacks in this generation. */
  private epoch = 0;
  /** Steps of the rollbacks in force, oldest first: epoch, and the size rolled back to. */
  private readonly rbEpoch: number[] = [];
  private readonly rbTarget: number[] = [];
  /** Size asked of the cache by the last successful `take`. */
  private lastWant = 0;
  /** A view over the memory for `dup`; refreshed when a buffer lies past its end. */
  private u8: Uint8Array;
  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;

  /**
   * An output buffer over `cache` whose first buffer holds at least `startCapacity` bytes
   * (default: the cache's smallest slab). Nothing is taken before the first write.
   *
   * @throws TypeError if `cache` is not a {@link SlabCache}, or `startCapacity` is not a number.
   * @throws RangeError if `startCapacity` is not an integer in [1, 4 GiB].
   */
  constructor(cache: SlabCache, startCapacity?: number) {
    this.startCapacity = startCapacityOver('new Obuf', cache, startCapacity);
    this.cache = cache;
    this.memory = cache.arena.memory;
    this.u8 = this.memory.u8;
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /** Bytes written. */
  get size(): number {
    return this.used;
  }

  /** Bytes of the buffers held from the cache. */
  get total(): number {
    let t = 0;
    for (let i = 0; i < this.nIov; i++) t += this.cap[i]!;
    return t;
  }

  /** Buffers with bytes in them: the length of `toBuffers()`. */
  get iovCount(): number {
    return this.len[this.pos]! > 0 ? this.pos + 1 : this.pos;
  }

  /**
   * `size` contiguous bytes of room, not yet counted: the next `alloc(k)`, `k <= size`,
   * returns the same pointer. Moves to the next buffer when the current one is short.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a buffer, or the chain of {@link OBUF_IOV_MAX} buffers is full.
   */
  reserve(size: number): Ptr {
    const p = this.pos;
    const l = this.len[p]!;
    if (typeof size === 'number' && (size >>> 0) === size && l + size <= this.cap[p]! && this.cap[p] !== 0) return this.base[p]! + l;
    return this.reserveSlow('Obuf.reserve', size, true);
  }

  /**
   * As {@link reserve}, but returns 0 when no buffer can be had.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   */
  tryReserve(size: number): Ptr {
    const p = this.pos;
    const l = this.len[p]!;
    if (typeof size === 'number' && (size >>> 0) === size && l + size <= this.cap[p]! && this.cap[p] !== 0) return this.base[p]! + l;
    return this.reserveSlow('Obuf.tryReserve', size, false);
  }

  /**
   * `size` contiguous bytes, counted in `size`; returns where they start.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a buffer, or the chain of {@link OBUF_IOV_MAX} buffers is full.
   */
  alloc(size: number): Ptr {
    return this.allocIn('Obuf.alloc', size, true);
  }

  /**
   * As {@link alloc}, but returns 0 when no buffer can be had.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   */
  tryAlloc(size: number): Ptr {
    return this.allocIn('Obuf.tryAlloc', size, false);
  }

  private allocIn(where: string, size: number, throws: boolean): Ptr {
    let p = this.pos;
    let l = this.len[p]!;
    let ptr: number;
    if (typeof size === 'number' && (size >>> 0) === size && l + size <= this.cap[p]! && this.cap[p] !== 0) {
      ptr = this.base[p]! + l;
    } else {
      ptr = this.reserveSlow(where, size, throws);
      if (ptr === 0) return 0;
      p = this.pos;
      l = this.len[p]!;
    }
    this.len[p] = l + size;
    this.used += size;
    if (this.debug) this.tick();
    return ptr;
  }

  /**
   * Appends a copy of `bytes`, filling the room left in the current buffers before taking a
   * new one, so the copy may be split across buffers. Returns `bytes.length`.
   *
   * @throws TypeError if `bytes` is not a `Uint8Array`.
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a buffer, or the chain of {@link OBUF_IOV_MAX} buffers is full.
   */
  dup(bytes: Uint8Array): number {
    if (!(bytes instanceof Uint8Array)) typeError('Obuf.dup', 'bytes', 'a Uint8Array', bytes);
    const n = bytes.length;
    // Fast path: the bytes fit the current buffer (TypedArray.set beats a byte loop even for
    // a few dozen bytes).
    const p = this.pos;
    const l = this.len[p]!;
    if (l + n <= this.cap[p]! && !this.debug) {
      const dst = this.base[p]! + l;
      let u8 = this.u8;
      if (dst + n > u8.length) u8 = this.u8 = this.memory.u8;
      u8.set(bytes, dst);
      this.len[p] = l + n;
      this.used += n;
      return n;
    }
    return this.dupSlow(bytes);
  }

  /** `dup` across buffers, taking a new one if needed; rolled back if that fails. */
  private dupSlow(bytes: Uint8Array): number {
    const n = bytes.length;
    if (n === 0) return 0;
    const svpPos = this.pos;
    const svpLen = this.len[svpPos]!;
    const svpUsed = this.used;
    let u8 = this.memory.u8;
    let off = 0;
    for (;;) {
      const p = this.pos;
      const c = this.cap[p]!;
      if (c === 0) {
        // An unallocated buffer: it takes all that is left.
        if (!this.allocAt(p, n - off)) {
          this.rollback(svpPos, svpLen, svpUsed);
          this.noBuffer('Obuf.dup', n - off);
        }
        u8 = this.memory.u8;
        continue;
      }
      const l = this.len[p]!;
      const room = c - l;
      if (room > 0) {
        const take = room < n - off ? room : n - off;
        u8.set(take === n && off === 0 ? bytes : bytes.subarray(off, off + take), this.base[p]! + l);
        this.len[p] = l + take;
        this.used += take;
        off += take;
        if (off === n) break;
      }
      if (p + 1 >= OBUF_IOV_MAX) {
        this.rollback(svpPos, svpLen, svpUsed);
        throw new OutOfMemoryError(n - off, `Obuf.dup: the chain of ${OBUF_IOV_MAX} buffers is full`);
      }
      this.pos = p + 1;
    }
    if (this.debug) this.tick();
    return n;
  }

  /** The current position, to roll back to with {@link rollbackTo}. */
  createSavepoint(): ObufSavepoint {
    const used = this.used;
    return { pos: this.pos, iovLen: this.len[this.pos]!, used, gen: this.gen, epoch: this.epochBefore(used) };
  }

  /**
   * Forgets everything written after `svp`: the position and `size` are exactly as they were
   * when it was taken. The buffers are kept. `RangeError` if `svp` is stale (taken before a
   * `reset`, or past a point rolled back to since) or another obuf's; nothing changes then.
   *
   * @throws TypeError if `svp` is not an object, or one of its fields is not a number.
   * @throws RangeError if `svp` is stale (taken before a `reset` or `destroy`, or before bytes rolled
   *   back since), another obuf's, or does not fit this obuf's contents.
   */
  rollbackTo(svp: ObufSavepoint): void {
    const where = 'Obuf.rollbackTo';
    if (typeof svp !== 'object' || svp === null) typeError(where, 'svp', 'an ObufSavepoint', svp);
    const { pos, iovLen, used, gen, epoch } = svp;
    checkInt(where, 'svp.pos', pos, 0, this.pos);
    checkInt(where, 'svp.iovLen', iovLen, 0, pos === this.pos ? this.len[pos]! : this.cap[pos]!);
    checkInt(where, 'svp.used', used, 0, this.used);
    if (gen !== this.gen) {
      if (typeof gen !== 'number') typeError(where, 'svp.gen', 'a number', gen);
      throw new RangeError(`${where}: svp is stale: taken before a reset() or destroy(), or from another obuf (svp.gen ${describe(gen)}, now ${this.gen})`);
    }
    if (typeof epoch !== 'number') typeError(where, 'svp.epoch', 'a number', epoch);
    const now = this.epochBefore(used);
    if (epoch !== now) {
      throw new RangeError(`${where}: svp is stale: the bytes before it were rolled back and written again since it was taken (svp.epoch ${describe(epoch)}, now ${now})`);
    }
    let sum = iovLen;
    for (let i = 0; i < pos; i++) sum += this.len[i]!;
    if (sum !== used) {
      throw new RangeError(`${where}: svp ${describe(JSON.stringify(svp))} does not belong to this obuf's contents`);
    }
    if (used < this.used) {
      // A new step: bytes past `used` are rewritten from now on. Steps at or above it are
      // superseded (what they told about sizes > used, this one tells with a later epoch).
      const epochs = this.rbEpoch;
      const targets = this.rbTarget;
      while (targets.length !== 0 && targets[targets.length - 1]! >= used) {
        targets.pop();
        epochs.pop();
      }
      epochs.push(++this.epoch);
      targets.push(used);
    }
    this.rollback(pos, iovLen, used);
    if (this.debug) this.tick();
  }

  /**
   * The bytes written, as views over the memory in order, one per buffer: pass them to
   * `socket.write` one by one or to a gathering write. They are valid until the obuf is
   * changed or the memory is grown (a grown WebAssembly memory swaps its buffer).
   */
  toBuffers(): Uint8Array[] {
    const u8 = this.memory.u8;
    const out: Uint8Array[] = [];
    for (let i = 0; i <= this.pos; i++) {
      const l = this.len[i]!;
      if (l > 0) out.push(u8.subarray(this.base[i]!, this.base[i]! + l));
    }
    return out;
  }

  /** Forgets every byte written; keeps the buffers for the next message. */
  reset(): void {
    if (this.debug) this.poisonAfter(0, 0);
    for (let i = 0; i <= this.pos; i++) this.len[i] = 0;
    this.pos = 0;
    this.used = 0;
    this.newGeneration();
  }

  /** Returns every buffer to the cache; the obuf is empty and may be used again. */
  destroy(): void {
    if (this.debug) this.poisonAfter(0, 0);
    for (let i = 0; i < this.nIov; i++) {
      this.cache.put(this.base[i]!);
      this.base[i] = this.len[i] = this.cap[i] = 0;
    }
    this.len[this.nIov] = 0;
    this.pos = this.nIov = this.used = 0;
    this.newGeneration();
  }

  /** A plain snapshot of the counters. */
  stats(): ObufStats {
    return { used: this.used, total: this.total, buffers: this.nIov };
  }

  /**
   * Throws an `Error` naming the first broken invariant.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`Obuf.check: ${what}`);
    };
    if (!(this.pos <= this.nIov && this.nIov <= OBUF_IOV_MAX)) fail(`pos ${this.pos}, nIov ${this.nIov}`);
    if (this.pos === OBUF_IOV_MAX) fail('pos past the last buffer');
    let sum = 0;
    for (let i = 0; i <= OBUF_IOV_MAX; i++) {
      const b = this.base[i]!;
      const l = this.len[i]!;
      const c = this.cap[i]!;
      if (i < this.nIov) {
        if (!(b > 0 && c > 0)) fail(`buffer ${i} held but ${b}+${c}`);
        if (b + c > this.memory.byteLength) fail(`buffer ${i} ends past the memory`);
        if (this.cache.realSize(c) !== c) fail(`buffer ${i} capacity ${c} is not a slab size`);
      } else if (b !== 0 || c !== 0) fail(`buffer ${i} not held but ${b}+${c}`);
      if (l < 0 || l > c) fail(`buffer ${i} len ${l} outside [0, ${c}]`);
      if (i > this.pos && l !== 0) fail(`buffer ${i} after pos ${this.pos} has len ${l}`);
      if (i < this.pos && l === 0) fail(`buffer ${i} before pos ${this.pos} is empty`);
      sum += l;
    }
    if (sum !== this.used) fail(`size ${this.used} but buffers hold ${sum}`);
    const steps = this.rbTarget.length;
    if (this.rbEpoch.length !== steps) fail('rollback steps differ in length');
    for (let i = 0; i < steps; i++) {
      const e = this.rbEpoch[i]!;
      const t = this.rbTarget[i]!;
      if (t > this.used || e > this.epoch || e < 1) fail(`rollback step ${i} (epoch ${e}, size ${t}) past size ${this.used} or epoch ${this.epoch}`);
      if (i > 0 && (e <= this.rbEpoch[i - 1]! || t <= this.rbTarget[i - 1]!)) fail(`rollback step ${i} does not follow step ${i - 1}`);
    }
    for (let i = 0; i < this.nIov; i++) {
      for (let j = i + 1; j < this.nIov; j++) {
        const a = this.base[i]!;
        const b = this.base[j]!;
        if (a < b + this.cap[j]! && b < a + this.cap[i]!) fail(`buffers ${i} and ${j} overlap`);
      }
    }
  }

  // ---- slow paths -------------------------------------------------------------------------

  /** Makes `size` bytes of room at a buffer's end; returns the pointer (0 or a throw if none). */
  private reserveSlow(where: string, size: number, throwing: boolean): Ptr {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_SIZE);
    let p = this.pos;
    if (this.cap[p] !== 0 && this.len[p]! + size <= this.cap[p]!) return this.base[p]! + this.len[p]!;
    if (this.len[p]! > 0) {
      if (p + 1 >= OBUF_IOV_MAX) {
        if (!throwing) return 0;
        throw new OutOfMemoryError(size, `${where}: the chain of ${OBUF_IOV_MAX} buffers is full`);
      }
      p++;
    }
    const c = this.cap[p]!;
    if (c === 0 || size > c) {
      const ok = c === 0 ? this.allocAt(p, size) : this.reallocAt(p, size);
      if (!ok) {
        if (!throwing) return 0;
        this.noBuffer(where, size);
      }
    }
    this.pos = p;
    return this.base[p]! + this.len[p]!;
  }

  /** Takes buffer `p` (= nIov) of at least max(size, startCapacity * 2^p) bytes. */
  private allocAt(p: number, size: number): boolean {
    let want = this.startCapacity * 2 ** p;
    while (want < size) want *= 2;
    const ptr = this.take(want, size);
    if (ptr === 0) return false;
    this.base[p] = ptr;
    this.cap[p] = this.cache.realSize(this.lastWant);
    this.len[p] = 0;
    this.nIov = p + 1;
    return true;
  }

  /** Replaces the empty buffer `p` with one of at least `size` bytes, doubling its capacity. */
  private reallocAt(p: number, size: number): boolean {
    let want = this.cap[p]!;
    while (want < size) want *= 2;
    const ptr = this.take(want, size);
    if (ptr === 0) return false;
    if (this.debug) this.memory.u8.fill(FREED_BYTE, this.base[p]!, this.base[p]! + this.cap[p]!);
    this.cache.put(this.base[p]!);
    this.base[p] = ptr;
    this.cap[p] = this.cache.realSize(this.lastWant);
    return true;
  }

  /**
   * A slab of `want` bytes, or failing that the largest of `want / 2`, `want / 4`, ... down to
   * `need` that the cache can give (a quota that cannot hold the next doubling still holds its
   * half: the chain fills the memory, not its 31 links); 0 if not even `need` can be had.
   */
  private take(want: number, need: number): Ptr {
    const max = this.memory.maxByteLength;
    let w = want;
    for (;;) {
      const ptr = w <= max ? tryGetBlock(this.cache, w) : 0;
      if (ptr !== 0) {
        this.lastWant = w;
        if (this.debug) this.memory.u8.fill(FRESH_BYTE, ptr, ptr + this.cache.realSize(w));
        return ptr;
      }
      if (w <= need) return 0;
      // Below a page every size is the same block: go straight to `need`.
      const half = Math.floor(w / 2);
      w = half > need && half >= this.cache.order0Size ? half : need;
    }
  }

  /** Throws for a buffer of `size` bytes that could not be had: the cache's error, named for `where`. */
  private noBuffer(where: string, size: number): never {
    if (size > this.memory.maxByteLength) throw neverFits(where, size);
    this.cache.noMemory(where, size);
  }

  /** Makes every savepoint taken so far stale. */
  private newGeneration(): void {
    this.gen = ++generations;
    this.epoch = 0;
    this.rbEpoch.length = 0;
    this.rbTarget.length = 0;
  }

  /** The epoch of the bytes before size `used`: that of the last rollback to a smaller size. */
  private epochBefore(used: number): number {
    const targets = this.rbTarget;
    let i = targets.length - 1;
    while (i >= 0 && targets[i]! >= used) i--;
    return i < 0 ? 0 : this.rbEpoch[i]!;
  }

  private rollback(pos: number, iovLen: number, used: number): void {
    if (this.debug) this.poisonAfter(pos, iovLen);
    for (let i = pos + 1; i <= this.pos; i++) this.len[i] = 0;
    this.pos = pos;
    this.len[pos] = iovLen;
    this.used = used;
  }

  /** Debug mode: fills the bytes written after (pos, iovLen) with FREED_BYTE. */
  private poisonAfter(pos: number, iovLen: number): void {
    const u8 = this.memory.u8;
    for (let i = pos; i <= this.pos; i++) {
      const from = i === pos ? iovLen : 0;
      const l = this.len[i]!;
      if (l > from) u8.fill(FREED_BYTE, this.base[i]! + from, this.base[i]! + l);
    }
  }

  private tick(): void {
    if (this.periodic.due()) this.check();
  }
}
