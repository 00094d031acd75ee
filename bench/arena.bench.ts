/**
 * Arena (LevelDB's) against the floor of bump allocation and against plain JS objects.
 * Each iteration makes 1000 allocations and resets, so block carving (a new 4 KiB block every
 * ~100 allocations) is part of what is measured, as it is in LevelDB.
 */
import { Arena } from '../src/arena/arena.js';
import type { Memory } from '../src/memory.js';
import { compare } from './support/harness.js';
import { bumpLoop, bumpLoopLocal, plainObjects, sizeBatch } from './support/baselines.js';
import { specialize } from './support/peers.js';

const BATCH = 1000;

function arenaAllocate(arena: Arena, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink += arena.allocate(sizes[i]!);
  arena.reset();
  return sink;
}

function arenaAllocateAligned(arena: Arena, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink += arena.allocateAligned(sizes[i]!);
  arena.reset();
  return sink;
}

/**
 * The plain-object baseline's work in an arena: a 24-byte record of three float64s, through the
 * view `view` makes of the memory, made again when a record lies past its end.
 */
function arenaRecords(arena: Arena, count: number, view: (memory: Memory) => Float64Array): number {
  let f64 = view(arena.memory);
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const p = arena.allocateAligned(24);
    const k = p >>> 3;
    if (k + 3 > f64.length) f64 = view(arena.memory);
    f64[k] = i;
    f64[k + 1] = i * 0.5;
    f64[k + 2] = i + 1;
    sink += p;
  }
  arena.reset();
  return sink;
}

/** A view with a length (the README's idiom), and one without, which follows the buffer's length. */
const withLength = (m: Memory): Float64Array => new Float64Array(m.buffer, 0, m.byteLength >>> 3);
const tracking = (m: Memory): Float64Array => new Float64Array(m.buffer);

/** Runs the Arena group. */
export async function run(): Promise<void> {
  const sizes = sizeBatch(BATCH, 16, 64);
  const arena = new Arena();
  const aligned = new Arena();
  const records = new Arena();
  const untracked = new Arena();
  // Each records case runs its own copy of the loop: the two kinds of view must not meet in one.
  const recordsWithLength = specialize(arenaRecords);
  const recordsTracking = specialize(arenaRecords);
  // Commit the memory the loops will use before anything is timed.
  arenaAllocate(arena, sizes);
  arenaAllocateAligned(aligned, sizes);
  recordsWithLength(records, BATCH, withLength);
  recordsTracking(untracked, BATCH, tracking);
  const keep: { a: number; b: number; c: number }[] = new Array(BATCH);
  await compare('Arena (1000 allocations, then reset)', [
    { name: 'bump loop, offset in a local', ops: BATCH, fn: () => bumpLoopLocal(sizes) },
    { name: 'bump loop', ops: BATCH, fn: () => bumpLoop(sizes) },
    { name: 'Arena.allocate(16..64)', ops: BATCH, fn: () => arenaAllocate(arena, sizes), vs: 'bump loop', target: 1.5 },
    { name: 'Arena.allocateAligned(16..64)', ops: BATCH, fn: () => arenaAllocateAligned(aligned, sizes), vs: 'bump loop' },
    { name: 'plain objects {a, b, c}', ops: BATCH, fn: () => plainObjects(BATCH, keep) },
    { name: 'Arena 24-byte records', ops: BATCH, fn: () => recordsWithLength(records, BATCH, withLength), vs: 'plain objects {a, b, c}' },
    {
      name: 'Arena 24-byte records, view without a length', ops: BATCH,
      fn: () => recordsTracking(untracked, BATCH, tracking), vs: 'plain objects {a, b, c}',
    },
  ]);
}
