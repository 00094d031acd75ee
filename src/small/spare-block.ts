/**
 * Spare blocks and memory pressure: the one empty block each Mempool may keep, and how every
 * block kept empty goes back before an allocation fails, in this worker and in the others.
 *
 * Memory source: none of its own; a spare block is a mempool slab its pool holds, in its heap.
 *
 * Why one per pool: a pool whose last object goes keeps the block (as Tarantool's mempool keeps
 * its `spare` slab), so an alloc/free pair at the edge of a slab, or a batch that fills and
 * empties a few size classes, does not send blocks to the cache and format them again each
 * time. Empty blocks kept by many pools could hold the whole quota, so capacity is kept by
 * pressure instead: before an allocation over the arena fails in a worker, every pool of that
 * worker over the arena gives its spare back, every cache gives its wholly free arena slab
 * back, and the allocation is tried again ({@link giveBackEmpty}). A failure that remains
 * raises the arena's pressure generation (`SlabArena.raisePressure`), and every other worker
 * gives its empty blocks back at its next slow path here ({@link relieve}); its allocation
 * succeeds at a later try.
 *
 * Layering: the cache knows nothing of spares; the allocators over a cache get blocks through
 * {@link tryGetSlab} (pools), {@link tryGetBlock} (Region, Ibuf, Obuf) and {@link tryGetPages}
 * (large allocations), and an LSRegion maps slabs through {@link tryMapSlabs}. A buffer that
 * needs a block the cache does not hold first takes back its own cache's spares (memory held
 * is used before new memory is mapped, so the arena's slabs stay low and together and a buffer
 * that doubles finds the runs it needs). A direct `SlabCache.get` or `SlabArena.map` does not
 * reach them.
 *
 * Thread-safety: one worker's; the pressure generation is a shared word of the arena.
 *
 * Invariant: a slot is listed iff `block !== 0`; the block is one of its pool's slabs. It may
 * have been allocated from since it was filed: the pool checks it is still empty.
 */
import type { SlabArena } from './slabs/slab-arena.js';
import type { SlabCache } from './slabs/slab-cache.js';

/** A pool that can keep a spare block: gives it back if it is still empty. @internal */
export interface SpareHolder {
  /** Clears the slot; returns true if the block was still empty and went back to the cache. */
  dropSpare(): boolean;
}

/**
 * One pool's spare-block slot; while it holds a block it is listed where pressure finds it.
 * @internal
 */
export class SpareBlock {
  /** The block's start, or 0 when there is none. */
  block = 0;

  constructor(readonly cache: SlabCache, private readonly holder: SpareHolder, private readonly kept: Kept) {}

  /** The pool keeps `block` here. */
  keep(block: number): void {
    this.block = block;
    this.kept.slots.add(this);
  }

  /** The slot holds nothing (its block went back, or is in use again). */
  clear(): void {
    this.block = 0;
    this.kept.slots.delete(this);
  }

  /** Asks the pool for the block back; true if memory went back to the cache. */
  giveBack(): boolean {
    return this.block !== 0 && this.holder.dropSpare();
  }
}

/**
 * What this worker keeps empty over one arena: the slots holding a block, the caches of its
 * pools; and the pressure generation it last acted on.
 */
interface Kept {
  readonly slots: Set<SpareBlock>;
  readonly caches: Set<SlabCache>;
  seen: number;
}

const keptByArena = new WeakMap<SlabArena, Kept>();

function keptOver(arena: SlabArena): Kept {
  let k = keptByArena.get(arena);
  if (k === undefined) {
    k = { slots: new Set(), caches: new Set(), seen: arena.pressure };
    keptByArena.set(arena, k);
  }
  return k;
}

/** The spare-block slot of a new pool (`holder`) over `cache`, reached by pressure. @internal */
export function newSpareBlock(cache: SlabCache, holder: SpareHolder): SpareBlock {
  const kept = keptOver(cache.arena);
  kept.caches.add(cache);
  return new SpareBlock(cache, holder, kept);
}

/**
 * Every pool of this worker over `arena` gives its spare back (to its cache), then every cache
 * its wholly free arena slab (to the arena); true if any memory went back. @internal
 */
export function giveBackEmpty(arena: SlabArena): boolean {
  const kept = keptByArena.get(arena);
  if (kept === undefined) return false;
  let any = giveBackSpares(kept, null);
  for (const cache of kept.caches) {
    if (!cache.live) kept.caches.delete(cache); // destroyed: nothing to give, and not kept alive here
    else if (cache.releaseFree()) any = true;
  }
  return any;
}

/**
 * A slow path's look at the pressure: if another worker raised it since this worker last
 * looked, gives this worker's empty blocks back. One atomic load. @internal
 */
export function relieve(arena: SlabArena): void {
  const kept = keptByArena.get(arena);
  if (kept === undefined) return;
  const g = arena.pressure;
  if (g === kept.seen) return;
  kept.seen = g;
  giveBackEmpty(arena);
}

/** An allocation still fails with everything given back here: the other workers are asked. */
function raise(arena: SlabArena): void {
  keptOver(arena).seen = arena.raisePressure();
}

/** The spares of `kept` (only `cache`'s pools' when it is given) go back; true if any did. */
function giveBackSpares(kept: Kept, cache: SlabCache | null): boolean {
  let any = false;
  // A copy: a spare given back leaves the set.
  for (const slot of [...kept.slots]) if ((cache === null || slot.cache === cache) && slot.giveBack()) any = true;
  return any;
}

/** A block for a pool's new slab: `cache.tryGet(size)`, and again under pressure. @internal */
export function tryGetSlab(cache: SlabCache, size: number): number {
  const arena = cache.arena;
  relieve(arena);
  let p = cache.tryGet(size);
  if (p === 0 && giveBackEmpty(arena)) p = cache.tryGet(size);
  if (p === 0) raise(arena);
  return p;
}

/**
 * A block for a buffer: what the cache holds, else this cache's spares back first, then
 * `cache.tryGet(size)`, and again under pressure. @internal
 */
export function tryGetBlock(cache: SlabCache, size: number): number {
  return heldFirst(cache, size, false);
}

/** `cache.getPages(size)` (large allocations), with the spares as for {@link tryGetBlock}. @internal */
export function tryGetPages(cache: SlabCache, size: number): number {
  return heldFirst(cache, size, true);
}

/** tryGetBlock (`pages` false) or tryGetPages. */
function heldFirst(cache: SlabCache, size: number, pages: boolean): number {
  const arena = cache.arena;
  relieve(arena);
  let p = fromCache(cache, size, pages, false);
  if (p !== 0) return p;
  const kept = keptByArena.get(arena);
  if (kept !== undefined) giveBackSpares(kept, cache);
  p = fromCache(cache, size, pages, true);
  if (p === 0 && giveBackEmpty(arena)) p = fromCache(cache, size, pages, true);
  if (p === 0) raise(arena);
  return p;
}

/** A block or (`pages`) a page run from `cache`; `map`: the arena may be asked. */
function fromCache(cache: SlabCache, size: number, pages: boolean, map: boolean): number {
  return pages ? cache.getPages(size, map) : map ? cache.tryGet(size) : cache.tryGetHeld(size);
}

/**
 * `n` slabs straight from the arena (an LSRegion's: one slab, or a run), and again under
 * pressure; 0 when the arena has none even so. @internal
 */
export function tryMapSlabs(arena: SlabArena, n: number): number {
  relieve(arena);
  let p = n === 1 ? arena.tryMap() : arena.tryMapRun(n);
  if (p === 0 && giveBackEmpty(arena)) p = n === 1 ? arena.tryMap() : arena.tryMapRun(n);
  if (p === 0) raise(arena);
  return p;
}
