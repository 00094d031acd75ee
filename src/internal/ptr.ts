/**
 * Pointers: a pointer is a plain number, a byte offset into an allocator's memory; 0 is null.
 */

/** A byte offset into an allocator's memory; 0 is never a valid allocation. */
export type Ptr = number;

/**
 * `x` as a small integer where it fits: the arena may hand out pointers as heap numbers, and
 * one stored into a field makes V8 keep that field as a boxed double for every instance.
 * Exact for every pointer (all are below 2^32).
 */
export function asPtr(x: number): Ptr {
  return x < 4294967296 ? x >>> 0 : x;
}
