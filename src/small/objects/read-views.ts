/**
 * Read views' bookkeeping (MVCC snapshots of a SmallAlloc): which views are open, and the queue
 * of frees held back while a view could still see them. A SmallAlloc and its pools share one;
 * they call its methods and never touch its fields. A standalone Mempool has one that never
 * opens.
 *
 * A view opened gets generation g = ++gen. A free made while any view is open joins the queue
 * (FIFO) tagged with the newest generation at that moment; an entry tagged t may be released
 * once every view with generation <= t is closed, i.e. once the oldest open view is newer
 * than t. Views may close in any order: records of closed views leave from the front only, so
 * the oldest open view is the first record not closed.
 *
 * Invariants (`problem()` checks them): open == records not closed; the first record kept is
 * open (or none is kept); generations never decrease along the queue.
 */

/** What the views keep of a view: never the view object, so a dropped view can be collected. */
export interface ViewRecord {
  /** Its generation. */
  readonly gen: number;
  /** Set once, when it closes. */
  closed: boolean;
}

/** The open views and the queue of frees held back for them. @internal */
export class ReadViews {
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
  private head = 0;
  private tail = 0;

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

  /** Opens a view: its record (the newest view; what was releasable before still is). */
  openView(): ViewRecord {
    this.gen++;
    this.openCount++;
    const rec: ViewRecord = { gen: this.gen, closed: false };
    this.records.push(rec);
    return rec;
  }

  /** Closes the view of `rec` (false if it was closed already). */
  closeView(rec: ViewRecord): boolean {
    if (rec.closed) return false;
    rec.closed = true;
    this.openCount--;
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

  /** Queues `ptr`, freed now while a view is open. */
  defer(ptr: number): void {
    if (this.tail - this.head === this.ptrs.length) this.grow();
    const i = this.tail % this.ptrs.length;
    this.ptrs[i] = ptr;
    this.gens[i] = this.gen;
    this.tail++;
  }

  /** True when the front of the queue may be released: no open view can see it. */
  releasable(): boolean {
    return this.head < this.tail && this.gens[this.head % this.gens.length]! < this.oldestOpen();
  }

  /** Takes the front of the queue if it may be released; 0 when none may. */
  takeReleasable(): number {
    if (!this.releasable()) return 0;
    const ptr = this.ptrs[this.head % this.ptrs.length]!;
    this.head++;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    }
    return ptr;
  }

  /** Closes every view and empties the queue (the allocator gave everything back). */
  reset(): void {
    for (let k = this.recordsHead; k < this.records.length; k++) this.records[k]!.closed = true;
    this.records = [];
    this.recordsHead = 0;
    this.openCount = 0;
    this.head = 0;
    this.tail = 0;
  }

  /** The first broken invariant, described, or null. */
  problem(): string | null {
    let prev = -Infinity;
    for (let k = this.head; k < this.tail; k++) {
      const g = this.gens[k % this.gens.length]!;
      if (g < prev) return 'deferred generations decrease along the queue';
      prev = g;
    }
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
    for (let k = this.head; k < this.tail; k++) {
      ptrs[k - this.head] = this.ptrs[k % n]!;
      gens[k - this.head] = this.gens[k % n]!;
    }
    this.tail -= this.head;
    this.head = 0;
    this.ptrs = ptrs;
    this.gens = gens;
  }
}
