/**
 * SlabArena: big slabs of one size, aligned to that size, out of one reserved buffer
 * (Tarantool's `slab_arena`). Its contract (memory source, thread-safety, failure) is on the
 * class.
 *
 * Maps without locks, and without free lists: each slab's state word says whether it is free,
 * so free slabs coalesce by themselves. How a map claims or carves a run and an unmap frees
 * it, step by step: arena-runs.ts. The slabs a killed worker leaks are left CLAIMING, or never
 * carved below the carved end.
 *
 * Quota rule (as Tarantool's): a carved slab stays charged forever, since a
 * `SharedArrayBuffer` cannot give memory back; an unmapped slab is kept free and handed out
 * again before any new memory is carved. `used` counts only slabs handed out.
 *
 * State (its layout in the buffer: arena-layout.ts): control words (geometry, carved end, `used`,
 * the quota's identity), the hint, the op counts, the owner registry (owner-registry.ts), and
 * per-slab and per-page arrays. The control state fills the first `ctrlSlabs` slabs, so no slab
 * at address 0 is ever handed out.
 * Per slab i (the control slabs included):
 * - `info[i]`: k > 0 when i starts a mapped run of k slabs (k = 1: a single slab); -j when i is
 *   the j-th slab of a mapped run (its start is i - j); FREE (0) when carved and free;
 *   UNCARVED (-2^31) when never carved; CLAIMING (-2^31 + 1) while a map or unmap holds it.
 * - `owner[i]`: the owner id (see the registry) holding it: a `SlabCache`'s, or the MAPS entry of
 *   the worker that mapped it directly (`map`, `mapRun`); 0 for none (the registry was full).
 * - `pageMap`, `pageTags`: per 4 KiB page, written by the layers above (`SlabCache`, `SmallAlloc`);
 *   the arena only zeroes them when it takes a slab back.
 * `hint`: every slab below its low 32 bits is not free; its high 32 bits count the frees (how
 * maps and frees move it: arena-runs.ts).
 * `begun`/`ended`: maps and unmaps started and finished, so `attach` can tell a quiet moment.
 *
 * Owner registry (owner-registry.ts): one entry per live `SlabCache`, and one (kind MAPS) per
 * worker that maps directly, registered at its first map, each with the worker it lives in;
 * `owner[i]` holds an entry's generation-tagged id, so a stale id never matches. Adopting an
 * exited worker's id (`SlabCache.adopt`) takes its caches' slabs over and unmaps its direct
 * maps, so what it held is never lost.
 *
 * Read views (arena-views.ts): `openReadView()` in any worker; the words after the registry
 * hold the epoch, the open count and each views entry's oldest epoch, which every allocator
 * over the arena reads to tag and release the frees it holds back (`arena.views`).
 *
 * Invariants (at a quiet moment; `check()` verifies them (arena-check.ts), `attach` too when it
 * sees one):
 * `ctrlSlabs <= carved <= n`; `info[i] == UNCARVED` for `i < ctrlSlabs` and `i >= carved`;
 * every carved slab is mapped, FREE, or claimed (CLAIMING, -j under a CLAIMING start, or
 * UNCARVED below `carved`: in flight, or leaked by a killed worker);
 * `mapped <= used <= mapped + claimed`, mapped = Σ info[i] > 0 ? info[i] : 0 (a map counts its run just
 * before it publishes it, an unmap uncounts it just after it claims it back);
 * `hint <= min { i : info[i] == FREE }`; a FREE or UNCARVED slab has owner 0 and zero page map
 * and page tags; `quota charges >= (carved - ctrlSlabs) * slabSize` (at every instant: a carve
 * charges first); a run's start has owner 0 or the current id of a LIVE or ADOPTING registry
 * entry, and each other slab of the run the same owner, or (an adoption under way, or killed
 * half-way) an owner whose entry is no longer LIVE: never another live cache.
 */
import { InvalidPointerError, OutOfMemoryError, QuotaExceededError } from '../../errors.js';
import { HandOff } from '../../internal/hand-off.js';
import { checkInt, checkPointer, isSharedBuffer, rangeError } from '../../internal/checks.js';
import { MAX_BYTE_LENGTH, Memory } from '../../memory.js';
import { verifyHandle, type SlabArenaHandle } from './arena-attach.js';
import { createArena, type SlabArenaOptions } from './arena-create.js';
import { ArenaViews, type ReadView } from './arena-views.js';
import { inspectQuiet, inspectShared, inspectWhenQuiet } from './arena-check.js';
import { ARRAYS_BYTE, Ctl, HINT_BYTE, REGISTRY_BYTE, SlabState } from './arena-layout.js';
import { carve, claimFree, MapFailure, publish, putBack, unpublish } from './arena-runs.js';
import {
  claimOwners, findMapsOwner, finishOwner, inspectRegistry, OWNERS, ownerIndex, ownerKind, OwnerKind, ownerThread, registerOwner,
  releaseOwner,
} from './owner-registry.js';
import { currentThreadId } from '../../internal/thread.js';
import { Page } from './page-map.js';
import type { Quota } from './quota.js';

export { OWNERS } from './owner-registry.js';
export { MapFailure } from './arena-runs.js';
export type { SlabArenaHandle } from './arena-attach.js';
export type { SlabArenaOptions } from './arena-create.js';
/** @internal */
export { ownerIndex } from './owner-registry.js';

// The layout's numbers as this module's constants (const enum values are written in as
// literals): the hot paths read them as they always did.
const W_SHIFT = Ctl.SHIFT;
const W_NSLABS = Ctl.NSLABS;
const W_CTRL = Ctl.CTRL;
const W_CARVED = Ctl.CARVED;
const W_USED = Ctl.USED;
const W_BEGUN = Ctl.BEGUN;
const W_ENDED = Ctl.ENDED;
/** `release`'s owner for a public unmap: any worker's direct map (or an unregistered one). */
const ANY_DIRECT = -1;

/** Slab states besides k > 0 (a run's start) and -j (inside a run). */
const FREE = SlabState.FREE;
const UNCARVED = SlabState.UNCARVED;
const CLAIMING = SlabState.CLAIMING;

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
 * @category Arenas
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

  /** Control words 0..15 (indexes: arena-layout.ts's Ctl); moved by the runs, read by the walker. @internal */
  readonly ctl: Int32Array;
  /** The free hint (frees << 32 | lowest slab that may be free); moved by the runs, read by the walker. @internal */
  readonly hint: BigUint64Array;
  /** The owner registry's entries (owner-registry.ts); read by the invariant walker. @internal */
  readonly registry: Int32Array;
  /** The commit error of this object's last failed map, if that is why it failed. */
  private commitError: string | null = null;
  /** This worker's MAPS owner id, the owner of its direct maps; 0 until its first one. */
  private mapsOwner = 0;
  /**
   * The read views of this object, and the epochs every allocator over the arena tags its
   * held frees with (arena-views.ts). @internal
   */
  declare readonly views: ArenaViews;

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
    const a = attaching.take();
    const fresh = a === null;
    // Attached: verified by verifyHandle; fresh: made by createArena. Either way the geometry is
    // what the control words say.
    const { memory, quota } = a ?? createArena(opts);
    this.memory = memory;
    this.quota = quota;
    const words = new Int32Array(memory.buffer, 0, 16);
    this.slabShift = words[W_SHIFT]!;
    this.slabCount = words[W_NSLABS]!;
    this.ctrlSlabs = words[W_CTRL]!;
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
    this.views = new ArenaViews(buffer, this.registry, fresh);
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
    const arena = attaching.build(verifyHandle(where, handle), () => new SlabArena(undefined as unknown as SlabArenaOptions));
    const problem = inspectShared(arena, true) ?? inspectRegistry(arena.registry) ?? arena.views.inspect() ?? inspectWhenQuiet(arena);
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
    const wasm = this.memory.wasmMemory;
    return wasm === null ? { buffer, quota: this.quota.handle() } : { buffer, wasm, quota: this.quota.handle() };
  }

  /** Why this worker's last failed map of this arena failed. @internal */
  get failure(): MapFailure {
    return this.lastFailure;
  }

  /** Memory pressure's generation (see spare-block.ts): changes when some worker raised it. @internal */
  get pressure(): number {
    return Atomics.load(this.ctl, Ctl.PRESSURE);
  }

  /** Raises memory pressure for every worker; returns the new generation. @internal */
  raisePressure(): number {
    return Atomics.add(this.ctl, Ctl.PRESSURE, 1) + 1;
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
    const p = this.take(1, this.directOwner());
    if (p === 0) this.noMemory('SlabArena.map', this.slabSize, 1);
    return p;
  }

  /** A slab, or 0 when the quota or the address space says no. */
  tryMap(): number {
    return this.take(1, this.directOwner());
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
    const p = this.take(slabs, this.directOwner());
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
    return this.take(slabs, this.directOwner());
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
    this.release('SlabArena.unmap', slab, ANY_DIRECT);
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
   * invariant (slab states, run lengths, the quota's charge, the owner registry and the read
   * views' words agree). Meant for tests and quiet moments: with maps running in
   * other workers it may see a slab in flight.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const problem = inspectShared(this, false) ?? inspectRegistry(this.registry) ?? this.views.inspect() ?? inspectQuiet(this);
    if (problem !== null) throw new Error(`SlabArena.check: ${problem}`);
  }

  /**
   * A read view, in any worker that created or attached the arena: until it is closed, memory
   * freed through any allocator over this arena (SmallAlloc objects and large allocations,
   * Mempool objects; by any worker) keeps its bytes and is not handed out again. Freed memory
   * is reused once every view open at the moment of its free has closed. Views overlap freely;
   * `close()` is idempotent; `using view = arena.openReadView()` closes it at the block's end;
   * a view dropped without `close()` is closed when the garbage collector reclaims it, and the
   * views of a worker that exits are closed when its id is adopted (`SmallAlloc.adopt`).
   *
   * @throws {@link OutOfMemoryError} when every owner entry of the arena is taken (this object's
   *   first view registers one).
   */
  openReadView(): ReadView {
    return this.views.open();
  }

  /**
   * Bytes freed through the allocators over this arena, in every worker, and held back from
   * reuse now: for read views (the arena's and `SmallAlloc.openReadView`'s), and in debug mode
   * for the quarantine. A shared counter: an allocator adds a free's bytes when it holds it
   * back and subtracts them when it releases it (or when an adoption takes an exited worker's
   * held frees over). Each allocator's own share is its `stats().deferredBytes`.
   */
  get heldForViews(): number {
    return this.views.held;
  }

  /** Views of this object closed by the garbage collector (dropped without close()). */
  get viewsCollected(): number {
    return this.views.collected;
  }

  // ---- owner registry (used by SlabCache; owner-registry.ts) ----

  /**
   * Claims a registry entry for a `SlabCache` living in worker `threadId`; returns its full id.
   * Throws `OutOfMemoryError` when all `OWNERS` entries are taken. @internal
   */
  registerOwner(threadId: number): number {
    return registerOwner(this.registry, threadId);
  }

  /** Frees the registry entry of `id` if `id` is still its current id; a stale id changes nothing. @internal */
  releaseOwner(id: number): void {
    releaseOwner(this.registry, id);
  }

  /** The worker thread id registered for owner `id`, or -1 if `id` is not a live or adopted entry's current id. @internal */
  ownerThread(id: number): number {
    return ownerThread(this.registry, id);
  }

  /**
   * Takes the registry entries of worker `threadId` (and of adoptions it was making) for the
   * cache `adopter` to adopt, and returns their ids. @internal
   */
  claimOwners(threadId: number, adopter: number): number[] {
    return claimOwners(this.registry, threadId, adopter);
  }

  /** Frees the entry of `id` if it is still ADOPTING with adopter `adopter` (the adoption is done). @internal */
  finishOwner(id: number, adopter: number): void {
    finishOwner(this.registry, id, adopter);
  }

  /**
   * The kind of owner `id` (`OwnerKind`: a cache's, or a worker's direct maps) if it is a live
   * or adopted entry's current id, else -1. @internal
   */
  ownerKind(id: number): number {
    return ownerKind(this.registry, id);
  }

  /** Index of the first slab never carved. @internal */
  carvedEnd(): number {
    return Atomics.load(this.ctl, W_CARVED);
  }

  // ---- internals ----

  /**
   * The owner to record for a direct map: this worker's MAPS entry, found or registered at its
   * first map (one per worker and arena, whichever of its arena objects maps), so an adoption
   * of this worker's id finds the slabs. 0 (untracked, as an unregistered map) when the
   * registry is full.
   */
  private directOwner(): number {
    const id = this.mapsOwner;
    if (id !== 0 && ownerKind(this.registry, id) === OwnerKind.MAPS) return id;
    return this.findDirectOwner();
  }

  private findDirectOwner(): number {
    let id = findMapsOwner(this.registry, currentThreadId);
    if (id === 0) {
      try {
        id = registerOwner(this.registry, currentThreadId, OwnerKind.MAPS);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
        return 0;
      }
    }
    this.mapsOwner = id;
    return id;
  }

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
    // One level of parentheses at most: the request, then the slabs it needs.
    const run = slabs === 1 ? `1 slab of ${this.slabSize} bytes` : `${slabs} slabs of ${this.slabSize} bytes, ${bytes} bytes in all`;
    const what = requested !== bytes ? `${requested} byte${requested === 1 ? '' : 's'} (${run})` : slabs === 1 ? run : `${run},`;
    const one = (requested === bytes ? slabs : requested) === 1;
    const end = Atomics.load(this.ctl, W_CARVED);
    let free = 0;
    for (let i = this.ctrlSlabs; i < end; i++) if (this.slabInfo[i] === FREE) free++;
    const kept = free === 0 ? 'no slab is free in the arena'
      : `the ${free} free slab${free === 1 ? '' : 's'} of the arena hold${free === 1 ? 's' : ''} no ${slabs} adjacent`;
    if (why === MapFailure.Quota) {
      const q = this.quota;
      throw new QuotaExceededError(requested, q.total,
        `${where}: ${what} exceed${one ? 's' : ''} the quota: it has ${q.total - q.used} of ${q.total} bytes left, ${q.used} used, and ${kept}`);
    }
    if (this.commitError !== null) {
      throw new OutOfMemoryError(requested, `${where}: ${what} ${one ? 'is' : 'are'} reserved but could not be committed: ${this.commitError}`);
    }
    const data = this.slabCount - this.ctrlSlabs;
    throw new OutOfMemoryError(requested,
      `${where}: ${what} ${one ? 'does' : 'do'} not fit the arena's reserved maximum of ${this.maximum} bytes: ` +
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
      let s = claimFree(this, n);
      if (s < 0) s = carve(this, this.quota, n);
      if (s < 0) {
        this.lastFailure = -s as MapFailure;
        return 0;
      }
      // The slabs are CLAIMING (ours). A slab carved by another worker may lie past this
      // worker's committed view.
      const end = (s + n) * this.slabSize;
      if (end > this.memory.byteLength) {
        try {
          this.memory.grow(end);
        } catch (e) {
          // Carved and charged, but not committed now: keep them free, so a later map retries.
          putBack(this, s, n);
          this.lastFailure = MapFailure.Space;
          this.commitError = (e as Error).message;
          return 0;
        }
      }
      this.memory.sync();
      publish(this, s, n, owner);
      return s * this.slabSize;
    } finally {
      Atomics.add(ctl, W_ENDED, 1);
    }
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
    if (owner === ANY_DIRECT) {
      // A direct map may be unmapped by any worker: the one expected is whoever mapped it.
      if (held !== 0 && ownerKind(this.registry, held) !== OwnerKind.MAPS) this.wrongOwner(where, slab, held, 0);
      owner = held;
    }
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
      // Uncounted here, after the claim, as a map counts before it publishes (mapped <= used <=
      // mapped + claimed), and with no call between the claim and the count: a terminate lands
      // at a function's entry or a loop's back edge, and one landing in between would leave the
      // run claimed and counted for good (adoption after a killed adopter finds it used).
      Atomics.sub(ctl, W_USED, k);
      unpublish(this, idx, k);
    } finally {
      Atomics.add(ctl, W_ENDED, 1);
    }
  }

  private wrongOwner(where: string, slab: number, held: number, owner: number): never {
    throw new InvalidPointerError(slab, owner === 0
      ? (ownerKind(this.registry, held) === OwnerKind.CACHE
        ? `${where}: slab ${slab} is held by a SlabCache (owner ${held}); it goes back through that cache`
        : `${where}: slab ${slab} has owner ${held}, which is neither a SlabCache nor a worker's direct maps`)
      : `${where}: slab ${slab} belongs to ${held === 0 ? 'no SlabCache' : `owner ${held}`}, not to owner ${owner}`);
  }
}
