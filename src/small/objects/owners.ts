/**
 * This worker's allocators by id: the registry a free made through one allocator of a worker
 * uses to hand the free to the allocator of the same worker that owns the block (the id is the
 * slab header's Word.POOL, or a large allocation's page tag). Held weakly: an allocator dropped
 * without destroy() leaves its blocks behind, and a free in them then finds nobody.
 */
import { InvalidPointerError } from '../../errors.js';
import { describe } from '../../internal/checks.js';

/**
 * An allocator of this family that owns blocks of this worker's caches: a free made through
 * another allocator of the same worker is handed to it. @internal
 */
export interface BlockOwner {
  /**
   * Frees `ptr` in block `s`, whose header names this allocator; `caller` names the method
   * called, for the error. Throws InvalidPointerError (nothing changed) if it is not live.
   */
  freeOwned(ptr: number, s: number, caller: string): void;
}

/**
 * This worker's allocators by id (Word.POOL of their blocks). Held weakly: an allocator dropped
 * without destroy() leaves its blocks behind, and a free in them then finds nobody.
 */
const owners = new Map<number, WeakRef<BlockOwner>>();
const reaper = new FinalizationRegistry<number>((id) => {
  if (owners.get(id)?.deref() === undefined) owners.delete(id);
});

/**
 * A fresh id for `owner` (a pool or a SmallAlloc), unique among this worker's live
 * allocators; with the owner id, unique within the arena. Ids are random 32-bit values, not
 * a counter: the fast free paths find a slab by masking the pointer and trust a header whose
 * owner and pool words match, and stray data that happens to hold a small counter value
 * would be far likelier than data that holds a random 30-bit one. @internal
 */
export function newPoolId(owner: BlockOwner): number {
  let id: number;
  // Below 2^30, so that V8 keeps the id a small integer on every build (a field holding a
  // larger one would turn into a boxed double in every pool).
  do id = Math.floor(Math.random() * 0x3fffffff) + 1; while (owners.has(id));
  owners.set(id, new WeakRef(owner));
  reaper.register(owner, id);
  return id;
}

/** The live allocator of this worker with id `id`, or undefined. @internal */
export function ownerOf(id: number): BlockOwner | undefined {
  return owners.get(id)?.deref();
}

/**
 * A free of `ptr` in block `s`, whose header names this worker's cache as owner, made through
 * any allocator of this worker: the allocator whose id the header holds takes it.
 * @internal
 */
export function freeOwnedBy(id: number, ptr: number, s: number, caller: string): void {
  const owner = ownerOf(id);
  if (owner === undefined) {
    throw new InvalidPointerError(ptr, `${caller}.free: pointer ${describe(ptr)} is in a block of no live allocator`);
  }
  owner.freeOwned(ptr, s, caller);
}

