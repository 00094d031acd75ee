/**
 * The spare block: the one empty block the Mempools of a SlabCache keep between them, and the
 * retry every allocator over the cache makes with it before an allocation fails.
 *
 * Memory source: none of its own; the block is a mempool slab some pool holds, in its heap.
 *
 * Why one, shared: a pool whose last object goes keeps the block (as Tarantool's mempool keeps
 * a spare slab), so an alloc/free pair at the edge of a slab does not send it to the cache and
 * back each time; but one spare per pool let the empty pools of a size-class allocator hold the
 * whole quota. So the pools of one cache share a single slot, and any other block that empties
 * goes back to the cache at once.
 *
 * Layering: the cache knows nothing of it. The allocators over the cache get blocks through
 * {@link tryGetSlab} (pools: the spare goes back only when the cache has no memory at all),
 * {@link tryGetBlock} (Region, Ibuf, Obuf) and {@link tryGetPages} (large allocations), which
 * ask the slot's holder, a sibling, to give the spare back when the cache holds no free block
 * for the request, before the cache maps new memory: memory already held is used first, so
 * the arena's slabs stay low and together and emptied memory forms the longest runs it can (a
 * buffer that doubles needs them). A direct `SlabCache.get` does not reach it.
 *
 * Thread-safety: one worker's, as its cache is.
 *
 * Invariant: `holder === null` iff `block === 0`; the block is one of the holder's slabs. It may
 * have been allocated from since it was filed: the holder checks it is still empty.
 */
import type { SlabCache } from './slabs/slab-cache.js';

/** A pool that can keep the spare block: gives it back if it is still empty. @internal */
export interface SpareHolder {
  /** Clears the slot; returns true if the block was still empty and went back to the cache. */
  dropSpare(): boolean;
}

/** The slot of one cache. @internal */
export class SpareBlock {
  /** The pool keeping the block, or null. */
  holder: SpareHolder | null = null;
  /** The block's start, or 0 when there is none. */
  block = 0;

  /** Asks the holder for the block back; true if memory went back to the cache. */
  giveBack(): boolean {
    const holder = this.holder;
    return holder !== null && holder.dropSpare();
  }
}

const slots = new WeakMap<SlabCache, SpareBlock>();

/** The spare-block slot of `cache` (made on first use). @internal */
export function spareBlockOf(cache: SlabCache): SpareBlock {
  let slot = slots.get(cache);
  if (slot === undefined) {
    slot = new SpareBlock();
    slots.set(cache, slot);
  }
  return slot;
}

/**
 * A block for a pool's new slab: `cache.tryGet(size)`, and again after the spare block went
 * back when that finds nothing. Pools leave the spare where it is while the cache can map new
 * memory: a pool that empties its only slab on every free (an alloc/free pair at a slab's
 * edge) keeps that slab as the spare, and taking it away from it on another pool's refill made
 * the pair take and format a slab each time (200-400 ns instead of 8-14). @internal
 */
export function tryGetSlab(cache: SlabCache, size: number): number {
  const p = cache.tryGet(size);
  return p !== 0 || !spareBlockOf(cache).giveBack() ? p : cache.tryGet(size);
}

/**
 * A block for a buffer: `cache.tryGet(size)`, the spare block going back first when the cache
 * holds no free block for it: empty memory is used before new memory is mapped, and the
 * arena's slabs stay low and together, so a buffer that doubles finds the runs it needs.
 * @internal
 */
export function tryGetBlock(cache: SlabCache, size: number): number {
  const p = cache.tryGetHeld(size);
  if (p !== 0) return p;
  spareBlockOf(cache).giveBack();
  return cache.tryGet(size);
}

/** `cache.getPages(size)`, the spare block going back first as for {@link tryGetBlock}. @internal */
export function tryGetPages(cache: SlabCache, size: number): number {
  const p = cache.getPages(size, false);
  if (p !== 0) return p;
  spareBlockOf(cache).giveBack();
  return cache.getPages(size);
}
