/**
 * Where shared memory comes from: the one place that makes a `SharedArrayBuffer`, and the one
 * message for a context that has none.
 *
 * Why it is needed: a browser page that is not cross-origin isolated (served without
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`)
 * has no `SharedArrayBuffer` global at all, so `new SharedArrayBuffer(n)` there is a bare
 * `ReferenceError` that names neither the allocator nor the way out. Everything that does not
 * share memory works in such a page: the unshared allocators keep their state in an
 * `ArrayBuffer`, and `Atomics` works on views of one as well.
 *
 * Memory source: the engine. Thread-safety: none needed (no state). Failure: asking for
 * shared memory where the constructor is missing is a `TypeError` naming the caller and
 * `opts.shared`, thrown before anything is made.
 */

/** True where `SharedArrayBuffer` exists (Node, Bun, Deno, a cross-origin isolated page). */
export function hasSharedMemory(): boolean {
  return typeof SharedArrayBuffer === 'function';
}

/**
 * Throws the `TypeError` for shared memory in a context without it (see the module); returns
 * nothing when shared memory is there.
 * @param where the public name the message opens with (`SlabArena`, `Memory.create`).
 */
export function requireSharedMemory(where: string): void {
  if (hasSharedMemory()) return;
  throw new TypeError(
    `${where}: opts.shared asks for a SharedArrayBuffer, which this context does not have: a browser page must be ` +
    'cross-origin isolated (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ' +
    'require-corp) to share memory with workers; pass shared: false for memory this thread alone uses');
}

/**
 * A new `SharedArrayBuffer` of `byteLength` bytes, growable up to `maxByteLength` when that is
 * given; the `TypeError` of {@link requireSharedMemory} where there is none.
 */
export function newSharedBuffer(where: string, byteLength: number, maxByteLength?: number): SharedArrayBuffer {
  requireSharedMemory(where);
  return maxByteLength === undefined
    ? new SharedArrayBuffer(byteLength)
    : new SharedArrayBuffer(byteLength, { maxByteLength });
}
