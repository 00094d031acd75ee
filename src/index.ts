/**
 * The one entry point. Re-exports are explicit and grouped bottom -> top of the hierarchy, as
 * the tree under src/ is laid out:
 * ```
 *  errors.ts, memory.ts, debug.ts       the errors, the address space, the debug switch
 *  arena/                               standalone: Arena (LevelDB's), BumpArena (bitena's)
 *
 *                   Quota               small/slabs/: limit + used, lock-free, shared
 *                     |
 *                 SlabArena             small/slabs/: big aligned slabs out of one reserved
 *                 /       \                           buffer; lock-free, shared
 *           SlabCache    LSRegion       small/slabs/ (buddy system, per worker), small/buffers/
 *          /    |    \
 *    Mempool  Region  Ibuf, Obuf        small/objects/, small/buffers/; they get blocks through
 *       |                               small/spare-block.ts (each pool's one empty block, and
 *       |                               memory pressure)
 *   SmallAlloc                          small/objects/: size classes, read views, large blocks
 *
 *  layout.ts, off-heap-map.ts          records over any memory; a map shared by every worker
 *  format.ts, heap-map.ts               stats and pictures for people
 * ```
 * Words: an *arena slab* is the SlabArena's unit and a *run* several adjacent ones; a *block* is
 * what a SlabCache hands out (4 KiB << order), a Mempool's "slab" is one block; a *page run* is
 * exact pages from a SlabCache, and a *large allocation* a SmallAlloc request above objsizeMax,
 * kept in a page run of its own. An *owner* is an entry of the arena's owner registry, named
 * by its *owner id*: a SlabCache's, or a worker's for the slabs it maps directly; an arena
 * slab's owner word and a block header's OWNER word hold one. The Mempool a block belongs to is
 * its *pool* (the POOL word), the allocator a `Memory` is given to its *claimant*, and the
 * worker a cache serves its *thread*. A slot is *taken* (a state: its ALLOCATED bit is set);
 * an owner *takes in* remote frees (an action).
 */

// `Symbol.dispose`, which `ReadView` is keyed by, for programs compiled without the disposable
// lib (`lib: ["es2022", "dom"]`): TypeScript's own `esnext.disposable` (and @types/node) declare
// the same member the same way, and identical `unique symbol` members merge, so this compiles
// under both TypeScript 5.9 and 6.0 with or without them. At run time it is the engine's symbol.
declare global {
  interface SymbolConstructor {
    /** The method `using` calls when a binding leaves its scope (ECMAScript explicit resource management). */
    readonly dispose: unique symbol;
  }
}

// Errors
export { OutOfMemoryError, QuotaExceededError, InvalidPointerError } from './errors.js';

// The address space
export { Memory, MAX_BYTE_LENGTH } from './memory.js';
export type { MemoryOptions, WasmMemoryLike } from './memory.js';

// Debug mode
export { setDebug, getDebug, FRESH_BYTE, FREED_BYTE } from './debug.js';
export type { DebugOptions } from './debug.js';

// Standalone arenas (LevelDB's Arena, bitena's BumpArena)
export { Arena } from './arena/arena.js';
export type { ArenaOptions } from './arena/arena.js';
export { BumpArena } from './arena/bump-arena.js';
export type { BumpArenaHandle, BumpArenaOptions, TypedArray, TypedArrayConstructor } from './arena/bump-arena.js';

// The small family: Quota, SlabArena, SlabCache
export { Quota } from './small/slabs/quota.js';
export type { QuotaHandle, QuotaOptions } from './small/slabs/quota.js';
export { SlabArena } from './small/slabs/slab-arena.js';
export type { SlabArenaHandle, SlabArenaOptions } from './small/slabs/slab-arena.js';
export { SlabCache } from './small/slabs/slab-cache.js';
export type { SlabCacheStats, SlabCacheOrderStats } from './small/slabs/slab-cache.js';

// The small family: Mempool, SmallAlloc
export { Mempool } from './small/objects/mempool.js';
export type { MempoolStats, MempoolAdoption } from './small/objects/mempool.js';
export { SmallAlloc } from './small/objects/small-alloc.js';
export type { AllocationInfo, ReadView, SmallAllocOptions, SmallAdoption, SmallClassStats, SmallStats } from './small/objects/small-alloc.js';
export type { ExitingWorker } from './internal/thread.js';
export { createAllocator } from './small/objects/create-allocator.js';
export type { CreateAllocatorOptions } from './small/objects/create-allocator.js';

// The small family: Region, Ibuf, Obuf, LSRegion
export { Region, REGION_SLAB_CAP } from './small/buffers/region.js';
export type { RegionStats } from './small/buffers/region.js';
export { Ibuf } from './small/buffers/ibuf.js';
export type { IbufStats } from './small/buffers/ibuf.js';
export { Obuf, OBUF_IOV_MAX } from './small/buffers/obuf.js';
export type { ObufSavepoint, ObufStats } from './small/buffers/obuf.js';
export { LSRegion } from './small/buffers/lsregion.js';
export type { LSRegionStats } from './small/buffers/lsregion.js';

// Records
export { OffHeapMap } from './off-heap-map.js';
export type { OffHeapMapHandle, OffHeapMapOptions, OffHeapMapStats } from './off-heap-map.js';
export { defineLayout } from './layout.js';
export type { BytesField, CursorPointer, FieldKind, FieldRecord, FieldValue, Layout, LayoutCursor, ScalarKind, StringField } from './layout.js';

// Stats for people
export { formatStats } from './format.js';
export { heapMap } from './heap-map.js';
export type { HeapMapOptions } from './heap-map.js';
