/**
 * SmallAlloc's adoption: taking over the blocks of a worker that has exited (the body of
 * `SmallAlloc.adoptSlabs`, which `SmallAlloc.adopt` calls). Mempool slabs join the pool of
 * their objsize (a class pool, or an adopted pool when the size is outside the classes); live
 * large allocations join the allocator's; everything else goes back to the cache.
 *
 * Memory source: the blocks given, which the allocator's SlabCache already holds (from
 * `cache.adopt`); an adopted pool takes its slabs from that cache too.
 *
 * Thread-safety: the adopter's worker only. Other workers may still free into the blocks: a
 * large allocation's re-tag retries when it loses to such a free (LargeAllocations.adopt), and
 * a slab's frees are its new pool's to take in (Mempool.adoptSlab).
 *
 * Failure: none; a block no pool can take (a foreign geometry, a bad header) goes back to the
 * cache, and so does one that holds nothing live.
 */
import { Mark, retireSlab, Word } from './block-header.js';
import { mempoolObjsizeMax } from './geometry.js';
import { isPageRun } from './large.js';
import type { Mempool } from './mempool.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/** A SmallAlloc as adoption sees it: its parts, and the pool it keeps for an objsize. @internal */
export interface AdoptingAlloc extends SmallAllocParts {
  /** Its pool of class `cls`, or with `cls` -1 its adopted pool of `objsize`; made if needed. */
  poolOfSize(objsize: number, cls: number): Mempool;
}

/**
 * The result of {@link SmallAlloc.adopt}.
 * @category The small family
 */
export interface SmallAdoption {
  /** Mempool slabs taken over. */
  slabs: number;
  /** Live small objects in them. */
  objects: number;
  /** Live large allocations taken over. */
  large: number;
}

/**
 * Takes over, for `a`, blocks its cache now holds but no allocator of it owns: live large
 * allocations become its own, mempool slabs join the pool `a.poolOfSize` gives for their
 * objsize when it fits them, and the rest goes back to the cache. @internal
 */
export function adoptBlocks(a: AdoptingAlloc, starts: readonly number[]): SmallAdoption {
  a.refresh();
  const result: SmallAdoption = { slabs: 0, objects: 0, large: 0 };
  const arena = a.cache.arena;
  for (const start of starts) {
    const s = start >>> 0;
    if (s + Word.BYTES > a.viewEnd) a.refresh();
    if (isPageRun(arena, s)) {
      // 1: live, now ours; 2: freed, held for an arena view; 0: free, given back below.
      const r = a.large.adopt(s);
      if (r === 1) result.large++;
      if (r !== 0) continue;
    } else if (a.u32[(s >>> 2) + Word.MAGIC] === Mark.MEMPOOL) {
      const pool = poolForAdoption(a, s);
      if (pool !== null) {
        result.slabs++;
        result.objects += pool.adoptSlab(s);
        continue;
      }
      retireSlab(a.u32, s);
    }
    a.cache.put(s);
  }
  return result;
}

/** The pool of `a` that can take mempool slab `s` (its class pool first), made if needed; null if none can. */
function poolForAdoption(a: AdoptingAlloc, s: number): Mempool | null {
  const objsize = a.u32[(s >>> 2) + Word.OBJSIZE]!;
  if (objsize <= a.objsizeMax) {
    const cls = a.classes.classOf(objsize);
    if (a.classes.sizeOf(cls) === objsize) {
      const pool = a.poolOfSize(objsize, cls);
      if (pool.fits(s)) return pool;
    }
  }
  if (objsize < 1 || objsize > mempoolObjsizeMax(a.cache)) return null;
  const pool = a.poolOfSize(objsize, -1);
  return pool.fits(s) ? pool : null;
}
