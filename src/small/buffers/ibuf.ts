/**
 * Ibuf: a contiguous input buffer, Tarantool's `ibuf`. Bytes are appended at `wpos` (`reserve`
 * then `alloc`, e.g. as they arrive from a socket) and parsed from `rpos` (`consume`). Its
 * contract (memory source, pointers, thread-safety, failure) is on the class.
 *
 * Debug mode (`setDebug`): a new slab is filled with `FRESH_BYTE` before the unread bytes are
 * copied in; bytes consumed, discarded or reset, and the slab left behind by a growth or by
 * `destroy`, are filled with `FREED_BYTE`. The room after `wpos` is not filled while the slab
 * is held: bytes written into reserved room are what `alloc` then counts, as without debug.
 *
 * Layout:
 * ```
 *   buf            rpos                 wpos                  end
 *   +--------------+--------------------+---------------------+
 *   |  consumed    |  unread (used)     |  room (unused)      |
 *   +--------------+--------------------+---------------------+
 *   <------------------------ capacity ------------------------>
 * ```
 * Invariants:
 *   buf <= rpos <= wpos <= end,  capacity = end - buf = cache.realSize(capacity)
 *   buf = 0  =>  rpos = wpos = end = 0
 *   after consume: rpos - buf < capacity / 2, or rpos = wpos = buf when nothing is unread
 */
import { checkInt } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import type { Memory } from '../../memory.js';
import type { SlabCache } from '../slabs/slab-cache.js';
import { tryGetBlock } from '../spare-block.js';
import { neverFits, startCapacityOver } from './buffer-sizes.js';
import { asPtr, type Ptr } from '../../internal/ptr.js';

/** A byte offset into the buffer's `Memory`; 0 is null. */

const MAX_SIZE = 2 ** 32 - 1;

/**
 * What {@link Ibuf.stats} returns.
 * @category Buffers
 */
export interface IbufStats {
  /** Unread bytes: wpos - rpos. */
  used: number;
  /** Bytes of the slab held. */
  total: number;
  /** Offset of rpos from the buffer's start. */
  consumed: number;
}

/**
 * A contiguous input buffer over one slab that doubles and moves as it fills.
 *
 * @remarks
 * Memory source: one slab of a `SlabCache` at a time. When the room after `wpos` is short, the
 * unread bytes are first moved to the front of the slab if that makes room; otherwise a slab
 * of at least twice the capacity is taken, the unread bytes copied into it and the old slab
 * returned.
 *
 * POINTERS DO NOT SURVIVE: `reserve`, `alloc`, `consume` and `shrink` may move the unread
 * bytes, so `rpos`, `wpos` and every pointer into the buffer may change. Offsets from `rpos`
 * survive: keep `ptr - ibuf.rpos`, not `ptr`, across those calls. Views from `view()` are
 * snapshots of the positions at the time of the call.
 *
 * Thread-safety: none; an ibuf belongs to the worker that created it.
 *
 * Failure: `reserve`/`alloc` throw `OutOfMemoryError` or `QuotaExceededError`, naming the
 * method called (`tryReserve`/`tryAlloc` return 0), when the cache has no bigger slab; the
 * buffer, its bytes and positions, `used` and the quota are then unchanged. Before it fails
 * the cache's empty memory (the pools' spare block, the cache's free slab) may go back, so the
 * cache's `total` may drop. Bad arguments throw
 * `TypeError`/`RangeError` naming them and change nothing.
 * @category Buffers
 */
export class Ibuf {
  /** The memory source. */
  readonly cache: SlabCache;
  /** The address space pointers index into. */
  readonly memory: Memory;
  /** The capacity of the first slab taken, and the floor `shrink` goes back to. */
  readonly startCapacity: number;

  private buf = 0;
  private _rpos = 0;
  private _wpos = 0;
  private end = 0;
  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;

  /**
   * An input buffer over `cache`; the first slab (of at least `startCapacity` bytes, default
   * the cache's smallest slab) is taken on the first `reserve`.
   *
   * @throws TypeError if `cache` is not a {@link SlabCache}, or `startCapacity` is not a number.
   * @throws RangeError if `startCapacity` is not an integer in [1, 4 GiB].
   */
  constructor(cache: SlabCache, startCapacity?: number) {
    this.startCapacity = startCapacityOver('new Ibuf', cache, startCapacity);
    this.cache = cache;
    this.memory = cache.arena.memory;
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /** Start of the unread bytes. Moves on `reserve`, `alloc`, `consume`, `shrink`. */
  get rpos(): Ptr {
    return this._rpos;
  }

  /** End of the unread bytes: where the next `alloc` writes. */
  get wpos(): Ptr {
    return this._wpos;
  }

  /** Start of the slab (0 when none is held). */
  get start(): Ptr {
    return this.buf;
  }

  /** Unread bytes: `wpos - rpos`. */
  get used(): number {
    return this._wpos - this._rpos;
  }

  /** Room after `wpos`. */
  get unused(): number {
    return this.end - this._wpos;
  }

  /** Size of the whole buffer (0 when none is held). */
  get capacity(): number {
    return this.end - this.buf;
  }

  /** Bytes of the slab held from the cache (the same as `capacity`). */
  get total(): number {
    return this.end - this.buf;
  }

  /**
   * `size` contiguous bytes of room at `wpos`, not yet counted; returns `wpos`. May move the
   * unread bytes (see the class comment): keep offsets from `rpos`, not pointers.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab big enough.
   */
  reserve(size: number): Ptr {
    return this.reserveFast('Ibuf.reserve', size, true);
  }

  /**
   * As {@link reserve}, but returns 0 when no slab big enough can be had.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   */
  tryReserve(size: number): Ptr {
    return this.reserveFast('Ibuf.tryReserve', size, false);
  }

  /** The one fast path of reserve and tryReserve: room at `wpos`; else the slow reserve. */
  private reserveFast(where: string, size: number, throwing: boolean): Ptr {
    const w = this._wpos;
    if (typeof size === 'number' && (size >>> 0) === size && w + size <= this.end && this.buf !== 0) return w;
    return this.reserveSlow(where, size, throwing);
  }

  /**
   * Reserves `size` bytes and moves `wpos` past them; returns where they start.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   * @throws {@link OutOfMemoryError} (or its subclass {@link QuotaExceededError}) if the cache cannot
   *   give a slab big enough.
   */
  alloc(size: number): Ptr {
    return this.allocFast('Ibuf.alloc', size, true);
  }

  /**
   * As {@link alloc}, but returns 0 when no slab big enough can be had.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, 2^32 - 1].
   */
  tryAlloc(size: number): Ptr {
    return this.allocFast('Ibuf.tryAlloc', size, false);
  }

  /**
   * The one fast path of alloc and tryAlloc: room at `wpos`, debug mode off. What it leaves
   * goes to the slow reserve, whose errors name `where`; it throws when `throwing`, else
   * returns 0 (nothing has moved then).
   */
  private allocFast(where: string, size: number, throwing: boolean): Ptr {
    const w = this._wpos;
    if (typeof size === 'number' && (size >>> 0) === size && w + size <= this.end && this.buf !== 0 && !this.debug) {
      this._wpos = w + size;
      return w;
    }
    const p = this.reserveSlow(where, size, throwing);
    // Only a try gets 0: a throwing reserve returns a position in a slab, never 0.
    if (p === 0) return 0;
    this._wpos = p + size;
    if (this.debug) this.tick();
    return p;
  }

  /**
   * Marks `size` unread bytes as read: `rpos += size`. When nothing is left unread the
   * positions go back to the start of the buffer; when `rpos` passes half the capacity the
   * unread tail is moved to the front (it is then shorter than half, so the copy is paid for
   * by the bytes consumed since the last move).
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, used].
   */
  consume(size: number): void {
    const r = this._rpos;
    const w = this._wpos;
    if (typeof size !== 'number' || (size >>> 0) !== size || size > w - r) checkInt('Ibuf.consume', 'size', size, 0, w - r);
    const nr = r + size;
    if (this.debug && size > 0) this.memory.u8.fill(FREED_BYTE, r, nr);
    if (nr === w) {
      this._rpos = this._wpos = this.buf;
    } else if (nr - this.buf > (this.end - this.buf) / 2) {
      this.memory.u8.copyWithin(this.buf, nr, w);
      this._rpos = this.buf;
      this._wpos = this.buf + (w - nr);
    } else {
      this._rpos = nr;
    }
    if (this.debug) this.tick();
  }

  /**
   * Drops the last `size` unread bytes: `wpos -= size`. Nothing moves.
   *
   * @throws TypeError if `size` is not a number.
   * @throws RangeError if `size` is not an integer in [0, used].
   */
  discard(size: number): void {
    const r = this._rpos;
    const w = this._wpos;
    if (typeof size !== 'number' || (size >>> 0) !== size || size > w - r) checkInt('Ibuf.discard', 'size', size, 0, w - r);
    if (this.debug && size > 0) this.memory.u8.fill(FREED_BYTE, w - size, w);
    this._wpos = w - size;
    if (this._wpos === r) this._rpos = this._wpos = this.buf;
    if (this.debug) this.tick();
  }

  /** The unread bytes `[rpos, wpos)` as a view (valid until the buffer next moves). */
  view(): Uint8Array {
    return this.memory.u8.subarray(this._rpos, this._wpos);
  }

  /** Forgets every unread byte; keeps the slab. */
  reset(): void {
    if (this.debug && this._wpos > this._rpos) this.memory.u8.fill(FREED_BYTE, this._rpos, this._wpos);
    this._rpos = this._wpos = this.buf;
  }

  /**
   * Moves the unread bytes into the smallest slab that holds them (at least `startCapacity`),
   * or returns the slab when nothing is unread. Does nothing if that slab would be no smaller,
   * or if the cache has none to give.
   */
  shrink(): void {
    const used = this.used;
    if (this.buf === 0) return;
    if (used === 0) {
      this.destroy();
      return;
    }
    const want = used > this.startCapacity ? used : this.startCapacity;
    const real = this.cache.realSize(want);
    if (real >= this.capacity) return;
    const got = this.cache.tryGet(want);
    if (got === 0) return;
    const p = asPtr(got);
    const u8 = this.memory.u8;
    u8.copyWithin(p, this._rpos, this._wpos);
    this.cache.put(this.buf);
    this.buf = this._rpos = p;
    this._wpos = p + used;
    this.end = p + real;
  }

  /** Returns the slab to the cache; the buffer is empty and may be used again. */
  destroy(): void {
    if (this.buf !== 0) {
      if (this.debug) this.memory.u8.fill(FREED_BYTE, this.buf, this.end);
      this.cache.put(this.buf);
    }
    this.buf = this._rpos = this._wpos = this.end = 0;
  }

  /** A plain snapshot of the counters. */
  stats(): IbufStats {
    return { used: this.used, total: this.total, consumed: this._rpos - this.buf };
  }

  /**
   * Throws an `Error` naming the first broken invariant.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`Ibuf.check: ${what} (buf=${this.buf} rpos=${this._rpos} wpos=${this._wpos} end=${this.end})`);
    };
    if (this.buf === 0) {
      if (this._rpos !== 0 || this._wpos !== 0 || this.end !== 0) fail('positions set without a slab');
      return;
    }
    if (!(this.buf <= this._rpos && this._rpos <= this._wpos && this._wpos <= this.end)) fail('positions out of order');
    if (this.end > this.memory.byteLength) fail('slab ends past the memory');
    const cap = this.end - this.buf;
    if (this.cache.realSize(cap) !== cap) fail(`capacity ${cap} is not a slab size`);
    if (this._rpos - this.buf > cap / 2 && this._rpos !== this._wpos) {
      // consume keeps rpos in the first half whenever bytes are left unread.
      fail('rpos past half the capacity with unread bytes');
    }
  }

  // ---- slow path --------------------------------------------------------------------------

  /** Makes room for `size` bytes after wpos; returns the (possibly moved) wpos, or 0. */
  private reserveSlow(where: string, size: number, throwing: boolean): Ptr {
    if (typeof size !== 'number' || (size >>> 0) !== size) checkInt(where, 'size', size, 0, MAX_SIZE);
    const used = this._wpos - this._rpos;
    const cap = this.end - this.buf;
    if (this.buf !== 0 && this._wpos + size <= this.end) return this._wpos;
    if (this.buf !== 0 && used + size <= cap) {
      // Enough room once the consumed head is reclaimed.
      this.memory.u8.copyWithin(this.buf, this._rpos, this._wpos);
      this._rpos = this.buf;
      this._wpos = this.buf + used;
      return this._wpos;
    }
    let want = cap * 2 > this.startCapacity ? cap * 2 : this.startCapacity;
    while (want < used + size) want *= 2;
    if (want > this.memory.maxByteLength) {
      want = used + size;
      if (want > this.memory.maxByteLength) {
        if (!throwing) return 0;
        throw neverFits(where, size, used + size);
      }
    }
    const got = tryGetBlock(this.cache, want);
    if (got === 0) {
      if (!throwing) return 0;
      this.cache.noMemory(where, size, want);
    }
    const p = asPtr(got);
    const real = this.cache.realSize(want);
    const u8 = this.memory.u8;
    if (this.debug) u8.fill(FRESH_BYTE, p, p + real);
    if (used > 0) u8.copyWithin(p, this._rpos, this._wpos);
    if (this.buf !== 0) {
      if (this.debug) u8.fill(FREED_BYTE, this.buf, this.end);
      this.cache.put(this.buf);
    }
    this.buf = this._rpos = p;
    this._wpos = p + used;
    this.end = p + real;
    return this._wpos;
  }

  private tick(): void {
    if (this.periodic.due()) this.check();
  }
}

