/**
 * Adoption by a SlabCache: `SlabCache.adopt(threadId)` calls `adoptSlabs` with the cache's id
 * and geometry. It takes over every arena slab of the caches registered by a worker that has
 * exited, normalizes their page map, and returns what it found (`AdoptedSlabs`): the blocks and
 * page runs that were handed out in them, so the allocators above (Mempool, SmallAlloc) can
 * adopt their objects, and the free blocks and counts, which the cache files and adds to its
 * own free lists and counters (it alone writes them).
 * The slabs and runs the worker mapped straight from the arena (its MAPS entry: LSRegion, plain
 * `map`/`mapRun`) go back to the arena: nobody can reach them now. The read views it left open
 * (its VIEWS entries, arena-views.ts) are closed: a killed reader never blocks reuse after that.
 * Kept out of slab-cache.ts, next to the fast paths, because it runs once per dead worker.
 *
 * Memory source: the adopted arena slabs themselves; the returned tally, on the JS heap.
 *
 * Thread-safety: run by the adopting cache's owner; the dead worker must have exited (the
 * caller asserts it). Other workers may adopt the same thread id at the same time: the arena's
 * registry moves the dead owner's entries to ADOPTING with this cache as adopter
 * (`claimOwners`), and each slab then changes owner by one compare-exchange of its owner word,
 * so two adopters take disjoint slabs and a slab keeps a valid owner (the dead cache, or the
 * adopter) at every instant. A direct map is unmapped by the arena's compare-exchange of its
 * state, so of two adopters (or an adopter and a live worker unmapping it) one unmaps it and
 * the other is refused and goes on. An adopter killed half-way leaves slabs that a later
 * adoption of either thread id finds (the dead worker's entries stay ADOPTING until the end).
 *
 * Failure: `RangeError` for a bad thread id or the calling thread's own (nothing changed).
 *
 * Invariants: once the cache has filed the tally, the adopted slabs satisfy slab-cache.ts's
 * invariants as its own: a page byte that is no well-formed handed-out block or page run is
 * cleared (the dead worker may have died mid-write) and its pages become free blocks.
 */
import { InvalidPointerError } from '../../errors.js';
import { adoptableThread } from '../../internal/thread.js';
import { OwnerKind } from './owner-registry.js';
import { blockByte, blockOrder, markRun, Page } from './page-map.js';
import type { SlabArena } from './slab-arena.js';

/** What an adoption took over, for the adopting cache to file and count. @internal */
export interface AdoptedSlabs {
  /** Starts of the blocks and page runs handed out in the slabs: what `SlabCache.adopt` returns. */
  readonly live: number[];
  /** The free blocks found, as pairs (order, start), in the order they are to be filed. */
  readonly free: number[];
  /** Blocks handed out, per order (0..orderMax). */
  readonly blocks: Int32Array;
  /** Arena slabs taken over (runs of slabs not included). */
  slabs: number;
  /** Runs of arena slabs taken over. */
  runs: number;
  /** Their bytes. */
  runBytes: number;
  /** Page runs handed out inside the slabs taken over. */
  pageRuns: number;
  /** Their bytes. */
  pageBytes: number;
}

/**
 * Takes over, for the cache registered as `me` (blocks up to order `orderMax`), every arena slab
 * of the caches registered by worker `threadId`, and returns what it found in them (see
 * `SlabCache.adopt`). @internal
 */
export function adoptSlabs(arena: SlabArena, me: number, orderMax: number, threadId: number): AdoptedSlabs {
  adoptableThread('SlabCache.adopt', threadId);
  const found: AdoptedSlabs = {
    live: [], free: [], blocks: new Int32Array(orderMax + 1), slabs: 0, runs: 0, runBytes: 0, pageRuns: 0, pageBytes: 0,
  };
  const ids = arena.claimOwners(threadId, me);
  if (ids.length === 0) return found;
  const info = arena.slabInfo;
  const owner = arena.slabOwner;
  const pm = arena.pageMap;
  const { slabSize, pagesPerSlab } = arena;
  const end = arena.carvedEnd();
  const maps = ids.filter((id) => arena.ownerKind(id) === OwnerKind.MAPS);
  // Its views first: the entry is ours (ADOPTING) now, so the slot is cleared once.
  for (const id of ids) if (arena.ownerKind(id) === OwnerKind.VIEWS) arena.views.releaseDead(id);
  for (let idx = arena.ctrlSlabs; idx < end; idx++) {
    const from = Atomics.load(owner, idx);
    if (from === 0 || from === me || !ids.includes(from)) continue;
    const n = Atomics.load(info, idx);
    if (maps.includes(from)) {
      if (n >= 1) unmapDirect(arena, idx, from);
      continue;
    }
    // Only a run's start changes hands (its other slabs follow it); the compare-exchange
    // makes two adopters of one id take disjoint slabs.
    if (n < 1 || Atomics.compareExchange(owner, idx, from, me) !== from) continue;
    const p0 = idx * pagesPerSlab;
    if (n > 1) {
      for (let j = 1; j < n; j++) Atomics.store(owner, idx + j, me);
      if (pm[p0] === Page.RUN) {
        markRun(pm, p0, n * pagesPerSlab);
        found.runs++;
        found.runBytes += n * slabSize;
        found.live.push(idx * slabSize);
      } else {
        // Mapped but never handed out (the worker died in between): back to the arena.
        arena.unmapFor(idx * slabSize, me);
      }
      idx += n - 1;
      continue;
    }
    found.slabs++;
    // Normalize: keep only well-formed handed-out blocks and page runs; the rest is free.
    for (let p = p0; p < p0 + pagesPerSlab;) {
      const v = pm[p]!;
      const k = blockOrder(v);
      if (k >= 0 && k <= orderMax && p % (1 << k) === 0) {
        const np = 1 << k;
        pm.fill(v, p, p + np);
        p += np;
      } else if (v === Page.RUN) {
        let q = p + 1;
        while (q < p0 + pagesPerSlab && pm[q] === Page.RUN_TAIL) q++;
        found.pageRuns++;
        found.pageBytes += (q - p) * Page.BYTES;
        found.live.push(p * Page.BYTES);
        p = q;
      } else {
        pm[p] = 0;
        p++;
      }
    }
    rebuild(pm, p0, orderMax, found);
  }
  for (const id of ids) arena.finishOwner(id, me);
  return found;
}

/**
 * Unmaps the dead worker's direct map (slab or run) at slab `idx`, owner `from`. Refused only
 * when another call unmapped it first (another adopter, or a live worker the slab was passed
 * to): then it is not ours to return, and adoption goes on.
 */
function unmapDirect(arena: SlabArena, idx: number, from: number): void {
  try {
    arena.unmapFor(idx * arena.slabSize, from);
  } catch (e) {
    if (!(e instanceof InvalidPointerError)) throw e;
  }
}

/**
 * Classifies the buddy-tree node at page `p` of order `k` after normalization: a block handed
 * out, a free block (empty: its pages are all 0), or a node to look into.
 */
function rebuild(pm: Uint8Array, p: number, k: number, found: AdoptedSlabs): void {
  const v = pm[p]!;
  if (v === blockByte(k)) {
    found.blocks[k]!++;
    found.live.push(p * Page.BYTES);
    return;
  }
  let empty = true;
  for (let q = p, e = p + (1 << k); q < e; q++) {
    if (pm[q] !== 0) {
      empty = false;
      break;
    }
  }
  if (empty) {
    found.free.push(k, p * Page.BYTES);
    return;
  }
  // A page of a page run (counted by adopt) or a node with something inside: look deeper.
  if (k === 0) return;
  rebuild(pm, p, k - 1, found);
  rebuild(pm, p + (1 << (k - 1)), k - 1, found);
}
