/**
 * Read views any worker can open: `arena.openReadView()` + `close()` with no other view open,
 * against its floor, an `Atomics.add` + `Atomics.sub` pair on a word of a SharedArrayBuffer
 * (target: at most 3x); a nested view (one already open in this worker); and
 * `SmallAlloc.openReadView()` for scale. Then what a free costs with no view open against the
 * same frees made under an arena view (held back, then released in bulk when it closes).
 */
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../src/index.js';
import { compare } from './support/harness.js';

const BATCH = 1000;
const MB = 1024 * 1024;

function addSubPairs(word: Int32Array): number {
  let sink = 0;
  for (let i = 0; i < BATCH; i++) {
    sink += Atomics.add(word, 0, 1);
    sink += Atomics.sub(word, 0, 1);
  }
  return sink;
}

function arenaViews(arena: SlabArena): number {
  for (let i = 0; i < BATCH; i++) arena.openReadView().close();
  return 0;
}

function smallViews(alloc: SmallAlloc): number {
  for (let i = 0; i < BATCH; i++) alloc.openReadView().close();
  return 0;
}

/** 1000 pairs under one arena view; the close and the next stats() release the frees in bulk. */
function pairsUnderView(arena: SlabArena, alloc: SmallAlloc): number {
  const view = arena.openReadView();
  const sink = pairs(alloc);
  view.close();
  alloc.stats();
  return sink;
}

function pairs(alloc: SmallAlloc): number {
  let sink = 0;
  for (let i = 0; i < BATCH; i++) {
    const p = alloc.alloc(64);
    sink += p;
    alloc.free(p);
  }
  return sink;
}

/** Runs the read-views group. */
export async function run(): Promise<void> {
  const word = new Int32Array(new SharedArrayBuffer(64));
  const arena = new SlabArena({ quota: new Quota(256 * MB), shared: true });
  const nestedArena = new SlabArena({ quota: new Quota(64 * MB), shared: true });
  const outer = nestedArena.openReadView();
  const alloc = new SmallAlloc(new SlabCache(arena));
  const quiet = new SmallAlloc(new SlabCache(new SlabArena({ quota: new Quota(64 * MB), shared: true })));
  const watchedArena = new SlabArena({ quota: new Quota(256 * MB), shared: true });
  const watched = new SmallAlloc(new SlabCache(watchedArena));
  await compare('Read views: open + close, no other view open (per view)', [
    { name: 'Atomics.add + Atomics.sub', ops: BATCH, fn: () => addSubPairs(word) },
    { name: 'arena.openReadView + close', ops: BATCH, fn: () => arenaViews(arena), vs: 'Atomics.add + Atomics.sub', target: 3 },
    { name: 'arena.openReadView + close, nested', ops: BATCH, fn: () => arenaViews(nestedArena), vs: 'Atomics.add + Atomics.sub' },
    { name: 'SmallAlloc.openReadView + close', ops: BATCH, fn: () => smallViews(alloc), vs: 'Atomics.add + Atomics.sub' },
  ]);
  outer.close();
  await compare('Read views: SmallAlloc alloc(64) + free (per pair)', [
    { name: 'no view open', ops: BATCH, fn: () => pairs(quiet) },
    { name: 'under an arena view, released in bulk after', ops: BATCH, fn: () => pairsUnderView(watchedArena, watched), vs: 'no view open' },
  ]);
}
