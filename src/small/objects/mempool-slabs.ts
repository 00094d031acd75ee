/**
 * Slabs joining and leaving a Mempool, off its fast paths: a fresh block from the cache is
 * formatted as a slab of the pool; an empty slab goes back to the cache (or stays as the spare
 * block, spare-block.ts); `destroy` sends every slab back. The pool calls these once per slab,
 * never per object; adoption (another worker's slabs joining) is in mempool-adopt.ts.
 *
 * Memory source: the pool's SlabCache: blocks the pool got from it (`tryGetSlab`) are
 * formatted here, and go back to it (`put`) from here.
 *
 * Thread-safety: the pool's owner only. A slab going back is retired first (its magic and pool
 * words cleared), so a stale pointer into it, freed by any worker, matches no pool.
 *
 * Failure: none (the caller got the block; a failure to get one is the caller's).
 *
 * Invariants kept: a slab is in `pool.slabs` at the index its Word.LISTIDX says, from its
 * format to its return; the spare-block slot never names a slab that went back.
 */
import type { SpareHolder } from '../spare-block.js';
import { FREED_BYTE } from '../../debug.js';
import { allocBase, BITMAPS, Mark, retireSlab, slotStart, tailBits, Word } from './block-header.js';
import type { Mempool } from './mempool.js';

/** Writes fresh slab `s`'s header and bitmaps and makes it `pool`'s. @internal */
export function formatSlab(pool: Mempool, s: number): void {
  if (s + pool.slabSize > pool.viewEnd) pool.refresh();
  const u32 = pool.u32;
  const h = s >>> 2;
  // No magic until every other word is written: the block's old bytes may hold anything.
  u32[h + Word.MAGIC] = 0;
  // The bitmaps cleared two words a store (the header starts 8-byte aligned and is 16 words
  // long): a loop of doubles took about half the time of one of words, and a typed array's
  // fill() costs a call into the runtime.
  const words = BITMAPS * pool.bw;
  const f64 = pool.f64;
  const aw = allocBase(s);
  for (let d = aw >>> 1, end = d + (words >>> 1); d < end; d++) f64[d] = 0;
  if ((words & 1) !== 0) u32[aw + words - 1] = 0;
  pool.i32[aw + pool.bw - 1] = tailBits(pool.objcount);
  // Debug mode checks that every free slot still holds the poison it was freed with.
  if (pool.debug) pool.u8.fill(FREED_BYTE, slotStart(s, pool.first, pool.stride, 0), slotStart(s, pool.first, pool.stride, pool.objcount));
  u32[h + Word.OWNER] = pool.ownerId;
  u32[h + Word.POOL] = pool.poolId;
  u32[h + Word.OBJSIZE] = pool.objsize;
  u32[h + Word.STRIDE] = pool.stride;
  u32[h + Word.COUNT] = pool.objcount;
  u32[h + Word.FIRST] = pool.first;
  u32[h + Word.SLABSIZE] = pool.slabSize;
  u32[h + Word.CLASS] = pool.classIndex;
  u32[h + Word.PENDING] = 0;
  u32[h + Word.NFREE] = pool.objcount;
  u32[h + Word.HEAPIDX] = Mark.NONE;
  u32[h + Word.LISTIDX] = pool.slabs.length;
  u32[h + Word.DEFERRED] = 0;
  u32[h + Word.ADOPTED] = 0;
  u32[h + Word.WORDS - 1] = 0;
  u32[h + Word.MAGIC] = Mark.MEMPOOL;
  pool.slabs.push(s);
  pool.heapPush(s);
}

/**
 * Slab `s` of `pool` may have become empty (its last objects may be retired slots, settled
 * first: if a read view holds one back, the slab stays): it becomes the pool's spare block when
 * the pool has none (or its spare has been used since); of two empty blocks the lower is kept
 * (as Tarantool's mempool keeps the lower of two spare slabs), so the memory above it stays
 * free to merge into the longest runs, and the other goes back to the cache. Memory pressure
 * takes the spare back (spare-block.ts). @internal
 */
export function becameEmpty(pool: Mempool, s: number): void {
  const slot = pool.spare;
  if (slot.block === s) return;
  // Its retired slots are checked against the read views first: deferred ones keep it.
  if (!pool.settledEmpty(s)) return;
  if (slot.block !== 0 && pool.settledEmpty(slot.block)) {
    if (slot.block < s) {
      giveBack(pool, s);
      return;
    }
    giveBack(pool, slot.block);
  }
  slot.keep(s);
}

/**
 * {@link SpareHolder.dropSpare} of `pool`: clears the spare-block slot, and returns the slab
 * it named to the cache if it is still empty (true then). @internal
 */
export function dropSpare(pool: Mempool): boolean {
  const slot = pool.spare;
  const s = slot.block;
  slot.clear();
  if (s === 0 || !pool.settledEmpty(s)) return false;
  giveBack(pool, s);
  return true;
}

/** Returns `pool`'s empty slab `s` to the cache. @internal */
export function giveBack(pool: Mempool, s: number): void {
  if (pool.spare.block === s) pool.spare.clear();
  pool.heapRemove(pool.u32[(s >>> 2) + Word.HEAPIDX]!);
  retireSlab(pool.u32, s);
  unlist(pool, s);
  pool.cache.put(s);
}

/** Takes slab `s` out of `pool.slabs`: the last slab fills its place. */
function unlist(pool: Mempool, s: number): void {
  const u32 = pool.u32;
  const i = u32[(s >>> 2) + Word.LISTIDX]!;
  const last = pool.slabs.pop()!;
  if (last !== s) {
    pool.slabs[i] = last;
    u32[(last >>> 2) + Word.LISTIDX] = i;
  }
}

/**
 * {@link Mempool.destroy}: every slab of `pool` back to the cache, live objects or not; the
 * pool is empty and usable again. A slab the cache refuses (its owner word was overwritten:
 * shared state corrupted by another worker) does not stop it: every other slab still goes
 * back, and the first refusal is thrown at the end. @internal
 */
export function destroySlabs(pool: Mempool): void {
  pool.setCur(0);
  pool.spare.clear();
  let refused: unknown = null;
  for (const s of pool.slabs) {
    retireSlab(pool.u32, s);
    try {
      pool.cache.put(s);
    } catch (e) {
      refused ??= e;
    }
  }
  pool.slabs = [];
  pool.heap.clear();
  pool.liveRest = 0;
  pool.deferredCount = 0;
  pool.sinceScan = 0;
  if (refused !== null) throw refused;
}
