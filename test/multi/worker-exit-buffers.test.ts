/**
 * Adoption gives back every slab an exited worker held, whatever held it (API.md, Adoption):
 * a worker takes slabs through an LSRegion and plain map()/mapRun() straight from a shared
 * arena, and through a Region, an Ibuf, an Obuf and a SmallAlloc over its own cache, then exits
 * without freeing anything. Adopting its thread id must leave nothing of it handed out: the
 * live objects are the adopter's, every buffer slab is free again (in the adopter's cache or
 * the arena), and the arena fills again to the capacity it had before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import type { BuffersParams, BuffersReport } from './worker-exit-buffers-worker.js';

const SLAB = 64 * 1024;
const QUOTA_SLABS = 96;
const SCRIPT = new URL('./worker-exit-buffers-worker.js', import.meta.url);

/** Runs the worker to its exit; its report. Bounded: 10 s. */
async function runWorker(arena: SlabArena, objects: number): Promise<BuffersReport> {
  const data: BuffersParams = { handle: arena.handle(), objects };
  const w = new Worker(SCRIPT, { workerData: data });
  let report: BuffersReport | null = null;
  w.on('message', (m: BuffersReport) => { report = m; });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('the worker did not exit within 10 s'));
    }, 10_000);
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    w.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  assert.notEqual(report, null, 'the worker reported before it exited');
  return report!;
}

/** Maps single slabs until the arena says no; unmaps them again; how many it got. */
function fillCount(arena: SlabArena): number {
  const got: number[] = [];
  for (let p = arena.tryMap(); p !== 0; p = arena.tryMap()) got.push(p);
  for (const p of got) arena.unmap(p);
  return got.length;
}

test('adopting an exited worker gives back the slabs of its LSRegion, Region, Ibuf, Obuf and plain maps, and adopts its live objects', { timeout: 30_000 }, async () => {
  const quota = new Quota(QUOTA_SLABS * SLAB);
  const arena = new SlabArena({ quota, slabSize: SLAB, maximum: 2 * QUOTA_SLABS * SLAB });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const objects = 500;
  const r = await runWorker(arena, objects);
  assert.ok(r.used >= 20 * SLAB, `the worker held many slabs (${r.used / SLAB})`);
  assert.equal(arena.used, r.used, 'the exited worker still holds them');

  const adoption = alloc.adopt(r.threadId);
  assert.equal(adoption.objects, objects, 'the live objects are adopted');
  assert.equal(adoption.large, 1, 'the live large allocation is adopted');
  alloc.check();
  cache.check();
  arena.check();
  const st = alloc.stats();
  assert.equal(st.count, objects + 1);
  // Only the adopter's cache holds slabs now: its live objects' and at most one spare.
  assert.equal(arena.used, cache.total, `nothing outside the adopter's cache is handed out (arena ${arena.used / SLAB} slabs, cache ${cache.total / SLAB})`);

  for (const [p, size] of r.live) alloc.free(p, size);
  alloc.check();
  const left = alloc.stats();
  assert.equal(left.count, 1);
  // The Region's, Ibuf's and Obuf's blocks went back to the cache at adoption: what it still
  // hands out is the allocator's (the large allocation, and the blocks its pools keep).
  assert.equal(cache.used, left.total, 'the cache hands out nothing but the allocator\'s blocks');
  alloc.destroy();
  cache.destroy();
  assert.equal(arena.used, 0, 'every slab went back to the arena');
  arena.check();
  // The arena fills again to the whole quota: nothing of the dead worker stays charged unused.
  assert.equal(fillCount(arena), QUOTA_SLABS, 'the arena hands out the whole quota again');
  assert.equal(quota.used, QUOTA_SLABS * SLAB);
  arena.check();
});
