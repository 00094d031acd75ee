/**
 * A SlabCache's invariant walker: `SlabCache.check()` delegates here (as does the cache's debug
 * tick, every checkEvery operations), once it has refreshed its views. Kept out of
 * slab-cache.ts, next to the fast paths, because it runs only when asked. It takes the cache
 * as `CheckedCache`, the read-only shape of what it reads.
 *
 * Memory source: none in the arena; two Int32Arrays of orderMax + 1 counts, on the JS heap.
 *
 * Thread-safety: the cache's owner only, as `SlabCache.check` is: it reads the cache's own
 * counters and free lists and the page map of the slabs it holds, which no other worker writes
 * while the owner lives. It only reads.
 *
 * Failure: throws Error, naming `SlabCache.check` and the first broken invariant (see
 * slab-cache.ts's module comment); it changes nothing.
 */
import { blockOrder, freeByte, freeOrder, Page } from './page-map.js';
import type { SlabArena } from './slab-arena.js';

// u32 words per page, as slab-cache.ts's free-list links: a free block's first two words.
const WORDS_PER_PAGE = Page.BYTES >>> 2;

/** What the walker reads of a cache (a `SlabCache` is one): its free lists, counters and views. @internal */
export interface CheckedCache {
  readonly arena: SlabArena;
  readonly orderMax: number;
  readonly ownerId: number;
  /** Per order: the first free block's page index (0 = none), blocks free, blocks handed out. */
  readonly heads: ArrayLike<number>;
  readonly freeCount: ArrayLike<number>;
  readonly usedCount: ArrayLike<number>;
  /** A view of the memory as of its last refresh: the free blocks' links. */
  readonly u32: ArrayLike<number>;
  readonly usedBytes: number;
  readonly slabsHeld: number;
  readonly runs: number;
  readonly runBytes: number;
  readonly pageRuns: number;
  readonly pageBytes: number;
}

/**
 * Walks every free list and every page of every arena slab `cache` holds, and throws with a
 * precise message if they disagree with each other or with the counters. The cache's views
 * must cover every block it holds (as after its `refresh()`). @internal
 */
export function checkSlabCache(cache: CheckedCache): void {
  const { pageMap: pm, slabOwner, slabSize, pagesPerSlab } = cache.arena;
  const orderMax = cache.orderMax;
  const ownerId = cache.ownerId;
  const listed = new Int32Array(orderMax + 1);
  for (let k = 0; k <= orderMax; k++) {
    let page = cache.heads[k]!;
    let prev = 0;
    let n = 0;
    while (page !== 0) {
      const start = page * Page.BYTES;
      if (pm[page] !== freeByte(k)) {
        throw new Error(`SlabCache.check: block ${start} on free list ${k} has page byte ${pm[page]}, expected ${freeByte(k)}`);
      }
      if (start % (Page.BYTES << k) !== 0) throw new Error(`SlabCache.check: free block ${start} of order ${k} is misaligned`);
      if (slabOwner[Math.floor(start / slabSize)] !== ownerId) {
        throw new Error(`SlabCache.check: free block ${start} of order ${k} lies in an arena slab this cache does not own`);
      }
      if (cache.u32[page * WORDS_PER_PAGE + 1] !== prev) {
        throw new Error(`SlabCache.check: free block ${start} of order ${k} has prev ${cache.u32[page * WORDS_PER_PAGE + 1]}, expected ${prev}`);
      }
      if (++n > cache.freeCount[k]!) throw new Error(`SlabCache.check: free list ${k} is longer than its count ${cache.freeCount[k]} (or has a cycle)`);
      prev = page;
      page = cache.u32[page * WORDS_PER_PAGE]!;
    }
    if (n !== cache.freeCount[k]) throw new Error(`SlabCache.check: free list ${k} has ${n} blocks, its count says ${cache.freeCount[k]}`);
    listed[k] = n;
  }
  if (cache.freeCount[orderMax]! > 1) {
    throw new Error(`SlabCache.check: ${cache.freeCount[orderMax]} wholly free arena slabs are cached, at most 1 may be`);
  }
  // Every page of every held slab, from the page map alone.
  const used = new Int32Array(orderMax + 1);
  const free = new Int32Array(orderMax + 1);
  let slabs = 0;
  let runs = 0;
  let runBytes = 0;
  let pageRuns = 0;
  let pageBytes = 0;
  const info = cache.arena.slabInfo;
  const end = cache.arena.carvedEnd();
  for (let idx = cache.arena.ctrlSlabs; idx < end; idx++) {
    if (slabOwner[idx] !== ownerId) continue;
    const n = info[idx]!;
    const p0 = idx * pagesPerSlab;
    if (n > 1) {
      for (let j = 0; j < n; j++) {
        if (slabOwner[idx + j] !== ownerId) throw new Error(`SlabCache.check: slab ${idx + j} of the run at ${idx * slabSize} has another owner`);
      }
      for (let p = p0; p < p0 + n * pagesPerSlab; p++) {
        const want = p === p0 ? Page.RUN : Page.RUN_TAIL;
        if (pm[p] !== want) throw new Error(`SlabCache.check: page ${p} of the run at ${idx * slabSize} has page byte ${pm[p]}, expected ${want}`);
      }
      runs++;
      runBytes += n * slabSize;
      idx += n - 1;
      continue;
    }
    if (n !== 1) throw new Error(`SlabCache.check: slab ${idx * slabSize} is owned by this cache but not mapped (info ${n})`);
    slabs++;
    for (let p = p0; p < p0 + pagesPerSlab;) {
      const v = pm[p]!;
      const k = blockOrder(v);
      if (k >= 0 && k <= orderMax) {
        const np = 1 << k;
        if (p % np !== 0) throw new Error(`SlabCache.check: page ${p} starts a block of order ${k} but is misaligned`);
        for (let q = p + 1; q < p + np; q++) {
          if (pm[q] !== v) throw new Error(`SlabCache.check: page ${q} inside the block at ${p * Page.BYTES} of order ${k} has page byte ${pm[q]}`);
        }
        used[k]!++;
        p += np;
      } else if (v === Page.RUN) {
        let q = p + 1;
        while (q < p0 + pagesPerSlab && pm[q] === Page.RUN_TAIL) q++;
        pageRuns++;
        pageBytes += (q - p) * Page.BYTES;
        p = q;
      } else if (freeOrder(v) >= 0 && freeOrder(v) <= orderMax) {
        const k = freeOrder(v);
        const np = 1 << k;
        if (p % np !== 0) throw new Error(`SlabCache.check: page ${p} starts a free block of order ${k} but is misaligned`);
        for (let q = p + 1; q < p + np; q++) {
          if (pm[q] !== 0) throw new Error(`SlabCache.check: page ${q} inside the free block at ${p * Page.BYTES} has page byte ${pm[q]}`);
        }
        if (k < orderMax) {
          const buddy = p ^ np;
          if (pm[buddy] === v) throw new Error(`SlabCache.check: free blocks ${p * Page.BYTES} and ${buddy * Page.BYTES} of order ${k} are unmerged buddies`);
        }
        free[k]!++;
        p += np;
      } else {
        throw new Error(`SlabCache.check: page ${p} of held slab ${idx * slabSize} has page byte ${v}, in no block`);
      }
    }
  }
  let usedBytes = 0;
  for (let k = 0; k <= orderMax; k++) {
    if (used[k] !== cache.usedCount[k]) throw new Error(`SlabCache.check: ${used[k]} blocks of order ${k} are handed out in the page map, the count says ${cache.usedCount[k]}`);
    if (free[k] !== listed[k]) throw new Error(`SlabCache.check: ${free[k]} free blocks of order ${k} in the page map, ${listed[k]} on the free list`);
    usedBytes += used[k]! * (Page.BYTES << k);
  }
  if (usedBytes !== cache.usedBytes) throw new Error(`SlabCache.check: blocks handed out add up to ${usedBytes} bytes, used says ${cache.usedBytes}`);
  if (slabs !== cache.slabsHeld) throw new Error(`SlabCache.check: ${slabs} arena slabs are owned, the count says ${cache.slabsHeld}`);
  if (runs !== cache.runs || runBytes !== cache.runBytes) {
    throw new Error(`SlabCache.check: ${runs} runs of ${runBytes} bytes are owned, the counters say ${cache.runs} of ${cache.runBytes}`);
  }
  if (pageRuns !== cache.pageRuns || pageBytes !== cache.pageBytes) {
    throw new Error(`SlabCache.check: ${pageRuns} page runs of ${pageBytes} bytes are in held slabs, the counters say ${cache.pageRuns} of ${cache.pageBytes}`);
  }
}
