/**
 * Memory pressure: each size class of a SmallAlloc (each Mempool) may keep one empty block, and
 * those blocks go back before an allocation fails: in the worker whose allocation is about to
 * fail at once, and in every other worker at its next slow path, once the failure has raised
 * the arena's pressure word. A second arena object attached to the same memory, with a cache
 * registered for another thread id, stands in for the other worker (its own spares, the shared
 * pressure word).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Quota, Region, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';

const KB = 1024;

/** A SmallAlloc over 64 KiB slabs under a 1 MiB quota whose size classes each keep a spare. */
function withSpares(): { arena: SlabArena; cache: SlabCache; alloc: SmallAlloc; kept: number } {
  const arena = new SlabArena({ quota: new Quota(1024 * KB), slabSize: 64 * KB });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const ptrs: number[] = [];
  for (let size = 8; size <= 2048; size *= 2) ptrs.push(alloc.alloc(size));
  for (const p of ptrs) alloc.free(p);
  const st = alloc.stats();
  assert.equal(st.count, 0);
  assert.ok(st.classes.filter((c) => c.slabs === 1).length >= 4, 'several size classes keep their empty block');
  return { arena, cache, alloc, kept: st.total };
}

/** Bytes a Region over `cache` gets in 1 KiB steps until one fails. */
function fill(region: Region): number {
  let got = 0;
  while (region.tryAlloc(KB) !== 0) got += KB;
  return got;
}

test('in one worker, a buffer that would fail takes the size classes\' spare blocks back first', () => {
  const s = withSpares();
  const region = new Region(s.cache);
  const got = fill(region);
  assert.equal(s.alloc.stats().total, 0, 'every spare went back before the Region failed');
  assert.ok(got >= 1024 * KB - 2 * 64 * KB, `the Region got ${got} bytes of 1 MiB (the cache's bookkeeping aside)`);
  s.alloc.check();
  region.free();
  s.alloc.destroy();
  s.cache.destroy();
  assert.equal(s.arena.used, 0);
  s.arena.check();
});

test('another worker\'s failed allocation makes this worker give its spares back at its next slow path', () => {
  const s = withSpares();
  const before = s.arena.pressure;
  // The other worker: its own arena object and a cache registered for another thread.
  const other = SlabArena.attach(structuredClone(s.arena.handle()));
  const otherCache = new SlabCache(other, 999_999);
  const region = new Region(otherCache);
  const first = fill(region);
  assert.ok(s.arena.pressure !== before, 'the failure raised the arena\'s pressure word');
  assert.equal(s.alloc.stats().total, s.kept, 'this worker keeps its spares until a slow path of its own');
  // The other worker lets its memory go, so this worker's next slow path (an allocation of a
  // size class with no slab yet) finds the arena's slabs free: only the pressure word makes it
  // give its spares back there.
  region.free();
  const p = s.alloc.alloc(3000);
  const st = s.alloc.stats();
  assert.equal(st.classes.reduce((n, c) => n + (c.objsize >= 3000 ? 0 : c.slabs), 0), 0, 'the spares went back');
  const again = fill(region);
  assert.ok(again >= first + s.kept - 2 * 64 * KB,
    `the other worker got ${again} bytes the second time, ${first} the first: the spares (${s.kept} bytes) went back`);
  s.alloc.free(p);
  s.alloc.check();
  region.free();
  otherCache.destroy();
  s.alloc.destroy();
  s.cache.destroy();
  assert.equal(s.arena.used, 0);
  s.arena.check();
});
