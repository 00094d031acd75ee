/**
 * Read views any worker can open over a SlabArena (`arena.openReadView()`): while a view is
 * open, memory freed through any allocator over the arena, by any worker, keeps its bytes and
 * is not handed out again until every view open at the moment of the free has closed.
 * Epoch-based reclamation (as crossbeam-epoch and userspace RCU) over a few shared words.
 *
 * Memory source: the words at `VIEWS_BYTE` of the arena's control state (arena-layout.ts's
 * `Vw`), and per `SlabArena` object a short list of its open views on the JS heap.
 *
 * Thread-safety: any worker that created or attached the arena opens and closes its own views;
 * any allocator's owner tags and releases its frees; all through `Atomics` on the words below.
 * A view handle belongs to the worker that opened it.
 *
 * Failure: `open` throws `OutOfMemoryError` when all owner entries are taken (nothing changed);
 * `close` is idempotent and never throws.
 *
 * Words (Int32; `Vw` gives their indexes):
 * ```
 *  EPOCH   E, starts at 1; a batch of frees checked while a view is open takes t = E++ (its tag)
 *  HELD    bytes held back by every allocator over the arena (a Uint32)
 *  HIGH    the highest owner entry registered for views (slots above it are 0)
 *  SLOT[e] for owner entry e of kind VIEWS (one per SlabArena object that opened a view):
 *          the epoch of its oldest open view, 0 when it has none
 * ```
 * Protocol (every access to these words sequentially consistent):
 * - open, the first view of this object: e = EPOCH; SLOT = e. A further view records
 *   e = EPOCH (its slot already holds an older epoch). Close of the oldest view: SLOT = the
 *   epoch of the next oldest, or 0 for the last. Open + close: one load and two stores.
 * - free: costs nothing here. An allocator checks its frees in batches (Mempool's *retired*
 *   slots, remote frees taken in, large allocations): for each batch, `tag()` reads every slot
 *   up to HIGH; all 0 gives NO_EPOCH (the batch is free at once), else t = EPOCH++ and the
 *   batch is held back with tag t.
 * - release of tag t: t < oldest, with oldest = min(E0, { SLOT[e] != 0 }) and E0 = EPOCH read
 *   before the slots.
 * What a reader must do: read the pointers it follows with `Atomics.load` after it opens the
 * view; what a writer must do: unpublish a pointer with an `Atomics` write before it frees it.
 * Why it is then safe: let view V store e at instant T_V, and a batch holding free F (made
 * after F's object was unpublished at T_u) read the slots from T_s on. If V's store is after
 * T_s, V's lookups are after T_u (T_u < free < T_s < T_V): V cannot find the object. Else the
 * scan reads e (while V is open): the batch is held with t, and e <= t unless V's load of
 * EPOCH came after the add that took t, which is after T_u (again V cannot find it). A
 * release reads E0 and then the slots after t was taken: E0 > t, and V's slot reads e <= t
 * while V is open, so oldest <= t: not released. A later view of the same object publishes
 * its own epoch when it becomes the oldest; that epoch was read after every tag below it.
 *
 * Epochs are compared modulo 2^32 (`before(a, b)`: (a - b) | 0 < 0), so a view must close
 * within 2^31 held batches; the slot value 0 is never stored for a view (epoch 0 is taken as
 * -1, one older: safe).
 *
 * Invariants (`inspectViews` verifies them): HIGH <= OWNERS; SLOT[e] == 0 for e > HIGH; a
 * nonzero slot belongs to a registered VIEWS entry.
 *
 * A worker killed with a view open leaves its slot set: frees are then held, until its id is
 * adopted (`releaseDead` clears the slot).
 */
import { OutOfMemoryError } from '../../errors.js';
import { currentThreadId } from '../../internal/thread.js';
import { Vw } from './arena-layout.js';
import { OWNERS, ownerIndex, ownerKind, OwnerKind, registerOwner } from './owner-registry.js';

/** The tag of a free made while no arena view was open: released as far as views go. @internal */
export const NO_EPOCH = 2 ** 32;

/** True when epoch `a` is older than epoch `b` (modulo 2^32). @internal */
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * A read view: while open, memory freed through the allocators it covers keeps its bytes.
 * @category The small family
 */
export interface ReadView {
  /** Ends the view; idempotent. */
  close(): void;
  /** Same as close(), for `using view = arena.openReadView()`. */
  [Symbol.dispose](): void;
}

/** What the arena keeps of one of its views: never the handle, so a dropped one is collected. */
interface ArenaViewRecord {
  /** The epoch it opened at. */
  readonly epoch: number;
  /** Set once, when it closes. */
  closed: boolean;
}

/** What the finalizer of an anchor needs: the views, and the view the anchor serves now. */
interface Cell {
  readonly views: ArenaViews;
  rec: ArenaViewRecord;
}

/**
 * What the garbage collector watches for a view dropped without close(): the handle of an open
 * view holds its anchor, and nothing else does (the handle lets go of it at close()), so the
 * anchor is reclaimed once the handle is, and its finalizer closes the view if it is still
 * open. An anchor is registered once and then serves one view after another: a closed view's
 * anchor is kept (up to SPARE_ANCHORS) for the next views opened. Registering each handle with
 * a FinalizationRegistry cost about 450 ns (a WeakRef 1.2 us, its deref 37 ns), 20 times the
 * shared-word updates of an open and a close.
 */
class Anchor {
  constructor(readonly cell: Cell) {}
}

class ArenaReadView implements ReadView {
  private anchor: Anchor | null;

  constructor(private readonly views: ArenaViews, private readonly rec: ArenaViewRecord, anchor: Anchor) {
    this.anchor = anchor;
  }

  close(): void {
    const anchor = this.anchor;
    this.anchor = null;
    this.views.close(this.rec, false, anchor);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Anchors of closed views kept for reuse by one SlabArena object. */
const SPARE_ANCHORS = 16;

/** Closes a view the program dropped without close(), when the collector reclaims its anchor. */
const reaper = new FinalizationRegistry<Cell>((cell) => {
  if (!cell.rec.closed) cell.views.close(cell.rec, true, null);
});

/**
 * One SlabArena object's side of the arena's read views: the views it opened (their slot), and
 * the tagging and release test every allocator over it uses for its held frees. @internal
 */
export class ArenaViews {
  /** The whole buffer as Int32 words (`Vw` indexes into it). */
  private readonly w: Int32Array;
  /** The same, as Uint32 (HELD). */
  private readonly u: Uint32Array;
  private readonly registry: Int32Array;
  /** Our VIEWS owner id, 0 until the first view. */
  private id = 0;
  /** Word index of our slot (0 until the first view). */
  private slot = 0;
  /** Our open views in the order they opened (epochs never decrease); closed ones leave from the front. */
  private records: ArenaViewRecord[] = [];
  /** Records in use: [head, end) of `records` (the array is reused, not cleared: clearing cost a runtime call). */
  private end = 0;
  private head = 0;
  /** Our views open now. */
  private openCount = 0;
  /**
   * Tags before it may be released, as of the last scan (see the module comment): a view
   * opened since holds an epoch at least E0, and a slot only grows or clears, so an old value
   * only delays a release.
   */
  private oldest = 0;
  /** Views of ours closed by the garbage collector. */
  collected = 0;
  /** Anchors of closed views, for the next views to open (see Anchor); a few at most. */
  private spares: Anchor[] = [];

  /** Over the arena's buffer (`Vw` words) and its owner registry. */
  constructor(buffer: ArrayBufferLike, registry: Int32Array, fresh: boolean) {
    this.w = new Int32Array(buffer, 0, Vw.SLOTS + OWNERS);
    this.u = new Uint32Array(buffer, 0, Vw.SLOTS + OWNERS);
    this.registry = registry;
    // Written before the handle exists: no other worker sees the state yet.
    if (fresh) this.w[Vw.EPOCH] = 1;
  }

  /** Opens a view in this worker (see the module comment). */
  open(): ReadView {
    const w = this.w;
    const raw = Atomics.load(w, Vw.EPOCH);
    // Epoch 0 is taken as -1 (one older: safe), since a slot of 0 means no view.
    const e = raw === 0 ? -1 : raw;
    if (this.openCount === 0) {
      // Our entry is still ours unless an adoption took it (an `adopt` of this live worker's id,
      // a mistake): its id word then changes when the entry is registered again. A plain read:
      // one that is late only notices that later, and an atomic load costs a third of the open.
      if (this.id === 0 || this.registry[4 * (this.slot - Vw.SLOTS) + 2] !== this.id) this.register();
      Atomics.store(w, this.slot, e);
    }
    const rec: ArenaViewRecord = { epoch: e, closed: false };
    this.records[this.end++] = rec;
    this.openCount++;
    let anchor = this.spares.pop();
    if (anchor !== undefined) {
      anchor.cell.rec = rec;
    } else {
      const cell: Cell = { views: this, rec };
      anchor = new Anchor(cell);
      reaper.register(anchor, cell);
    }
    return new ArenaReadView(this, rec, anchor);
  }

  /**
   * Closes view `rec` (nothing if closed); `collected` when the garbage collector found it
   * dropped; `anchor` its handle's anchor (null once let go of). @internal
   */
  close(rec: ArenaViewRecord, collected: boolean, anchor: Anchor | null): void {
    if (rec.closed) return;
    rec.closed = true;
    if (collected) this.collected++;
    this.openCount--;
    // The handle let go of its anchor: it serves a view opened later.
    if (anchor !== null && this.spares.length < SPARE_ANCHORS) this.spares.push(anchor);
    if (this.openCount === 0) {
      this.head = 0;
      this.end = 0;
      Atomics.store(this.w, this.slot, 0);
      return;
    }
    const recs = this.records;
    const was = this.head;
    while (recs[this.head]!.closed) this.head++;
    if (this.head === was) return;
    // The oldest closed: publish the next oldest.
    Atomics.store(this.w, this.slot, recs[this.head]!.epoch);
    if (this.head > 64 && this.head * 2 > this.end) {
      this.records = recs.slice(this.head, this.end);
      this.end -= this.head;
      this.head = 0;
    }
  }

  /** True while a view is open in any worker (reads every slot). */
  anyOpen(): boolean {
    const w = this.w;
    for (let i = Vw.SLOTS, end = Vw.SLOTS + this.high(); i < end; i++) if (Atomics.load(w, i) !== 0) return true;
    return false;
  }

  /**
   * The tag of a batch of frees checked now (each made before this call): NO_EPOCH when no view
   * is open anywhere, else EPOCH++. Reads every slot up to HIGH.
   */
  tag(): number {
    return this.anyOpen() ? Atomics.add(this.w, Vw.EPOCH, 1) : NO_EPOCH;
  }

  /**
   * True when a batch tagged `t` is seen by no open view: against the oldest epoch of the last
   * scan first, then of a new scan.
   */
  released(t: number): boolean {
    if (t === NO_EPOCH || before(t, this.oldest)) return true;
    this.oldest = this.scan();
    return before(t, this.oldest);
  }

  /** min(E0, every nonzero slot), E0 read first. */
  private scan(): number {
    const w = this.w;
    const raw = Atomics.load(w, Vw.EPOCH);
    let oldest = raw === 0 ? -1 : raw;
    for (let i = Vw.SLOTS, end = Vw.SLOTS + this.high(); i < end; i++) {
      const v = Atomics.load(w, i);
      if (v !== 0 && before(v, oldest)) oldest = v;
    }
    return oldest;
  }

  /** HIGH, bounded by the registry's size (a corrupt word cannot send a scan past the slots). */
  private high(): number {
    const h = Atomics.load(this.w, Vw.HIGH);
    return h > 0 && h <= OWNERS ? h : h > OWNERS ? OWNERS : 0;
  }

  /** `bytes` more are held back by an allocator over the arena. */
  hold(bytes: number): void {
    Atomics.add(this.u, Vw.HELD, bytes);
  }

  /** `bytes` fewer are held back. */
  unhold(bytes: number): void {
    if (bytes !== 0) Atomics.sub(this.u, Vw.HELD, bytes);
  }

  /** Bytes held back by every allocator over the arena, in every worker. */
  get held(): number {
    // Signed, and never below 0: a worker killed between a batch and its count may leave the
    // word short, and the adopter then takes off what it found.
    return Math.max(0, Atomics.load(this.w, Vw.HELD));
  }

  /**
   * Owner entry `id` (kind VIEWS) belongs to a worker that exited: its slot is cleared and its
   * open views stop counting. Once per entry: the adopter holds it (ADOPTING) and exchanges
   * the slot. @internal
   */
  releaseDead(id: number): void {
    const e = ownerIndex(id);
    if (e === 0) return;
    Atomics.store(this.w, Vw.SLOTS + e - 1, 0);
  }

  /** Registers our VIEWS entry and raises HIGH over it, before our slot is ever written. */
  private register(): void {
    let id: number;
    try {
      id = registerOwner(this.registry, currentThreadId, OwnerKind.VIEWS);
    } catch (e) {
      if (e instanceof OutOfMemoryError) {
        throw new OutOfMemoryError(0, `SlabArena.openReadView: all ${OWNERS} owner entries are in use, none is left for this worker's views`);
      }
      throw e;
    }
    const e = ownerIndex(id);
    for (let h = Atomics.load(this.w, Vw.HIGH); h < e; h = Atomics.load(this.w, Vw.HIGH)) {
      if (Atomics.compareExchange(this.w, Vw.HIGH, h, e) === h) break;
    }
    this.id = id;
    this.slot = Vw.SLOTS + e - 1;
  }

  /**
   * The views' part of the arena's invariant walk: what holds at every instant, and with
   * `quiet`, the open count against the slots. The first problem, or null. @internal
   */
  inspect(): string | null {
    const w = this.w;
    const high = Atomics.load(w, Vw.HIGH);
    if (high < 0 || high > OWNERS) return `the views' highest entry is ${high}, outside [0, ${OWNERS}]`;
    for (let e = 1; e <= OWNERS; e++) {
      const v = Atomics.load(w, Vw.SLOTS + e - 1);
      if (v === 0) continue;
      if (e > high) return `view slot ${e} holds epoch ${v} above the highest views entry ${high}`;
      // Read the slot again after the entry: an adoption clears the slot before it frees the entry.
      const kind = ownerKind(this.registry, Atomics.load(this.registry, 4 * (e - 1) + 2));
      if (kind !== OwnerKind.VIEWS && Atomics.load(w, Vw.SLOTS + e - 1) !== 0) {
        return `view slot ${e} holds epoch ${v} but owner entry ${e} is not a live views entry`;
      }
    }
    return null;
  }
}
