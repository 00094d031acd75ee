/**
 * Helpers shared by the Mempool and SmallAlloc tests: arenas, and stamping allocations so a
 * test can tell that nothing overlapped or moved.
 */
import assert from 'node:assert/strict';
import { Quota, SlabArena, SlabCache } from '../../../src/index.js';

export const KB = 1024;
export const MB = 1024 * KB;

/** A fresh cache over a fresh arena. */
export function cacheOf(quotaBytes: number, slabSize = 4 * MB): SlabCache {
  return new SlabCache(new SlabArena({ quota: new Quota(quotaBytes), slabSize }));
}

/**
 * Writes `tag` at the first and last 4 bytes of the `size`-byte allocation at `ptr` (just the
 * first bytes when it is shorter than 8, nothing for 0 bytes).
 */
export function stamp(u8: Uint8Array, ptr: number, size: number, tag: number): void {
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (size >= 8) {
    dv.setUint32(ptr, tag, true);
    dv.setUint32(ptr + size - 4, tag ^ 0x5a5a5a5a, true);
  } else {
    for (let i = 0; i < size; i++) u8[ptr + i] = (tag + i) & 0xff;
  }
}

/** Asserts the stamp written by {@link stamp} is intact. */
export function verifyStamp(u8: Uint8Array, ptr: number, size: number, tag: number): void {
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (size >= 8) {
    assert.equal(dv.getUint32(ptr, true), tag >>> 0, `first word of allocation ${tag} at ${ptr}`);
    assert.equal(dv.getUint32(ptr + size - 4, true), (tag ^ 0x5a5a5a5a) >>> 0, `last word of allocation ${tag} at ${ptr}`);
  } else {
    for (let i = 0; i < size; i++) assert.equal(u8[ptr + i], (tag + i) & 0xff, `byte ${i} of allocation ${tag} at ${ptr}`);
  }
}

/** Throws unless `fn` throws an error of class `cls` whose message matches `re`. */
export function throwsLike(fn: () => unknown, cls: abstract new (...a: never[]) => Error, re: RegExp, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `${what}: expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re, what);
    return true;
  }, what);
}
