/**
 * The header every shared structure of the library writes at the start of its state, so that
 * `attach()` can tell our buffers from anything else.
 *
 * ```
 *  byte 0        4              8             12            16
 *  +-------------+--------------+-------------+-------------+
 *  | MAGIC 'BNAL'| kind<<16|ver | byteLength  | check word  |
 *  +-------------+--------------+-------------+-------------+
 * ```
 * `byteLength` is the size of the structure's state (for a growable buffer: its reserved
 * maximum); the check word is a mix of the other three, so a corrupt header is told apart
 * from one of another version. All four are written once, before the handle is published.
 */
import { describe, isSharedBuffer } from './checks.js';

/** Bytes taken by the header; state starts after it. */
export const HEADER_BYTES = 16;
const MAGIC = 0x4c414e42; // 'BNAL' little-endian
const MIX = 0x5bd1e995;

/** Kinds of shared structures, each with its own layout version. */
export const enum Kind {
  Quota = 1,
  SlabArena = 2,
  BumpArena = 3,
}

function checkWord(kindVersion: number, byteLength: number): number {
  return (Math.imul(MAGIC ^ kindVersion, MIX) ^ Math.imul(byteLength | 0, 0x27d4eb2d)) | 0;
}

/** Writes the header into the first 16 bytes of `i32`'s buffer at `i32`'s offset 0. */
export function writeHeader(i32: Int32Array, kind: Kind, version: number, byteLength: number): void {
  const kindVersion = (kind << 16) | version;
  i32[0] = MAGIC;
  i32[1] = kindVersion;
  i32[2] = byteLength | 0;
  i32[3] = checkWord(kindVersion, byteLength);
}

/**
 * Checks that `buffer` carries a header of `kind`/`version` and is at least `byteLength` long.
 * Throws a `TypeError` naming `where` and what is wrong.
 */
export function verifyHeader(
  where: string, buffer: unknown, kind: Kind, version: number, minByteLength: number,
): number {
  if (!isSharedBuffer(buffer)) {
    throw new TypeError(`${where}: handle.buffer must be a SharedArrayBuffer, got ${describe(buffer)}`);
  }
  if (buffer.byteLength < HEADER_BYTES) {
    throw new TypeError(`${where}: buffer is truncated (${buffer.byteLength} bytes, no header)`);
  }
  const h = new Int32Array(buffer, 0, 4);
  if (h[0] !== MAGIC) throw new TypeError(`${where}: buffer is not one of this library's (bad magic)`);
  const kindVersion = h[1]!;
  if (h[3] !== checkWord(kindVersion, h[2]!)) throw new TypeError(`${where}: corrupt header`);
  if (kindVersion >>> 16 !== kind) {
    throw new TypeError(`${where}: buffer holds another kind of structure (kind ${kindVersion >>> 16}, expected ${kind})`);
  }
  if ((kindVersion & 0xffff) !== version) {
    throw new TypeError(`${where}: layout version ${kindVersion & 0xffff}, this library reads version ${version}`);
  }
  const declared = h[2]! >>> 0;
  const reserved = buffer.growable ? buffer.maxByteLength : buffer.byteLength;
  if (declared < minByteLength || reserved < declared) {
    throw new TypeError(`${where}: buffer is truncated (${reserved} bytes, header says ${declared})`);
  }
  return declared;
}
