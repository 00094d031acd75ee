/**
 * The one route a free takes off the fast paths: whose block is the pointer in (the page map,
 * then the block's header or page tags), and who takes the free: an allocator of this worker
 * (through the owner registry), or, for another worker's block, a remote free that only sets a
 * bit (or a large allocation's state) for the owner to take in.
 */
import { InvalidPointerError } from '../../errors.js';
import type { SlabArena } from '../slabs/slab-arena.js';
import { slabOf, slabSizeAt } from '../slabs/slab-cache.js';
import { allocWord, bitmapWords, heldWord, Mark, remoteWord, slotBit, slotOf, Word } from './block-header.js';
import { headerFitsBlock } from './geometry.js';
import { freeLargeRemote, isPageRun, largeId, liveLargeWord } from './large.js';
import { freeOwnedBy } from './owners.js';

/**
 * The one route of a free off the fast paths: whose block is `ptr` in, and who takes the free.
 * A large allocation or a mempool object of a cache of this worker (`ownerId`) goes to the
 * allocator of this worker whose id the block names; another worker's is freed remotely.
 * `u32`/`i32` must cover `ptr`'s block if the arena has it. `caller` names the allocator for
 * the errors. InvalidPointerError, nothing changed, for anything that is not live. @internal
 */
export function freeAnywhere(arena: SlabArena, ownerId: number, u32: Uint32Array, i32: Int32Array, ptr: number, caller: string): void {
  if (ptr === 0 || ptr >= arena.maximum) remoteFail(caller, ptr, 'is not a pointer into the arena');
  if (isPageRun(arena, ptr)) {
    const w = liveLargeWord(arena, ptr, `${caller}.free`);
    if (arena.slabOwner[Math.floor(ptr / arena.slabSize)] === ownerId) freeOwnedBy(largeId(w), ptr, ptr, caller);
    else freeLargeRemote(arena, ptr, `${caller}.free`);
    return;
  }
  const s = slabOf(arena, ptr) >>> 0;
  // A block given back (a double free of the last object of a slab, or of a large allocation)
  // looks like one never handed out: the message covers both.
  if (s === 0 || s + Word.BYTES > u32.length * 4) {
    remoteFail(caller, ptr, 'is not allocated (a double free?): no block the arena handed out holds it');
  }
  const h = s >>> 2;
  if (u32[h + Word.MAGIC] !== Mark.MEMPOOL) remoteFail(caller, ptr, 'is not in a mempool slab or a large allocation');
  if (u32[h + Word.OWNER] === ownerId) freeOwnedBy(u32[h + Word.POOL]!, ptr, s, caller);
  else freeRemote(caller, u32, i32, ptr, s, slabSizeAt(arena, s));
}

/**
 * A free of `ptr` (in mempool slab `s`, a block of `blockBytes` as the page map says) by a
 * worker that does not own it: marks the slot in the REMOTE bitmap and raises the pending
 * flag; never writes the object's bytes. The header's geometry is checked against the block
 * first, so the bit lands in this slab's REMOTE bitmap or nowhere. Throws InvalidPointerError
 * (nothing changed) when it is not live or the header does not fit its block. @internal
 */
export function freeRemote(name: string, u32: Uint32Array, i32: Int32Array, ptr: number, s: number, blockBytes: number): void {
  if (!headerFitsBlock(u32, s, blockBytes)) remoteFail(name, ptr, 'is in a slab whose header does not fit its block (corrupt memory?)');
  const h = s >>> 2;
  const idx = slotOf(u32, s, ptr);
  if (idx < 0) remoteFail(name, ptr, 'is not at an object boundary');
  const bw = bitmapWords(u32[h + Word.COUNT]!);
  const w = allocWord(s, idx);
  const bit = slotBit(idx);
  // A retired or deferred slot (HELD set) was freed already.
  if ((Atomics.load(i32, w) & bit) === 0 || (Atomics.load(i32, heldWord(w, bw)) & bit) !== 0) {
    remoteFail(name, ptr, 'is not allocated (a double free?)');
  }
  const old = Atomics.or(i32, remoteWord(w, bw), bit);
  if ((old & bit) !== 0) {
    // Its HELD bit (the owner's, read only to word the message) tells a free the owner holds back for a read view.
    const held = (Atomics.load(i32, heldWord(w, bw)) & bit) !== 0;
    remoteFail(name, ptr, held ? 'is not allocated (a double free?)' : 'was already freed by another worker');
  }
  // A load is a plain read on x86, a store a locked exchange: raise the flag only if it is down.
  // Safe: the owner lowers the flag before it takes the bitmap words, so a flag seen raised
  // after our bit was set means the owner's take comes later and sees the bit.
  if (Atomics.load(i32, h + Word.PENDING) === 0) Atomics.store(i32, h + Word.PENDING, 1);
}

function remoteFail(name: string, ptr: number, why: string): never {
  throw new InvalidPointerError(ptr, `${name}.free: pointer ${ptr} ${why}`);
}
