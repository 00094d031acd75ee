/**
 * A free from another allocator (another worker's, or another cache's) finds the REMOTE bitmap
 * from the slab header. One stray write into that header must not steer the free into the
 * next slab, where it would mark a live object free and the owner would hand it out again:
 * the free is refused (InvalidPointerError) and nothing changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidPointerError, Mempool, Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';

const KB = 1024;
const MB = 1024 * KB;
/** Header words (block-header.ts): the slot count, and where the bitmaps start. */
const STRIDE = 4;
const COUNT = 5;
const FIRST = 6;
const WORDS = 16;

for (const freer of ['Mempool', 'SmallAlloc'] as const) {
  test(`a ${freer} free of another allocator's object through a corrupt slot count is refused: no bit lands in the next slab`, () => {
    const arena = new SlabArena({ quota: new Quota(64 * MB), slabSize: 256 * KB });
    const owner = new Mempool(new SlabCache(arena), 64);
    const other = new SlabCache(arena);
    const free = freer === 'Mempool'
      ? ((m) => (p: number) => m.free(p))(new Mempool(other, 64))
      : ((a) => (p: number) => a.free(p))(new SmallAlloc(other));
    const slabSize = owner.stats().slabSize;
    // Objects until the third slab: the second one is full of live objects.
    const live: number[] = [];
    while (live.length === 0 || Math.floor(live[live.length - 1]! / slabSize) - Math.floor(live[0]! / slabSize) < 2) {
      live.push(owner.alloc());
    }
    const p = live[0]!;
    const s1 = p - (p % slabSize);
    const slab2 = s1 + slabSize;
    const u32 = new Uint32Array(arena.memory.buffer);
    const h = s1 >>> 2;
    const realCount = u32[h + COUNT]!;
    const bw = Math.ceil(realCount / 32);
    const idx = (p - s1 - u32[h + FIRST]!) / u32[h + STRIDE]!;
    // A count whose bitmap length puts p's REMOTE word on slab 2's REMOTE word for the same slots.
    const fakeBw = (slab2 >>> 2) + WORDS + bw - h - WORDS;
    const before = Uint32Array.from(u32.subarray(slab2 >>> 2, (slab2 >>> 2) + WORDS + 3 * bw));
    assert.ok(idx < 32, 'slot of the first word');
    u32[h + COUNT] = fakeBw * 32;
    assert.throws(() => free(p), InvalidPointerError, 'a header whose count disagrees with its block is refused');
    assert.deepEqual(u32.subarray(slab2 >>> 2, (slab2 >>> 2) + WORDS + 3 * bw), before, 'the next slab is untouched');
    u32[h + COUNT] = realCount;
    owner.check();
    // The owner hands out nothing that is live.
    const seen = new Set(live);
    for (let i = 0; i < 2 * live.length; i++) {
      const q = owner.alloc();
      assert.ok(!seen.has(q), `${q} handed out twice`);
      seen.add(q);
    }
    owner.check();
  });
}

test('a remote free through a header whose geometry disagrees with its block size is refused', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB), slabSize: 256 * KB });
  const owner = new Mempool(new SlabCache(arena), 40);
  const other = new Mempool(new SlabCache(arena), 40);
  const p = owner.alloc();
  const q = owner.alloc();
  const slabSize = owner.stats().slabSize;
  const s = p - (p % slabSize);
  const u32 = new Uint32Array(arena.memory.buffer);
  for (const [word, delta] of [[4, 4], [5, 1], [5, -1], [6, 8], [7, slabSize]] as const) {
    const saved = u32[(s >>> 2) + word]!;
    u32[(s >>> 2) + word] = saved + delta;
    assert.throws(() => other.free(q), InvalidPointerError, `header word ${word} off by ${delta}`);
    u32[(s >>> 2) + word] = saved;
  }
  owner.check();
  other.free(q);
  owner.check();
  assert.equal(owner.stats().count, 1);
});
