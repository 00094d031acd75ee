/**
 * Adoption by a SlabCache: `SlabCache.adopt(threadId)` delegates here. It takes over every arena
 * slab of the caches registered by a worker that has exited, rebuilds this cache's free lists
 * and counters over them from the page map, and returns the blocks and page runs that were
 * handed out in them, so the allocators above (Mempool, SmallAlloc) can adopt their objects.
 * The slabs and runs the worker mapped straight from the arena (its MAPS entry: LSRegion, plain
 * `map`/`mapRun`) go back to the arena: nobody can reach them now. The read views it left open
 * (its VIEWS entries, arena-views.ts) are closed: a killed reader never blocks reuse after that.
 * Kept out of slab-cache.ts, next to the fast paths, because it runs once per dead worker.
 *
 * Memory source: the adopted arena slabs themselves (wholly free ones beyond the one kept go
 * back to the arena); the returned array, on the JS heap.
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
 * Invariants: after it, the adopted slabs satisfy slab-cache.ts's invariants as this cache's:
 * a page byte that is no well-formed handed-out block or page run is cleared (the dead worker
 * may have died mid-write) and its pages become free blocks.
 */
import { InvalidPointerError } from '../../errors.js';
import { adoptableThread } from '../../internal/thread.js';
import { OwnerKind } from './owner-registry.js';
import { blockByte, blockOrder, Page } from './page-map.js';
import type { SlabCache } from './slab-cache.js';

/**
 * Takes over every arena slab of the caches registered by worker `threadId` for `cache`, and
 * returns the starts of the blocks and page runs that were handed out in them (see
 * `SlabCache.adopt`). @internal
 */
export function adoptSlabs(cache: SlabCache, threadId: number): number[] {
  adoptableThread('SlabCache.adopt', threadId);
  const out: number[] = [];
  const me = cache.ownerId;
  const ids = cache.arena.claimOwners(threadId, me);
  if (ids.length === 0) return out;
  cache.refresh();
  const arena = cache.arena;
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
      if (n >= 1) unmapDirect(cache, idx, from);
      continue;
    }
    // Only a run's start changes hands (its other slabs follow it); the compare-exchange
    // makes two adopters of one id take disjoint slabs.
    if (n < 1 || Atomics.compareExchange(owner, idx, from, me) !== from) continue;
    const p0 = idx * pagesPerSlab;
    if (n > 1) {
      for (let j = 1; j < n; j++) Atomics.store(owner, idx + j, me);
      if (pm[p0] === Page.RUN) {
        cache.markRun(p0, n * pagesPerSlab);
        cache.runs++;
        cache.runBytes += n * slabSize;
        out.push(idx * slabSize);
      } else {
        // Mapped but never handed out (the worker died in between): back to the arena.
        arena.unmapFor(idx * slabSize, me);
      }
      idx += n - 1;
      continue;
    }
    cache.slabsHeld++;
    // Normalize: keep only well-formed handed-out blocks and page runs; the rest is free.
    for (let p = p0; p < p0 + pagesPerSlab;) {
      const v = pm[p]!;
      const k = blockOrder(v);
      if (k >= 0 && k <= cache.orderMax && p % (1 << k) === 0) {
        const np = 1 << k;
        pm.fill(v, p, p + np);
        p += np;
      } else if (v === Page.RUN) {
        let q = p + 1;
        while (q < p0 + pagesPerSlab && pm[q] === Page.RUN_TAIL) q++;
        cache.pageRuns++;
        cache.pageBytes += (q - p) * Page.BYTES;
        out.push(p * Page.BYTES);
        p = q;
      } else {
        pm[p] = 0;
        p++;
      }
    }
    rebuild(cache, p0, cache.orderMax, out);
  }
  for (const id of ids) arena.finishOwner(id, me);
  return out;
}

/**
 * Unmaps the dead worker's direct map (slab or run) at slab `idx`, owner `from`. Refused only
 * when another call unmapped it first (another adopter, or a live worker the slab was passed
 * to): then it is not ours to return, and adoption goes on.
 */
function unmapDirect(cache: SlabCache, idx: number, from: number): void {
  try {
    cache.arena.unmapFor(idx * cache.arena.slabSize, from);
  } catch (e) {
    if (!(e instanceof InvalidPointerError)) throw e;
  }
}

/** Classifies the buddy-tree node at page `p` of order `k` after normalization. */
function rebuild(cache: SlabCache, p: number, k: number, out: number[]): void {
  const pm = cache.arena.pageMap;
  const v = pm[p]!;
  if (v === blockByte(k)) {
    cache.usedCount[k]++;
    cache.usedBytes += Page.BYTES << k;
    out.push(p * Page.BYTES);
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
    cache.addFree(k, p * Page.BYTES);
    return;
  }
  // A page of a page run (counted by adopt) or a node with something inside: look deeper.
  if (k === 0) return;
  rebuild(cache, p, k - 1, out);
  rebuild(cache, p + (1 << (k - 1)), k - 1, out);
}
