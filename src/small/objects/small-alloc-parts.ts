/**
 * What a SmallAlloc's helpers may read of it: the modules that hold its cold code (the checked
 * free, info, stats, check, adoption, realloc) take one `SmallAllocParts` instead of its private
 * parts one by one, and see every field read-only. Changes to a SmallAlloc's own state are made
 * in small-alloc.ts; a helper changes what it is handed (a pool, the large allocations) through
 * their methods. SmallAlloc satisfies it; this file imports nothing of small-alloc.ts, so no
 * helper imports the file that imports it.
 *
 * Memory source, thread-safety, failure: none of its own (types only).
 */
import type { Memory } from '../../memory.js';
import type { SlabCache } from '../slabs/slab-cache.js';
import type { Mempool } from './mempool.js';
import type { ReadViews } from './read-views.js';
import type { SizeClasses } from './size-class.js';
import type { LargeAllocations } from './small-alloc-large.js';

/** A SmallAlloc, read-only, as its helpers see it (the fields' meanings are SmallAlloc's). @internal */
export interface SmallAllocParts {
  readonly cache: SlabCache;
  readonly memory: Memory;
  readonly classes: SizeClasses;
  readonly objsizeMax: number;
  /** This allocator's id (large allocations' page tags name it). */
  readonly id: number;
  /** Its cache's owner id. */
  readonly ownerId: number;
  /** Class pools by class index (null: not made yet). */
  readonly pools: readonly (Mempool | null)[];
  /** Adopted pools of objsizes outside the classes, by objsize. */
  readonly extra: ReadonlyMap<number, Mempool>;
  readonly large: LargeAllocations;
  readonly views: ReadViews;
  /** Views closed by the garbage collector. */
  readonly viewsCollected: number;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly viewEnd: number;
  refresh(): void;
  tryAlloc(size: number): number;
}
