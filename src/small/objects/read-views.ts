/**
 * Read views' bookkeeping: the clock a SmallAlloc and its pools share, and the queue of frees
 * held back while a view could still see them.
 */

/**
 * Read-view bookkeeping shared by a SmallAlloc and its pools: while `open > 0`, frees are
 * queued (FIFO, tagged with the newest view's generation) instead of made reusable. A
 * standalone Mempool has one that never opens. @internal
 */
export class ViewClock {
  /** Views open now. */
  open = 0;
  /** Generation (id) of the newest view opened; views get 1, 2, 3, ... */
  gen = 0;
  /** Ring buffer of deferred pointers and the generation each was freed under. */
  ptrs = new Float64Array(64);
  gens = new Float64Array(64);
  head = 0;
  tail = 0;

  /** Entries waiting. */
  get size(): number {
    return this.tail - this.head;
  }

  /** Queues `ptr`, freed now. */
  push(ptr: number): void {
    if (this.tail - this.head === this.ptrs.length) this.grow();
    const i = this.tail % this.ptrs.length;
    this.ptrs[i] = ptr;
    this.gens[i] = this.gen;
    this.tail++;
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

