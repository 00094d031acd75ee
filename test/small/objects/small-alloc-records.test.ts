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
import { getDebug, setDebug } from '../../../src/debug.js';
import { seeded } from '../../../dev/rng.js';
import { expectThrow, stamp, verifyStamp } from '../../support/model.js';
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

test('allocAs(T, 0) with 8-byte elements over classes below 8 bytes takes its own slot: free(view) frees no neighbour', () => {
  for (const [objsizeMin, granularity] of [[4, 4], [1, 1], [2, 2], [4, 1], [5, 1], [12, 4]] as const) {
    const what = `objsizeMin ${objsizeMin}, granularity ${granularity}`;
    const alloc = createAllocator({ limit: 16 * MB, objsizeMin, granularity });
    const live: number[] = [];
    const neighbours = (): void => {
      for (let size = 0; size <= 24; size++) live.push(alloc.alloc(size), alloc.alloc(size));
    };
    neighbours();
    for (const n of [0, 1, 2, 3]) {
      // Make the next slot of the class of 8n bytes a misaligned one, where one exists.
      for (let k = 0; k < 3; k++) {
        const q = alloc.alloc(8 * n);
        if (q % 8 !== 0) {
          alloc.free(q);
          break;
        }
        live.push(q);
      }
      const before = alloc.stats().count;
      const v = alloc.allocAs(Float64Array, n);
      neighbours();
      assert.equal(v.byteOffset % 8, 0, `${what}: allocAs(Float64Array, ${n}) is aligned`);
      const start = v.byteOffset;
      const real = alloc.info(start).realSize;
      assert.ok(real >= 8 * n, `${what}: allocAs(Float64Array, ${n}) starts at a live allocation's first byte`);
      for (const p of live) {
        const end = p + Math.max(1, alloc.info(p).realSize);
        assert.ok(p >= start + Math.max(1, real) || end <= start, `${what}: allocAs(Float64Array, ${n}) at ${start} overlaps the allocation at ${p}`);
      }
      alloc.free(v);
      assert.equal(alloc.stats().count, before + 50, `${what}: free(view) freed the view's allocation, one`);
    }
    for (const p of live) alloc.free(p);
    assert.equal(alloc.stats().count, 0, `${what}: nothing lost`);
    alloc.check();
  }
});

test('free(allocAs(T, n)) frees exactly its allocation, for every type, length, objsizeMin and granularity', () => {
  const types = [Uint8Array, Int16Array, Float32Array, Int32Array, Float64Array, BigInt64Array] as const;
  for (const granularity of [1, 2, 4, 8, 16]) {
    for (const objsizeMin of [1, 3, 5, 7, 8, 12, 16]) {
      const alloc = createAllocator({ limit: 32 * MB, objsizeMin, granularity });
      const what = `objsizeMin ${objsizeMin}, granularity ${granularity}`;
      const lengths = [0, 1, 2, 3, 5, 13, 100, 1000, Math.floor(alloc.objsizeMax / 8) + 1];
      const views: { v: ArrayBufferView & { length: number }; tag: number }[] = [];
      let tag = 0;
      for (const T of types) {
        for (const n of lengths) {
          const v = alloc.allocAs(T as never, n) as ArrayBufferView & { length: number };
          assert.equal(v.length, n);
          assert.equal(v.byteOffset % T.BYTES_PER_ELEMENT, 0, `${what}: ${T.name} x ${n} aligned`);
          alloc.info(v.byteOffset);
          stamp(alloc.memory.u8, v.byteOffset, v.byteLength, ++tag);
          views.push({ v, tag });
        }
      }
      const u8 = alloc.memory.u8;
      for (let i = 0; i < views.length; i++) {
        alloc.free(views[i]!.v as Uint8Array);
        assert.equal(alloc.stats().count, views.length - i - 1, `${what}: one allocation freed per view`);
        for (let j = i + 1; j < views.length; j++) verifyStamp(u8, views[j]!.v.byteOffset, views[j]!.v.byteLength, views[j]!.tag);
      }
      alloc.check();
    }
  }
});

test('free refuses a typed array that does not start at an allocation\'s first byte, and changes nothing', () => {
  for (const debug of [false, true]) {
    const saved = getDebug();
    if (debug) setDebug({ enabled: true, checkEvery: 1 });
    try {
      const alloc = createAllocator({ limit: 64 * MB });
      const buf = (): ArrayBufferLike => alloc.memory.buffer;
      const arr = alloc.allocAs(Float64Array, 100);
      const p = alloc.alloc(64);
      alloc.info(p);
      const big = alloc.alloc(alloc.objsizeMax + 100 * KB);
      alloc.info(big);
      const f32 = alloc.allocAs(Float32Array, 1000);
      const cases: [string, ArrayBufferView][] = [
        ['a subarray(50) of an allocAs view', arr.subarray(50)],
        ['a subarray(1) of an allocAs view', arr.subarray(1)],
        ['a view built at p + 16', new Uint8Array(buf(), p + 16, 8)],
        ['a view built at p + 1', new Uint8Array(buf(), p + 1, 1)],
        ['an Int32Array 8 KiB into a large allocation', new Int32Array(buf(), big + 8 * KB, 4)],
        ['an Int32Array 4 bytes into a large allocation', new Int32Array(buf(), big + 4, 4)],
        ['a Float32Array view 4 bytes into an allocAs view', new Float32Array(buf(), f32.byteOffset + 4, 10)],
      ];
      for (const [what, view] of cases) {
        const before = JSON.stringify(alloc.stats());
        throwsLike(() => alloc.free(view as Uint8Array), InvalidPointerError, /SmallAlloc\.free: pointer/, `${what} (debug ${debug})`);
        throwsLike(() => alloc.free(view.byteOffset), InvalidPointerError, /SmallAlloc\.free: pointer/, `${what}, as a number`);
        assert.equal(JSON.stringify(alloc.stats()), before, `${what}: nothing changed`);
      }
      for (const q of [arr.byteOffset, p, big, f32.byteOffset]) alloc.info(q);
      // The first byte, through any view that starts there, is the allocation.
      alloc.free(arr.subarray(0));
      alloc.free(new Uint8Array(buf(), p, 3));
      alloc.free(new Int32Array(buf(), big, 1));
      alloc.free(f32);
      assert.equal(alloc.stats().count, 0);
      alloc.check();
    } finally {
      setDebug(saved);
    }
  }
});

test('calloc(n, size) allocates n * size zeroed bytes, C\'s form, and refuses a product that overflows', () => {
  const alloc = createAllocator({ limit: 16 * MB });
  const p = alloc.alloc(8000);
  alloc.memory.u8.fill(0xee, p, p + 8000);
  alloc.free(p);
  const q = alloc.calloc(1000, 8);
  assert.ok(alloc.info(q).realSize >= 8000, 'calloc(1000, 8) holds 8000 bytes');
  assert.ok(alloc.memory.u8.subarray(q, q + 8000).every((b) => b === 0), 'all 8000 zeroed');
  alloc.free(q);
  const big = alloc.calloc(3, alloc.objsizeMax);
  assert.equal(alloc.info(big).isLarge, true, 'a product above objsizeMax: the large path');
  alloc.free(big);
  const z = alloc.calloc(0, 8);
  assert.ok(z !== 0, 'calloc(0, 8) is a valid pointer');
  alloc.free(z);
  assert.ok(alloc.info(alloc.calloc(24)).realSize >= 24, 'calloc(size) still works');
  // A failed allocation may give the spare block back (total drops); nothing else changes.
  const counters = (): string => JSON.stringify([alloc.stats().used, alloc.stats().count]);
  const before = counters();
  throwsLike(() => alloc.calloc(2 ** 30, 8), RangeError, /SmallAlloc\.calloc: n \* size must be at most \d+ bytes, got 1073741824 \* 8/, 'an overflowing product');
  throwsLike(() => alloc.calloc(2 ** 32, 2 ** 32), RangeError, /SmallAlloc\.calloc: n \* size/, 'a product past 2^53, of two allowed factors');
  throwsLike(() => alloc.calloc(-1, 8), RangeError, /SmallAlloc\.calloc: n must be/, 'a negative n');
  throwsLike(() => alloc.calloc(4, 1.5), RangeError, /SmallAlloc\.calloc: size must be/, 'a fractional size');
  throwsLike(() => alloc.calloc(4, '8' as never), TypeError, /SmallAlloc\.calloc: size must be a number/, 'a string size');
  throwsLike(() => alloc.calloc(2, 8 * MB), QuotaExceededError, /SmallAlloc\.calloc/, 'over the quota');
  assert.equal(counters(), before, 'refused callocs change nothing');
  alloc.check();
});

test('createAllocator refuses a limit whose quota cannot hold one slab, naming the minimum', () => {
  throwsLike(() => createAllocator({ limit: 1000 }), RangeError,
    /createAllocator: limit must be at least 64513 \(a quota of one 65536-byte slab\), got 1000/, 'limit 1000');
  throwsLike(() => createAllocator({ limit: 64 * KB, slabSize: MB }), RangeError,
    /createAllocator: limit must be at least 1047553 \(a quota of one 1048576-byte slab\), got 65536/, 'a limit below the slab size asked for');
  for (const limit of [64 * KB - 1023, 64 * KB, 100 * KB]) {
    const alloc = createAllocator({ limit });
    assert.ok(alloc.alloc(1) !== 0, `limit ${limit}: one allocation succeeds`);
    alloc.check();
  }
  assert.ok(createAllocator({ limit: MB - 1023, slabSize: MB }).alloc(100) !== 0, 'the minimum with a given slab size');
});

test('a double free names a double free, for a large allocation, an allocAs array and a class object', () => {
  const alloc = createAllocator({ limit: 64 * MB });
  const large = alloc.alloc(alloc.objsizeMax + 1);
  const arr = alloc.allocAs(Float64Array, 200_000);
  const small = alloc.alloc(40);
  const cases: [string, () => void][] = [
    ['a large allocation', () => alloc.free(large)],
    ['an allocAs array', () => alloc.free(arr)],
    ['an allocAs array, by pointer', () => alloc.free(arr.byteOffset)],
    ['a class object', () => alloc.free(small)],
  ];
  alloc.free(large);
  alloc.free(arr);
  alloc.free(small);
  for (const [what, free] of cases) {
    const before = JSON.stringify(alloc.stats());
    const e = expectThrow(free, InvalidPointerError, what);
    assert.match(e.message, /SmallAlloc\.free: pointer \d+ .*double free/, what);
    assert.doesNotMatch(e.message, /not in a block handed out by the arena/, what);
    assert.equal(JSON.stringify(alloc.stats()), before, `${what}: nothing changed`);
  }
  alloc.check();
});

test('the quota error reads flat: what was asked, what the quota has left, no nested parentheses', () => {
  const alloc = createAllocator({ limit: MB });
  const pool = new Mempool(alloc.cache, 1000);
  const errors: Error[] = [];
  for (const f of [() => alloc.alloc(1000), () => alloc.alloc(300 * KB), () => alloc.alloc(1), () => pool.alloc()]) {
    try {
      for (;;) f();
    } catch (e) {
      assert.ok(e instanceof QuotaExceededError, String(e));
      errors.push(e);
    }
  }
  for (const e of errors) {
    let depth = 0;
    let max = 0;
    for (const c of e.message) {
      if (c === '(') max = Math.max(max, ++depth);
      if (c === ')') depth--;
    }
    assert.ok(max <= 1, `parentheses nest ${max} deep in: ${e.message}`);
    assert.match(e.message, /quota/);
    assert.doesNotMatch(e.message, /\b1 bytes\b/, e.message);
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
