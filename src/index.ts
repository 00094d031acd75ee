/**
 * The one entry point. Re-exports are explicit and grouped bottom -> top of the hierarchy.
 */

// Errors
export { OutOfMemoryError, QuotaExceededError, InvalidPointerError } from './errors.js';

// The address space
export { Memory, MAX_BYTE_LENGTH } from './memory.js';
export type { MemoryOptions, WasmMemoryLike } from './memory.js';

// Debug mode
export { setDebug, getDebug, FRESH_BYTE, FREED_BYTE } from './internal/debug.js';
export type { DebugOptions } from './internal/debug.js';

// Standalone arenas (LevelDB's Arena, bitena's BumpArena)
export { Arena } from './arena/arena.js';
export type { ArenaOptions } from './arena/arena.js';
export { BumpArena } from './arena/bump-arena.js';
export type { BumpArenaHandle, BumpArenaOptions, TypedArray, TypedArrayConstructor } from './arena/bump-arena.js';

// The small family: Quota, SlabArena, SlabCache
export { Quota } from './small/quota.js';
export type { QuotaHandle, QuotaOptions } from './small/quota.js';
export { SlabArena } from './small/slab-arena.js';
export type { SlabArenaHandle, SlabArenaOptions } from './small/slab-arena.js';
export { SlabCache } from './small/slab-cache.js';
export type { SlabCacheStats, SlabCacheOrderStats } from './small/slab-cache.js';

// The small family: Mempool, SmallAlloc
export { Mempool } from './small/mempool.js';
export type { MempoolStats, MempoolAdoption } from './small/mempool.js';
export { SmallAlloc } from './small/small-alloc.js';
export type { AllocationInfo, ReadView, SmallAllocOptions, SmallAdoption, SmallClassStats, SmallStats } from './small/small-alloc.js';
export { createAllocator } from './small/create-allocator.js';
export type { CreateAllocatorOptions } from './small/create-allocator.js';

// The small family: Region, Ibuf, Obuf, LSRegion
export { Region, REGION_SLAB_CAP } from './small/region.js';
export type { RegionStats } from './small/region.js';
export { Ibuf } from './small/ibuf.js';
export type { IbufStats } from './small/ibuf.js';
export { Obuf, OBUF_IOV_MAX } from './small/obuf.js';
export type { ObufSavepoint, ObufStats } from './small/obuf.js';
export { LSRegion } from './small/lsregion.js';
export type { LSRegionStats } from './small/lsregion.js';

// Records
export { defineLayout } from './layout.js';
export type { BytesField, CursorPointer, FieldKind, FieldRecord, FieldValue, Layout, LayoutCursor, ScalarKind, StringField } from './layout.js';

// Stats for people
export { formatStats } from './format.js';
export { heapMap } from './heap-map.js';
export type { HeapMapOptions } from './heap-map.js';
