/**
 * A Mempool's invariant walker: `Mempool.check()` delegates here. It lives apart from the fast
 * paths in mempool.ts because it runs only when asked (and every checkEvery operations in debug
 * mode).
 *
 * Memory source: none.
 *
 * Thread-safety: the pool's owner only, as `Mempool.check` is: it takes remote frees in
 * before it reads anything.
 *
 * Failure: throws Error naming the pool and the first broken invariant. It changes nothing but
 * what taking remote frees in changes.
 *
 * Invariants, for every slab s of the pool:
 * - REMOTE ⊆ ALLOCATED; HELD ⊆ ALLOCATED; the ALLOCATED bits past the last slot are set,
 *   those of REMOTE and HELD clear;
 * - taken (ALLOCATED slots) - retired (HELD & ~REMOTE) + nfree == count;
 *   popcount(HELD & REMOTE) == deferred;
 * - for the current slab, `scan` is one of its ALLOCATED words;
 * - in debug mode, every free slot holds the poison it was freed with, and so does every held
 *   slot while no read view is open (the quarantine's);
 * - nfree >= coldLimit  =>  s is in the heap (a slab that filled up leaves the heap lazily,
 *   when an allocation finds it full at the top, and stays out, "cold", until a twelfth of its
 *   slots are free again); the heap is ordered by address; current == its top;
 * - at most one slab is empty (nfree == count, none retired), and only as the spare block (a
 *   slab whose last objects are retired is settled at the pool's next look: its allocation
 *   slow path, stats(), memory pressure, or a free that empties a word of it): the pools of one
 *   SlabCache share one spare-block slot (spare-block.ts), so together they keep at most one
 *   empty slab; any other slab that empties goes back to the cache at once;
 * - Σ (taken - retired - deferred) == pool.count (remote frees not yet taken in are still
 *   counted); pool.count == liveRest + the current slab's taken - retired - deferred;
 * - a pool of its own (its deferred slots are debug mode's quarantine): |queue| == Σ deferred,
 *   and the queue's own invariants (read-views.ts) hold.
 */
import { FREED_BYTE } from '../../debug.js';
import { Page } from '../slabs/page-map.js';
import { allocBase, heldWord, Mark, popcount, remoteWord, slotBit, slotStart, tailBits, Word } from './block-header.js';
import { liveObjects } from './mempool-stats.js';
import type { PoolParts } from './pool-parts.js';
import type { ReadViews } from './read-views.js';

/**
 * Walks every slab of `pool` and throws an Error naming the first broken invariant (see the
 * module header). Remote frees are taken in first. `name`, `pageMap` and `order1` are the
 * pool's own (fields it keeps private); `views` is its queue of held frees when the pool is
 * its own (a SmallAlloc checks the queue it shares with its pools). @internal
 */
export function checkMempool(pool: PoolParts, name: string, pageMap: Uint8Array, order1: number, views: ReadViews | null): void {
  const heap = pool.heap;
  pool.takeRemote();
  // Current views: the pool's own copies may predate slabs it adopted or grew into.
  pool.refresh();
  const where = `${name}.check`;
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  const u32 = pool.u32;
  const i32 = pool.i32;
  let live = 0;
  let deferred = 0;
  let empties = 0;
  for (let i = 0; i < pool.slabs.length; i++) {
    const s = pool.slabs[i]!;
    const h = s >>> 2;
    const at = `slab ${s}`;
    if (s % pool.slabSize !== 0) fail(`${at} is not aligned to ${pool.slabSize}`);
    if (u32[h + Word.MAGIC] !== Mark.MEMPOOL) fail(`${at} has magic ${u32[h + Word.MAGIC]}`);
    if (u32[h + Word.OWNER] !== pool.ownerId || u32[h + Word.POOL] !== pool.poolId) {
      fail(`${at} belongs to owner ${u32[h + Word.OWNER]} pool ${u32[h + Word.POOL]}, not ${pool.ownerId}/${pool.poolId}`);
    }
    if (u32[h + Word.OBJSIZE] !== pool.objsize || u32[h + Word.STRIDE] !== pool.stride || u32[h + Word.COUNT] !== pool.objcount ||
      u32[h + Word.FIRST] !== pool.first || u32[h + Word.SLABSIZE] !== pool.slabSize || u32[h + Word.CLASS] !== pool.classIndex) {
      fail(`${at} has a header that does not match the pool`);
    }
    if (pageMap[s >>> Page.SHIFT] !== order1) fail(`${at} is not a block of order ${order1 - 1} in the page map`);
    if (u32[h + Word.LISTIDX] !== i) fail(`${at} says list index ${u32[h + Word.LISTIDX]}, is at ${i}`);
    const bw = pool.bw;
    const aw = allocBase(s);
    let taken = 0;
    let held = 0;
    let retired = 0;
    for (let w = 0; w < bw; w++) {
      const a = i32[aw + w]!;
      const r = i32[remoteWord(aw + w, bw)]!;
      const d = i32[heldWord(aw + w, bw)]!;
      if ((r & ~a) !== 0) fail(`${at}: a slot is remote-freed but not allocated (word ${w})`);
      if ((d & ~a) !== 0) fail(`${at}: a slot is held or retired but not allocated (word ${w})`);
      const past = w === bw - 1 ? tailBits(pool.objcount) : 0;
      if ((a & past) !== past || ((r | d) & past) !== 0) fail(`${at}: the bits past the last slot are wrong (word ${w})`);
      taken += popcount(a) - popcount(past);
      held += popcount(d & r);
      retired += popcount(d & ~r);
      // Slots held with no view open (debug mode's quarantine) are poisoned as free ones are.
      if (pool.debug) checkPoison(pool, at, s, w, pool.views.anyOpen ? a : a & ~d, fail);
    }
    const nfree = pool.nfree(s); // the current slab's, recounted from its bitmap
    const def = u32[h + Word.DEFERRED]!;
    if (taken - retired + nfree !== pool.objcount) fail(`${at}: ${taken} taken - ${retired} retired + ${nfree} free != ${pool.objcount} slots`);
    if (held !== def) fail(`${at}: ${held} slots held for read views, the header says ${def}`);
    if (s === pool.cur) {
      if (pool.scan < aw || pool.scan >= aw + bw) fail(`${at}: the search starts at word ${pool.scan - aw}, outside the bitmap`);
    }
    const hi = u32[h + Word.HEAPIDX]!;
    if (hi !== Mark.NONE && heap.at(hi) !== s) fail(`${at} says heap index ${hi}, the heap holds ${heap.at(hi)} there`);
    if (nfree >= pool.coldLimit && hi === Mark.NONE) fail(`${at} has ${nfree} free slots (cold below ${pool.coldLimit}) but is not in the heap`);
    // A slab whose last objects are retired is not known empty until it is settled.
    if (nfree === pool.objcount && retired === 0) {
      empties++;
      if (pool.spare.block !== s) fail(`${at} is empty but not the spare block (${pool.spare.block})`);
    }
    live += taken - retired - def;
    deferred += def;
  }
  if (empties > 1) fail(`${empties} empty slabs, at most 1 (the spare) is kept`);
  const count = liveObjects(pool);
  if (live !== count) fail(`the bitmaps hold ${live} objects, count says ${count}`);
  if (deferred !== pool.deferredCount) fail(`slabs hold ${deferred} deferred slots, pool says ${pool.deferredCount}`);
  if (views !== null) {
    if (views.size !== deferred) fail(`the queue of held frees has ${views.size} entries, slabs hold ${deferred} deferred slots`);
    const problem = views.problem();
    if (problem !== null) fail(problem);
  }
  const problem = heap.problem(u32);
  if (problem !== null) fail(problem);
  if (pool.cur !== heap.top) fail(`current slab ${pool.cur} is not the heap top`);
}

/** Fails unless every slot whose bit in `a` (word `w` of slab `s`) is clear is all poison. */
function checkPoison(pool: PoolParts, at: string, s: number, w: number, a: number, fail: (msg: string) => never): void {
  for (let b = 0; b < 32; b++) {
    const idx = (w << 5) + b;
    if ((a & slotBit(idx)) !== 0 || idx >= pool.objcount) continue;
    const p = slotStart(s, pool.first, pool.stride, idx);
    for (let k = p; k < p + pool.objsize; k++) {
      if (pool.u8[k] !== FREED_BYTE) fail(`${at}: free slot ${p} was written after it was freed (byte ${k - p})`);
    }
  }
}
