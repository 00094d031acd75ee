/**
 * The string codec (src/internal/strings.ts) through BumpArena against Node's own way of
 * turning a string into UTF-8 bytes and back: `Buffer.from(s)` + `buf.toString()`, in this
 * process. Each iteration stores and reads back 1000 strings of 16 characters (then resets the
 * arena) and reads one character of each result, so that a string built in pieces pays for
 * being flattened, as it would when used. Rows for the two halves alone show where the time
 * goes; a 16-character non-ASCII string (2- and 3-byte UTF-8) is shown for information.
 *
 * Each case runs its own copy of its loop (`specialize`).
 */
import { BumpArena } from '../src/arena/bump-arena.js';
import { compare } from './support/harness.js';
import { specialize } from './support/peers.js';

const BATCH = 1000;

/** `count` distinct strings of 16 characters, flat (not ropes or slices), as parsed text is. */
function words(count: number, make: (i: number) => string): string[] {
  return Array.from({ length: count }, (_, i) => {
    const s = make(i);
    if (s.length !== 16) throw new Error(`not 16 characters: ${s}`);
    return String.fromCharCode(...Array.from({ length: s.length }, (_, j) => s.charCodeAt(j)));
  });
}

function arenaPairs(arena: BumpArena, words: readonly string[]): number {
  let sink = 0;
  for (let i = 0; i < words.length; i++) {
    const s = arena.readString(arena.allocString(words[i]!));
    sink += s.charCodeAt(s.length - 1);
  }
  arena.reset();
  return sink;
}

function bufferPairs(words: readonly string[]): number {
  let sink = 0;
  for (let i = 0; i < words.length; i++) {
    const s = Buffer.from(words[i]!).toString();
    sink += s.charCodeAt(s.length - 1);
  }
  return sink;
}

function arenaWrites(arena: BumpArena, words: readonly string[]): number {
  let sink = 0;
  for (let i = 0; i < words.length; i++) sink ^= arena.allocString(words[i]!);
  arena.reset();
  return sink;
}

function bufferWrites(words: readonly string[]): number {
  let sink = 0;
  for (let i = 0; i < words.length; i++) sink += Buffer.from(words[i]!).length;
  return sink;
}

function arenaReads(arena: BumpArena, ptrs: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < ptrs.length; i++) {
    const s = arena.readString(ptrs[i]!);
    sink += s.charCodeAt(s.length - 1);
  }
  return sink;
}

function bufferReads(bufs: readonly Buffer[]): number {
  let sink = 0;
  for (let i = 0; i < bufs.length; i++) {
    const s = bufs[i]!.toString();
    sink += s.charCodeAt(s.length - 1);
  }
  return sink;
}

/** Runs the strings group. */
export async function run(): Promise<void> {
  const ascii = words(BATCH, (i) => `key-${String(i).padStart(4, '0')}-abcdefg`);
  const other = words(BATCH, (i) => `ключ-${String(i).padStart(4, '0')}-€ñ日本語z`);
  const stored = new BumpArena(1 << 16);
  const ptrs = Uint32Array.from(ascii, (s) => stored.allocString(s));
  const bufs = ascii.map((s) => Buffer.from(s));
  const [asciiArena, otherArena, writeArena] = [new BumpArena(1 << 16), new BumpArena(1 << 16), new BumpArena(1 << 16)];
  // Check the work before timing it: every string comes back as it went in.
  for (const [arena, list] of [[asciiArena, ascii], [otherArena, other]] as const) {
    for (const s of list) if (arena.readString(arena.allocString(s)) !== s) throw new Error(`round trip of ${s}`);
    arena.reset();
  }
  const [ap, bp, aw, bw, ar, br, op, obp] = [
    specialize(arenaPairs), specialize(bufferPairs), specialize(arenaWrites), specialize(bufferWrites),
    specialize(arenaReads), specialize(bufferReads), specialize(arenaPairs), specialize(bufferPairs),
  ];
  await compare('Strings of 16 characters, stored and read back (1000, then reset)', [
    { name: 'Buffer.from + toString, ASCII', ops: BATCH, fn: () => bp(ascii) },
    { name: 'allocString + readString, ASCII', ops: BATCH, fn: () => ap(asciiArena, ascii), vs: 'Buffer.from + toString, ASCII', target: 2 },
    { name: 'Buffer.from alone, ASCII', ops: BATCH, fn: () => bw(ascii) },
    { name: 'allocString alone, ASCII', ops: BATCH, fn: () => aw(writeArena, ascii), vs: 'Buffer.from alone, ASCII' },
    { name: 'buf.toString alone, ASCII', ops: BATCH, fn: () => br(bufs) },
    { name: 'readString alone, ASCII', ops: BATCH, fn: () => ar(stored, ptrs), vs: 'buf.toString alone, ASCII' },
    { name: 'Buffer.from + toString, non-ASCII', ops: BATCH, fn: () => obp(other) },
    { name: 'allocString + readString, non-ASCII', ops: BATCH, fn: () => op(otherArena, other), vs: 'Buffer.from + toString, non-ASCII' },
  ]);
}
