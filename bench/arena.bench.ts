/**
 * Arena (LevelDB's) against the floor of bump allocation and against plain JS objects.
 * Each iteration makes 1000 allocations and resets, so block carving (a new 4 KiB block every
 * ~100 allocations) is part of what is measured, as it is in LevelDB.
 */
import { Arena } from '../src/arena/arena.js';
import { compare } from './support/harness.js';
import { bumpLoop, bumpLoopLocal, plainObjects, sizeBatch } from './support/baselines.js';

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

/** The plain-object baseline's work in an arena: a 24-byte record of three float64s. */
function arenaRecords(arena: Arena, count: number): number {
  // A view with a length, taken again when a record lies past its end (the README's idiom).
  let f64 = new Float64Array(arena.memory.buffer, 0, arena.memory.byteLength >>> 3);
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const p = arena.allocateAligned(24);
    const k = p >>> 3;
    if (k + 3 > f64.length) f64 = new Float64Array(arena.memory.buffer, 0, arena.memory.byteLength >>> 3);
    f64[k] = i;
    f64[k + 1] = i * 0.5;
    f64[k + 2] = i + 1;
    sink += p;
  }
  arena.reset();
  return sink;
}

/** The same through a view made without a length: it tracks a growable buffer's length. */
function arenaRecordsTracking(arena: Arena, count: number): number {
  const f64 = new Float64Array(arena.memory.buffer);
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const p = arena.allocateAligned(24);
    const k = p >>> 3;
    f64[k] = i;
    f64[k + 1] = i * 0.5;
    f64[k + 2] = i + 1;
    sink += p;
  }
  arena.reset();
  return sink;
}

/** Runs the Arena group. */
export async function run(): Promise<void> {
  const sizes = sizeBatch(BATCH, 16, 64);
  const arena = new Arena();
  const aligned = new Arena();
  const records = new Arena();
  const tracking = new Arena();
  // Commit the memory the loops will use before anything is timed.
  arenaAllocate(arena, sizes);
  arenaAllocateAligned(aligned, sizes);
  arenaRecords(records, BATCH);
  arenaRecordsTracking(tracking, BATCH);
  const keep: { a: number; b: number; c: number }[] = new Array(BATCH);
  await compare('Arena (1000 allocations, then reset)', [
    { name: 'bump loop, offset in a local', ops: BATCH, fn: () => bumpLoopLocal(sizes) },
    { name: 'bump loop', ops: BATCH, fn: () => bumpLoop(sizes) },
    { name: 'Arena.allocate(16..64)', ops: BATCH, fn: () => arenaAllocate(arena, sizes), vs: 'bump loop', target: 1.5 },
    { name: 'Arena.allocateAligned(16..64)', ops: BATCH, fn: () => arenaAllocateAligned(aligned, sizes), vs: 'bump loop' },
    { name: 'plain objects {a, b, c}', ops: BATCH, fn: () => plainObjects(BATCH, keep) },
    { name: 'Arena 24-byte records', ops: BATCH, fn: () => arenaRecords(records, BATCH), vs: 'plain objects {a, b, c}' },
    {
      name: 'Arena 24-byte records, view without a length', ops: BATCH,
      fn: () => arenaRecordsTracking(tracking, BATCH), vs: 'plain objects {a, b, c}',
    },
  ]);
}
