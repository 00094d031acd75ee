/**
 * SlabArena: big slabs of one size, aligned to that size, out of one reserved buffer
 * (Tarantool's `slab_arena`). Its contract (memory source, thread-safety, failure) is on the
 * class.
 *
 * Maps without locks. There are no free lists: each slab's state word says whether it is free,
 * so adjacency is implicit and free slabs coalesce by themselves. A map scans the states from a
 * hint (the lowest slab that may be free) for n adjacent free slabs and claims them one by one
 * by compare-exchange (free -> CLAIMING), undoing its own claims if one fails; a map that finds
 * no run carves new slabs at the end (quota first, then a compare-exchange on the carved end).
 * The slabs a killed worker leaks are left CLAIMING, or never carved below the carved end.
 *
 * Quota rule (as Tarantool's): a carved slab stays charged forever, since a
 * `SharedArrayBuffer` cannot give memory back; an unmapped slab is kept free and handed out
 * again before any new memory is carved. `used` counts only slabs handed out.
 *
 * Layout of the buffer (the control state fills the first `ctrlSlabs` slabs, so no slab at
 * address 0 is ever handed out; n = maximum / slabSize slabs, P = n * slabSize / 4096 pages):
 * ```
 *  byte 0      16                     48        56        64                 64+16*OWNERS (OWNERS = 4096)
 *  +-----------+----------------------+---------+---------+------------------+---------+----------+---------+----------+
 *  | header    | shift, n, ctrl,      | hint    | begun,  | owner registry   | info[n] | owner[n] | pageMap | pageTags |
 *  | (Kind.    | carved, used, quota  | BigUint | ended   | 4 x Int32        | Int32   | Int32    | 1 byte  | 2 x Int32|
 *  | SlabArena)| id low/high, 0       | ver<<32 | (op     | x OWNERS         |         |          | x P     | x P      |
 *  |           | (Int32 words 4..11)  | | index | counts) |                  |         |          |         |          |
 *  +-----------+----------------------+---------+---------+------------------+---------+----------+---------+----------+
 *  ... padding to ctrlSlabs * slabSize | slab ctrlSlabs | slab ctrlSlabs+1 | ... | slab n-1 |
 * ```
 * Per slab i (the control slabs included):
 * - `info[i]`: k > 0 when i starts a mapped run of k slabs (k = 1: a single slab); -j when i is
 *   the j-th slab of a mapped run (its start is i - j); FREE (0) when carved and free;
 *   UNCARVED (-2^31) when never carved; CLAIMING (-2^31 + 1) while a map or unmap holds it.
 * - `owner[i]`: the owner id (see the registry) of the `SlabCache` holding it; 0 for none.
 * - `pageMap`, `pageTags`: per 4 KiB page, written by the layers above (`SlabCache`, `SmallAlloc`);
 *   the arena only zeroes them when it takes a slab back.
 * `hint`: every slab below its low 32 bits is not free; its high 32 bits count the frees, so a
 * map that raises it (compare-exchange) fails if a slab was freed meanwhile. A free lowers it
 * before the slabs turn FREE (from CLAIMING), and a map never raises it over a CLAIMING slab.
 * `begun`/`ended`: maps and unmaps started and finished, so `attach` can tell a quiet moment.
 *
 * Owner registry entry e (1..OWNERS), 4 Int32 words:
 * ```
 *  word 0: adopter << 2 | state     word 1: thread id     word 2: full id (last one issued)     word 3: 0
 * ```
 * A full owner id is `e + OWNERS * gen` (gen >= 1, bumped on each registration of the entry,
 * the id below 2^30), so a stale id never matches a re-registered entry. States:
 * ```
 *  FREE --registerOwner--> CLAIMING --> LIVE --releaseOwner--> FREE
 *                                         |
 *                                   claimOwners(its thread, X): adopter = X
 *                                         v
 *                                      ADOPTING --finishOwner(id, X)--> FREE
 *                                         |  ^
 *                                         +--+ claimOwners by another adopter Y (X died, or
 *                                              Y races X): adopter = Y
 * ```
 * State and adopter share one word, so each step is one compare-exchange.
 *
 * Invariants (at a quiet moment; `check()` verifies them, `attach` too when it sees one):
 * `ctrlSlabs <= carved <= n`; `info[i] == UNCARVED` for `i < ctrlSlabs` and `i >= carved`;
 * every carved slab is mapped, FREE, or claimed (CLAIMING, -j under a CLAIMING start, or
 * UNCARVED below `carved`: in flight, or leaked by a killed worker);
 * `mapped <= used <= mapped + claimed`, mapped = Σ info[i] > 0 ? info[i] : 0 (a map counts its run just
 * before it publishes it, an unmap uncounts it just after it claims it back);
 * `hint <= min { i : info[i] == FREE }`; a FREE or UNCARVED slab has owner 0 and zero page map
 * and page tags; `quota charges >= (carved - ctrlSlabs) * slabSize`.
 */
import { InvalidPointerError, OutOfMemoryError, QuotaExceededError } from '../../errors.js';
import { HandOff } from '../../internal/hand-off.js';
import {
  checkInstance, checkInt, checkPointer, isSharedBuffer, optionalBool, optionalInt, optionalPowerOfTwo, optionsBag, rangeError, typeError,
} from '../../internal/checks.js';
import { Kind, verifyHeader, writeHeader } from '../../internal/header.js';
import { MAX_BYTE_LENGTH, Memory } from '../../memory.js';
import { Page } from './page-map.js';
import { Quota, type QuotaHandle } from './quota.js';

const VERSION = 2;
/** Entries in the owner registry. */
export const OWNERS = 4096;

/** Owner ids are below this. */
const ID_LIMIT = 2 ** 30;

// Int32 word indexes of the control words (after the 16-byte header).
const W_SHIFT = 4; // log2(slabSize)
const W_NSLABS = 5; // slabs in the whole reserved space, control slabs included
const W_CTRL = 6; // control slabs
const W_CARVED = 7; // index of the first slab never carved
const W_USED = 8; // slabs handed out
const W_QUOTA_LO = 9; // the quota's identity, low 32 bits
const W_QUOTA_HI = 10; // and high bits
const W_ZERO = 11; // reserved, 0
const HINT_BYTE = 48; // BigUint64: frees << 32 | lowest slab index that may be free
const W_BEGUN = 14; // maps and unmaps started
const W_ENDED = 15; // and finished
const REGISTRY_BYTE = 64;
const ARRAYS_BYTE = REGISTRY_BYTE + 16 * OWNERS;
const LOW = 0xffffffffn;

/** Slab states besides k > 0 (a run's start) and -j (inside a run). */
const FREE = 0;
const UNCARVED = -0x80000000;
const CLAIMING = -0x7fffffff;

/** Owner registry states (low 2 bits of an entry's word 0). */
const O_FREE = 0;
const O_CLAIMING = 1;
const O_LIVE = 2;
const O_ADOPTING = 3;

/** Why the last failed map of this object failed (kept per worker, for the error it throws). */
export const enum MapFailure {
  None = 0,
  Quota = 1,
  Space = 2,
}

const MIN_SLAB = 65536;
const MAX_SLAB = 2 ** 30;
const DEFAULT_SLAB = 4 * 1024 * 1024;

function controlBytes(nslabs: number, shift: number): number {
  const pages = nslabs * 2 ** (shift - Page.SHIFT);
  return ARRAYS_BYTE + 8 * nslabs + 9 * pages; // a multiple of 8: pages is a multiple of 16
}

/**
 * The registry entry (1..OWNERS) of owner id `id`, or 0 when `id` is not an owner id (ids are
 * `entry + OWNERS * gen`, gen >= 1, below 2^30). @internal
 */
export function ownerIndex(id: number): number {
  return Number.isInteger(id) && id > OWNERS && id < ID_LIMIT ? ((id - 1) & (OWNERS - 1)) + 1 : 0;
}

/** What `SlabArena.attach` needs: structured-cloneable, send it with `postMessage`. */
export interface SlabArenaHandle {
  /** The arena's address space: control state, then the slabs. */
  readonly buffer: SharedArrayBuffer;
  /** The handle of the arena's {@link Quota}. */
  readonly quota: QuotaHandle;
}

/** Options of the {@link SlabArena} constructor. */
export interface SlabArenaOptions {
  /** Every carved slab is charged to it. */
  quota: Quota;
  /** Bytes per slab: a power of two in [64 KiB, 1 GiB]. Default 4 MiB. */
  slabSize?: number;
  /** Bytes of slabs to carve (and charge) at once, kept free for the first maps. Default 0. */
  prealloc?: number;
  /**
   * Bytes of address space to reserve, control slabs included; rounded down to slabs, at most
   * 4 GiB. Default: all 4 GiB (rounded down to slabs), so the quota can be raised later. It is
   * address space, not memory: only the control state is committed at construction (9.1 MiB
   * for 4 GiB with 4 MiB slabs, 9.6 MiB with 64 KiB slabs: the page map and page tags cover
   * every 4 KiB page), and of that only what is written costs memory (measured on Node 20:
   * 12 KiB of RSS with 4 MiB slabs, 270 KiB with 64 KiB slabs, most of it the slab states).
   */
  maximum?: number;
  /**
   * Let workers attach (`handle()`). Default true. With false the memory is this worker's alone
   * (`Memory.create` with `shared: false`: as fast, and no handle is given out).
   */
  shared?: boolean;
}

const attaching = new HandOff<{ memory: Memory; quota: Quota }>();

/**
 * Big aligned slabs out of one reserved buffer; lock-free and shared across workers.
 *
 * @remarks
 * Memory source: one growable buffer (`Memory.create({ shared, maximum })`) reserved up front and
 * committed as slabs are carved; every slab is charged to a {@link Quota} when it is carved. By
 * default the whole 4 GiB a growable buffer can reserve is reserved (rounded down to slabs), so
 * raising the quota later gives more slabs: a reservation is address space, not memory. Only
 * the control state is committed at construction, and of it only what is written costs memory.
 *
 * Thread-safety: lock-free; every field of the state lives in the buffer and changes by
 * `Atomics`. Any worker that attached may map and unmap. A worker killed in the middle of an
 * operation may leak the slabs it held at that instant; it cannot corrupt the state or hand a
 * slab out twice.
 *
 * Failure: `map`/`mapRun` throw `QuotaExceededError` when the quota refuses new slabs and
 * `OutOfMemoryError` when they do not fit the reserved `maximum`, naming the method called and
 * the numbers; `tryMap`/`tryMapRun` return 0. A failed map changes nothing (a quota charge made
 * for it is given back). `unmap` of anything that is not the start of a mapped slab or run, or
 * of one a `SlabCache` holds, throws `InvalidPointerError` and changes nothing.
 */
export class SlabArena {
  /** The address space; slabs are offsets into it. */
  readonly memory: Memory;
  /** Charged for every slab carved. */
  readonly quota: Quota;
  /** Bytes per slab, a power of two >= 64 KiB. */
  readonly slabSize: number;
  /**
   * Bytes of address space reserved (control slabs included). By default all 4 GiB rounded
   * down to slabs, so the quota can be raised later; reserved, not committed.
   */
  readonly maximum: number;
  /** log2(slabSize). @internal */
  readonly slabShift: number;
  /** Slabs in the whole address space, control slabs included. @internal */
  readonly slabCount: number;
  /** Slabs the control state takes at the start of the buffer; the first data slab is this index. @internal */
  readonly ctrlSlabs: number;
  /**
   * One byte per 4 KiB page of the address space, written by `SlabCache` (see page-map.ts
   * for the encoding) and read by any worker to find the slab a pointer is in; zeroed by the
   * arena when it takes the slab back. @internal
   */
  readonly pageMap: Uint8Array;
  /**
   * Two Int32 words per 4 KiB page of the address space (page p: words 2p and 2p + 1), zero
   * while the arena holds the slab; the layers above keep per-allocation bookkeeping there
   * (SmallAlloc's large allocations), outside the memory handed out. Zeroed on unmap. @internal
   */
  readonly pageTags: Int32Array;
  /**
   * Per slab: run length at a mapped run's start, -offset inside it, 0 (FREE) free and carved,
   * negative sentinels (below -2^30) never carved or claimed by a map or unmap in flight. @internal
   */
  readonly slabInfo: Int32Array;
  /** Per slab: owner id of the `SlabCache` holding it, 0 for none. @internal */
  readonly slabOwner: Int32Array;
  /** 4 KiB pages per slab. @internal */
  readonly pagesPerSlab: number;
  /** Why this object's last failed map failed; the arena alone writes it. */
  private lastFailure: MapFailure = MapFailure.None;

  private readonly ctl: Int32Array;
  private readonly hint: BigUint64Array;
  private readonly registry: Int32Array;
  /** The commit error of this object's last failed map, if that is why it failed. */
  private commitError: string | null = null;

  /**
   * An arena over a new buffer. Throws `QuotaExceededError` if `prealloc` does not fit the quota.
   *
   * @throws TypeError if `opts` is not an object, `opts.quota` is not a {@link Quota}, or an option
   *   has the wrong type.
   * @throws RangeError if `slabSize` is not a power of two in [64 KiB, 1 GiB], `maximum` is not an
   *   integer in [0, 4 GiB] or leaves no room for one slab past the control state, or
   *   `prealloc` is not an integer in [0, the bytes of all data slabs].
   * @throws {@link QuotaExceededError} if `prealloc` does not fit the quota.
   */
  constructor(opts: SlabArenaOptions) {
    const where = 'SlabArena';
    const a = attaching.take();
    const fresh = a === null;
    if (a !== null) {
      this.memory = a.memory;
      this.quota = a.quota;
      const hdr = new Int32Array(a.memory.buffer, 0, 16);
      this.slabShift = hdr[W_SHIFT]!;
      this.slabCount = hdr[W_NSLABS]!;
      this.ctrlSlabs = hdr[W_CTRL]!;
    } else {
      if (typeof opts !== 'object' || opts === null) typeError(where, 'opts', 'an object with a quota', opts);
      const o = optionsBag<SlabArenaOptions>(where, opts);
      this.quota = checkInstance(where, 'opts.quota', o.quota, Quota);
      const slabSize = optionalPowerOfTwo(where, 'slabSize', o.slabSize, DEFAULT_SLAB, MIN_SLAB, MAX_SLAB);
      const shift = Math.log2(slabSize);
      const shared = optionalBool(where, 'shared', o.shared, true);
      const maximum = optionalInt(where, 'maximum', o.maximum, MAX_BYTE_LENGTH, 0, MAX_BYTE_LENGTH);
      const nslabs = Math.floor(maximum / slabSize);
      const ctrl = Math.ceil(controlBytes(nslabs, shift) / slabSize);
      if (nslabs - ctrl < 1) {
        rangeError(where, 'maximum',
          `at least ${(Math.ceil(controlBytes(ctrl + 1, shift) / slabSize) + 1) * slabSize} (control slabs and one slab)`,
          o.maximum);
      }
      const prealloc = optionalInt(where, 'prealloc', o.prealloc, 0, 0, (nslabs - ctrl) * slabSize);
      const cbytes = controlBytes(nslabs, shift);
      const pre = Math.ceil(prealloc / slabSize);
      if (pre > 0 && this.quota.tryUse(pre * slabSize) < 0) {
        throw new QuotaExceededError(prealloc, this.quota.total,
          `SlabArena: prealloc ${prealloc} bytes exceed the quota (used ${this.quota.used} of ${this.quota.total})`);
      }
      try {
        this.memory = Memory.create({ shared, maximum: nslabs * slabSize, initial: pre > 0 ? (ctrl + pre) * slabSize : cbytes });
      } catch (e) {
        if (pre > 0) this.quota.release(pre * slabSize);
        throw e;
      }
      this.slabShift = shift;
      this.slabCount = nslabs;
      this.ctrlSlabs = ctrl;
      const words = new Int32Array(this.memory.buffer, 0, 16);
      words[W_SHIFT] = shift;
      words[W_NSLABS] = nslabs;
      words[W_CTRL] = ctrl;
      words[W_CARVED] = ctrl + pre;
      words[W_USED] = 0;
      words[W_QUOTA_LO] = this.quota.identity % 2 ** 32 | 0;
      words[W_QUOTA_HI] = Math.floor(this.quota.identity / 2 ** 32);
      writeHeader(words, Kind.SlabArena, VERSION, cbytes);
    }
    this.memory.claim('SlabArena'); // its own Memory object, fresh or wrapped: nothing else may carve it
    this.slabSize = 1 << this.slabShift; // an int, not a double: pointers derived from it stay small integers
    this.maximum = this.slabCount * this.slabSize;
    this.pagesPerSlab = this.slabSize >>> Page.SHIFT;
    const buffer = this.memory.buffer;
    const n = this.slabCount;
    const pages = n * this.pagesPerSlab;
    this.ctl = new Int32Array(buffer, 0, 16);
    this.hint = new BigUint64Array(buffer, HINT_BYTE, 1);
    this.registry = new Int32Array(buffer, REGISTRY_BYTE, 4 * OWNERS);
    this.slabInfo = new Int32Array(buffer, ARRAYS_BYTE, n);
    this.slabOwner = new Int32Array(buffer, ARRAYS_BYTE + 4 * n, n);
    this.pageMap = new Uint8Array(buffer, ARRAYS_BYTE + 8 * n, pages);
    this.pageTags = new Int32Array(buffer, ARRAYS_BYTE + 8 * n + pages, 2 * pages);
    if (fresh) {
      // Written before the handle exists: no other worker sees the state yet.
      this.slabInfo.fill(UNCARVED);
      this.slabInfo.fill(FREE, this.ctrlSlabs, this.ctl[W_CARVED]!); // preallocated slabs wait free
      this.hint[0] = BigInt(this.ctrlSlabs);
    }
  }

  /**
   * The arena whose `handle()` another worker sent. TypeError, naming `SlabArena.attach` and what
   * is wrong, for anything else: not an arena's buffer, a control state that breaks the
   * invariants (checked over the whole control state, never the slabs' data), or a quota handle
   * that is not the arena's own quota.
   *
   * @throws TypeError if `handle` is not the handle of a shared arena of this layout version, its
   *   control state breaks the invariants, or `handle.quota` is not the arena's quota.
   */
  static attach(handle: SlabArenaHandle): SlabArena {
    const where = 'SlabArena.attach';
    if (typeof handle !== 'object' || handle === null) typeError(where, 'handle', 'a SlabArenaHandle', handle);
    const buffer = handle.buffer;
    const declared = verifyHeader(where, buffer, Kind.SlabArena, VERSION, ARRAYS_BYTE);
    const sab = buffer as SharedArrayBuffer;
    const w = new Int32Array(sab, 0, 16);
    const shift = w[W_SHIFT]!;
    const nslabs = w[W_NSLABS]!;
    const ctrl = w[W_CTRL]!;
    const lo = w[W_QUOTA_LO]!;
    const hi = w[W_QUOTA_HI]!;
    const ok = shift >= 16 && shift <= 30 && nslabs >= 2 && nslabs <= MAX_BYTE_LENGTH / 2 ** shift &&
      declared === controlBytes(nslabs, shift) && ctrl === Math.ceil(declared / 2 ** shift) && ctrl < nslabs &&
      hi >= 1 && hi < 2 ** 21;
    if (!ok) {
      throw new TypeError(`${where}: corrupt control state (slab shift ${shift}, ${nslabs} slabs, ${ctrl} control slabs, quota identity high word ${hi})`);
    }
    const reserved = sab.growable ? sab.maxByteLength : sab.byteLength;
    if (reserved !== nslabs * 2 ** shift || sab.byteLength < declared) {
      throw new TypeError(`${where}: buffer is truncated (${sab.byteLength} of ${reserved} bytes, arena needs ${nslabs * 2 ** shift} reserved)`);
    }
    if (typeof handle.quota !== 'object' || handle.quota === null) typeError(where, 'handle.quota', 'a QuotaHandle', handle.quota);
    const quota = Quota.attach(handle.quota);
    if (lo !== (quota.identity % 2 ** 32 | 0) || hi !== Math.floor(quota.identity / 2 ** 32)) {
      throw new TypeError(`${where}: handle.quota is not this arena's quota (identity ${(lo >>> 0) + hi * 2 ** 32}, the handle's is ${quota.identity})`);
    }
    const arena = attaching.build({ memory: Memory.wrap(sab), quota }, () => new SlabArena(undefined as unknown as SlabArenaOptions));
    const problem = arena.inspectShared(true) ?? arena.inspectWhenQuiet();
    if (problem !== null) throw new TypeError(`${where}: corrupt control state (${problem})`);
    return arena;
  }

  /**
   * A structured-cloneable handle for `SlabArena.attach` in another worker (it carries the quota's).
   *
   * @throws TypeError if the arena is not shared.
   */
  handle(): SlabArenaHandle {
    const buffer = this.memory.buffer;
    if (!this.memory.shared || !isSharedBuffer(buffer)) {
      throw new TypeError('SlabArena.handle: this arena is not shared (created with shared: false)');
    }
    return { buffer, quota: this.quota.handle() };
  }

  /** Why this worker's last failed map of this arena failed. @internal */
  get failure(): MapFailure {
    return this.lastFailure;
  }

  /** Bytes of slabs handed out and not yet returned. */
  get used(): number {
    return Atomics.load(this.ctl, W_USED) * this.slabSize;
  }

  /** Bytes of slabs carved (and charged) so far, handed out or not. */
  get carved(): number {
    return (Atomics.load(this.ctl, W_CARVED) - this.ctrlSlabs) * this.slabSize;
  }

  /**
   * A slab: `ptr % slabSize === 0`, never 0.
   *
   * @throws {@link QuotaExceededError} if the quota refuses a new slab and none is free.
   * @throws {@link OutOfMemoryError} if no slab is free and the reserved `maximum` (or the memory's
   *   commit) holds no more.
   */
  map(): number {
    const p = this.take(1, 0);
    if (p === 0) this.noMemory('SlabArena.map', this.slabSize, 1);
    return p;
  }

  /** A slab, or 0 when the quota or the address space says no. */
  tryMap(): number {
    return this.take(1, 0);
  }

  /**
   * `slabs` adjacent slabs (a run), for allocations larger than a slab: free slabs first (any
   * adjacent free ones, wherever they were unmapped from), else newly carved ones.
   *
   * @throws TypeError if `slabs` is not a number.
   * @throws RangeError if `slabs` is not an integer in [1, the arena's data slabs].
   * @throws {@link QuotaExceededError} if the quota refuses the slabs a new run needs.
   * @throws {@link OutOfMemoryError} if no free run fits and the reserved `maximum` (or the memory's
   *   commit) holds no more.
   */
  mapRun(slabs: number): number {
    if (typeof slabs !== 'number' || (slabs >>> 0) !== slabs || slabs < 1 || slabs > this.slabCount - this.ctrlSlabs) this.badRun('SlabArena.mapRun', slabs);
    const p = this.take(slabs, 0);
    if (p === 0) this.noMemory('SlabArena.mapRun', slabs * this.slabSize, slabs);
    return p;
  }

  /**
   * `slabs` adjacent slabs, or 0 when the quota or the address space says no.
   *
   * @throws TypeError if `slabs` is not a number.
   * @throws RangeError if `slabs` is not an integer in [1, the arena's data slabs].
   */
  tryMapRun(slabs: number): number {
    if (typeof slabs !== 'number' || (slabs >>> 0) !== slabs || slabs < 1 || slabs > this.slabCount - this.ctrlSlabs) this.badRun('SlabArena.tryMapRun', slabs);
    return this.take(slabs, 0);
  }

  /**
   * Returns a slab or a whole run (by its start) to the arena, which keeps it (still charged)
   * for the next map. `InvalidPointerError` if `slab` is not the start of a mapped slab or run,
   * or if a `SlabCache` holds it (it goes back through that cache).
   *
   * @throws TypeError if `slab` is not a number.
   * @throws RangeError if `slab` is not a non-negative safe integer.
   * @throws {@link InvalidPointerError} if `slab` is not the start of a slab or run this arena
   *   mapped, or a `SlabCache` holds it.
   */
  unmap(slab: number): void {
    this.release('SlabArena.unmap', slab, 0);
  }

  /**
   * `slabs` adjacent slabs for the `SlabCache` registered as `owner`, which is recorded as the
   * owner of every one of them before the run is published; 0 (and `failure` says why) when the
   * quota or the address space says no, or `slabs` exceeds the arena. @internal
   */
  mapFor(owner: number, slabs: number): number {
    if (ownerIndex(owner) === 0) rangeError('SlabArena.mapFor', 'owner', `an owner id from registerOwner`, owner);
    checkInt('SlabArena.mapFor', 'slabs', slabs, 1, MAX_BYTE_LENGTH);
    if (slabs > this.slabCount - this.ctrlSlabs) {
      this.lastFailure = MapFailure.Space;
      return 0;
    }
    return this.take(slabs, owner);
  }

  /**
   * `unmap` for the `SlabCache` registered as `owner`: `InvalidPointerError` (nothing changed)
   * unless `slab` starts a mapped slab or run whose owner is `owner`. @internal
   */
  unmapFor(slab: number, owner: number): void {
    this.release('SlabArena.unmapFor', slab, owner);
  }

  /**
   * Walks the per-slab state, the counters and the owner registry and throws if they break an
   * invariant (see the module comment). Meant for tests and quiet moments: with maps running in
   * other workers it may see a slab in flight.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const problem = this.inspectShared(false) ?? this.inspectQuiet();
    if (problem !== null) throw new Error(`SlabArena.check: ${problem}`);
  }

  // ---- owner registry (used by SlabCache) ----

  /**
   * Claims a registry entry for a `SlabCache` living in worker `threadId`; returns its full id
   * (`entry + OWNERS * gen`, below 2^30). Throws `OutOfMemoryError` when all `OWNERS` entries
   * are taken. @internal
   */
  registerOwner(threadId: number): number {
    checkInt('SlabArena.registerOwner', 'threadId', threadId, 0, 2 ** 31 - 1);
    const r = this.registry;
    for (let e = 1; e <= OWNERS; e++) {
      const b = 4 * (e - 1);
      if (Atomics.load(r, b) !== O_FREE || Atomics.compareExchange(r, b, O_FREE, O_CLAIMING) !== O_FREE) continue;
      const last = Atomics.load(r, b + 2);
      let id = last === 0 ? e + OWNERS : last + OWNERS;
      if (id >= ID_LIMIT) id = e + OWNERS;
      Atomics.store(r, b + 1, threadId);
      Atomics.store(r, b + 2, id);
      Atomics.store(r, b, O_LIVE);
      return id;
    }
    throw new OutOfMemoryError(0, `SlabArena: all ${OWNERS} slab cache owner entries are in use`);
  }

  /**
   * Frees the registry entry of `id` (LIVE or ADOPTING) if `id` is still its current id; a stale
   * id changes nothing. Its slabs must have been handed over or returned first. @internal
   */
  releaseOwner(id: number): void {
    const e = ownerIndex(id);
    if (e === 0) return;
    const r = this.registry;
    const b = 4 * (e - 1);
    for (;;) {
      const w = Atomics.load(r, b);
      const s = w & 3;
      if ((s !== O_LIVE && s !== O_ADOPTING) || Atomics.load(r, b + 2) !== id) return;
      if (Atomics.compareExchange(r, b, w, O_CLAIMING) !== w) continue;
      // CLAIMING holds the entry: its id cannot change now. It may have been re-registered
      // between the id test and the exchange: then it is not ours to free.
      if (Atomics.load(r, b + 2) !== id) {
        Atomics.store(r, b, w);
        return;
      }
      Atomics.store(r, b + 1, 0);
      Atomics.store(r, b, O_FREE);
      return;
    }
  }

  /** The worker thread id registered for owner `id`, or -1 if `id` is not a live or adopted entry's current id. @internal */
  ownerThread(id: number): number {
    const e = ownerIndex(id);
    if (e === 0) return -1;
    const b = 4 * (e - 1);
    const s = Atomics.load(this.registry, b) & 3;
    if ((s !== O_LIVE && s !== O_ADOPTING) || Atomics.load(this.registry, b + 2) !== id) return -1;
    return Atomics.load(this.registry, b + 1);
  }

  /**
   * Takes the registry entries the caller, the cache `adopter`, must now adopt and returns their
   * full ids: (a) LIVE entries of worker `threadId` other than `adopter`; (b) ADOPTING entries of
   * `threadId` (an adoption whose adopter died, or a concurrent one: taken over); (c) ADOPTING
   * entries whose adopter is one of the ids taken (adopting a killed adopter takes over what it
   * was adopting), to a fixed point. Each ends ADOPTING with this adopter, by compare-exchange,
   * so racing callers are fine: an entry one of them takes over drops out of the other's
   * adoption, whose slab-by-slab exchanges of `slabOwner` then fail. @internal
   */
  claimOwners(threadId: number, adopter: number): number[] {
    checkInt('SlabArena.claimOwners', 'threadId', threadId, 0, 2 ** 31 - 1);
    if (ownerIndex(adopter) === 0) rangeError('SlabArena.claimOwners', 'adopter', 'an owner id from registerOwner', adopter);
    const r = this.registry;
    const mine = ((adopter << 2) | O_ADOPTING) | 0;
    const ids: number[] = [];
    const taken = new Uint8Array(OWNERS + 1);
    for (let more = true; more;) {
      more = false;
      for (let e = 1; e <= OWNERS; e++) {
        if (taken[e]) continue;
        const b = 4 * (e - 1);
        const w = Atomics.load(r, b);
        const s = w & 3;
        if (s !== O_LIVE && s !== O_ADOPTING) continue;
        const id = Atomics.load(r, b + 2);
        const t = Atomics.load(r, b + 1);
        const a = w >>> 2;
        if (id === adopter) continue;
        const wanted = s === O_LIVE ? t === threadId : t === threadId || (a !== 0 && ids.includes(a));
        if (!wanted) continue;
        if (w !== mine && Atomics.compareExchange(r, b, w, mine) !== w) continue;
        // An entry freed and registered again between the loads and the exchange (same word)
        // is not the one chosen: give it back.
        if (Atomics.load(r, b + 2) !== id || Atomics.load(r, b + 1) !== t) {
          if (w !== mine) Atomics.compareExchange(r, b, mine, w);
          continue;
        }
        taken[e] = 1;
        ids.push(id);
        more = true;
      }
    }
    return ids;
  }

  /** Frees the entry of `id` if it is still ADOPTING with adopter `adopter` (the adoption is done). @internal */
  finishOwner(id: number, adopter: number): void {
    const e = ownerIndex(id);
    if (e === 0 || ownerIndex(adopter) === 0) return;
    const r = this.registry;
    const b = 4 * (e - 1);
    const mine = ((adopter << 2) | O_ADOPTING) | 0;
    if (Atomics.load(r, b + 2) !== id || Atomics.compareExchange(r, b, mine, O_CLAIMING) !== mine) return;
    if (Atomics.load(r, b + 2) !== id) {
      Atomics.store(r, b, mine);
      return;
    }
    Atomics.store(r, b + 1, 0);
    Atomics.store(r, b, O_FREE);
  }

  /** Index of the first slab never carved. @internal */
  carvedEnd(): number {
    return Atomics.load(this.ctl, W_CARVED);
  }

  // ---- internals ----

  private badRun(where: string, slabs: number): never {
    return checkInt(where, 'slabs', slabs, 1, this.slabCount - this.ctrlSlabs) as never;
  }

  /**
   * Throws the error a failed map of `slabs` slabs deserves, for a request of `requested` bytes
   * made through `where` (the method the user called): `QuotaExceededError` when the quota
   * refused, else `OutOfMemoryError` naming the reserved maximum (or the failed commit). Call
   * it right after the failed try; `why` is the failure the try returned (by default this
   * arena's last one). @internal
   */
  noMemory(where: string, requested: number, slabs: number, why: MapFailure = this.lastFailure): never {
    const bytes = slabs * this.slabSize;
    const run = `${slabs} slab${slabs === 1 ? '' : 's'} of ${this.slabSize} bytes (${bytes} bytes)`;
    const what = requested === bytes ? run : `${requested} bytes (${run})`;
    const end = Atomics.load(this.ctl, W_CARVED);
    let free = 0;
    for (let i = this.ctrlSlabs; i < end; i++) if (this.slabInfo[i] === FREE) free++;
    const kept = free === 0 ? 'no slab is free in the arena'
      : `the ${free} free slab${free === 1 ? '' : 's'} of the arena hold${free === 1 ? 's' : ''} no ${slabs} adjacent`;
    if (why === MapFailure.Quota) {
      const q = this.quota;
      throw new QuotaExceededError(requested, q.total,
        `${where}: ${what} exceed the quota: it has ${q.total - q.used} of ${q.total} bytes left (${q.used} used), and ${kept}`);
    }
    if (this.commitError !== null) {
      throw new OutOfMemoryError(requested, `${where}: ${what} are reserved but could not be committed (${this.commitError})`);
    }
    const data = this.slabCount - this.ctrlSlabs;
    throw new OutOfMemoryError(requested,
      `${where}: ${what} do not fit the arena's reserved maximum of ${this.maximum} bytes: ` +
      `${end - this.ctrlSlabs} of its ${data} slabs are carved, ${data - (end - this.ctrlSlabs)} never carved, and ${kept}`);
  }

  /**
   * Takes `n` adjacent slabs (free ones first, else carved) for `owner`; returns the first one's
   * address, or 0 with `failure` set.
   */
  private take(n: number, owner: number): number {
    this.lastFailure = MapFailure.None;
    this.commitError = null;
    const ctl = this.ctl;
    Atomics.add(ctl, W_BEGUN, 1);
    try {
      let s = this.claimFree(n);
      if (s < 0) s = this.carve(n);
      if (s < 0) return 0;
      // The slabs are CLAIMING (ours). A slab carved by another worker may lie past this
      // worker's committed view.
      const end = (s + n) * this.slabSize;
      if (end > this.memory.byteLength) {
        try {
          this.memory.grow(end);
        } catch (e) {
          // Carved and charged, but not committed now: keep them free, so a later map retries.
          this.putBack(s, n);
          this.lastFailure = MapFailure.Space;
          this.commitError = (e as Error).message;
          return 0;
        }
      }
      this.memory.sync();
      // Counted first, then owner, then info, the start after its inner slabs: a worker that
      // sees the run mapped also sees who holds it, and `used` never falls below what is
      // mapped. A worker terminated in between leaves the run CLAIMING (leaked) and counted:
      // mapped <= used <= mapped + claimed, at every instant.
      Atomics.add(ctl, W_USED, n);
      const info = this.slabInfo;
      for (let j = 0; j < n; j++) Atomics.store(this.slabOwner, s + j, owner);
      for (let j = 1; j < n; j++) Atomics.store(info, s + j, -j);
      Atomics.store(info, s, n);
      return s * this.slabSize;
    } finally {
      Atomics.add(ctl, W_ENDED, 1);
    }
  }

  /**
   * Claims the lowest run of `n` adjacent free slabs (FREE -> CLAIMING); its first index, or -1
   * when the carved slabs hold none. Raises the hint over the slabs it saw mapped, but never
   * over a CLAIMING (or UNCARVED) one: that may be an unmap about to free it.
   */
  private claimFree(n: number): number {
    const info = this.slabInfo;
    const old = Atomics.load(this.hint, 0);
    const end = Atomics.load(this.ctl, W_CARVED);
    let open = -1; // the first slab seen free, CLAIMING or UNCARVED
    let run = -1;
    for (let i = Number(old & LOW); i < end; i++) {
      const v = info[i]!;
      if (v !== FREE) {
        if (open < 0 && v <= CLAIMING) open = i;
        run = -1;
        continue;
      }
      if (open < 0) open = i;
      if (run < 0) run = i;
      if (i - run + 1 < n) continue;
      const lost = this.claim(run, n);
      if (lost < 0) {
        this.raiseHint(old, open === run ? run + n : open);
        return run;
      }
      // Another map took slab `lost`: go on after it.
      i = lost;
      run = -1;
    }
    this.raiseHint(old, open < 0 ? end : open);
    return -1;
  }

  /** Claims slabs [s, s + n) one by one; -1 on success, else the slab lost (own claims undone). */
  private claim(s: number, n: number): number {
    const info = this.slabInfo;
    for (let j = 0; j < n; j++) {
      if (Atomics.compareExchange(info, s + j, FREE, CLAIMING) !== FREE) {
        if (j > 0) this.putBack(s, j);
        return s + j;
      }
    }
    return -1;
  }

  /** Carves `n` new slabs (CLAIMING), charging the quota first; -1 (nothing changed) on failure. */
  private carve(n: number): number {
    const bytes = n * this.slabSize;
    if (this.quota.tryUse(bytes) < 0) {
      this.lastFailure = MapFailure.Quota;
      return -1;
    }
    let c: number;
    for (;;) {
      c = Atomics.load(this.ctl, W_CARVED);
      if (c + n > this.slabCount) {
        this.quota.release(bytes);
        this.lastFailure = MapFailure.Space;
        return -1;
      }
      if (Atomics.compareExchange(this.ctl, W_CARVED, c, c + n) === c) break;
    }
    // Ours from the exchange on (UNCARVED below the carved end is never taken as free).
    for (let j = 0; j < n; j++) Atomics.store(this.slabInfo, c + j, CLAIMING);
    return c;
  }

  /**
   * Makes claimed slabs [s, s + n) free again: the hint first, so a worker terminated in
   * between leaves them CLAIMING (leaked), never free below the hint.
   */
  private putBack(s: number, n: number): void {
    this.freed(s);
    for (let j = n - 1; j >= 0; j--) Atomics.store(this.slabInfo, s + j, FREE);
  }

  /**
   * Slab `idx` is about to become free: lower the hint to it and count the free, in one
   * exchange (a map that read the hint before fails to raise it).
   */
  private freed(idx: number): void {
    for (;;) {
      const old = Atomics.load(this.hint, 0);
      const low = Math.min(Number(old & LOW), idx);
      const next = (BigInt.asUintN(32, (old >> 32n) + 1n) << 32n) | BigInt(low);
      if (Atomics.compareExchange(this.hint, 0, old, next) === old) return;
    }
  }

  /** Raises the hint from `old` to `to`, unless a slab was freed (or the hint moved) since `old` was read. */
  private raiseHint(old: bigint, to: number): void {
    if (to > Number(old & LOW)) Atomics.compareExchange(this.hint, 0, old, (old & ~LOW) | BigInt(to));
  }

  /** Unmaps the slab or run starting at `slab` if its owner word is `owner`. */
  private release(where: string, slab: number, owner: number): void {
    if (typeof slab !== 'number' || !Number.isSafeInteger(slab) || slab < 0) checkPointer(where, 'slab', slab);
    const idx = slab / this.slabSize;
    if (!Number.isInteger(idx) || idx < this.ctrlSlabs || idx >= this.slabCount) {
      throw new InvalidPointerError(slab, `${where}: ${slab} is not the start of a slab of this arena`);
    }
    const info = this.slabInfo;
    const k = Atomics.load(info, idx);
    if (k <= 0) {
      const why = k === FREE ? 'is not mapped (a double unmap?)'
        : k === UNCARVED ? 'was never mapped'
          : k === CLAIMING ? 'is being mapped or unmapped by another call'
            : `is inside the run at ${(idx + k) * this.slabSize}, not its start`;
      throw new InvalidPointerError(slab, `${where}: slab ${slab} ${why}`);
    }
    const held = Atomics.load(this.slabOwner, idx);
    if (held !== owner) this.wrongOwner(where, slab, held, owner);
    const ctl = this.ctl;
    Atomics.add(ctl, W_BEGUN, 1);
    try {
      // The exchange makes two racing unmaps of one slab fail one of them.
      if (Atomics.compareExchange(info, idx, k, CLAIMING) !== k) {
        throw new InvalidPointerError(slab, `${where}: slab ${slab} was unmapped by another call at the same time`);
      }
      // Unmapped and mapped again by someone else between the loads and the exchange: not ours.
      const now = Atomics.load(this.slabOwner, idx);
      if (now !== owner) {
        Atomics.store(info, idx, k);
        this.wrongOwner(where, slab, now, owner);
      }
      // After the exchange (the run is CLAIMING now), as a map counts before its store:
      // mapped <= used <= mapped + claimed.
      Atomics.sub(ctl, W_USED, k);
      for (let j = 0; j < k; j++) Atomics.store(this.slabOwner, idx + j, 0);
      const p0 = idx * this.pagesPerSlab;
      const p1 = (idx + k) * this.pagesPerSlab;
      this.pageMap.fill(0, p0, p1);
      this.pageTags.fill(0, 2 * p0, 2 * p1);
      this.putBack(idx, k);
    } finally {
      Atomics.add(ctl, W_ENDED, 1);
    }
  }

  private wrongOwner(where: string, slab: number, held: number, owner: number): never {
    throw new InvalidPointerError(slab, owner === 0
      ? `${where}: slab ${slab} is held by a SlabCache (owner ${held}); it goes back through that cache`
      : `${where}: slab ${slab} belongs to ${held === 0 ? 'no SlabCache' : `owner ${held}`}, not to owner ${owner}`);
  }

  /**
   * What can be checked while other workers map and unmap: the control words, every slab's
   * info and owner word on its own, the registry entries, and that never-carved slabs have
   * UNCARVED info and owner 0 (with `pages`, also zero page map and page tags: that reads the
   * whole control state). The first problem found, or null.
   */
  private inspectShared(pages: boolean): string | null {
    const c = this.ctl;
    const n = this.slabCount;
    const ctrl = this.ctrlSlabs;
    const used = Atomics.load(c, W_USED);
    const carved0 = Atomics.load(c, W_CARVED);
    const hint = Number(Atomics.load(this.hint, 0) & LOW);
    if (carved0 < ctrl || carved0 > n) return `carved end ${carved0} is outside [${ctrl}, ${n}]`;
    if (used < 0 || used > n - ctrl) return `used counts ${used} slabs, outside [0, ${n - ctrl}]`;
    if (hint < ctrl || hint > n) return `free hint ${hint} is outside [${ctrl}, ${n}]`;
    if (c[W_ZERO] !== 0) return `reserved word ${W_ZERO} is ${c[W_ZERO]}, not 0`;
    const info = this.slabInfo;
    const owner = this.slabOwner;
    for (let i = 0; i < ctrl; i++) {
      if (info[i] !== UNCARVED || owner[i] !== 0) return `control slab ${i} has info ${info[i]} and owner ${owner[i]}`;
    }
    // Any slab seen in use must lie below the carved end read afterwards: a carve moves the
    // end before it writes its slabs.
    let last = -1;
    for (let i = ctrl; i < n; i++) {
      const v = info[i]!;
      const o = owner[i]!;
      if (v !== UNCARVED) {
        if (v !== FREE && v !== CLAIMING && !(v > 0 && v <= n - i) && !(v < 0 && v >= ctrl - i)) {
          return `slab ${i} has info ${v}, which is no state`;
        }
        last = i;
      }
      if (o !== 0) {
        if (ownerIndex(o) === 0) return `slab ${i} has owner ${o}, which is no owner id`;
        last = i;
      }
    }
    const ppw = this.pagesPerSlab >>> 2; // Int32 words of page map per slab
    const pm32 = new Int32Array(this.pageMap.buffer, this.pageMap.byteOffset, this.pageMap.length >>> 2);
    const tags = this.pageTags;
    for (let i = 0; pages && i < n; i++) {
      if (i >= ctrl && i < carved0) continue;
      if (!zero(pm32, i * ppw, (i + 1) * ppw) || !zero(tags, 2 * i * this.pagesPerSlab, 2 * (i + 1) * this.pagesPerSlab)) {
        if (i < ctrl) return `the page map or page tags of control slab ${i} are not zero`;
        last = Math.max(last, i);
      }
    }
    const carved = Atomics.load(c, W_CARVED);
    if (last >= carved) return `slab ${last}, past the carved end ${carved}, is not in the never-carved state (info ${info[last]}, owner ${owner[last]}, or its page map or page tags written)`;
    return this.inspectRegistry();
  }

  private inspectRegistry(): string | null {
    const r = this.registry;
    for (let e = 1; e <= OWNERS; e++) {
      const b = 4 * (e - 1);
      const w = Atomics.load(r, b);
      const s = w & 3;
      const a = w >>> 2;
      const t = Atomics.load(r, b + 1);
      const id = Atomics.load(r, b + 2);
      if (r[b + 3] !== 0) return `owner entry ${e} has a non-zero reserved word`;
      if (id !== 0 && ownerIndex(id) !== e) return `owner entry ${e} holds id ${id}, which is not an id of entry ${e}`;
      if (t < 0) return `owner entry ${e} has thread ${t}`;
      if (s === O_ADOPTING ? ownerIndex(a) === 0 : a !== 0) return `owner entry ${e} (state ${s}) has adopter ${a}`;
      if ((s === O_LIVE || s === O_ADOPTING) && id === 0) return `owner entry ${e} is in use but has no id`;
    }
    return null;
  }

  /**
   * `inspectQuiet` if a quiet moment comes within a few tries: no map or unmap in flight when
   * it starts, none started or finished while it runs. Else null: the invariants that need one
   * are not checked (a worker killed in the middle of a map leaves one in flight for ever).
   */
  private inspectWhenQuiet(): string | null {
    const c = this.ctl;
    for (let tries = 0; tries < 8; tries++) {
      const b = Atomics.load(c, W_BEGUN);
      const e = Atomics.load(c, W_ENDED);
      if (b !== e) continue;
      const problem = this.inspectQuiet();
      if (Atomics.load(c, W_BEGUN) === b && Atomics.load(c, W_ENDED) === e) return problem;
    }
    return null;
  }

  /**
   * The invariants that need a quiet moment (no map or unmap in flight in a live worker): run
   * structure, the `used` bounds, the hint, and zero owner, page map and page tags of free slabs.
   */
  private inspectQuiet(): string | null {
    const c = this.ctl;
    const info = this.slabInfo;
    const owner = this.slabOwner;
    const carved = Atomics.load(c, W_CARVED);
    const used = Atomics.load(c, W_USED);
    const hint = Number(Atomics.load(this.hint, 0) & LOW);
    const pps = this.pagesPerSlab;
    let mapped = 0;
    let claimed = 0;
    let firstFree = -1;
    for (let i = this.ctrlSlabs; i < carved;) {
      const k = info[i]!;
      if (k > 0) {
        if (i + k > carved) return `run at slab ${i} of ${k} slabs passes the carved end ${carved}`;
        for (let j = 1; j < k; j++) {
          if (info[i + j] !== -j) return `slab ${i + j} inside the run at ${i} has info ${info[i + j]}, expected ${-j}`;
        }
        mapped += k;
        i += k;
      } else if (k === FREE) {
        if (firstFree < 0) firstFree = i;
        if (owner[i] !== 0) return `free slab ${i} has owner ${owner[i]}`;
        const pm = this.pageMap;
        for (let p = i * pps; p < (i + 1) * pps; p++) {
          if (pm[p] !== 0 || this.pageTags[2 * p] !== 0 || this.pageTags[2 * p + 1] !== 0) return `free slab ${i} has page ${p} written in the page map or page tags`;
        }
        i++;
      } else if (k === CLAIMING || k === UNCARVED) {
        // Claimed by a map or unmap in flight, or leaked by a killed worker; a run being
        // published or unmapped shows its first inner slabs after its CLAIMING start.
        claimed++;
        let j = 1;
        while (i + j < carved && info[i + j] === -j) j++;
        claimed += j - 1;
        i += j;
      } else {
        return `slab ${i} says it is inside a run (${k}) but follows no run start`;
      }
    }
    if (used < mapped || used > mapped + claimed) return `used counts ${used} slabs, ${mapped} are mapped (and ${claimed} claimed)`;
    if (firstFree >= 0 && hint > firstFree) return `free hint ${hint} is above free slab ${firstFree}`;
    return null;
  }
}

function zero(a: Int32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== 0) return false;
  return true;
}
