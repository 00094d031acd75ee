/**
 * SmallAlloc's statistics: the shape of `SmallAlloc.stats()` and the sum over its pools and
 * large allocations that fills it.
 *
 * Memory source: none; it reads the pools' stats and the large allocations' counters, and the
 * result is a plain JSON-serializable object. The SmallAlloc takes remote frees in (and
 * releases a batch of deferred frees) before it calls.
 *
 * Thread-safety: the owner worker's, as the allocator it sums.
 *
 * Failure: none.
 */
import type { Mempool, MempoolStats } from './mempool.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/**
 * One size class in {@link SmallStats}.
 * @category The small family
 */
export interface SmallClassStats extends MempoolStats {
  /** Class index (-1 for a pool adopted from an exited worker with a size outside the classes). */
  cls: number;
}

/**
 * The result of {@link SmallAlloc.stats}; JSON-serializable.
 * @category The small family
 */
export interface SmallStats {
  /** Bytes handed out and live: class objects at their class size, large ones as asked. */
  used: number;
  /** Bytes of slabs and runs held. */
  total: number;
  /** Live allocations (small and large). */
  count: number;
  /** Allocations above objsizeMax. */
  large: {
    /** Live large allocations. */
    count: number;
    /** Bytes asked for by them. */
    used: number;
    /** Bytes of pages they hold. */
    total: number;
  };
  /** Frees held back: for read views (this allocator's or the arena's), or in debug mode's quarantine. */
  deferred: number;
  /**
   * Bytes of those: class objects at their class size, large allocations at their pages. This
   * allocator's share of `arena.heldForViews`.
   */
  deferredBytes: number;
  /**
   * Of those, the frees held back by debug mode's quarantine alone (no read view sees them):
   * their slots are not reused yet, so a second free of one is caught.
   */
  quarantined: number;
  /** Read views open now. */
  views: number;
  /** Read views dropped without close() and closed when the garbage collector reclaimed them. */
  viewsCollected: number;
  /** Pools that exist, by object size. */
  classes: SmallClassStats[];
}

/**
 * The statistics of `a`: its class pools, its adopted pools, its large allocations, and its
 * views (open now, closed by the garbage collector) and the frees held for them. @internal
 */
export function smallStats(a: SmallAllocParts): SmallStats {
  const large = a.large;
  const classes: SmallClassStats[] = [];
  let used = large.used;
  let total = large.total;
  let count = large.live;
  let deferred = large.deferred;
  const add = (p: Mempool, cls: number): void => {
    const st = p.stats();
    classes.push({ cls, ...st });
    used += st.used;
    total += st.total;
    count += st.count;
    deferred += st.deferred;
  };
  a.pools.forEach((p, cls) => {
    if (p !== null) add(p, cls);
  });
  for (const p of a.extra.values()) add(p, -1);
  classes.sort((a, b) => a.objsize - b.objsize);
  return {
    used, total, count,
    large: { count: large.live, used: large.used, total: large.total },
    deferred,
    deferredBytes: a.views.heldBytes,
    quarantined: a.views.quarantined(),
    views: a.views.open,
    viewsCollected: a.viewsCollected,
    classes,
  };
}
