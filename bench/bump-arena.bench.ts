/**
 * BumpArena (bitena's) unshared against a downward bump kept in an ArrayBuffer, shared against
 * a bare compare-exchange loop on a SharedArrayBuffer, and its slices against `new Uint8Array`.
 * Each iteration makes 1000 allocations (16..64 bytes, align 8) and resets.
 */
import { BumpArena } from '../src/arena/bump-arena.js';
import { compare } from './support/harness.js';
import { bumpDownLoop, bumpLoop, casLoop, sizeBatch, typedArrays } from './support/baselines.js';

const BATCH = 1000;

function tryAllocUnshared(arena: BumpArena, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink += arena.tryAlloc(sizes[i]!, 8);
  arena.reset();
  return sink;
}

// The same loop twice, so that each arena's call site sees one receiver (as a program would).
function tryAllocShared(arena: BumpArena, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink += arena.tryAlloc(sizes[i]!, 8);
  arena.reset();
  return sink;
}

function slices(arena: BumpArena, sizes: Uint32Array, keep: Uint8Array[]): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    const a = arena.allocSlice(Uint8Array, sizes[i]!);
    keep[i] = a;
    sink += a.length;
  }
  arena.reset();
  return sink;
}

function strings(arena: BumpArena, words: readonly string[]): number {
  let sink = 0;
  for (let i = 0; i < words.length; i++) sink += arena.allocString(words[i]!);
  arena.reset();
  return sink;
}

/** Runs the BumpArena group. */
export async function run(): Promise<void> {
  const sizes = sizeBatch(BATCH, 16, 64);
  const plain = new BumpArena(1 << 20);
  const shared = new BumpArena(1 << 20, { shared: true });
  const forSlices = new BumpArena(1 << 20);
  const forStrings = new BumpArena(1 << 20);
  const keep: Uint8Array[] = new Array(BATCH);
  const words = Array.from({ length: BATCH }, (_, i) => `key-${i}-${'x'.repeat(i % 24)}`);
  await compare('BumpArena (1000 allocations, then reset)', [
    { name: 'bump loop', ops: BATCH, fn: () => bumpLoop(sizes) },
    { name: 'bump loop, down + align 8', ops: BATCH, fn: () => bumpDownLoop(sizes, 8) },
    { name: 'BumpArena.tryAlloc unshared', ops: BATCH, fn: () => tryAllocUnshared(plain, sizes), vs: 'bump loop, down + align 8', target: 1.3 },
    { name: 'CAS loop', ops: BATCH, fn: () => casLoop(sizes, 8) },
    { name: 'BumpArena.tryAlloc shared', ops: BATCH, fn: () => tryAllocShared(shared, sizes), vs: 'CAS loop', target: 1.3 },
    { name: 'new Uint8Array(16..64)', ops: BATCH, fn: () => typedArrays(sizes, keep) },
    { name: 'BumpArena.allocSlice(Uint8Array)', ops: BATCH, fn: () => slices(forSlices, sizes, keep), vs: 'new Uint8Array(16..64)' },
    { name: 'BumpArena.allocString(~15 chars)', ops: BATCH, fn: () => strings(forStrings, words) },
  ]);
}
