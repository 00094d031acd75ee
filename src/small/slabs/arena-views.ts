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
 *  EPOCH   e, starts at 1; every free made while a view is open anywhere takes t = e++ (its tag)
 *  STATE   closes << 16 | open     open: workers with a view open now; closes: bumped when a
 *                                  worker's oldest view closes (mod 2^16), so owners rescan
 *  HELD    bytes held back by every allocator over the arena (a Uint32)
 *  HIGH    the highest owner entry registered for views
 *  SLOT[e] for owner entry e of kind VIEWS (one per SlabArena object that opened a view):
 *          the epoch of its oldest open view, 0 when it has none
 * ```
 * Protocol (all accesses sequentially consistent):
 * - open, first view of this object: STATE += 1; then repeat { e = EPOCH; SLOT = e } until
 *   EPOCH == e. A further view records e = EPOCH (its slot already holds an older epoch).
 * - close of the oldest: SLOT = epoch of the next oldest open, STATE += 1 << 16; of the last:
 *   SLOT = 0, then STATE += 0xffff (open - 1, closes + 1, in one add).
 * - free: if STATE & 0xffff == 0, the free proceeds (tag NO_EPOCH); else t = EPOCH++ and the
 *   slot is held back with tag t. A free from another worker is tagged when its owner takes
 *   it in (later, so conservatively).
 * - release of tag t: t < oldest, oldest = min(E0, { SLOT[e] != 0 }) with E0 = EPOCH read
 *   before the slots; or STATE & 0xffff == 0 (nothing is open at all).
 * Why it is safe: let view V hold e and free F take t, where V could read F's object (V looked
 * it up before F's writer unpublished it). If F read STATE & 0xffff == 0, V's STATE += 1 came
 * later, so V's lookups came after the unpublish: no such V. Else V's final EPOCH load (== e)
 * either precedes F's increment (then e <= t, and SLOT[V] = e was stored before, so a release
 * that reads E0 after the free and then the slots sees SLOT[V] <= e <= t while V is open: not
 * released), or follows it (e > t: V began after F, its lookups cannot find the object).
 * `oldest` is cached by each releasing object with the closes count it was computed under and
 * recomputed when that count changed: a view opened since gets e >= E0, and every tag taken
 * since is >= E0 >= oldest, so a stale value only delays.
 *
 * Epochs are compared modulo 2^32 (`before(a, b)`: (a - b) | 0 < 0), so a view must close
 * within 2^31 held frees; the slot value 0 is never stored for a view (epoch 0 is taken as -1,
 * one older: safe).
 *
 * Invariants (`inspectViews` verifies them): HIGH <= OWNERS; SLOT[e] == 0 for e > HIGH; a
 * nonzero slot belongs to a registered VIEWS entry; at a quiet moment, the nonzero slots are at
 * most STATE & 0xffff (a slot is set after the count is raised, cleared before it is lowered).
 *
 * A worker killed in the middle of opening its first view or closing its last may leave the
 * open count one too high: frees are then tagged and held, and released as the slots allow at
 * the next rescan (forced at `stats()` and under memory pressure).
 */
import { OutOfMemoryError } from '../../errors.js';
import { currentThreadId } from '../../internal/thread.js';
import { Vw } from './arena-layout.js';
import { entryLive, OWNERS, ownerIndex, ownerKind, OwnerKind, registerOwner } from './owner-registry.js';

/** The tag of a free made while no arena view was open: released as far as views go. @internal */
export const NO_EPOCH = 2 ** 32;

/** One open-count in STATE (low half) and one close (high half). */
const OPEN_MASK = 0xffff;
const ONE_CLOSE = 0x10000;

/** True when epoch `a` is older than epoch `b` (modulo 2^32). @internal */
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** A read view: while open, memory freed through the allocators it covers keeps its bytes. */
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
 * open. An anchor is registered once and then serves one view after another: when the last
 * open view closes, its anchor is kept for the next view opened. Registering each handle with
 * a FinalizationRegistry cost about 450 ns (a WeakRef 1.2 us, its deref 37 ns), 20 times the
 * shared-word updates of an open and a close; a view opened while another is open still gets
 * an anchor of its own.
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
  /** The STATE closes count `oldest` was computed under; -1: never. */
  private seenCloses = -1;
  /** Tags before it may be released (see the module comment). */
  private oldest = 0;
  /** Views of ours closed by the garbage collector. */
  collected = 0;
  /** The anchor the next view gets (see Anchor); held only while none of our views is open. */
  private spare: Anchor | null = null;

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
    let e: number;
    if (this.openCount === 0) {
      if (this.id === 0 || !entryLive(this.registry, this.slot - Vw.SLOTS + 1, this.id)) this.register();
      const w = this.w;
      Atomics.add(w, Vw.STATE, 1);
      for (;;) {
        const raw = Atomics.load(w, Vw.EPOCH);
        e = raw === 0 ? -1 : raw;
        Atomics.store(w, this.slot, e);
        if (Atomics.load(w, Vw.EPOCH) === raw) break;
      }
    } else {
      const raw = Atomics.load(this.w, Vw.EPOCH);
      e = raw === 0 ? -1 : raw;
    }
    const rec: ArenaViewRecord = { epoch: e, closed: false };
    this.records[this.end++] = rec;
    this.openCount++;
    let anchor = this.spare;
    if (anchor !== null) {
      this.spare = null;
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
    const w = this.w;
    if (this.openCount === 0) {
      // Every view closed: the anchor of the last one serves the next.
      if (anchor !== null) this.spare = anchor;
      this.head = 0;
      this.end = 0;
      Atomics.store(w, this.slot, 0);
      Atomics.add(w, Vw.STATE, OPEN_MASK);
      return;
    }
    const recs = this.records;
    const was = this.head;
    while (recs[this.head]!.closed) this.head++;
    if (this.head === was) return;
    // The oldest closed: publish the next oldest, and tell the owners to rescan.
    Atomics.store(w, this.slot, recs[this.head]!.epoch);
    Atomics.add(w, Vw.STATE, ONE_CLOSE);
    if (this.head > 64 && this.head * 2 > this.end) {
      this.records = recs.slice(this.head, this.end);
      this.end -= this.head;
      this.head = 0;
    }
  }

  /** True while a view is open in any worker. */
  anyOpen(): boolean {
    return (Atomics.load(this.w, Vw.STATE) & OPEN_MASK) !== 0;
  }

  /** The tag of a free made now: NO_EPOCH when no view is open anywhere, else EPOCH++. */
  tagFree(): number {
    const w = this.w;
    return (Atomics.load(w, Vw.STATE) & OPEN_MASK) === 0 ? NO_EPOCH : Atomics.add(w, Vw.EPOCH, 1);
  }

  /**
   * True when a free tagged `t` is seen by no open view. `rescan` recomputes the oldest epoch
   * even when no close was counted (stats, memory pressure).
   */
  released(t: number, rescan = false): boolean {
    if (t === NO_EPOCH) return true;
    const s = Atomics.load(this.w, Vw.STATE);
    if ((s & OPEN_MASK) === 0) return true;
    if (before(t, this.oldest) && this.seenCloses >= 0) return true;
    const closes = s >>> 16;
    if (closes === this.seenCloses && !rescan) return false;
    this.seenCloses = closes;
    this.oldest = this.scan();
    return before(t, this.oldest);
  }

  /** min(E0, every nonzero slot), E0 read first. */
  private scan(): number {
    const w = this.w;
    const raw = Atomics.load(w, Vw.EPOCH);
    let oldest = raw === 0 ? -1 : raw;
    const high = Math.min(Atomics.load(w, Vw.HIGH), OWNERS);
    for (let i = Vw.SLOTS, end = Vw.SLOTS + high; i < end; i++) {
      const v = Atomics.load(w, i);
      if (v !== 0 && before(v, oldest)) oldest = v;
    }
    return oldest;
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
    return Atomics.load(this.u, Vw.HELD);
  }

  /**
   * Owner entry `id` (kind VIEWS) belongs to a worker that exited: its slot is cleared and its
   * open views stop counting. Once per entry: the adopter holds it (ADOPTING) and exchanges
   * the slot. @internal
   */
  releaseDead(id: number): void {
    const e = ownerIndex(id);
    if (e === 0) return;
    if (Atomics.exchange(this.w, Vw.SLOTS + e - 1, 0) !== 0) Atomics.add(this.w, Vw.STATE, OPEN_MASK);
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
  inspect(quiet: boolean): string | null {
    const w = this.w;
    const high = Atomics.load(w, Vw.HIGH);
    if (high < 0 || high > OWNERS) return `the views' highest entry is ${high}, outside [0, ${OWNERS}]`;
    let set = 0;
    for (let e = 1; e <= OWNERS; e++) {
      const v = Atomics.load(w, Vw.SLOTS + e - 1);
      if (v === 0) continue;
      if (e > high) return `view slot ${e} holds epoch ${v} above the highest views entry ${high}`;
      // Read the slot again after the entry: an adoption clears the slot before it frees the entry.
      const kind = ownerKind(this.registry, Atomics.load(this.registry, 4 * (e - 1) + 2));
      if (kind !== OwnerKind.VIEWS && Atomics.load(w, Vw.SLOTS + e - 1) !== 0) {
        return `view slot ${e} holds epoch ${v} but owner entry ${e} is not a live views entry`;
      }
      set++;
    }
    const open = Atomics.load(w, Vw.STATE) & OPEN_MASK;
    if (quiet && set > open) return `${set} view slots are set, but the views' state counts ${open} workers with a view open`;
    return null;
  }
}
