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

// The small family: Quota, SlabArena, SlabCache

// The small family: Mempool, SmallAlloc

// The small family: Region, Ibuf, Obuf, LSRegion
