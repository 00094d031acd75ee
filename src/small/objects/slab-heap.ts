/**
 * A pool's min-heap of slabs by address: the slabs that may have room, lowest first, so that
 * allocation takes the lowest-address slab with room and memory stays compact. Each slab's
 * index in the heap lives in its header word Word.HEAPIDX (Mark.NONE out of the heap), so a slab is
 * removed in O(log n) wherever it sits.
 *
 * The heap is called and calls nothing: push and remove return the new top, and the pool
 * makes that its current slab.
 *
 * Invariants (`problem()` checks them): heap[i] >= heap[(i - 1) >> 1]; the header of heap[i]
 * says i.
 */
import { Word, Mark } from './block-header.js';

/** Slab addresses, lowest on top; `u32` is the pool's current view of the memory. @internal */
export class SlabHeap {
  private items: number[] = [];

  /** Slabs in the heap. */
  get size(): number {
    return this.items.length;
  }

  /** The lowest slab, or 0 when the heap is empty. */
  get top(): number {
    return this.items.length > 0 ? this.items[0]! : 0;
  }

  /** The slab at index `i`. */
  at(i: number): number | undefined {
    return this.items[i];
  }

  /** Adds slab `s`; returns the new top. */
  push(u32: Uint32Array, s: number): number {
    const i = this.items.length;
    this.items.push(s);
    this.siftUp(u32, i);
    return this.items[0]!;
  }

  /** Removes the slab at index `i` (its header's Word.HEAPIDX); returns the new top, or 0. */
  remove(u32: Uint32Array, i: number): number {
    const heap = this.items;
    const gone = heap[i]!;
    u32[(gone >>> 2) + Word.HEAPIDX] = Mark.NONE;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      u32[(last >>> 2) + Word.HEAPIDX] = i;
      this.siftDown(u32, i);
      this.siftUp(u32, u32[(last >>> 2) + Word.HEAPIDX]!);
    }
    return this.top;
  }

  /** Empties the heap (the pool gave its slabs back). */
  clear(): void {
    this.items = [];
  }

  /** The first broken invariant, described, or null. */
  problem(u32: Uint32Array): string | null {
    const heap = this.items;
    for (let i = 0; i < heap.length; i++) {
      const s = heap[i]!;
      if (u32[(s >>> 2) + Word.HEAPIDX] !== i) return `heap entry ${i} (${s}) says index ${u32[(s >>> 2) + Word.HEAPIDX]}`;
      if (i > 0 && heap[(i - 1) >> 1]! > s) return `heap order broken at ${i}`;
    }
    return null;
  }

  private siftUp(u32: Uint32Array, i: number): void {
    const heap = this.items;
    const x = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = heap[p]!;
      if (y <= x) break;
      heap[i] = y;
      u32[(y >>> 2) + Word.HEAPIDX] = i;
      i = p;
    }
    heap[i] = x;
    u32[(x >>> 2) + Word.HEAPIDX] = i;
  }

  private siftDown(u32: Uint32Array, i: number): void {
    const heap = this.items;
    const n = heap.length;
    const x = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]! < heap[c]!) c++;
      const y = heap[c]!;
      if (y >= x) break;
      heap[i] = y;
      u32[(y >>> 2) + Word.HEAPIDX] = i;
      i = c;
    }
    heap[i] = x;
    u32[(x >>> 2) + Word.HEAPIDX] = i;
  }
}
