/**
 * The queue of frees held back from reuse, and why: read views (MVCC snapshots of a
 * SmallAlloc) that could still see them, and debug mode's quarantine. A SmallAlloc and its
 * pools share one; they call its methods and never touch its fields. A standalone Mempool has
 * one whose views never open (it holds frees back only for its quarantine).
 *
 * A view opened gets generation g = ++gen. A free made while frees are held back (`holding`:
 * a view is open or the quarantine is on) joins the queue (FIFO) tagged with the newest
 * generation at that moment and its bytes; an entry tagged t is *seen* while a view with
 * generation <= t is open, i.e. until the oldest open view is newer than t. Views may close
 * in any order: records of closed views leave from the front only, so the oldest open view is
 * the first record not closed.
 *
 * The arena's read views (arena-views.ts, any worker's): a batch of frees checked while one is
 * open anywhere is held too, and each entry also carries the arena epoch the batch took (its
 * *arena tag*; NO_EPOCH when no arena view was open). An entry is seen while a local view sees
 * it or its arena tag is not yet released (`ArenaViews.released`). Arena tags never decrease
 * along the queue either, so the front is always the first to be released. The bytes queued
 * are counted in the arena's shared HELD word (`arena.heldForViews`), brought up to date at
 * the end of each batch (`syncHeld`).
 *
 * The quarantine (debug mode; AddressSanitizer's): the newest frees, at most `maxCount` of them
 * within `maxBytes` bytes, stay held once no view sees them, so a double free made after the
 * slot would have been reused is still caught. The front may be released when it is not seen
 * and outside that window: size > maxCount or bytes > maxBytes. With the quarantine off
 * (maxCount 0) the window is empty, and the rule is the read views' alone. Under memory
 * pressure the owner takes every entry not seen (`takeUnseen`), window or not.
 *
 * Invariants (`problem()` checks them): open == records not closed; the first record kept is
 * open (or none is kept); generations and arena tags never decrease along the queue; bytes ==
 * the sum of the entries' bytes; tagged == the entries with an arena tag.
 */
import { before, NO_EPOCH, type ArenaViews } from '../slabs/arena-views.js';

/** What `holdTag` returns when a free need not be held back at all. @internal */
export const FREE_NOW = -(2 ** 32);

/** What the views keep of a view: never the view object, so a dropped view can be collected. */
export interface ViewRecord {
  /** Its generation. */
  readonly gen: number;
  /** Set once, when it closes. */
  closed: boolean;
}

/** The open views, the quarantine, and the queue of frees held back for them. @internal */
export class ReadViews {
  /** The quarantine's bound in entries; 0: no quarantine. */
  private readonly maxCount: number;
  /** The quarantine's bound in bytes (0 with maxCount 0). */
  private readonly maxBytes: number;
  /** True while frees must be held back: a view is open, or the quarantine is on. */
  holding: boolean;
  /** Views open now. */
  private openCount = 0;
  /** Generation of the newest view opened; views get 1, 2, 3, ... */
  private gen = 0;
  /** Records in the order the views were opened; closed ones leave from the front. */
  private records: ViewRecord[] = [];
  private recordsHead = 0;
  /** Ring buffer of deferred pointers and the generation each was freed under. */
  private ptrs = new Float64Array(64);
  private gens = new Float64Array(64);
  /** The bytes of each deferred free. */
  private sizes = new Float64Array(64);
  /** The arena tag of each deferred free (NO_EPOCH: none). */
  private tags = new Float64Array(64);
  /** Entries queued with an arena tag. */
  private tagged = 0;
  private head = 0;
  private tail = 0;
  /** Sum of the sizes queued. */
  private bytes = 0;
  /** What of `bytes` the arena's shared HELD word counts (see syncHeld). */
  private shared = 0;

  /**
   * Views with no quarantine, or with a quarantine of the latest `maxCount` frees within
   * `maxBytes` bytes (debug mode; either 0 turns it off); `arena` is the arena's read views,
   * whose epochs tag the frees held while one is open anywhere.
   */
  constructor(private readonly arena: ArenaViews, maxCount = 0, maxBytes = 0) {
    const on = maxCount > 0 && maxBytes > 0;
    this.maxCount = on ? maxCount : 0;
    this.maxBytes = on ? maxBytes : 0;
    this.holding = on;
  }

  /** True while any view is open: frees must be deferred. */
  get anyOpen(): boolean {
    return this.openCount !== 0;
  }

  /** Views open now. */
  get open(): number {
    return this.openCount;
  }

  /** Deferred frees waiting. */
  get size(): number {
    return this.tail - this.head;
  }

  /** Bytes of the deferred frees waiting. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Deferred frees waiting with an arena tag (an arena view was open at their free). */
  get arenaHeld(): number {
    return this.tagged;
  }

  /**
   * How a free made now must go: FREE_NOW when nothing holds frees back (no view open here or
   * in any worker, no quarantine), else the tag to `defer` it with (an arena epoch, or NO_EPOCH
   * when only this allocator's views or its quarantine hold it), for a batch of frees made
   * before the call. Reads the arena's view slots: a batch's check, never a single free's.
   */
  holdTag(): number {
    const t = this.arena.tag();
    return t === NO_EPOCH && !this.holding ? FREE_NOW : t;
  }

  /**
   * True when frees wait on the arena's views and the front may be released now: the owner
   * asks before it takes new memory, and in stats(); a hosted pool hands the release to its
   * SmallAlloc. A field test when nothing waits, else at most one scan of the view slots.
   */
  arenaDue(): boolean {
    return this.tagged !== 0 && this.releasable();
  }

  /**
   * Brings the arena's shared count of held bytes up to date with this queue: one atomic add
   * per batch of defers or releases, not one per entry. Whoever defers or takes calls it when
   * its batch is done.
   */
  syncHeld(): void {
    const d = this.bytes - this.shared;
    if (d === 0) return;
    if (d > 0) this.arena.hold(d);
    else this.arena.unhold(-d);
    this.shared = this.bytes;
  }

  /** True when debug mode's quarantine holds frees back. */
  get quarantining(): boolean {
    return this.maxCount !== 0;
  }

  /** Opens a view: its record (the newest view; what was releasable before still is). */
  openView(): ViewRecord {
    this.gen++;
    this.openCount++;
    this.holding = true;
    const rec: ViewRecord = { gen: this.gen, closed: false };
    this.records.push(rec);
    return rec;
  }

  /** Closes the view of `rec` (false if it was closed already). */
  closeView(rec: ViewRecord): boolean {
    if (rec.closed) return false;
    rec.closed = true;
    this.openCount--;
    this.holding = this.openCount !== 0 || this.maxCount !== 0;
    const recs = this.records;
    while (this.recordsHead < recs.length && recs[this.recordsHead]!.closed) this.recordsHead++;
    if (this.recordsHead === recs.length) {
      this.records = [];
      this.recordsHead = 0;
    } else if (this.recordsHead > 64 && this.recordsHead * 2 > recs.length) {
      this.records = recs.slice(this.recordsHead);
      this.recordsHead = 0;
    }
    return true;
  }

  /** Queues `ptr` of `bytes` bytes, freed now with `tag` from `holdTag` (not FREE_NOW). */
  defer(ptr: number, bytes: number, tag: number): void {
    if (this.tail - this.head === this.ptrs.length) this.grow();
    const i = this.tail % this.ptrs.length;
    this.ptrs[i] = ptr;
    this.gens[i] = this.gen;
    this.sizes[i] = bytes;
    this.tags[i] = tag;
    if (tag !== NO_EPOCH) this.tagged++;
    this.bytes += bytes;
    this.tail++;
  }

  /**
   * True when the front of the queue may be released: no open view can see it, and it is
   * outside the quarantine's window.
   */
  releasable(): boolean {
    return this.unseen() && (this.tail - this.head > this.maxCount || this.bytes > this.maxBytes);
  }

  /** Takes the front of the queue if it may be released; 0 when none may. */
  takeReleasable(): number {
    return this.releasable() ? this.take() : 0;
  }

  /**
   * Takes the front of the queue if no open view can see it, in the quarantine's window or
   * not (memory is short); 0 when a view sees it or the queue is empty.
   */
  takeUnseen(): number {
    return this.unseen() ? this.take() : 0;
  }

  /**
   * Entries held by the quarantine alone: in its window and seen by no open view. `owns`, when
   * given, counts only the pointers it accepts (a pool's own, for its stats).
   */
  quarantined(owns?: (ptr: number) => boolean): number {
    if (this.maxCount === 0) return 0;
    const oldest = this.oldestOpen();
    let n = 0;
    let bytes = 0;
    // The window is the newest entries, so walk from the back; those a view sees are newest.
    for (let k = this.tail - 1; k >= this.head; k--) {
      const i = k % this.ptrs.length;
      bytes += this.sizes[i]!;
      if (this.tail - k > this.maxCount || bytes > this.maxBytes) break;
      if (this.gens[i]! < oldest && this.tags[i] === NO_EPOCH && (owns === undefined || owns(this.ptrs[i]!))) n++;
    }
    return n;
  }

  /**
   * Every entry queued that no arena view held back, as [pointer, bytes] pairs, oldest first
   * (debug mode's poisoning: a reader in another worker may still read the others).
   */
  entries(): [ptr: number, bytes: number][] {
    const out: [number, number][] = [];
    for (let k = this.head; k < this.tail; k++) {
      if (this.tags[k % this.tags.length] === NO_EPOCH) out.push([this.ptrs[k % this.ptrs.length]!, this.sizes[k % this.sizes.length]!]);
    }
    return out;
  }

  /** True when the queue has a front that no open view, here or in any worker, can see. */
  private unseen(): boolean {
    if (this.head === this.tail) return false;
    const i = this.head % this.gens.length;
    return this.gens[i]! < this.oldestOpen() && this.arena.released(this.tags[i]!);
  }

  /** Takes the front of the queue (there is one). */
  private take(): number {
    const i = this.head % this.ptrs.length;
    this.head++;
    this.bytes -= this.sizes[i]!;
    if (this.tags[i] !== NO_EPOCH) this.tagged--;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      this.bytes = 0;
    }
    return this.ptrs[i]!;
  }

  /** Closes every view and empties the queue (the allocator gave everything back). */
  reset(): void {
    this.tagged = 0;
    for (let k = this.recordsHead; k < this.records.length; k++) this.records[k]!.closed = true;
    this.records = [];
    this.recordsHead = 0;
    this.openCount = 0;
    this.holding = this.maxCount !== 0;
    this.head = 0;
    this.tail = 0;
    this.bytes = 0;
    this.syncHeld();
  }

  /** The first broken invariant, described, or null. */
  problem(): string | null {
    let prev = -Infinity;
    let prevTag = NO_EPOCH;
    let bytes = 0;
    let tagged = 0;
    for (let k = this.head; k < this.tail; k++) {
      const g = this.gens[k % this.gens.length]!;
      if (g < prev) return 'deferred generations decrease along the queue';
      prev = g;
      const t = this.tags[k % this.tags.length]!;
      if (t !== NO_EPOCH) {
        if (prevTag !== NO_EPOCH && before(t, prevTag)) return `arena tags decrease along the queue (${t} after ${prevTag})`;
        prevTag = t;
        tagged++;
      }
      bytes += this.sizes[k % this.sizes.length]!;
    }
    if (bytes !== this.bytes) return `the deferred frees hold ${bytes} bytes, the count says ${this.bytes}`;
    if (tagged !== this.tagged) return `${tagged} deferred frees have an arena tag, the count says ${this.tagged}`;
    if (this.holding !== (this.openCount !== 0 || this.maxCount !== 0)) return 'frees are held back, or not, against the views and the quarantine';
    let open = 0;
    for (let k = this.recordsHead; k < this.records.length; k++) if (!this.records[k]!.closed) open++;
    if (open !== this.openCount) return `${open} views are open, the count says ${this.openCount}`;
    if (this.recordsHead < this.records.length && this.records[this.recordsHead]!.closed) return 'the oldest view kept is closed';
    return null;
  }

  /** Generation of the oldest open view, or Infinity when none is open. */
  private oldestOpen(): number {
    return this.recordsHead < this.records.length ? this.records[this.recordsHead]!.gen : Infinity;
  }

  private grow(): void {
    const n = this.ptrs.length;
    const ptrs = new Float64Array(n * 2);
    const gens = new Float64Array(n * 2);
    const sizes = new Float64Array(n * 2);
    const tags = new Float64Array(n * 2);
    for (let k = this.head; k < this.tail; k++) {
      ptrs[k - this.head] = this.ptrs[k % n]!;
      gens[k - this.head] = this.gens[k % n]!;
      sizes[k - this.head] = this.sizes[k % n]!;
      tags[k - this.head] = this.tags[k % n]!;
    }
    this.tail -= this.head;
    this.head = 0;
    this.ptrs = ptrs;
    this.gens = gens;
    this.sizes = sizes;
    this.tags = tags;
  }
}
