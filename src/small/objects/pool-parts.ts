/**
 * What a Mempool's helpers may read of it: the modules that hold its cold code (check, stats,
 * strings, adoption, taking remote frees in) take a `PoolParts` and see every field read-only,
 * so each change to a pool's state is made in mempool.ts, by the pool itself; a helper changes
 * shared memory (a slab's header and bitmaps) and returns what the pool must apply. Mempool
 * satisfies it; this file imports nothing of mempool.ts, so no helper imports the file that
 * imports it.
 *
 * Memory source, thread-safety, failure: none of its own (types only).
 */
import type { SlabCache } from '../slabs/slab-cache.js';
import type { SpareBlock } from '../spare-block.js';
import type { ReadViews } from './read-views.js';
import type { SlabHeap } from './slab-heap.js';

/** A Mempool, read-only, as its helpers see it (the fields' meanings are Mempool's). @internal */
export interface PoolParts {
  readonly objsize: number;
  readonly cache: SlabCache;
  readonly slabSize: number;
  readonly objcount: number;
  readonly coldLimit: number;
  readonly stride: number;
  readonly first: number;
  readonly bw: number;
  readonly poolId: number;
  readonly ownerId: number;
  readonly classIndex: number;
  readonly debug: boolean;
  readonly views: ReadViews;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly tag: number;
  readonly viewEnd: number;
  readonly cur: number;
  readonly scan: number;
  readonly heap: SlabHeap;
  readonly slabs: readonly number[];
  readonly spare: SpareBlock;
  readonly liveRest: number;
  readonly deferredCount: number;
  nfree(s: number): number;
  tryAlloc(): number;
  takeRemote(): number;
  refresh(): void;
}
