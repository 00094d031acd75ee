/**
 * Large allocations: SmallAlloc's requests above its largest size class.
 *
 * Memory source: a {@link SlabCache} page run (`cache.getPages`): the size rounded up to whole
 * 4 KiB pages inside an arena slab, or to whole slabs above one. The block holds the caller's
 * bytes only: its bookkeeping lives outside it, in the arena's page tags of its first page, so
 * `alloc(1 << 20)` holds exactly 1 MiB.
 *
 * Layout (two Int32 words per page in `arena.pageTags`; those of the run's first page):
 * ```
 *  word 0   state << 30 | allocator id     state: LIVE 1, REMOTE 2, DEFERRED 3 (0: no allocation)
 *                                          id: the SmallAlloc's id (below 2^30)
 *  word 1   bytes asked for
 * ```
 * The owner worker is the arena slab's owner (`arena.slabOwner`), as for every block.
 *
 * Thread-safety: word 0 changes only by compare-exchange. The owner writes LIVE at allocation;
 * a free from another worker turns LIVE into REMOTE (never touching the bytes) and the owner
 * takes it in later; an adopter re-tags the id. Everything else is the owner's.
 *
 * Failure: the free functions throw `InvalidPointerError` and change nothing when the pointer
 * is not the start of a live large allocation.
 */
import { InvalidPointerError } from '../../errors.js';
import { describe } from '../../internal/checks.js';
import type { SlabArena } from '../slabs/slab-arena.js';
import { isRun, Page } from '../slabs/page-map.js';

/** States of a large allocation (word 0 >>> 30). @internal */
export const enum LargeState {
  NONE = 0,
  LIVE = 1,
  REMOTE = 2,
  DEFERRED = 3,
}

const STATE_SHIFT = 30;
const ID_MASK = 0x3fffffff;

/** Word 0 for an allocation of allocator `id` in state `state`. @internal */
export function largeWord(state: LargeState, id: number): number {
  return ((state << STATE_SHIFT) | id) | 0;
}

/** The state in word 0. @internal */
export function largeState(word: number): LargeState {
  return (word >>> STATE_SHIFT) as LargeState;
}

/** The allocator id in word 0. @internal */
export function largeId(word: number): number {
  return word & ID_MASK;
}

/** True when `ptr` lies in a page run (a large allocation, or a run another allocator got). @internal */
export function isPageRun(arena: SlabArena, ptr: number): boolean {
  return isRun(arena.pageMap[Math.floor(ptr / Page.BYTES)]!);
}

/** Index in `arena.pageTags` of word 0 of the allocation starting at `start`. @internal */
export function tagIndex(start: number): number {
  return 2 * Math.floor(start / Page.BYTES);
}

/**
 * Word 0 of the live large allocation starting exactly at `ptr`; throws InvalidPointerError
 * naming `where` (the method called) for an interior pointer, a run that is no allocation, or one already freed.
 * @internal
 */
export function liveLargeWord(arena: SlabArena, ptr: number, where: string): number {
  if (ptr % Page.BYTES !== 0 || arena.pageMap[ptr / Page.BYTES] !== Page.RUN) {
    largeFail(where, ptr, 'is inside a large allocation, not at its start');
  }
  const w = Atomics.load(arena.pageTags, tagIndex(ptr));
  const st = largeState(w);
  if (st === LargeState.NONE) largeFail(where, ptr, 'is not in an allocation of this family (a run of another allocator)');
  if (st !== LargeState.LIVE) largeFail(where, ptr, 'is not a live large allocation (a double free?)');
  return w;
}

/**
 * A free, by a worker that does not own it, of the large allocation at `ptr`: LIVE becomes
 * REMOTE, the bytes are not touched. InvalidPointerError (nothing changed) if not live.
 * @internal
 */
export function freeLargeRemote(arena: SlabArena, ptr: number, where: string): void {
  const tags = arena.pageTags;
  const i = tagIndex(ptr);
  for (;;) {
    const w = liveLargeWord(arena, ptr, where);
    // An adopter may re-tag the id between the load and the exchange: then try again.
    if (Atomics.compareExchange(tags, i, w, largeWord(LargeState.REMOTE, largeId(w))) === w) return;
  }
}

/** Throws InvalidPointerError for a large allocation. @internal */
export function largeFail(where: string, ptr: number, why: string): never {
  throw new InvalidPointerError(ptr, `${where}: pointer ${describe(ptr)} ${why}`);
}
