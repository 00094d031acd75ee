/**
 * Attach-time validation of a SlabArena's handle: before `SlabArena.attach` builds an arena over
 * a buffer another worker sent, `verifyHandle` checks the header, the geometry words against the
 * buffer's size, and that the handle's quota is the one the arena recorded. (The walk of the
 * whole control state comes after the build: arena-check.ts.)
 *
 * Memory source: none of its own; it wraps the handle's buffer (`Memory.wrap`) and attaches its
 * quota (`Quota.attach`) for the arena to take over.
 *
 * Thread-safety: it reads words written once, at construction, before any handle existed; it
 * may run while other workers map and unmap.
 *
 * Failure: TypeError, naming `where` and what is wrong; nothing is changed.
 */
import { typeError } from '../../internal/checks.js';
import { Kind, verifyHeader } from '../../internal/header.js';
import { MAX_BYTE_LENGTH, Memory } from '../../memory.js';
import { ARRAYS_BYTE, controlBytes, Ctl, VERSION } from './arena-layout.js';
import { Quota } from './quota.js';
import type { SlabArenaHandle } from './slab-arena.js';

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
  const reserved = sab.growable ? sab.maxByteLength : sab.byteLength;
  if (reserved !== nslabs * 2 ** shift || sab.byteLength < declared) {
    throw new TypeError(`${where}: buffer is truncated (${sab.byteLength} of ${reserved} bytes, arena needs ${nslabs * 2 ** shift} reserved)`);
  }
  if (typeof handle.quota !== 'object' || handle.quota === null) typeError(where, 'handle.quota', 'a QuotaHandle', handle.quota);
  const quota = Quota.attach(handle.quota);
  if (lo !== (quota.identity % 2 ** 32 | 0) || hi !== Math.floor(quota.identity / 2 ** 32)) {
    throw new TypeError(`${where}: handle.quota is not this arena's quota (identity ${(lo >>> 0) + hi * 2 ** 32}, the handle's is ${quota.identity})`);
  }
  return { memory: Memory.wrap(sab), quota };
}
