/**
 * The one entry point. Re-exports are explicit and grouped bottom -> top of the hierarchy.
 */

// Errors
export { OutOfMemoryError, QuotaExceededError, InvalidPointerError } from './errors.js';

// The address space
export { Memory, MAX_BYTE_LENGTH } from './memory.js';
export type { MemoryOptions, WasmMemoryLike } from './memory.js';
