/**
 * SmallAlloc's record calls against what they stand for, in one process:
 * - `realloc` within the size class (64 <-> 60 bytes, in place) against an alloc+free pair of
 *   64 bytes (target: at most 1.5x);
 * - `realloc` that moves (64 -> 200 bytes and back) against the same work by hand: alloc, copy
 *   the bytes, free (target: at most 1.25x: a moving realloc checks `ptr` before it allocates,
 *   so that a bad pointer changes nothing, and that check is what it costs over the hand-written
 *   loop; 1.15-1.22x was accepted for it);
 * - the copy a moving realloc makes, inside the memory: `copyWithin` against a loop over 32-bit
 *   words, for 16, 64 and 128 bytes (what sets the word loop's limit in `SmallAlloc.moveTo`).
 * Each contender runs its own copy of its loop (`specialize`).
 */
import { createAllocator } from '../src/small/objects/create-allocator.js';
import type { SmallAlloc } from '../src/small/objects/small-alloc.js';
import { compare } from './support/harness.js';
import { specialize } from './support/peers.js';

const N = 1000;

function pairs(a: SmallAlloc, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const p = a.alloc(64);
    sink ^= p;
    a.free(p);
  }
  return sink;
}

function reallocInPlace(a: SmallAlloc, p: number, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink ^= a.realloc(p, (i & 1) === 0 ? 60 : 64);
  return sink;
}

function reallocMoving(a: SmallAlloc, start: number, n: number): number {
  let p = start;
  for (let i = 0; i < n; i++) p = a.realloc(p, (i & 1) === 0 ? 200 : 64);
  return p;
}

function byHand(a: SmallAlloc, start: number, n: number): number {
  let p = start;
  const u8 = a.memory.u8;
  for (let i = 0; i < n; i++) {
    const size = (i & 1) === 0 ? 200 : 64;
    const q = a.alloc(size);
    u8.copyWithin(q, p, p + 64);
    a.free(p);
    p = q;
  }
  return p;
}

function copyWithinLoop(u8: Uint8Array, from: number, to: number, bytes: number, n: number): number {
  for (let r = 0; r < n; r++) u8.copyWithin(to, from, from + bytes);
  return u8[to]!;
}

function wordCopyLoop(i32: Int32Array, from: number, to: number, bytes: number, n: number): number {
  for (let r = 0; r < n; r++) {
    for (let i = from >>> 2, j = to >>> 2, end = (from + bytes) >>> 2; i < end; i++, j++) i32[j] = i32[i]!;
  }
  return i32[to >>> 2]!;
}

/** Runs the records group. */
export async function run(): Promise<void> {
  const mk = (): SmallAlloc => createAllocator({ limit: 256 * 2 ** 20 });
  const fPairs = specialize(pairs);
  const fInPlace = specialize(reallocInPlace);
  const fMoving = specialize(reallocMoving);
  const fHand = specialize(byHand);
  const a = mk();
  const b = mk();
  const c = mk();
  const d = mk();
  // 1000 live objects in each, as a store would hold: the pair does not run on an empty pool.
  for (const x of [a, b, c, d]) for (let i = 0; i < 1000; i++) x.alloc(64);
  const pb = b.alloc(64);
  // The moving loops keep one pointer alive across calls; an even count returns it to 64 bytes.
  let pc = c.alloc(64);
  let pd = d.alloc(64);
  await compare('SmallAlloc.realloc (ns per call)', [
    { name: 'alloc(64) + free', ops: N, fn: () => fPairs(a, N) },
    { name: 'realloc within the class (60 <-> 64)', ops: N, fn: () => fInPlace(b, pb, N), vs: 'alloc(64) + free', target: 1.5 },
    { name: 'alloc + copy 64 B + free, by hand', ops: N, fn: () => (pd = fHand(d, pd, N)) },
    { name: 'realloc moving (64 <-> 200)', ops: N, fn: () => (pc = fMoving(c, pc, N)), vs: 'alloc + copy 64 B + free, by hand', target: 1.25 },
  ]);
  for (const x of [a, b, c, d]) x.check();

  // Both copy between two live objects of the allocator's own memory, as realloc does.
  const from = a.alloc(128);
  const to = a.alloc(128);
  const cases = [16, 64, 128].flatMap((bytes) => {
    const viaCall = specialize(copyWithinLoop);
    const viaWords = specialize(wordCopyLoop);
    return [
      { name: `copyWithin, ${bytes} B`, ops: N, fn: () => viaCall(a.memory.u8, from, to, bytes, N) },
      { name: `word loop, ${bytes} B`, ops: N, fn: () => viaWords(a.memory.i32, from, to, bytes, N), vs: `copyWithin, ${bytes} B` },
    ];
  });
  await compare('Copying inside the memory (ns per copy)', cases);
  a.free(from);
  a.free(to);
}
