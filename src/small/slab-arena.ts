/**
 * SlabArena: big slabs of one size, aligned to that size, out of one reserved buffer
 * (Tarantool's `slab_arena`).
 *
 * Memory source: one growable buffer (`Memory.create({ shared, maximum })`) reserved up front and
 * committed as slabs are carved; every slab is charged to a {@link Quota} when it is carved.
 *
 * Thread-safety: lock-free; every field of the state lives in the buffer and changes by
 * `Atomics`. Any worker that attached may map and unmap. Returned slabs sit on two Treiber
 * stacks (single slabs, and runs of adjacent slabs) whose heads carry a 32-bit tag beside the
 * 32-bit slab index in one 64-bit word, so a pop racing a pop-push-push cannot succeed on a
 * stale `next` (ABA). A worker killed in the middle of an operation may leak the slabs it held
 * at that instant; it cannot corrupt the stacks or hand a slab out twice.
 *
 * Failure: `map`/`mapRun` throw `QuotaExceededError` when the quota refuses a new slab and
 * `OutOfMemoryError` past `maximum`; `tryMap`/`tryMapRun` return 0. A failed map changes
 * nothing (a quota charge made for it is given back). `unmap` of anything that is not the
 * start of a mapped slab or run throws `InvalidPointerError` and changes nothing.
 *
 * Quota rule (as Tarantool's): a carved slab stays charged forever, since a
 * `SharedArrayBuffer` cannot give memory back; an unmapped slab is kept on a stack and handed
 * out again before any new memory is carved. `used` counts only slabs handed out.
 *
 * Layout of the buffer (the control state fills the first `ctrlSlabs` slabs, so no slab at
 * address 0 is ever handed out):
 * ```
 *  byte 0      16        48          64               64+8*OWNERS (OWNERS = 4096)
 *  +-----------+---------+-----------+----------------+---------+---------+---------+---------+----------+
 *  | header    | words   | heads     | owner registry | next[n] | info[n] | owner[n]| flen[n] | pageMap  |
 *  | (Kind.    | shift,  | single,run| {state,thread} | Int32   | Int32   | Int32   | Int32   | 1 byte / |
 *  | SlabArena)| n, ctrl,| BigUint64 | x OWNERS       |         |         |         |         | 4 KiB    |
 *  |           | carved, | idx|tag<<32                |         |         |         |         | page     |
 *  |           | used    |           |                |         |         |         |         |          |
 *  +-----------+---------+-----------+----------------+---------+---------+---------+---------+----------+
 *  ... padding to ctrlSlabs * slabSize | slab ctrlSlabs | slab ctrlSlabs+1 | ... | slab n-1 |
 * ```
 * Per slab i (n = maximum / slabSize of them, the control slabs included):
 * - `info[i]`: k > 0 when i starts a mapped run of k slabs (k = 1: a single slab); -j when i is
 *   the j-th slab of a mapped run (its start is i - j); 0 when free or never carved.
 * - `next[i]`: the next slab on the stack i is on. `flen[i]`: a free run's length.
 * - `owner[i]`: the owner id (see the registry) of the `SlabCache` holding it; 0 for none.
 *
 * Invariants: `ctrlSlabs <= carved <= n`; every carved slab is mapped, on one stack, or leaked
 * by a killed worker; `used == slabSize * Σ info[i] > 0 ? info[i] : 0`;
 * `quota charges >= (carved - ctrlSlabs) * slabSize`.
 */
import { InvalidPointerError, OutOfMemoryError, QuotaExceededError } from '../errors.js';
import {
  checkInstance, checkInt, optionalBool, optionalInt, optionalPowerOfTwo, optionsBag, rangeError, typeError,
} from '../internal/checks.js';
import { HEADER_BYTES, Kind, verifyHeader, writeHeader } from '../internal/header.js';
import { MAX_BYTE_LENGTH, Memory } from '../memory.js';
import { Quota, type QuotaHandle } from './quota.js';

const VERSION = 1;
/** Entries in the owner registry. */
export const OWNERS = 4096;
/** Bytes of one page of the page map. */
export const PAGE_SHIFT = 12;

// Int32 word indexes of the control words (after the 16-byte header).
const W_SHIFT = 4; // log2(slabSize)
const W_NSLABS = 5; // slabs in the whole reserved space, control slabs included
const W_CTRL = 6; // control slabs
const W_CARVED = 7; // index of the first slab never carved
const W_USED = 8; // slabs handed out
// BigUint64 heads at byte 48: [0] single slabs, [1] runs. low 32 bits: slab index (0 = empty).
const HEADS_BYTE = 48;
const REGISTRY_BYTE = 64;
const ARRAYS_BYTE = REGISTRY_BYTE + 8 * OWNERS;
const LOW = 0xffffffffn;

const H_SINGLE = 0;
const H_RUN = 1;

/** Owner registry states. */
const O_FREE = 0;
const O_LIVE = 1;
const O_DEAD = 2;
const O_CLAIMING = 3;

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
  const raw = ARRAYS_BYTE + 16 * nslabs + nslabs * 2 ** (shift - PAGE_SHIFT);
  return Math.ceil(raw / 8) * 8;
}

/** What `SlabArena.attach` needs: structured-cloneable, send it with `postMessage`. */
export interface SlabArenaHandle {
  readonly buffer: SharedArrayBuffer;
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
   * 4 GiB. Default: the quota's total rounded up to slabs, plus the control slabs.
   */
  maximum?: number;
  /**
   * Keep the buffer a `SharedArrayBuffer`, so workers can attach. Default true. With false it is
   * a resizable `ArrayBuffer`, which V8 on Node 20 reads and writes several times slower (a
   * Mempool alloc+free pair takes about twice as long; see `Memory.create`).
   */
  shared?: boolean;
}

let attaching: { memory: Memory; quota: Quota } | null = null;

/** Big aligned slabs out of one reserved buffer; lock-free and shared across workers. */
export class SlabArena {
  /** The address space; slabs are offsets into it. */
  readonly memory: Memory;
  /** Charged for every slab carved. */
  readonly quota: Quota;
  /** Bytes per slab, a power of two >= 64 KiB. */
  readonly slabSize: number;
  /** Bytes of address space reserved (control slabs included). */
  readonly maximum: number;
  /** log2(slabSize). @internal */
  readonly slabShift: number;
  /** Slabs in the whole address space, control slabs included. @internal */
  readonly slabCount: number;
  /** Slabs the control state takes at the start of the buffer; the first data slab is this index. @internal */
  readonly ctrlSlabs: number;
  /**
   * One byte per 4 KiB page of the address space, written by `SlabCache` (see slab-cache.ts
   * for the encoding) and read by any worker to find the slab a pointer is in. @internal
   */
  readonly pageMap: Uint8Array;
  /** Per slab: run length at a mapped run's start, -offset inside it, 0 free. @internal */
  readonly slabInfo: Int32Array;
  /** Per slab: owner id of the `SlabCache` holding it, 0 for none. @internal */
  readonly slabOwner: Int32Array;
  /** 4 KiB pages per slab. @internal */
  readonly pagesPerSlab: number;
  /** Why this object's last failed map failed. @internal */
  failure: MapFailure = MapFailure.None;

  private readonly ctl: Int32Array;
  private readonly heads: BigUint64Array;
  private readonly registry: Int32Array;
  private readonly next: Int32Array;
  private readonly flen: Int32Array;

  /**
   * An arena over a new buffer. Throws `QuotaExceededError` if `prealloc` does not fit the quota.
   */
  constructor(opts: SlabArenaOptions) {
    const where = 'SlabArena';
    const fresh = attaching === null;
    if (attaching !== null) {
      const a = attaching;
      attaching = null;
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
      const maxSlabs = MAX_BYTE_LENGTH / slabSize;
      let nslabs: number;
      let ctrl: number;
      if (o.maximum !== undefined && o.maximum !== null) {
        const maximum = checkInt(where, 'maximum', o.maximum, 0, MAX_BYTE_LENGTH);
        nslabs = Math.floor(maximum / slabSize);
        ctrl = Math.ceil(controlBytes(nslabs, shift) / slabSize);
        if (nslabs - ctrl < 1) {
          rangeError(where, 'maximum',
            `at least ${(Math.ceil(controlBytes(ctrl + 1, shift) / slabSize) + 1) * slabSize} (control slabs and one slab)`,
            o.maximum);
        }
      } else {
        const data = Math.max(1, Math.ceil(this.quota.total / slabSize));
        ctrl = 1;
        for (;;) {
          nslabs = Math.min(ctrl + data, maxSlabs);
          const c = Math.ceil(controlBytes(nslabs, shift) / slabSize);
          if (c <= ctrl) break;
          ctrl = c;
        }
      }
      const prealloc = optionalInt(where, 'prealloc', o.prealloc, 0, 0, (nslabs - ctrl) * slabSize);
      const cbytes = controlBytes(nslabs, shift);
      this.memory = Memory.create({ shared, maximum: nslabs * slabSize, initial: cbytes });
      this.slabShift = shift;
      this.slabCount = nslabs;
      this.ctrlSlabs = ctrl;
      const words = new Int32Array(this.memory.buffer, 0, 16);
      words[W_SHIFT] = shift;
      words[W_NSLABS] = nslabs;
      words[W_CTRL] = ctrl;
      words[W_CARVED] = ctrl;
      words[W_USED] = 0;
      writeHeader(words, Kind.SlabArena, VERSION, cbytes);
      const pre = Math.ceil(prealloc / slabSize);
      if (pre > 0 && this.quota.tryUse(pre * slabSize) < 0) {
        throw new QuotaExceededError(prealloc, this.quota.total,
          `SlabArena: prealloc ${prealloc} bytes exceed the quota (used ${this.quota.used} of ${this.quota.total})`);
      }
      words[W_CARVED] = ctrl + pre;
      if (pre > 0) {
        try {
          this.memory.grow((ctrl + pre) * slabSize);
        } catch (e) {
          this.quota.release(pre * slabSize);
          throw e;
        }
      }
    }
    this.slabSize = 1 << this.slabShift; // an int, not a double: pointers derived from it stay small integers
    this.maximum = this.slabCount * this.slabSize;
    this.pagesPerSlab = this.slabSize >>> PAGE_SHIFT;
    const buffer = this.memory.buffer;
    const n = this.slabCount;
    this.ctl = new Int32Array(buffer, 0, 16);
    this.heads = new BigUint64Array(buffer, HEADS_BYTE, 2);
    this.registry = new Int32Array(buffer, REGISTRY_BYTE, 2 * OWNERS);
    this.next = new Int32Array(buffer, ARRAYS_BYTE, n);
    this.slabInfo = new Int32Array(buffer, ARRAYS_BYTE + 4 * n, n);
    this.slabOwner = new Int32Array(buffer, ARRAYS_BYTE + 8 * n, n);
    this.flen = new Int32Array(buffer, ARRAYS_BYTE + 12 * n, n);
    this.pageMap = new Uint8Array(buffer, ARRAYS_BYTE + 16 * n, n * 2 ** (this.slabShift - PAGE_SHIFT));
    // Preallocated slabs wait on the run stack as one free run.
    const carved = this.ctl[W_CARVED]!;
    if (fresh && carved > this.ctrlSlabs && Atomics.load(this.heads, H_RUN) === 0n) {
      const pre = carved - this.ctrlSlabs;
      if (pre === 1) this.push(H_SINGLE, this.ctrlSlabs);
      else {
        this.flen[this.ctrlSlabs] = pre;
        this.push(H_RUN, this.ctrlSlabs);
      }
    }
  }

  /** The arena whose `handle()` another worker sent. TypeError on anything else. */
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
    const carved = w[W_CARVED]!;
    const ok = shift >= 16 && shift <= 30 && nslabs >= 2 && nslabs <= MAX_BYTE_LENGTH / 2 ** shift &&
      declared === controlBytes(nslabs, shift) && ctrl === Math.ceil(declared / 2 ** shift) &&
      carved >= ctrl && carved <= nslabs;
    if (!ok) throw new TypeError(`${where}: corrupt control state (slab shift ${shift}, ${nslabs} slabs, ${ctrl} control slabs)`);
    const reserved = sab.growable ? sab.maxByteLength : sab.byteLength;
    if (reserved !== nslabs * 2 ** shift || sab.byteLength < declared) {
      throw new TypeError(`${where}: buffer is truncated (${sab.byteLength} of ${reserved} bytes, arena needs ${nslabs * 2 ** shift} reserved)`);
    }
    if (typeof handle.quota !== 'object' || handle.quota === null) typeError(where, 'handle.quota', 'a QuotaHandle', handle.quota);
    const quota = Quota.attach(handle.quota);
    attaching = { memory: Memory.wrap(sab), quota };
    return new SlabArena(undefined as unknown as SlabArenaOptions);
  }

  /** A structured-cloneable handle for `SlabArena.attach` in another worker (it carries the quota's). */
  handle(): SlabArenaHandle {
    const buffer = this.memory.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('SlabArena.handle: this arena is not shared (created with shared: false)');
    }
    return { buffer, quota: this.quota.handle() };
  }

  /** Bytes of slabs handed out and not yet returned. */
  get used(): number {
    return Atomics.load(this.ctl, W_USED) * this.slabSize;
  }

  /** Bytes of slabs carved (and charged) so far, handed out or not. */
  get carved(): number {
    return (Atomics.load(this.ctl, W_CARVED) - this.ctrlSlabs) * this.slabSize;
  }

  /** A slab: `ptr % slabSize === 0`, never 0. Throws `QuotaExceededError` or `OutOfMemoryError`. */
  map(): number {
    const p = this.take(1, 0);
    if (p === 0) this.fail('SlabArena.map', 1);
    return p;
  }

  /**
   * A slab, or 0 when the quota or the address space says no. `owner` (internal: a
   * `SlabCache`'s owner id) is recorded as the slab's owner before the slab is published.
   */
  tryMap(owner = 0): number {
    return this.take(1, owner);
  }

  /** `slabs` adjacent slabs (a run), for allocations larger than a slab; freed runs are reused first. */
  mapRun(slabs: number): number {
    if (typeof slabs !== 'number' || (slabs >>> 0) !== slabs || slabs < 1 || slabs > this.slabCount - this.ctrlSlabs) this.badRun('SlabArena.mapRun', slabs);
    const p = this.take(slabs, 0);
    if (p === 0) this.fail('SlabArena.mapRun', slabs);
    return p;
  }

  /** `slabs` adjacent slabs, or 0 when the quota or the address space says no. `owner`: as in `tryMap`. */
  tryMapRun(slabs: number, owner = 0): number {
    if (typeof slabs !== 'number' || (slabs >>> 0) !== slabs || slabs < 1 || slabs > this.slabCount - this.ctrlSlabs) this.badRun('SlabArena.tryMapRun', slabs);
    return this.take(slabs, owner);
  }

  /**
   * Returns a slab or a whole run (by its start) to the arena, which keeps it (still charged)
   * for the next map. `InvalidPointerError` if `slab` is not the start of a mapped slab or run.
   */
  unmap(slab: number): void {
    if (typeof slab !== 'number' || !Number.isInteger(slab) || slab < 0 || slab > MAX_BYTE_LENGTH) {
      checkInt('SlabArena.unmap', 'slab', slab, 0, MAX_BYTE_LENGTH);
    }
    const idx = slab / this.slabSize;
    if (!Number.isInteger(idx) || idx < this.ctrlSlabs || idx >= this.slabCount) {
      throw new InvalidPointerError(slab, `SlabArena.unmap: ${slab} is not the start of a slab of this arena`);
    }
    const n = Atomics.load(this.slabInfo, idx);
    // The CAS makes two racing unmaps of one slab fail one of them.
    if (n <= 0 || Atomics.compareExchange(this.slabInfo, idx, n, 0) !== n) {
      throw new InvalidPointerError(slab, `SlabArena.unmap: slab ${slab} is not mapped (a double unmap, or inside a run)`);
    }
    for (let i = 1; i < n; i++) this.slabInfo[idx + i] = 0;
    for (let i = 0; i < n; i++) Atomics.store(this.slabOwner, idx + i, 0);
    this.pageMap.fill(0, idx * this.pagesPerSlab, (idx + n) * this.pagesPerSlab);
    Atomics.sub(this.ctl, W_USED, n);
    if (n === 1) this.push(H_SINGLE, idx);
    else {
      this.flen[idx] = n;
      this.push(H_RUN, idx);
    }
  }

  /**
   * Walks the free stacks and the per-slab state and throws if they disagree. Meant for tests
   * and for quiet moments: with maps running in other workers it may see a slab in flight.
   */
  check(): void {
    const carved = Atomics.load(this.ctl, W_CARVED);
    const seen = new Uint8Array(this.slabCount);
    let mapped = 0;
    for (let i = this.ctrlSlabs; i < carved;) {
      const k = this.slabInfo[i]!;
      if (k > 0) {
        if (i + k > carved) throw new Error(`SlabArena.check: run at slab ${i} of ${k} slabs passes the carved end ${carved}`);
        for (let j = 1; j < k; j++) {
          if (this.slabInfo[i + j] !== -j) throw new Error(`SlabArena.check: slab ${i + j} inside the run at ${i} has info ${this.slabInfo[i + j]}, expected ${-j}`);
          seen[i + j] = 1;
        }
        seen[i] = 1;
        mapped += k;
        i += k;
      } else if (k < 0) {
        throw new Error(`SlabArena.check: slab ${i} says it is inside a run (${k}) but follows no run start`);
      } else {
        i++;
      }
    }
    const used = Atomics.load(this.ctl, W_USED);
    if (used !== mapped) throw new Error(`SlabArena.check: used counts ${used} slabs, ${mapped} are mapped`);
    let free = 0;
    for (let h = 0; h < 2; h++) {
      let idx = Number(Atomics.load(this.heads, h) & LOW);
      let steps = 0;
      while (idx !== 0) {
        if (idx < this.ctrlSlabs || idx >= carved) throw new Error(`SlabArena.check: free stack ${h} holds slab ${idx}, outside [${this.ctrlSlabs}, ${carved})`);
        const len = h === H_SINGLE ? 1 : this.flen[idx]!;
        if (len < 1 || idx + len > carved) throw new Error(`SlabArena.check: free run at slab ${idx} has length ${len}`);
        for (let j = 0; j < len; j++) {
          if (seen[idx + j]) throw new Error(`SlabArena.check: slab ${idx + j} is free on stack ${h} and also mapped or free elsewhere`);
          seen[idx + j] = 1;
        }
        free += len;
        if (++steps > this.slabCount) throw new Error(`SlabArena.check: free stack ${h} has a cycle`);
        idx = this.next[idx]!;
      }
    }
    if (mapped + free > carved - this.ctrlSlabs) throw new Error('SlabArena.check: more slabs mapped and free than carved');
  }

  // ---- owner registry (used by SlabCache) ----

  /**
   * Claims a registry entry for a `SlabCache` living in worker `threadId`; returns its id (>= 1).
   * Throws `OutOfMemoryError` when all `OWNERS` entries are taken. @internal
   */
  registerOwner(threadId: number): number {
    const r = this.registry;
    for (let i = 0; i < OWNERS; i++) {
      if (Atomics.compareExchange(r, 2 * i, O_FREE, O_CLAIMING) === O_FREE) {
        Atomics.store(r, 2 * i + 1, threadId);
        Atomics.store(r, 2 * i, O_LIVE);
        return i + 1;
      }
    }
    throw new OutOfMemoryError(0, `SlabArena: all ${OWNERS} slab cache owner entries are in use`);
  }

  /** Frees a registry entry (its slabs must have been handed over or returned first). @internal */
  releaseOwner(id: number): void {
    const r = this.registry;
    Atomics.store(r, 2 * (id - 1) + 1, 0);
    Atomics.store(r, 2 * (id - 1), O_FREE);
  }

  /** The worker thread id registered for owner `id`, or -1 if the entry is not live. @internal */
  ownerThread(id: number): number {
    if (id < 1 || id > OWNERS || Atomics.load(this.registry, 2 * (id - 1)) !== O_LIVE) return -1;
    return Atomics.load(this.registry, 2 * (id - 1) + 1);
  }

  /**
   * Marks every live owner of worker `threadId` (except `keep`) dead-being-reclaimed and returns
   * their ids; only one caller wins each entry. @internal
   */
  claimOwners(threadId: number, keep: number): number[] {
    const r = this.registry;
    const ids: number[] = [];
    for (let i = 0; i < OWNERS; i++) {
      if (i + 1 === keep) continue;
      if (Atomics.load(r, 2 * i) === O_LIVE && Atomics.load(r, 2 * i + 1) === threadId &&
        Atomics.compareExchange(r, 2 * i, O_LIVE, O_DEAD) === O_LIVE) ids.push(i + 1);
    }
    return ids;
  }

  /** Index of the first slab never carved. @internal */
  carvedEnd(): number {
    return Atomics.load(this.ctl, W_CARVED);
  }

  // ---- internals ----

  private badRun(where: string, slabs: number): never {
    return checkInt(where, 'slabs', slabs, 1, this.slabCount - this.ctrlSlabs) as never;
  }

  private fail(where: string, slabs: number): never {
    const bytes = slabs * this.slabSize;
    if (this.failure === MapFailure.Quota) {
      throw new QuotaExceededError(bytes, this.quota.total,
        `${where}: ${bytes} bytes of slabs exceed the quota (used ${this.quota.used} of ${this.quota.total})`);
    }
    throw new OutOfMemoryError(bytes, `${where}: no room for ${slabs} more slab(s) of ${this.slabSize} bytes in the reserved ${this.maximum} bytes`);
  }

  /** Pops, splits or carves `n` adjacent slabs; returns the first one's address or 0. */
  private take(n: number, owner: number): number {
    this.failure = MapFailure.None;
    let idx = n === 1 ? this.pop(H_SINGLE) : 0;
    if (idx === 0) idx = this.takeRun(n);
    if (idx === 0) idx = this.carve(n);
    if (idx === 0) return 0;
    // Owner first, info last: a worker that sees the run mapped also sees who holds it.
    for (let i = 0; i < n; i++) Atomics.store(this.slabOwner, idx + i, owner);
    for (let i = 1; i < n; i++) this.slabInfo[idx + i] = -i;
    Atomics.store(this.slabInfo, idx, n);
    Atomics.add(this.ctl, W_USED, n);
    return idx * this.slabSize;
  }

  /** The first free run of at least `n` slabs (split if longer), or 0. */
  private takeRun(n: number): number {
    // Runs popped that are too short are chained through next[] and pushed back afterwards.
    let skipped = 0;
    let found = 0;
    for (;;) {
      const idx = this.pop(H_RUN);
      if (idx === 0) break;
      if (this.flen[idx]! >= n) {
        found = idx;
        break;
      }
      this.next[idx] = skipped;
      skipped = idx;
    }
    while (skipped !== 0) {
      const s = skipped;
      skipped = this.next[s]!;
      this.push(H_RUN, s);
    }
    if (found === 0) return 0;
    const rest = this.flen[found]! - n;
    if (rest > 0) this.pushFree(found + n, rest);
    return found;
  }

  private pushFree(idx: number, n: number): void {
    if (n === 1) this.push(H_SINGLE, idx);
    else {
      this.flen[idx] = n;
      this.push(H_RUN, idx);
    }
  }

  /** Carves `n` new slabs, charging the quota first; 0 (nothing changed) on failure. */
  private carve(n: number): number {
    const bytes = n * this.slabSize;
    if (this.quota.tryUse(bytes) < 0) {
      this.failure = MapFailure.Quota;
      return 0;
    }
    let c: number;
    for (;;) {
      c = Atomics.load(this.ctl, W_CARVED);
      if (c + n > this.slabCount) {
        this.quota.release(bytes);
        this.failure = MapFailure.Space;
        return 0;
      }
      if (Atomics.compareExchange(this.ctl, W_CARVED, c, c + n) === c) break;
    }
    try {
      this.memory.grow((c + n) * this.slabSize);
    } catch {
      // The slabs are carved and charged but cannot be committed now: keep them free, so a
      // later map retries the commit, and report no memory.
      this.pushFree(c, n);
      this.failure = MapFailure.Space;
      return 0;
    }
    this.memory.sync();
    return c;
  }

  private pop(h: number): number {
    for (;;) {
      const old = Atomics.load(this.heads, h);
      const idx = Number(old & LOW);
      if (idx === 0) return 0;
      const nxt = Atomics.load(this.next, idx);
      const tagged = (BigInt.asUintN(32, (old >> 32n) + 1n) << 32n) | BigInt(nxt);
      if (Atomics.compareExchange(this.heads, h, old, tagged) === old) {
        // A slab carved by another worker may lie past this worker's committed view.
        if ((idx + (h === H_RUN ? this.flen[idx]! : 1)) * this.slabSize > this.memory.byteLength) {
          try {
            this.memory.grow((idx + (h === H_RUN ? this.flen[idx]! : 1)) * this.slabSize);
          } catch {
            this.push(h, idx);
            return 0;
          }
        }
        this.memory.sync();
        return idx;
      }
    }
  }

  private push(h: number, idx: number): void {
    for (;;) {
      const old = Atomics.load(this.heads, h);
      Atomics.store(this.next, idx, Number(old & LOW));
      const tagged = (BigInt.asUintN(32, (old >> 32n) + 1n) << 32n) | BigInt(idx);
      if (Atomics.compareExchange(this.heads, h, old, tagged) === old) return;
    }
  }
}
