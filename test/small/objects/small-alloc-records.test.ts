/**
 * SmallAlloc as a user keeping records would call it: createAllocator, calloc, realloc, allocAs
 * and free(view). Each failure path ends with nothing changed and nothing lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Arena, InvalidPointerError, LSRegion, Mempool, OutOfMemoryError, Quota, QuotaExceededError, Region, SlabArena, SlabCache,
  SmallAlloc, createAllocator,
} from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { stamp, verifyStamp } from '../../support/model.js';
import { KB, MB, throwsLike } from './mempool-support.js';

test('createAllocator builds a quota, an arena, a cache and a SmallAlloc, reachable from it', () => {
  const alloc = createAllocator({ limit: 8 * MB, slabSize: 64 * KB, granularity: 16 });
  assert.ok(alloc instanceof SmallAlloc);
  assert.ok(alloc.cache instanceof SlabCache);
  assert.equal(alloc.cache.arena.slabSize, 64 * KB);
  assert.equal(alloc.cache.arena.quota.total, 8 * MB);
  assert.equal(alloc.info(alloc.alloc(1)).realSize, 16, 'options pass through to the SmallAlloc');
  assert.equal(alloc.memory, alloc.cache.arena.memory);
  const small = createAllocator({ limit: 1 << 20 });
  assert.equal(small.cache.arena.slabSize, 128 * KB, 'a 1 MiB limit gets slabs that fit it eight times');
  assert.ok(small.alloc(100) !== 0 && small.alloc(small.objsizeMax + 1) !== 0, 'and can allocate');
  assert.equal(createAllocator({ limit: 64 * MB }).cache.arena.slabSize, 4 * MB, 'the default slab size otherwise');
  throwsLike(() => createAllocator(undefined as never), TypeError, /createAllocator: limit must be a number/, 'no limit');
  throwsLike(() => createAllocator({ limit: -1 }), RangeError, /createAllocator: limit/, 'negative limit');
  throwsLike(() => createAllocator({ limit: MB, slabSize: 1000 }), RangeError, /slabSize/, 'bad slab size');
  throwsLike(() => createAllocator({ limit: MB, allocFactor: 3 }), RangeError, /allocFactor/, 'bad factor');
});

test('calloc hands out zeroed bytes, even where freed data lay', () => {
  const alloc = createAllocator({ limit: 8 * MB });
  for (const size of [0, 1, 24, 1000, alloc.objsizeMax + 5000]) {
    const p = alloc.alloc(size);
    alloc.memory.u8.fill(0xee, p, p + size);
    alloc.free(p);
    const q = alloc.calloc(size);
    assert.ok(alloc.memory.u8.subarray(q, q + size).every((b) => b === 0), `calloc(${size}) is zeroed`);
    alloc.free(q);
  }
  throwsLike(() => alloc.calloc(-1), RangeError, /SmallAlloc\.calloc: size/, 'negative size');
  throwsLike(() => alloc.calloc(9 * MB), QuotaExceededError, /SmallAlloc\.calloc/, 'over the quota');
  alloc.check();
});

test('realloc stays in place within the size class and moves, keeping the bytes, across classes', () => {
  const alloc = createAllocator({ limit: 64 * MB });
  const u8 = () => alloc.memory.u8;
  const p = alloc.alloc(100);
  stamp(u8(), p, 100, 1);
  const real = alloc.info(p).realSize;
  assert.equal(alloc.realloc(p, real), p, 'up to the class size: in place');
  assert.equal(alloc.realloc(p, 100), p);
  verifyStamp(u8(), p, 100, 1);
  const q = alloc.realloc(p, 5000);
  assert.notEqual(q, p, 'a bigger class: moved');
  verifyStamp(u8(), q, 100, 1, 'moved bytes');
  assert.throws(() => alloc.info(p), InvalidPointerError, 'the old allocation is freed');
  const r = alloc.realloc(q, 10);
  assert.notEqual(r, q, 'a smaller class: moved, so that free(ptr, size) keeps matching');
  verifyStamp(u8(), r, 10, 1, 'shrunk bytes');
  alloc.free(r, 10);
  // Large: in place while the pages hold it, moved beyond.
  const big = alloc.alloc(alloc.objsizeMax + 1);
  stamp(u8(), big, alloc.objsizeMax + 1, 2);
  const pages = alloc.info(big).realSize;
  assert.equal(alloc.realloc(big, pages), big, 'the same pages: in place');
  assert.equal(alloc.stats().large.used, pages, 'the size asked is updated');
  const moved = alloc.realloc(big, pages + 1);
  assert.notEqual(moved, big);
  verifyStamp(u8(), moved, alloc.objsizeMax + 1, 2, 'moved large bytes');
  alloc.free(moved, pages + 1);
  assert.equal(alloc.realloc(0, 64) !== 0, true, 'realloc(0, n) allocates');
  alloc.check();
});

test('a failed or refused realloc leaves the old allocation live and intact', () => {
  const alloc = createAllocator({ limit: 4 * MB, slabSize: 64 * KB });
  const other = new SmallAlloc(alloc.cache);
  const p = alloc.alloc(200);
  stamp(alloc.memory.u8, p, 200, 3);
  const before = JSON.stringify(alloc.stats());
  throwsLike(() => alloc.realloc(p, 8 * MB), QuotaExceededError, /SmallAlloc\.realloc/, 'past the quota');
  assert.equal(JSON.stringify(alloc.stats()), before, 'nothing changed');
  verifyStamp(alloc.memory.u8, p, 200, 3, 'the old bytes');
  const o = other.alloc(200);
  const freed = alloc.alloc(64);
  alloc.free(freed);
  const after = JSON.stringify(alloc.stats());
  const cases: [string, number, RegExp][] = [
    ['another allocator\'s pointer', o, /not a live allocation of this allocator/],
    ['a freed pointer', freed, /not a live allocation of this allocator/],
    ['an interior pointer', p + 8, /not a live allocation of this allocator/],
    ['past the arena', 2 ** 33, /not a live allocation of this allocator/],
  ];
  for (const [what, ptr, msg] of cases) {
    throwsLike(() => alloc.realloc(ptr, 300), InvalidPointerError, msg, what);
    assert.equal(JSON.stringify(alloc.stats()), after, `${what}: nothing changed`);
  }
  throwsLike(() => alloc.realloc(-8, 300), RangeError, /SmallAlloc\.realloc: ptr must be a non-negative integer/, 'negative');
  throwsLike(() => alloc.realloc(p, -1), RangeError, /SmallAlloc\.realloc: size/, 'negative size');
  assert.equal(alloc.realloc(p, 200), p);
  verifyStamp(alloc.memory.u8, p, 200, 3);
  alloc.free(p);
  other.free(o);
  alloc.check();
  other.check();
});

/** Every byte of `[p, p + n)` set to a pattern of `tag`, so that any prefix can be verified. */
function fillTag(u8: Uint8Array, p: number, n: number, tag: number): void {
  for (let i = 0; i < n; i++) u8[p + i] = (tag * 131 + i * 7 + 1) & 0xff;
}

function checkTag(u8: Uint8Array, p: number, n: number, tag: number, what: string): void {
  for (let i = 0; i < n; i++) {
    if (u8[p + i] !== ((tag * 131 + i * 7 + 1) & 0xff)) assert.fail(`${what}: byte ${i} of ${p} (tag ${tag}) is overwritten`);
  }
}

test('random reallocs keep every allocation intact, with check() after every step', () => {
  const rng = seeded('smallalloc realloc');
  const alloc = createAllocator({ limit: 64 * MB, slabSize: 256 * KB });
  const live = new Map<number, { size: number; tag: number }>();
  let tag = 1;
  for (let step = 0; step < 3000; step++) {
    const size = rng.chance(0.05) ? rng.int(alloc.objsizeMax, alloc.objsizeMax * 3) : rng.int(0, 2000);
    const keys = [...live.keys()];
    if (keys.length > 0 && rng.chance(0.6)) {
      const p = rng.pick(keys);
      const b = live.get(p)!;
      const q = alloc.realloc(p, size);
      live.delete(p);
      checkTag(alloc.memory.u8, q, Math.min(b.size, size), b.tag, 'kept bytes');
      fillTag(alloc.memory.u8, q, size, tag);
      live.set(q, { size, tag: tag++ });
    } else if (keys.length > 0 && rng.chance(0.3)) {
      const p = rng.pick(keys);
      alloc.free(p);
      live.delete(p);
    } else {
      const p = alloc.alloc(size);
      fillTag(alloc.memory.u8, p, size, tag);
      live.set(p, { size, tag: tag++ });
    }
    alloc.check();
  }
  for (const [p, b] of live) checkTag(alloc.memory.u8, p, b.size, b.tag, 'at the end');
  for (const p of live.keys()) alloc.free(p);
  assert.equal(alloc.stats().count, 0);
  alloc.check();
});

test('allocAs returns an aligned typed array over the memory, and free(view) frees it', () => {
  for (const granularity of [8, 4, 1]) {
    const alloc = createAllocator({ limit: 16 * MB, granularity });
    const views: (Float64Array | Int32Array | Uint8Array | BigInt64Array)[] = [];
    for (const [Type, n] of [[Float64Array, 10], [Float64Array, 3], [Int32Array, 7], [Uint8Array, 0], [BigInt64Array, 5],
      [Float64Array, alloc.objsizeMax / 4]] as const) {
      const v = alloc.allocAs(Type as never, n) as Float64Array | Int32Array | Uint8Array | BigInt64Array;
      assert.equal(v.buffer, alloc.memory.buffer);
      assert.equal(v.length, n);
      assert.equal(v.byteOffset % Type.BYTES_PER_ELEMENT, 0, `${Type.name} is aligned (granularity ${granularity})`);
      views.push(v);
    }
    (views[0] as Float64Array)[9] = 1.5;
    assert.equal(alloc.memory.dv.getFloat64(views[0]!.byteOffset + 72, true), 1.5, 'writes land in the memory');
    assert.equal(alloc.stats().count, views.length);
    for (const v of views) alloc.free(v);
    assert.equal(alloc.stats().count, 0, 'every view freed its allocation');
    throwsLike(() => alloc.free(views[0]!), InvalidPointerError, /SmallAlloc\.free/, 'a view freed twice');
    throwsLike(() => alloc.free(new Float64Array(4)), InvalidPointerError, /does not view this allocator's memory/, 'a foreign view');
    throwsLike(() => alloc.allocAs(Array as never, 4), TypeError, /SmallAlloc\.allocAs: type must be a typed array constructor/, 'not a typed array');
    throwsLike(() => alloc.allocAs(Float64Array, -1), RangeError, /SmallAlloc\.allocAs: length/, 'negative length');
    throwsLike(() => alloc.allocAs(Float64Array, 4 * MB), QuotaExceededError, /SmallAlloc\.allocAs/, 'over the quota');
    assert.equal(alloc.stats().count, 0);
    alloc.check();
  }
});

test('calloc and allocAs on Mempool, Region, Arena and LSRegion: zeroed, aligned, over the memory', () => {
  const dirty = (u8: Uint8Array, p: number, n: number): void => void u8.fill(0xee, p, p + n);
  const zero = (u8: Uint8Array, p: number, n: number, what: string): void =>
    assert.ok(u8.subarray(p, p + n).every((b) => b === 0), `${what} is zeroed`);
  const cache = new SlabCache(new SlabArena({ quota: new Quota(16 * MB), slabSize: 64 * KB }));
  const pool = new Mempool(cache, 40);
  const a = pool.alloc();
  dirty(cache.arena.memory.u8, a, 40);
  pool.free(a);
  zero(cache.arena.memory.u8, pool.calloc(), 40, 'Mempool.calloc');
  const region = new Region(cache);
  region.alloc(3);
  const r = region.calloc(100);
  zero(region.memory.u8, r, 100, 'Region.calloc');
  const rv = region.allocAs(Float64Array, 5);
  assert.equal(rv.byteOffset % 8, 0);
  assert.equal(rv.buffer, region.memory.buffer);
  const arena = new Arena();
  arena.allocate(3);
  const av = arena.allocAs(Int32Array, 4);
  assert.equal(av.byteOffset % 8, 0);
  assert.equal(arena.allocAs(Float64Array, 0).length, 0, 'an empty array');
  const c = arena.calloc(50);
  zero(arena.memory.u8, c, 50, 'Arena.calloc');
  const ls = new LSRegion(cache.arena);
  ls.alloc(1, 1);
  const lv = ls.allocAs(BigUint64Array, 3, 2);
  assert.equal(lv.byteOffset % 8, 0);
  lv[2] = 7n;
  assert.equal(ls.memory.dv.getBigUint64(lv.byteOffset + 16, true), 7n);
  zero(ls.memory.u8, ls.calloc(77, 3), 77, 'LSRegion.calloc');
  throwsLike(() => region.allocAs(Float64Array, 2 ** 30), OutOfMemoryError, /Region\.allocAs: length .* more than the largest allocation/, 'too many elements');
  throwsLike(() => arena.allocAs('x' as never, 1), TypeError, /Arena\.allocAs: type/, 'not a type');
  throwsLike(() => ls.allocAs(Float64Array, 1.5, 4), RangeError, /LSRegion\.allocAs: length/, 'fractional length');
  pool.check();
});

test('allocString and readString round-trip on every allocator, and refuse what is not a string of theirs', () => {
  const samples = ['', 'abc', 'a sixteen chars!', 'héllo wörld', '日本語のテキスト', '🎉 emoji 🎉', 'x'.repeat(5000)];
  const alloc = createAllocator({ limit: 32 * MB, slabSize: 256 * KB });
  const pool = new Mempool(alloc.cache, 64);
  const region = new Region(alloc.cache);
  const arena = new Arena();
  const ls = new LSRegion(alloc.cache.arena);
  const other = new SmallAlloc(new SlabCache(alloc.cache.arena));
  let id = 1;
  for (const s of samples) {
    const p = alloc.allocString(s);
    assert.equal(alloc.readString(p), s, `SmallAlloc: ${JSON.stringify(s.slice(0, 20))}`);
    assert.equal(other.readString(p), s, 'another allocator over the arena reads it too');
    alloc.free(p);
    throwsLike(() => alloc.readString(p), InvalidPointerError, /SmallAlloc\.readString/, 'a freed string');
    assert.equal(region.readString(region.allocString(s)), s, 'Region');
    assert.equal(arena.readString(arena.allocString(s)), s, 'Arena');
    assert.equal(ls.readString(ls.allocString(s, id++)), s, 'LSRegion');
    if (new TextEncoder().encode(s).length <= 60) {
      const q = pool.allocString(s);
      assert.equal(pool.readString(q), s, 'Mempool');
      pool.free(q);
    }
  }
  throwsLike(() => pool.allocString('x'.repeat(61)), RangeError, /Mempool\.allocString: s must be a string of at most 60 bytes/, 'too long for the pool');
  throwsLike(() => alloc.allocString(5 as never), TypeError, /SmallAlloc\.allocString: s must be a string/, 'not a string');
  throwsLike(() => region.readString(-4), RangeError, /Region\.readString: ptr/, 'negative');
  throwsLike(() => arena.readString(2 ** 40), InvalidPointerError, /Arena\.readString/, 'past the blocks');
  const q = alloc.alloc(8);
  alloc.memory.dv.setUint32(q, 1000, true);
  throwsLike(() => alloc.readString(q), InvalidPointerError, /SmallAlloc\.readString/, 'a length past the allocation');
  alloc.free(q);
  throwsLike(() => pool.readString(alloc.alloc(64)), InvalidPointerError, /Mempool\.readString/, 'another allocator\'s object');
  alloc.check();
  pool.check();
  other.check();
});
