/**
 * Attach-time validation of a SlabArena's handle: before `SlabArena.attach` builds an arena over
 * a buffer another worker sent, `verifyHandle` checks the header, the geometry words against the
 * buffer's size, and that the handle's quota is the one the arena recorded. (The walk of the
 * whole control state comes after the build: arena-check.ts.)
 *
 * Memory source: none of its own; it wraps the handle's buffer, or its wasm memory where it has
 * one (Bun: `Memory.create`), and attaches its quota (`Quota.attach`) for the arena to take over.
 *
 * Thread-safety: it reads words written once, at construction, before any handle existed; it
 * may run while other workers map and unmap.
 *
 * Failure: TypeError, naming `where` and what is wrong; nothing is changed.
 *
 * The handle's type is declared here, beside the checks that read it (slab-arena.ts
 * re-exports it).
 */
import { Kind, verifyHeader } from '../../internal/header.js';
import { isSharedBuffer, typeError } from '../../internal/checks.js';
import { MAX_BYTE_LENGTH, Memory, isWasmMemory, type WasmMemoryLike } from '../../memory.js';
import { ARRAYS_BYTE, controlBytes, Ctl, VERSION } from './arena-layout.js';
import { Quota, type QuotaHandle } from './quota.js';

/**
 * What `SlabArena.attach` needs: structured-cloneable, send it with `postMessage`.
 * @category Arenas
 */
export interface SlabArenaHandle {
  /** The arena's address space: control state, then the slabs. */
  readonly buffer: SharedArrayBuffer;
  /**
   * Where the arena's memory is a shared `WebAssembly.Memory` (on Bun, see `Memory.create`):
   * that memory, whose growth `buffer` (its buffer when the handle was made) does not show.
   */
  readonly wasm?: WasmMemoryLike;
  /** The handle of the arena's {@link Quota}. */
  readonly quota: QuotaHandle;
}

/** The memory and quota of the arena `handle` names, once they pass the checks above. @internal */
export function verifyHandle(where: string, handle: SlabArenaHandle): { memory: Memory; quota: Quota } {
  if (typeof handle !== 'object' || handle === null) typeError(where, 'handle', 'a SlabArenaHandle', handle);
  const buffer = handle.buffer;
  const declared = verifyHeader(where, buffer, Kind.SlabArena, VERSION, ARRAYS_BYTE);
  const sab = buffer as SharedArrayBuffer;
  const w = new Int32Array(sab, 0, 16);
  const shift = w[Ctl.SHIFT]!;
  const nslabs = w[Ctl.NSLABS]!;
  const ctrl = w[Ctl.CTRL]!;
  const lo = w[Ctl.QUOTA_LO]!;
  const hi = w[Ctl.QUOTA_HI]!;
  const ok = shift >= 16 && shift <= 30 && nslabs >= 2 && nslabs <= MAX_BYTE_LENGTH / 2 ** shift &&
    declared === controlBytes(nslabs, shift) && ctrl === Math.ceil(declared / 2 ** shift) && ctrl < nslabs &&
    hi >= 1 && hi < 2 ** 21;
  if (!ok) {
    throw new TypeError(`${where}: corrupt control state (slab shift ${shift}, ${nslabs} slabs, ${ctrl} control slabs, quota identity high word ${hi})`);
  }
  if (typeof handle.quota !== 'object' || handle.quota === null) typeError(where, 'handle.quota', 'a QuotaHandle', handle.quota);
  const quota = Quota.attach(handle.quota);
  if (lo !== (quota.identity % 2 ** 32 | 0) || hi !== Math.floor(quota.identity / 2 ** 32)) {
    throw new TypeError(`${where}: handle.quota is not this arena's quota (identity ${(lo >>> 0) + hi * 2 ** 32}, the handle's is ${quota.identity})`);
  }
  const wasm = sameMemory(where, handle, sab);
  // A wasm memory does not tell its maximum: the memory itself refuses growth past it.
  const reserved = wasm !== undefined ? nslabs * 2 ** shift : sab.growable ? sab.maxByteLength : sab.byteLength;
  if (reserved !== nslabs * 2 ** shift || sab.byteLength < declared) {
    throw new TypeError(`${where}: buffer is truncated (${sab.byteLength} of ${reserved} bytes, arena needs ${nslabs * 2 ** shift} reserved)`);
  }
  return { memory: wasm !== undefined ? Memory.wrap(wasm, { maximum: reserved }) : Memory.wrap(sab), quota };
}

/** Words written once, at construction (header, geometry, quota): equal in two buffers of one memory. */
const FIXED_WORDS = [0, 1, 2, 3, Ctl.SHIFT, Ctl.NSLABS, Ctl.CTRL, Ctl.QUOTA_LO, Ctl.QUOTA_HI];

/**
 * The handle's wasm memory, if it has one: a shared `WebAssembly.Memory` whose buffer begins
 * with the same header and control words as `handle.buffer` (so the checks made on that buffer
 * hold for it); undefined for a handle without one.
 */
function sameMemory(where: string, handle: SlabArenaHandle, sab: SharedArrayBuffer): SlabArenaHandle['wasm'] {
  const wasm = handle.wasm;
  if (wasm === undefined) return undefined;
  if (!isWasmMemory(wasm) || !isSharedBuffer(wasm.buffer)) typeError(where, 'handle.wasm', 'a shared WebAssembly.Memory', wasm);
  const mine = new Int32Array(wasm.buffer, 0, Math.min(16, wasm.buffer.byteLength >>> 2));
  const theirs = new Int32Array(sab, 0, 16);
  for (const i of FIXED_WORDS) {
    if (mine[i] !== theirs[i]) throw new TypeError(`${where}: handle.wasm is not the memory of handle.buffer (word ${i} differs)`);
  }
  return wasm;
}
