/**
 * Quota: a memory limit and the memory charged against it, shared by every worker. Its
 * contract (memory source, thread-safety, failure) is on the class.
 *
 * Layout (one buffer of 32 bytes):
 * ```
 *  byte 0                16                          24             28             32
 *  +---------------------+---------------------------+--------------+--------------+
 *  | header (Kind.Quota) | limit units | used units  | identity low | identity high|
 *  |                     |  (high 32)  |  (low 32)   | 32 bits      | 21 bits, > 0 |
 *  +---------------------+---------------------------+--------------+--------------+
 *                         \-- one BigUint64, CAS'd --/ \-- random, written once --/
 * ```
 * The identity tells one quota's buffer from another's: a `SlabArena` records its quota's at
 * construction and `SlabArena.attach` refuses a handle whose quota is not that one.
 *
 * Invariants: `0 <= used <= limit <= MAX_UNITS` (units of `UNIT` bytes);
 * `total == limit * UNIT`; `used` in bytes is always a multiple of `UNIT`;
 * `1 <= identity high < 2^21`. `Quota.attach` refuses a buffer that breaks one of them.
 */
import { QuotaExceededError } from '../../errors.js';
import { HandOff } from '../../internal/hand-off.js';
import { checkInt, isSharedBuffer, optionalBool, optionsBag, rangeError, typeError } from '../../internal/checks.js';
import { HEADER_BYTES, Kind, verifyHeader, writeHeader } from '../../internal/header.js';
import { newSharedBuffer } from '../../internal/shared-memory.js';

const VERSION = 2;
const BYTES = HEADER_BYTES + 16;
const ID_BYTE = HEADER_BYTES + 8;
const ID_HIGH_LIMIT = 2 ** 21;
const MAX_UNITS = 0xffffffff;
const LOW = 0xffffffffn;

// Set by `Quota.attach` for the one constructor call it makes, so an attached quota is built by
// the same constructor (same hidden class, readonly fields) over an existing buffer.
const attaching = new HandOff<SharedArrayBuffer>();

/**
 * What `Quota.attach` needs: structured-cloneable, send it with `postMessage`.
 * @category Arenas
 */
export interface QuotaHandle {
  /** The quota's state: header, limit and used words, identity. */
  readonly buffer: SharedArrayBuffer;
}

/**
 * Options of the {@link Quota} constructor.
 * @category Arenas
 */
export interface QuotaOptions {
  /** Keep the state in a `SharedArrayBuffer` so workers can attach. Default true. */
  shared?: boolean;
}

/**
 * A limit on memory and the memory charged against it; lock-free and shared across workers.
 *
 * @remarks
 * Memory source: none; it only counts. `SlabArena` charges it for every slab it carves.
 *
 * Thread-safety: lock-free. The limit and the used amount live in ONE 64-bit word of a
 * `SharedArrayBuffer`, updated by `Atomics.compareExchange`, so a `use` racing a `set` either
 * sees the new limit or makes `set` retry: `used <= limit` holds at every instant, in every
 * worker. `shared` defaults to true because a quota exists to be shared; `shared: false` puts
 * the word in a plain `ArrayBuffer` (same code, no `handle()`).
 *
 * Failure: `use` throws `QuotaExceededError`, `tryUse` returns -1; neither changes anything.
 * `set` below `used` and `release` of more than `used` are `RangeError`s and change nothing.
 * @category Arenas
 */
export class Quota {
  /** The quota counts in units of this many bytes (as Tarantool's does). */
  static readonly UNIT = 1024 as const;
  /** The largest limit a quota can hold: 2^32 - 1 units. */
  static readonly MAX_LIMIT = MAX_UNITS * 1024;

  /** True when the state is in a `SharedArrayBuffer`. */
  readonly shared: boolean;
  private readonly buffer: ArrayBuffer | SharedArrayBuffer;
  // word[0]: limit units << 32 | used units.
  private readonly word: BigUint64Array;
  /**
   * A random number in [2^32, 2^53) written at construction, the same in every worker: tells
   * this quota from any other (`SlabArena.attach` compares it). @internal
   */
  readonly identity: number;

  /**
   * A quota of `limit` bytes (rounded up to `UNIT`), nothing used.
   * @param limit bytes, an integer in [0, Quota.MAX_LIMIT].
   *
   * @throws TypeError if `limit` is not a number, `opts` is not an object, or `opts.shared` is not
   *   a boolean or is true (the default) where there is no `SharedArrayBuffer` (a page that is
   *   not cross-origin isolated).
   * @throws RangeError if `limit` is not an integer in [0, Quota.MAX_LIMIT].
   */
  constructor(limit: number, opts?: QuotaOptions) {
    const where = 'Quota';
    const attached = attaching.take();
    if (attached !== null) {
      this.shared = true;
      this.buffer = attached;
      this.word = new BigUint64Array(attached, HEADER_BYTES, 1);
      this.identity = readIdentity(attached);
      return;
    }
    checkInt(where, 'limit', limit, 0, Quota.MAX_LIMIT);
    const o = optionsBag<QuotaOptions>(where, opts);
    this.shared = optionalBool(where, 'shared', o.shared, true);
    this.buffer = this.shared ? newSharedBuffer(where, BYTES) : new ArrayBuffer(BYTES);
    writeHeader(new Int32Array(this.buffer, 0, 4), Kind.Quota, VERSION, BYTES);
    this.word = new BigUint64Array(this.buffer, HEADER_BYTES, 1);
    this.word[0] = BigInt(Math.ceil(limit / 1024)) << 32n;
    const id = new Int32Array(this.buffer, ID_BYTE, 2);
    id[0] = Math.floor(Math.random() * 2 ** 32) | 0;
    id[1] = 1 + Math.floor(Math.random() * (ID_HIGH_LIMIT - 1));
    this.identity = readIdentity(this.buffer);
  }

  /**
   * The quota whose `handle()` another worker sent. TypeError, naming `Quota.attach` and what is
   * wrong, on anything else: not a quota's buffer, or one whose words break the invariants.
   *
   * @throws TypeError if `handle` is not the handle of a shared quota of this layout version, or its
   *   state breaks the invariants.
   */
  static attach(handle: QuotaHandle): Quota {
    const where = 'Quota.attach';
    if (typeof handle !== 'object' || handle === null) typeError(where, 'handle', 'a QuotaHandle', handle);
    const buffer = handle.buffer;
    const declared = verifyHeader(where, buffer, Kind.Quota, VERSION, BYTES);
    const sab = buffer as SharedArrayBuffer;
    if (declared !== BYTES) throw new TypeError(`${where}: corrupt state (the header declares ${declared} bytes, a quota has ${BYTES})`);
    const v = Atomics.load(new BigUint64Array(sab, HEADER_BYTES, 1), 0);
    const limit = Number(v >> 32n);
    const used = Number(v & LOW);
    if (used > limit) throw new TypeError(`${where}: corrupt state (${used} units used above the limit of ${limit} units)`);
    const high = new Int32Array(sab, ID_BYTE, 2)[1]!;
    if (high < 1 || high >= ID_HIGH_LIMIT) throw new TypeError(`${where}: corrupt state (identity word ${high} is not in [1, ${ID_HIGH_LIMIT}))`);
    return attaching.build(sab, () => new Quota(0));
  }

  /**
   * A structured-cloneable handle for `Quota.attach` in another worker.
   *
   * @throws TypeError if the quota is not shared.
   */
  handle(): QuotaHandle {
    if (!isSharedBuffer(this.buffer)) {
      throw new TypeError('Quota.handle: this quota is not shared (created with shared: false)');
    }
    return { buffer: this.buffer };
  }

  /** The limit in bytes, rounded up to `UNIT`. */
  get total(): number {
    return Number(Atomics.load(this.word, 0) >> 32n) * 1024;
  }

  /** Bytes charged now; a multiple of `UNIT`, never above `total`. */
  get used(): number {
    return Number(Atomics.load(this.word, 0) & LOW) * 1024;
  }

  /**
   * Sets the limit to `limit` bytes (rounded up to `UNIT`) and returns the new total.
   * RangeError if that is below what is used now; then nothing changes.
   *
   * @throws TypeError if `limit` is not a number.
   * @throws RangeError if `limit` is not an integer in [0, Quota.MAX_LIMIT], or is below the
   *   bytes used now.
   */
  set(limit: number): number {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > Quota.MAX_LIMIT) {
      checkInt('Quota.set', 'limit', limit, 0, Quota.MAX_LIMIT);
    }
    const units = Math.ceil(limit / 1024);
    const hi = BigInt(units) << 32n;
    for (;;) {
      const old = Atomics.load(this.word, 0);
      const used = old & LOW;
      if (Number(used) > units) {
        rangeError('Quota.set', 'limit', `at least the bytes used (${Number(used) * 1024})`, limit);
      }
      if (Atomics.compareExchange(this.word, 0, old, hi | used) === old) return units * 1024;
    }
  }

  /**
   * Charges `bytes` rounded up to `UNIT` and returns that; `QuotaExceededError` if over the limit.
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [0, Quota.MAX_LIMIT].
   * @throws {@link QuotaExceededError} if the charge would take `used` past `total`.
   */
  use(bytes: number): number {
    const r = this.charge('Quota.use', bytes);
    if (r < 0) {
      const total = this.total;
      throw new QuotaExceededError(bytes, total,
        `Quota.use: ${bytes} bytes would exceed the limit (used ${this.used} of ${total})`);
    }
    return r;
  }

  /**
   * Charges `bytes` rounded up to `UNIT` and returns that, or -1 (nothing charged) if over the limit.
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [0, Quota.MAX_LIMIT].
   */
  tryUse(bytes: number): number {
    return this.charge('Quota.tryUse', bytes);
  }

  private charge(where: string, bytes: number): number {
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0 || bytes > Quota.MAX_LIMIT) {
      checkInt(where, 'bytes', bytes, 0, Quota.MAX_LIMIT);
    }
    const units = Math.ceil(bytes / 1024);
    if (units === 0) return 0;
    const add = BigInt(units);
    for (;;) {
      const old = Atomics.load(this.word, 0);
      const limit = old >> 32n;
      const used = old & LOW;
      if (used + add > limit) return -1;
      if (Atomics.compareExchange(this.word, 0, old, old + add) === old) return units * 1024;
    }
  }

  /**
   * Gives back `bytes` rounded up to `UNIT` and returns that; RangeError if more than is used.
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [0, Quota.MAX_LIMIT], or is more than the
   *   bytes used now.
   */
  release(bytes: number): number {
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0 || bytes > Quota.MAX_LIMIT) {
      checkInt('Quota.release', 'bytes', bytes, 0, Quota.MAX_LIMIT);
    }
    const units = Math.ceil(bytes / 1024);
    if (units === 0) return 0;
    const sub = BigInt(units);
    for (;;) {
      const old = Atomics.load(this.word, 0);
      const used = old & LOW;
      if (sub > used) {
        rangeError('Quota.release', 'bytes', `at most the bytes used (${Number(used) * 1024})`, bytes);
      }
      if (Atomics.compareExchange(this.word, 0, old, old - sub) === old) return units * 1024;
    }
  }
}

function readIdentity(buffer: ArrayBuffer | SharedArrayBuffer): number {
  const id = new Int32Array(buffer, ID_BYTE, 2);
  return (id[0]! >>> 0) + id[1]! * 2 ** 32;
}
