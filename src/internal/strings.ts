/**
 * The string codec every allocator's `allocString`/`readString` uses: UTF-8 after its byte
 * length. Internal: not exported from the package.
 *
 * Memory source: none of its own. The caller allocates `STRING_PREFIX + stringBytes(s)` bytes
 * aligned to `STRING_ALIGN` and passes its memory's current views (`u8`, `dv`); the codec writes
 * and reads straight through them, with no temporary buffer.
 *
 * Layout of a string at `ptr` (ptr % STRING_ALIGN === 0):
 * ```
 *  ptr        ptr+4                         ptr+4+n
 *  +----------+-----------------------------+
 *  | n (u32,  | n bytes of UTF-8            |
 *  |  LE)     | (no terminator, no padding) |
 *  +----------+-----------------------------+
 * ```
 * Encoding is TextEncoder's: a lone surrogate (an unpaired U+D800..U+DFFF) is written as U+FFFD
 * (3 bytes), so such a string does not round-trip: it reads back with U+FFFD in its place.
 *
 * Thread-safety: pure functions of their arguments. A string may be read by any worker that
 * sees the memory; one written while another worker reads it reads back as garbage (never as a
 * crash), as with any other bytes.
 *
 * Failure: `readStringAt` throws `InvalidPointerError` naming `where` when the length, or the
 * bytes it announces, run past `limit`; it reads nothing past `limit`. The writers cannot fail:
 * the caller has allocated the room.
 *
 * Invariants: `stringBytes(s)` is the number of bytes `TextEncoder` writes for `s`, and
 * `writeString` writes exactly `STRING_PREFIX + n` bytes at `[ptr, ptr + 4 + n)`.
 */
import { InvalidPointerError } from '../errors.js';
import { checkPointer, typeError } from './checks.js';

/** Bytes in front of a string: its UTF-8 byte length as a u32, little-endian. */
export const STRING_PREFIX = 4;
/** Alignment of a string's pointer: that of its u32 length. */
export const STRING_ALIGN = 4;

/**
 * ASCII strings up to this many bytes are written with a byte loop: on Node 20 it beats making
 * a subarray and crossing into `encodeInto` (25 ns against 70 ns at 16 bytes of a flat string;
 * even at 48 bytes, where a sliced string's slower `charCodeAt` makes it a tie).
 */
const SHORT_WRITE = 48;
/**
 * Strings up to this many bytes are built with `String.fromCharCode` while they are ASCII:
 * `TextDecoder.decode` costs about 85 ns whatever the length (Node 20 and 24) and the loop
 * about 2.5 ns a byte, result flattened; they meet near 32 bytes. A string that turns out not
 * to be ASCII has wasted its scan up to the first byte >= 0x80, hence the margin.
 */
const SHORT_READ = 24;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Views of the kinds of buffer the allocators use, besides a plain `ArrayBuffer`: a growable
 * `SharedArrayBuffer` (where there is one) and a resizable `ArrayBuffer`.
 */
function unusualViews(): Uint8Array[] {
  const views: Uint8Array[] = [];
  if (typeof SharedArrayBuffer === 'function') views.push(new Uint8Array(new SharedArrayBuffer(4)));
  try {
    views.push(new Uint8Array(new ArrayBuffer(4, { maxByteLength: 8 } as never)));
  } catch {
    // No resizable ArrayBuffer here: nothing to test.
  }
  return views;
}

/** True when `f` takes a view of each of those buffers without throwing. */
function takesUnusualViews(f: (view: Uint8Array) => unknown): boolean {
  try {
    for (const v of unusualViews()) f(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `decoder.decode` takes a view of a `SharedArrayBuffer` or a resizable `ArrayBuffer`:
 * Node 20 and 24 do; Chromium and Firefox throw ("must not be shared", "must not be
 * resizable"). Where it does not, a private copy is decoded instead.
 */
const DECODES_SHARED = takesUnusualViews((v) => decoder.decode(v));
/** The same for `encoder.encodeInto`: where it does not, the string is encoded and copied in. */
const ENCODES_SHARED = takesUnusualViews((v) => encoder.encodeInto('é', v));

/** Bytes of `s` in UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD: 3 bytes). */
export function stringBytes(s: string): number {
  const len = s.length;
  let i = 0;
  // The common case in one tight loop: an ASCII string's byte length is its length.
  while (i < len && s.charCodeAt(i) < 0x80) i++;
  return i === len ? len : i + nonAsciiBytes(s, i);
}

/** UTF-8 bytes of `s` from index `i` on. */
function nonAsciiBytes(s: string, i: number): number {
  let n = 0;
  const len = s.length;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    } else n += 3;
  }
  return n;
}

/**
 * Writes `s` at `ptr`: its byte length `n` (which must be `stringBytes(s)`) as a u32, then its
 * UTF-8. The caller owns `[ptr, ptr + STRING_PREFIX + n)` within `u8` and `dv` (views of the
 * same memory, from offset 0).
 */
export function writeString(u8: Uint8Array, dv: DataView, ptr: number, s: string, n: number): void {
  dv.setUint32(ptr, n, true);
  const start = ptr + STRING_PREFIX;
  if (n === s.length && n <= SHORT_WRITE) {
    for (let i = 0; i < n; i++) u8[start + i] = s.charCodeAt(i);
  } else if (n > 0) {
    if (ENCODES_SHARED) encoder.encodeInto(s, u8.subarray(start, start + n));
    else u8.set(encoder.encode(s), start);
  }
}

/**
 * The string written at `ptr` by {@link writeString}, read through `u8`/`dv` (views of the same
 * memory, from offset 0) without touching a byte at or past `limit` (at most their length).
 * `ptr` must be a non-negative integer (the caller's pointer check). Throws
 * `InvalidPointerError` naming `where` (`'SmallAlloc.readString'`) when the length or the
 * bytes it announces run past `limit`. Invalid UTF-8 decodes to U+FFFD, as TextDecoder does.
 */
export function readStringAt(u8: Uint8Array, dv: DataView, ptr: number, limit: number, where: string): string {
  const start = ptr + STRING_PREFIX;
  if (start > limit) {
    throw new InvalidPointerError(ptr, `${where}: ${ptr} is not a string (its length would run past ${limit})`);
  }
  const n = dv.getUint32(ptr, true);
  if (n > limit - start) {
    throw new InvalidPointerError(ptr, `${where}: ${ptr} is not a string (its length ${n} runs past ${limit})`);
  }
  if (n <= SHORT_READ) {
    const s = shortAscii(u8, start, n);
    if (s !== null) return s;
  }
  const bytes = u8.subarray(start, start + n);
  // Copy only where the decoder refuses shared or resizable memory (see DECODES_SHARED).
  return decoder.decode(DECODES_SHARED ? bytes : bytes.slice());
}

/** The `n` bytes at `start` as a string if they are all ASCII, else null. */
function shortAscii(u8: Uint8Array, start: number, n: number): string | null {
  let s = '';
  const end = start + n;
  let i = start;
  // Eight at a time: fewer intermediate strings (V8 copies those under 13 characters and
  // chains longer ones, to be flattened later) and no subarray, as `apply` would need.
  for (; i + 8 <= end; i += 8) {
    const a = u8[i]!, b = u8[i + 1]!, c = u8[i + 2]!, d = u8[i + 3]!;
    const e = u8[i + 4]!, f = u8[i + 5]!, g = u8[i + 6]!, h = u8[i + 7]!;
    if ((a | b | c | d | e | f | g | h) >= 0x80) return null;
    s += String.fromCharCode(a, b, c, d, e, f, g, h);
  }
  if (i + 4 <= end) {
    const a = u8[i]!, b = u8[i + 1]!, c = u8[i + 2]!, d = u8[i + 3]!;
    if ((a | b | c | d) >= 0x80) return null;
    s += String.fromCharCode(a, b, c, d);
    i += 4;
  }
  for (; i < end; i++) {
    const a = u8[i]!;
    if (a >= 0x80) return null;
    s += String.fromCharCode(a);
  }
  return s;
}

/**
 * An allocator's `allocString(s)` argument: `TypeError` naming `where` unless `s` is a string;
 * returns its UTF-8 byte length (the allocation is `STRING_PREFIX` more).
 */
export function stringArg(where: string, s: unknown): number {
  if (typeof s !== 'string') typeError(where, 's', 'a string', s);
  return stringBytes(s);
}

/**
 * An allocator's `readString(ptr)`: the pointer rule (`TypeError`, `RangeError`), then
 * {@link readStringAt} up to `limit`.
 */
export function readStringArg(where: string, u8: Uint8Array, dv: DataView, ptr: unknown, limit: number): string {
  if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
  return readStringAt(u8, dv, ptr as number, limit, where);
}
