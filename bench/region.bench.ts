/**
 * Region against the bare bump loop: 1000 allocations of 32 bytes, then a truncate back to the
 * savepoint taken before them (so slab changes, the spare slab and truncate itself are part
 * of what is measured), and the same with a reset.
 *
 * The loops fold the pointers into their result with xor, not +: the slabs lie above 4 MiB, so a
 * sum of 1000 pointers would leave the small-integer range and the loop would time float
 * additions instead of the allocator (the baseline's pointers stay below 1 MiB).
 */
import { Quota } from '../src/small/slabs/quota.js';
import { SlabArena } from '../src/small/slabs/slab-arena.js';
import { SlabCache } from '../src/small/slabs/slab-cache.js';
import { Region } from '../src/small/buffers/region.js';
import { compare } from './support/harness.js';
import { bumpLoop, bumpLoopLocal, sizeBatch } from './support/baselines.js';

const BATCH = 1000;

function regionAlloc32(region: Region): number {
  const svp = region.used;
  let sink = 0;
  for (let i = 0; i < BATCH; i++) sink ^= region.alloc(32);
  region.truncate(svp);
  return sink;
}

function regionAllocSizes(region: Region, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink ^= region.alloc(sizes[i]!);
  region.reset();
  return sink;
}

function regionAligned(region: Region, sizes: Uint32Array): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) sink ^= region.alignedAlloc(sizes[i]!, 8);
  region.reset();
  return sink;
}

/** Runs the Region group. */
export async function run(): Promise<void> {
  const quota = new Quota(256 * 2 ** 20);
  const cache = new SlabCache(new SlabArena({ quota, slabSize: 4 * 2 ** 20 }));
  const sizes32 = sizeBatch(BATCH, 32, 32);
  const sizes = sizeBatch(BATCH, 16, 64);
  const a = new Region(cache);
  const b = new Region(cache);
  const c = new Region(cache);
  a.alloc(100); // a savepoint above zero, as a request handler's would be
  regionAlloc32(a);
  regionAllocSizes(b, sizes);
  regionAligned(c, sizes);
  await compare('Region (1000 allocations, then truncate / reset)', [
    { name: 'bump loop, offset in a local', ops: BATCH, fn: () => bumpLoopLocal(sizes32) },
    { name: 'bump loop', ops: BATCH, fn: () => bumpLoop(sizes32) },
    { name: 'Region.alloc(32), truncate', ops: BATCH, fn: () => regionAlloc32(a), vs: 'bump loop', target: 1.5 },
    { name: 'Region.alloc(16..64), reset', ops: BATCH, fn: () => regionAllocSizes(b, sizes), vs: 'bump loop' },
    { name: 'Region.alignedAlloc(16..64, 8)', ops: BATCH, fn: () => regionAligned(c, sizes), vs: 'bump loop' },
  ]);
}
