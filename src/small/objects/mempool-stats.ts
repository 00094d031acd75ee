/**
 * A Mempool's statistics: the shape of `Mempool.stats()` and the walk that fills it.
 * `Mempool.stats` delegates here; a SmallAlloc sums its pools' stats (small-alloc-stats.ts).
 *
 * Memory source: none; it reads the pool's counters and the spare block's free count, and the
 * result is a plain JSON-serializable object.
 *
 * Thread-safety: the pool's owner only, as `Mempool.stats` is (it takes remote frees in first,
 * so they count as freed).
 *
 * Failure: none.
 */
import { Mark, occupiedSlots, Word } from './block-header.js';
import type { PoolParts } from './pool-parts.js';

/** A pool with its counts, as Mempool has them. @internal */
export interface CountedPool extends PoolParts {
  readonly count: number;
  readonly used: number;
  readonly total: number;
}

/**
 * The result of {@link Mempool.stats}.
 * @category The small family
 */
export interface MempoolStats {
  /** Bytes handed out and live: count * objsize. */
  used: number;
  /** Bytes of slabs held. */
  total: number;
  /** Live objects. */
  count: number;
  /** Slabs held. */
  slabs: number;
  /** Bytes asked for per object. */
  objsize: number;
  /** Bytes per slab. */
  slabSize: number;
  /** Objects per slab. */
  objectsPerSlab: number;
  /** Empty slabs held (0 or 1: the spare). */
  emptySlabs: number;
  /** Objects freed but held back: for read views (SmallAlloc's, or the arena's), or in debug mode's quarantine. */
  deferred: number;
  /** Bytes of those (deferred * objsize). */
  deferredBytes: number;
  /** Of those, the objects held back by debug mode's quarantine alone (no read view sees them). */
  quarantined: number;
}

/**
 * Live objects of `pool`: liveRest, and the current slab's counted from its bitmaps (taken, not
 * retired, not deferred; pending remote frees count). @internal
 */
export function liveObjects(pool: PoolParts): number {
  const s = pool.cur;
  return s === 0 ? pool.liveRest : pool.liveRest + occupiedSlots(pool.i32, s) - pool.u32[(s >>> 2) + Word.DEFERRED]!;
}

/**
 * `pool`'s statistics (remote frees are taken in first); `hosted` when it is a SmallAlloc's,
 * its slabs aligned to `slabMask + 1` bytes. @internal
 */
export function mempoolStats(pool: CountedPool, hosted: boolean, slabMask: number): MempoolStats {
  pool.takeRemote();
  const s = pool.spare.block;
  const empty = s !== 0 && pool.nfree(s) === pool.objcount ? 1 : 0;
  return {
    used: pool.used,
    total: pool.total,
    count: pool.count,
    slabs: pool.slabs.length,
    objsize: pool.objsize,
    slabSize: pool.slabSize,
    objectsPerSlab: pool.objcount,
    emptySlabs: empty,
    deferred: pool.deferredCount,
    deferredBytes: pool.deferredCount * pool.objsize,
    quarantined: quarantined(pool, hosted, slabMask),
  };
}

/**
 * Slots of `pool` held by debug mode's quarantine alone (no read view sees them): a pool of its
 * own has the queue to itself; a SmallAlloc's shares it with every pool of the SmallAlloc.
 */
function quarantined(pool: PoolParts, hosted: boolean, slabMask: number): number {
  if (!pool.views.quarantining) return 0;
  if (!hosted) return pool.views.quarantined();
  pool.refresh();
  const u32 = pool.u32;
  // Stats only: a closure is fine here.
  return pool.views.quarantined((p) => {
    const s = p - (p & slabMask);
    const h = s >>> 2;
    return u32[h + Word.MAGIC] === Mark.MEMPOOL && pool.f64[(s >>> 3) + 1] === pool.tag && pool.slabs[u32[h + Word.LISTIDX]!] === s;
  });
}
