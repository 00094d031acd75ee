/**
 * What `Memory.create` commits where it backs memory by a wasm memory (on Bun, for memory made
 * unshared with a `maximum` of whole 64 KiB pages, and for a SlabArena's): whole pages.
 */
const PAGE = 65536;

/** True on Bun, where `Memory.create` may back memory by a shared wasm memory. */
export const WASM_BACKED = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/** The bytes an unshared `Memory.create({ maximum })` commits when asked for `n`. */
export function committed(n: number, maximum: number): number {
  return WASM_BACKED && maximum % PAGE === 0 ? Math.ceil(n / PAGE) * PAGE : n;
}

/**
 * `h` with its `buffer` replaced (a copy, maybe edited). A SlabArena's handle on Bun also
 * carries its wasm memory: a whole-length copy then goes into a wasm memory of its own, so that
 * attach reads the copy; any other buffer goes without one.
 */
export function withBuffer(h: unknown, buffer: unknown): unknown {
  const { wasm, ...rest } = h as { wasm?: { buffer: SharedArrayBuffer } };
  if (wasm === undefined || !(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== wasm.buffer.byteLength) return { ...rest, buffer };
  const copy = new WebAssembly.Memory({ initial: buffer.byteLength / PAGE, maximum: 65536, shared: true });
  new Uint8Array(copy.buffer).set(new Uint8Array(buffer));
  return { ...rest, buffer: copy.buffer, wasm: copy };
}
