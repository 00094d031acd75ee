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
 * The quarantine (debug mode; AddressSanitizer's): the newest frees, at most `maxCount` of them
 * within `maxBytes` bytes, stay held once no view sees them, so a double free made after the
 * slot would have been reused is still caught. The front may be released when it is not seen
 * and outside that window: size > maxCount or bytes > maxBytes. With the quarantine off
 * (maxCount 0) the window is empty, and the rule is the read views' alone. Under memory
 * pressure the owner takes every entry not seen (`takeUnseen`), window or not.
 *
 * Invariants (`problem()` checks them): open == records not closed; the first record kept is
 * open (or none is kept); generations never decrease along the queue; bytes == the sum of the
 * entries' bytes.
 */

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
  private head = 0;
  private tail = 0;
  /** Sum of the sizes queued. */
  private bytes = 0;

  /**
   * Views with no quarantine, or with a quarantine of the latest `maxCount` frees within
   * `maxBytes` bytes (debug mode; either 0 turns it off).
   */
  constructor(maxCount = 0, maxBytes = 0) {
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

  /** Queues `ptr` of `bytes` bytes, freed now while frees are held back (`holding`). */
  defer(ptr: number, bytes: number): void {
    if (this.tail - this.head === this.ptrs.length) this.grow();
    const i = this.tail % this.ptrs.length;
    this.ptrs[i] = ptr;
    this.gens[i] = this.gen;
    this.sizes[i] = bytes;
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
      if (this.gens[i]! < oldest && (owns === undefined || owns(this.ptrs[i]!))) n++;
    }
    return n;
  }

  /** Every entry queued, as [pointer, bytes] pairs, oldest first (debug mode's poisoning). */
  entries(): [ptr: number, bytes: number][] {
    const out: [number, number][] = [];
    for (let k = this.head; k < this.tail; k++) out.push([this.ptrs[k % this.ptrs.length]!, this.sizes[k % this.sizes.length]!]);
    return out;
  }

  /** True when the queue has a front that no open view can see. */
  private unseen(): boolean {
    return this.head < this.tail && this.gens[this.head % this.gens.length]! < this.oldestOpen();
  }

  /** Takes the front of the queue (there is one). */
  private take(): number {
    const i = this.head % this.ptrs.length;
    this.head++;
    this.bytes -= this.sizes[i]!;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      this.bytes = 0;
    }
    return this.ptrs[i]!;
  }

  /** Closes every view and empties the queue (the allocator gave everything back). */
  reset(): void {
    for (let k = this.recordsHead; k < this.records.length; k++) this.records[k]!.closed = true;
    this.records = [];
    this.recordsHead = 0;
    this.openCount = 0;
    this.holding = this.maxCount !== 0;
    this.head = 0;
    this.tail = 0;
    this.bytes = 0;
  }

  /** The first broken invariant, described, or null. */
  problem(): string | null {
    let prev = -Infinity;
    let bytes = 0;
    for (let k = this.head; k < this.tail; k++) {
      const g = this.gens[k % this.gens.length]!;
      if (g < prev) return 'deferred generations decrease along the queue';
      prev = g;
      bytes += this.sizes[k % this.sizes.length]!;
    }
    if (bytes !== this.bytes) return `the deferred frees hold ${bytes} bytes, the count says ${this.bytes}`;
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
    for (let k = this.head; k < this.tail; k++) {
      ptrs[k - this.head] = this.ptrs[k % n]!;
      gens[k - this.head] = this.gens[k % n]!;
      sizes[k - this.head] = this.sizes[k % n]!;
    }
    this.tail -= this.head;
    this.head = 0;
    this.ptrs = ptrs;
    this.gens = gens;
    this.sizes = sizes;
  }
}
