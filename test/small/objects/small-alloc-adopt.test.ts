/**
 * SmallAlloc.adopt as a long-lived service meets it: dead workers adopted one after another
 * while the arena grows, by allocators whose size classes differ from the dead ones'. A cache
 * registered for a made-up thread id stands for a worker that has exited (adopt refuses the
 * calling thread's own id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { KB, MB, stamp, verifyStamp } from './mempool-support.js';

test('adoption after the arena grew keeps every adopted object: none is lost or handed out again', () => {
  const rng = seeded('adopt after growth');
  // prealloc 0: the buffer grows slab by slab, so every dead worker's slabs lie past what the
  // adopter's pools have seen.
  const arena = new SlabArena({ quota: new Quota(512 * MB), slabSize: 256 * KB });
  const heir = new SmallAlloc(new SlabCache(arena));
  const sizes = [24, 64, 200];
  // The heir's pools exist before any growth.
  const own = sizes.map((n) => heir.alloc(n));
  const live = new Map<number, [size: number, tag: number]>();
  let tag = 1;
  for (let round = 0; round < 3; round++) {
    const dead = 900_000 + round;
    const victim = new SmallAlloc(new SlabCache(arena, dead));
    for (let i = 0; i < 20_000; i++) {
      const size = sizes[rng.int(0, sizes.length - 1)]!;
      const p = victim.alloc(size);
      stamp(arena.memory.u8, p, size, tag);
      live.set(p, [size, tag++]);
    }
    const before = heir.stats().count;
    const res = heir.adopt(dead);
    assert.equal(res.objects, 20_000, `round ${round}: every object of the dead worker adopted`);
    assert.equal(heir.stats().count, before + 20_000, `round ${round}: counted as live`);
    heir.check();
    arena.check();
    // The heir allocates as much again: nothing it hands out may be an adopted object.
    for (let i = 0; i < 20_000; i++) {
      const size = sizes[rng.int(0, sizes.length - 1)]!;
      const p = heir.alloc(size);
      assert.ok(!live.has(p), `round ${round}: ${p} handed out while adopted and live`);
      stamp(arena.memory.u8, p, size, tag);
      live.set(p, [size, tag++]);
    }
    for (const [p, [size, t]] of live) verifyStamp(arena.memory.u8, p, size, t);
  }
  for (const [p, [size]] of live) heir.free(p, size);
  for (const p of own) heir.free(p);
  heir.check();
  assert.equal(heir.stats().count, 0);
});

test('after adoption, free(ptr, size) accepts the size the dead worker asked for, whatever its classes', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB), slabSize: 256 * KB });
  // The dead allocator's classes step by 2x from 16 (16, 32, 64, 128 ...); the heir's are fine
  // (granularity 8, factor 1.05), so 40 is a class of its own there and 33 is not of class 64.
  const dead = 777_001;
  const victim = new SmallAlloc(new SlabCache(arena, dead), { allocFactor: 2, granularity: 16, objsizeMin: 16 });
  const heir = new SmallAlloc(new SlabCache(arena));
  const asked = [33, 40, 50, 64, 65, 100, 128];
  const ptrs = asked.map((n) => victim.alloc(n));
  heir.alloc(64);
  const res = heir.adopt(dead);
  assert.equal(res.objects, asked.length);
  heir.check();
  asked.forEach((n, i) => heir.free(ptrs[i]!, n));
  heir.check();
  assert.equal(heir.stats().count, 1);
});
