import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FREED_BYTE, FRESH_BYTE, InvalidPointerError, Mempool, OutOfMemoryError, Quota, QuotaExceededError, SlabArena,
  SlabCache, SmallAlloc, getDebug, setDebug,
} from '../../../src/index.js';
import { seeded, type Rng } from '../../../dev/rng.js';
import { KB, MB, cacheOf, stamp, throwsLike, verifyStamp } from './mempool-support.js';

/** A size: mostly small, sometimes near a class edge, rarely large. */
function randomSize(rng: Rng, alloc: SmallAlloc, largeChance = 0.01): number {
  if (rng.chance(largeChance)) return rng.int(alloc.objsizeMax + 1, alloc.objsizeMax * 3);
  if (rng.chance(0.05)) return rng.int(0, 16);
  return rng.chance(0.8) ? rng.int(1, 600) : rng.int(600, Math.min(20_000, alloc.objsizeMax));
}

/** Bytes `used` should count for an allocation of `size`. */
function usedFor(alloc: SmallAlloc, ptr: number, size: number): number {
  const info = alloc.info(ptr);
  return info.isLarge ? size : info.realSize;
}

test('SmallAlloc has the default classes: factor 1.0443, objsizeMax from the biggest slab', () => {
  const alloc = new SmallAlloc(cacheOf(16 * MB));
  assert.ok(Math.abs(alloc.actualFactor - 1.0443) < 1e-4);
  assert.equal(alloc.objsizeMax, 262136);
  const small = new SmallAlloc(cacheOf(MB, 64 * KB));
  assert.equal(small.objsizeMax, 4088);
  const coarse = new SmallAlloc(cacheOf(16 * MB), { allocFactor: 2, granularity: 16, objsizeMin: 32 });
  assert.equal(coarse.actualFactor, 2);
  assert.equal(coarse.info(coarse.alloc(1)).realSize, 32);
});

test('SmallAlloc serves every size with a class at least that big, zero included', () => {
  const cache = cacheOf(64 * MB);
  const alloc = new SmallAlloc(cache);
  const ptrs: [number, number][] = [];
  for (let size = 0; size <= 3000; size += size < 300 ? 1 : 37) {
    const p = alloc.alloc(size);
    assert.ok(p > 0);
    const info = alloc.info(p);
    assert.equal(info.isLarge, false);
    assert.ok(info.realSize >= size, `size ${size} got class ${info.realSize}`);
    // Steps are granularity, then at most 1/16 of the power of two below the size.
    assert.ok(info.realSize <= Math.max(16, size * 1.0625 + 8), `size ${size}: class ${info.realSize} is tight`);
    assert.equal(p % 8, 0, 'class objects are 8-aligned');
    ptrs.push([p, size]);
  }
  alloc.check();
  for (const [p] of ptrs) alloc.free(p);
  const st = alloc.stats();
  assert.equal(st.used, 0);
  assert.equal(st.count, 0);
  alloc.check();
});

test('SmallAlloc random alloc/free keeps every allocation intact (stamps), check() every fifth step', () => {
  const rng = seeded('smallalloc random');
  const cache = cacheOf(128 * MB);
  const alloc = new SmallAlloc(cache);
  const live = new Map<number, { size: number; tag: number }>();
  let used = 0;
  let tag = 1;
  for (let step = 0; step < 3000; step++) {
    if (live.size === 0 || rng.chance(0.55)) {
      const size = randomSize(rng, alloc, 0.005);
      const p = alloc.alloc(size);
      assert.ok(!live.has(p), `alloc returned live pointer ${p}`);
      stamp(cache.arena.memory.u8, p, size, tag);
      live.set(p, { size, tag: tag++ });
      used += usedFor(alloc, p, size);
    } else {
      const keys = [...live.keys()];
      const p = keys[rng.int(0, keys.length - 1)]!;
      const { size, tag: t } = live.get(p)!;
      verifyStamp(cache.arena.memory.u8, p, size, t);
      used -= usedFor(alloc, p, size);
      if (rng.chance(0.3)) alloc.free(p, size);
      else alloc.free(p);
      live.delete(p);
    }
    // Not after every step: check() settles every retired slot, and the test should see them
    // pile up between settles as they do in use.
    if (step % 5 === 0) alloc.check();
    if (step % 50 === 0) {
      const st = alloc.stats();
      assert.equal(st.used, used, 'used');
      assert.equal(st.count, live.size, 'count');
    }
  }
  alloc.check();
  for (const [p, { size, tag: t }] of live) verifyStamp(cache.arena.memory.u8, p, size, t);
  for (const p of live.keys()) alloc.free(p);
  const st = alloc.stats();
  assert.equal(st.used, 0);
  assert.equal(st.large.count, 0);
  assert.equal(st.large.total, 0);
  alloc.check();
  alloc.destroy();
  assert.equal(cache.used, 0, 'destroy returned everything');
});

test('SmallAlloc large allocations come from the cache, are counted, and go back', () => {
  const cache = cacheOf(64 * MB);
  const alloc = new SmallAlloc(cache);
  const sizes = [alloc.objsizeMax + 1, 1_000_000, 4 * MB, 9 * MB + 3];
  const ptrs: number[] = [];
  for (const size of sizes) {
    const p = alloc.alloc(size);
    const info = alloc.info(p);
    assert.equal(info.isLarge, true);
    assert.ok(info.realSize >= size, `large ${size}: realSize ${info.realSize}`);
    assert.equal(p % 64, 0, 'large allocations are 64-aligned');
    const u8 = cache.arena.memory.u8;
    u8[p] = 1;
    u8[p + size - 1] = 2;
    ptrs.push(p);
    alloc.check();
  }
  const st = alloc.stats();
  assert.equal(st.large.count, sizes.length);
  assert.equal(st.large.used, sizes.reduce((a, b) => a + b, 0));
  assert.ok(st.large.total >= st.large.used);
  assert.equal(st.used, st.large.used);
  assert.equal(cache.used, st.large.total);
  throwsLike(() => alloc.free(ptrs[1]!, 999_999), RangeError, /size must be 1000000/, 'large free with another size');
  throwsLike(() => alloc.free(ptrs[1]! + 64), InvalidPointerError, /inside a large allocation/, 'large interior');
  alloc.free(ptrs[1]!, 1_000_000);
  throwsLike(() => alloc.free(ptrs[1]!), InvalidPointerError, /./, 'large double free');
  for (const p of [ptrs[0]!, ptrs[2]!, ptrs[3]!]) alloc.free(p);
  alloc.check();
  assert.equal(alloc.stats().large.total, 0);
  assert.equal(cache.used, 0);
});

test('SmallAlloc.free checks a given size against the allocation', () => {
  const cache = cacheOf(16 * MB);
  const alloc = new SmallAlloc(cache);
  const p = alloc.alloc(100); // class 104
  const before = JSON.stringify(alloc.stats());
  throwsLike(() => alloc.free(p, 200), RangeError, /size must be a size of the class of/, 'a bigger class');
  throwsLike(() => alloc.free(p, 8), RangeError, /size must be a size of the class of/, 'a smaller class');
  throwsLike(() => alloc.free(p, -1), RangeError, /size must be an integer/, 'negative');
  throwsLike(() => alloc.free(p, 1.5), RangeError, /size must be an integer/, 'fractional');
  throwsLike(() => alloc.free(p, '100' as unknown as number), TypeError, /size must be a number/, 'a string');
  assert.equal(JSON.stringify(alloc.stats()), before, 'nothing changed');
  alloc.free(p, 97); // same class as 100
  alloc.check();
});

test('SmallAlloc rejects double frees, foreign and interior pointers and changes nothing', () => {
  const cache = cacheOf(16 * MB);
  const alloc = new SmallAlloc(cache);
  const other = new SmallAlloc(cache);
  const a = alloc.alloc(48);
  const b = alloc.alloc(48);
  const big = alloc.alloc(alloc.objsizeMax + 100);
  const o = other.alloc(48);
  const ob = other.alloc(alloc.objsizeMax + 100);
  other.free(o);
  other.free(ob);
  alloc.free(b);
  const region = cache.get(4096);
  const before = JSON.stringify(alloc.stats());
  const cases: [string, unknown][] = [
    ['double free', b],
    ['interior pointer', a + 8],
    ['inside a large allocation', big + 4096],
    ['just before a large allocation', big - 64],
    ['a freed object of another SmallAlloc of this worker', o],
    ['a freed large allocation of another SmallAlloc', ob],
    ['a block of the cache no allocator formatted', region + 64],
    ['null', 0],
    ['past 4 GiB', 2 ** 32 + 64],
  ];
  for (const [what, ptr] of cases) {
    throwsLike(() => alloc.free(ptr as number), InvalidPointerError, /SmallAlloc\.free: pointer/, what);
    throwsLike(() => alloc.info(ptr as number), InvalidPointerError, /SmallAlloc\.info: pointer/, `info: ${what}`);
    assert.equal(JSON.stringify(alloc.stats()), before, `${what}: nothing changed`);
  }
  // Not a non-negative integer: a RangeError, as for every pointer argument.
  for (const [what, ptr] of [['negative', -8], ['fractional', a + 0.25], ['NaN', NaN]] as [string, number][]) {
    throwsLike(() => alloc.free(ptr), RangeError, /SmallAlloc\.free: ptr must be a non-negative integer/, what);
    throwsLike(() => alloc.info(ptr), RangeError, /SmallAlloc\.info: ptr must be a non-negative integer/, `info: ${what}`);
    assert.equal(JSON.stringify(alloc.stats()), before, `${what}: nothing changed`);
  }
  for (const [what, ptr] of [['a string', '64'], ['undefined', undefined], ['a bigint', 64n]] as [string, unknown][]) {
    throwsLike(() => alloc.free(ptr as number), TypeError, /ptr must be a number/, what);
    throwsLike(() => alloc.info(ptr as number), TypeError, /ptr must be a number/, `info: ${what}`);
  }
  alloc.check();
  other.check();
});

test('SmallAlloc constructor and alloc reject bad arguments with a message naming them', () => {
  const cache = cacheOf(4 * MB);
  const ctor: [string, unknown, unknown, abstract new (...a: never[]) => Error, RegExp][] = [
    ['cache not a SlabCache', {}, undefined, TypeError, /cache must be a SlabCache/],
    ['opts not an object', cache, 5, TypeError, /opts must be an object/],
    ['granularity not a power of two', cache, { granularity: 12 }, RangeError, /granularity must be a power of two .* got 12/],
    ['granularity zero', cache, { granularity: 0 }, RangeError, /granularity .* got 0/],
    ['granularity a string', cache, { granularity: '8' }, TypeError, /granularity must be a number/],
    ['allocFactor 1', cache, { allocFactor: 1 }, RangeError, /allocFactor must be a number in \(1, 2\], got 1/],
    ['allocFactor above 2', cache, { allocFactor: 2.5 }, RangeError, /allocFactor .* got 2.5/],
    ['allocFactor NaN', cache, { allocFactor: NaN }, RangeError, /allocFactor .* got NaN/],
    ['objsizeMin zero', cache, { objsizeMin: 0 }, RangeError, /objsizeMin must be an integer .* got 0/],
    ['objsizeMin too large', cache, { objsizeMin: 10 ** 7 }, RangeError, /objsizeMin .* got 10000000/],
  ];
  for (const [what, c, opts, cls, re] of ctor) {
    throwsLike(() => new SmallAlloc(c as SlabCache, opts as object), cls, re, what);
  }
  const alloc = new SmallAlloc(cache);
  const before = JSON.stringify(alloc.stats());
  const calls: [string, unknown, abstract new (...a: never[]) => Error, RegExp][] = [
    ['negative', -1, RangeError, /SmallAlloc\.alloc: size must be an integer .* got -1/],
    ['fractional', 10.5, RangeError, /size .* got 10.5/],
    ['NaN', NaN, RangeError, /size .* got NaN/],
    ['above 4 GiB', 2 ** 33, RangeError, /size .* got 8589934592/],
    ['a string', '8', TypeError, /size must be a number, got "8"/],
    ['undefined', undefined, TypeError, /size must be a number/],
  ];
  for (const [what, size, cls, re] of calls) {
    throwsLike(() => alloc.alloc(size as number), cls, re, what);
    throwsLike(() => alloc.tryAlloc(size as number), cls, new RegExp(re.source.replace('\\.alloc:', '\\.tryAlloc:')), `try: ${what}`);
  }
  assert.equal(JSON.stringify(alloc.stats()), before, 'nothing changed');
  assert.equal(cache.used, 0);
});

test('SmallAlloc runs out of quota cleanly, then frees and allocates again with nothing lost', () => {
  const rng = seeded('smallalloc quota');
  // 8 MiB: a few hundred objects, so the 10% allowed for fragmentation below is a few dozen
  // refills. Under 2 MiB only about 40 fitted (every class holds a slab of its own), and with
  // 19 refills two that met a split buddy block failed the test (SEED=200, 1 seed in 300).
  const arena = new SlabArena({ quota: new Quota(8 * MB), slabSize: 256 * KB });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const live = new Map<number, { size: number; tag: number }>();
  let tag = 1;
  let misses = 0;
  while (misses < 20) {
    const size = randomSize(rng, alloc, 0.02);
    const p = alloc.tryAlloc(size);
    if (p === 0) {
      misses++;
      const before = JSON.stringify(alloc.stats());
      assert.throws(() => alloc.alloc(size), (e: unknown) => e instanceof OutOfMemoryError);
      assert.equal(JSON.stringify(alloc.stats()), before, 'a failed alloc changes nothing');
      continue;
    }
    stamp(arena.memory.u8, p, size, tag);
    live.set(p, { size, tag: tag++ });
  }
  assert.throws(() => alloc.alloc(300_000), (e: unknown) => e instanceof QuotaExceededError);
  alloc.check();
  const victims = rng.shuffle([...live.keys()]).slice(0, live.size >> 1);
  const sizes: number[] = [];
  for (const p of victims) {
    const { size, tag: t } = live.get(p)!;
    verifyStamp(arena.memory.u8, p, size, t);
    alloc.free(p);
    live.delete(p);
    sizes.push(size);
    alloc.check();
  }
  // The same sizes fit again, but for what fragmentation costs: emptied slabs go back to the
  // buddy cache, where another order may split them (known gap: not every refill fits).
  let refilled = 0;
  for (const size of sizes) {
    const p = alloc.tryAlloc(size);
    if (p === 0) continue;
    refilled++;
    stamp(arena.memory.u8, p, size, tag);
    live.set(p, { size, tag: tag++ });
  }
  assert.ok(refilled >= sizes.length * 0.9, `${refilled} of ${sizes.length} freed sizes fit again`);
  alloc.check();
  for (const [p, { size, tag: t }] of live) verifyStamp(arena.memory.u8, p, size, t);
  assert.equal(alloc.stats().count, live.size);
});

test('SmallAlloc holds at most 1.10 bytes of slab per byte asked with 200,000 live objects of 16..1024 bytes', () => {
  const rng = seeded('smallalloc overhead');
  const cache = cacheOf(512 * MB);
  const alloc = new SmallAlloc(cache);
  let requested = 0;
  for (let i = 0; i < 200_000; i++) {
    const size = rng.int(16, 1024);
    alloc.alloc(size);
    requested += size;
  }
  const st = alloc.stats();
  const ratio = st.total / requested;
  console.log(`smallalloc overhead: ${st.total} bytes of slabs for ${requested} asked: ${ratio.toFixed(4)}`);
  assert.ok(ratio <= 1.1, `ratio ${ratio}`);
  alloc.check();
  alloc.destroy();
});

test('SmallAlloc read views keep freed memory intact and out of use until the right view closes', () => {
  const cache = cacheOf(64 * MB);
  const alloc = new SmallAlloc(cache);
  const u8 = (): Uint8Array => cache.arena.memory.u8;
  const mk = (size: number, tag: number): number => {
    const p = alloc.alloc(size);
    stamp(u8(), p, size, tag);
    return p;
  };
  const a = mk(64, 1);
  const b = mk(64, 2);
  const c = mk(64, 3);
  const big = mk(alloc.objsizeMax + 10, 4);
  const v1 = alloc.openReadView();
  alloc.free(a); // freed while v1 is open
  alloc.free(big);
  const v2 = alloc.openReadView();
  alloc.free(b); // freed while v1 and v2 are open
  throwsLike(() => alloc.free(a), InvalidPointerError, /not allocated/, 'a free under a view is still a free');
  assert.equal(alloc.stats().deferred, 3);
  assert.equal(alloc.stats().views, 2);
  alloc.check();
  const handedOut = new Set<number>();
  const churn = (n: number): void => {
    const got: number[] = [];
    for (let i = 0; i < n; i++) got.push(alloc.alloc(64));
    for (const p of got) handedOut.add(p);
    for (const p of got) alloc.free(p);
  };
  churn(50);
  assert.ok(!handedOut.has(a) && !handedOut.has(b), 'held memory is not handed out');
  verifyStamp(u8(), a, 64, 1);
  verifyStamp(u8(), b, 64, 2);
  verifyStamp(u8(), big, alloc.objsizeMax + 10, 4);
  v2.close(); // v1 still sees a, b and big
  v2.close(); // idempotent
  churn(50);
  assert.ok(!handedOut.has(a) && !handedOut.has(b));
  verifyStamp(u8(), a, 64, 1);
  verifyStamp(u8(), b, 64, 2);
  verifyStamp(u8(), big, alloc.objsizeMax + 10, 4);
  alloc.check();
  v1.close();
  // Released in batches on the next calls; then reused.
  for (let i = 0; i < 20 && alloc.stats().deferred > 0; i++) churn(1);
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(alloc.stats().large.total, 0, 'the large allocation went back');
  handedOut.clear();
  churn(400);
  assert.ok(handedOut.has(a) && handedOut.has(b), 'released memory is reused');
  alloc.free(c);
  alloc.check();
});

test('SmallAlloc read views: closing an older view releases what only it could see', () => {
  const cache = cacheOf(16 * MB);
  const alloc = new SmallAlloc(cache);
  const a = alloc.alloc(32);
  const b = alloc.alloc(32);
  const v1 = alloc.openReadView();
  alloc.free(a); // seen by v1 only
  const v2 = alloc.openReadView();
  v1.close();
  alloc.free(b); // seen by v2
  alloc.stats();
  assert.equal(alloc.stats().deferred, 1, 'a was released, b is held for v2');
  assert.throws(() => alloc.info(a), InvalidPointerError);
  {
    using v3 = alloc.openReadView();
    assert.equal(alloc.stats().views, 2);
    void v3;
  }
  assert.equal(alloc.stats().views, 1, 'using closed v3');
  v2[Symbol.dispose]();
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(alloc.stats().views, 0);
  alloc.check();
});

test('SmallAlloc releases deferred frees in bounded batches while a view is open, and all of them once none is', () => {
  const cache = cacheOf(64 * MB);
  const alloc = new SmallAlloc(cache);
  const ptrs: number[] = [];
  for (let i = 0; i < 5000; i++) ptrs.push(alloc.alloc(100));
  const v = alloc.openReadView();
  for (const p of ptrs) alloc.free(p);
  assert.equal(alloc.stats().deferred, 5000);
  // A newer view stays open: what only the old view could see is releasable, in batches.
  const newer = alloc.openReadView();
  v.close();
  alloc.alloc(8);
  const left = alloc.stats().deferred;
  assert.ok(left > 4000 && left < 5000, `one call releases a bounded batch (${left} left)`);
  alloc.check();
  newer.close();
  alloc.alloc(8);
  assert.equal(alloc.stats().deferred, 0, 'with no view open, the next allocation releases them all');
  alloc.check();
});

test('SmallAlloc takes frees from another cache\'s allocator in, and memory stays bounded', () => {
  const arena = new SlabArena({ quota: new Quota(256 * MB) });
  const owner = new SmallAlloc(new SlabCache(arena));
  const freer = new SmallAlloc(new SlabCache(arena));
  const rng = seeded('smallalloc producer consumer');
  // Producer/consumer: the owner only allocates, the other only frees.
  const queue: [number, number][] = [];
  let peak = 0;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 500; i++) {
      const size = rng.chance(0.01) ? 300_000 : rng.int(1, 400);
      const p = owner.alloc(size);
      stamp(arena.memory.u8, p, size, round * 1000 + i);
      queue.push([p, round * 1000 + i]);
    }
    while (queue.length > 1000) {
      const [p, t] = queue.shift()!;
      const size = owner.info(p).isLarge ? 300_000 : 0;
      if (size) verifyStamp(arena.memory.u8, p, size, t);
      freer.free(p);
      assert.throws(() => freer.free(p), InvalidPointerError, 'a second remote free is caught');
    }
    if (round === 20) owner.check();
    peak = Math.max(peak, owner.stats().total);
  }
  const st = owner.stats();
  assert.equal(st.count, queue.length, 'remote frees reached the counters');
  assert.ok(peak < 16 * MB, `memory stayed bounded (${peak} bytes at the peak)`);
  owner.check();
  for (const [p] of queue) freer.free(p);
  assert.equal(owner.stats().used, 0);
  owner.check();
  freer.check();
});

test('SmallAlloc read views also hold memory freed by another cache\'s allocator', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const owner = new SmallAlloc(new SlabCache(arena));
  const freer = new SmallAlloc(new SlabCache(arena));
  const p = owner.alloc(200);
  stamp(arena.memory.u8, p, 200, 77);
  const v = owner.openReadView();
  freer.free(p);
  owner.stats(); // takes the remote free in: held for the view
  assert.equal(owner.stats().deferred, 1);
  for (let i = 0; i < 100; i++) assert.notEqual(owner.alloc(200), p);
  verifyStamp(arena.memory.u8, p, 200, 77);
  v.close();
  owner.check();
});

test('SmallAlloc in debug mode poisons fresh and freed memory, not memory a view can see', () => {
  const saved = getDebug();
  setDebug({ enabled: true, checkEvery: 64 });
  try {
    const cache = cacheOf(16 * MB);
    const alloc = new SmallAlloc(cache);
    const p = alloc.alloc(40);
    assert.equal(cache.arena.memory.u8[p + 20], FRESH_BYTE);
    alloc.free(p);
    assert.equal(cache.arena.memory.u8[p + 20], FREED_BYTE);
    const q = alloc.alloc(40);
    cache.arena.memory.u8[q + 20] = 9;
    const v = alloc.openReadView();
    alloc.free(q);
    assert.equal(cache.arena.memory.u8[q + 20], 9, 'a view still sees the bytes');
    v.close();
    for (let i = 0; i < 200; i++) alloc.free(alloc.alloc(i));
    alloc.check();
  } finally {
    setDebug(saved);
  }
});

test('SmallAlloc.free and info accept pointers of another allocator of the same worker, which gets them back', () => {
  const cache = cacheOf(16 * MB);
  const alloc = new SmallAlloc(cache);
  const other = new SmallAlloc(cache);
  const pool = new Mempool(cache, 40);
  const o = other.alloc(48);
  const big = other.alloc(other.objsizeMax + 100);
  const m = pool.alloc();
  assert.deepEqual(alloc.info(o), other.info(o));
  assert.deepEqual(alloc.info(big), other.info(big));
  assert.deepEqual(alloc.info(m), { isLarge: false, realSize: 40 });
  alloc.free(o, 48);
  alloc.free(big);
  alloc.free(m);
  assert.equal(other.stats().count, 0, 'the other SmallAlloc got its objects back');
  assert.equal(pool.count, 0, 'the Mempool got its object back');
  assert.equal(alloc.stats().count, 0, 'nothing was counted here');
  throwsLike(() => alloc.free(o), InvalidPointerError, /SmallAlloc\.free: pointer .* not allocated/, 'double free');
  throwsLike(() => alloc.info(o), InvalidPointerError, /SmallAlloc\.info: pointer/, 'info after the free');
  throwsLike(() => alloc.free(big), InvalidPointerError, /SmallAlloc\.free: pointer/, 'large double free');
  // Under a read view of the allocator that owns the memory, the free is held for that view.
  const v = other.openReadView();
  const q = other.alloc(48);
  alloc.free(q);
  assert.equal(other.stats().deferred, 1, 'the owner\'s view holds the freed object');
  v.close();
  other.check();
  alloc.check();
  pool.check();
});

test('SmallAlloc: a failed allocation leaves no empty class behind in stats()', () => {
  const arena = new SlabArena({ quota: new Quota(256 * KB), slabSize: 64 * KB });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const filler: number[] = [];
  for (;;) {
    const p = alloc.tryAlloc(1000);
    if (p === 0) break;
    filler.push(p);
  }
  const before = JSON.stringify(alloc.stats());
  assert.equal(alloc.tryAlloc(24), 0, 'no memory for a new class');
  assert.throws(() => alloc.alloc(24), (e: unknown) => e instanceof OutOfMemoryError);
  assert.equal(JSON.stringify(alloc.stats()), before, 'no class of 24 bytes appears');
  alloc.check();
  for (const p of filler) alloc.free(p);
  const p = alloc.alloc(24);
  assert.ok(p !== 0, 'the class is made once there is room');
  alloc.check();
});

test('SmallAlloc in debug mode checks itself as a whole, not only its pools, every checkEvery operations', () => {
  const saved = getDebug();
  setDebug({ enabled: true, checkEvery: 4 });
  try {
    const cache = cacheOf(16 * MB);
    const alloc = new SmallAlloc(cache);
    const big = alloc.alloc(alloc.objsizeMax + 1);
    // Break the large allocation's bookkeeping (its size in the page tags): only
    // SmallAlloc.check sees it.
    const tags = (cache.arena as unknown as { pageTags: Int32Array }).pageTags;
    tags[2 * (big / 4096) + 1] = 7;
    assert.throws(() => {
      for (let i = 0; i < 8; i++) alloc.free(alloc.alloc(32));
    }, /SmallAlloc\.check: large allocation at \d+ is not a run of/);
  } finally {
    setDebug(saved);
  }
});

test('a free another worker makes of an object held back for a read view is refused as a double free, and so is one the owner takes in while a view is open', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const owner = new SmallAlloc(new SlabCache(arena));
  const other = new SmallAlloc(new SlabCache(arena));
  const ptrs = Array.from({ length: 100 }, () => owner.alloc(40));
  const view = owner.openReadView();
  owner.free(ptrs[0]!); // held back for the view
  throwsLike(() => other.free(ptrs[0]!), InvalidPointerError, /double free/, 'remote free of a held-back object');
  throwsLike(() => owner.free(ptrs[0]!), InvalidPointerError, /double free/, 'local free of a held-back object');
  other.free(ptrs[1]!); // a remote free, taken in (and held back) by stats()
  assert.equal(owner.stats().deferred, 2);
  throwsLike(() => other.free(ptrs[1]!), InvalidPointerError, /double free/, 'remote free of a remote free held back');
  owner.check();
  view.close();
  assert.equal(owner.stats().count, 98, 'both released once the view closed');
  owner.check();
  // Each slot is handed out again, once.
  const again = new Set(Array.from({ length: 100 }, () => owner.alloc(40)));
  assert.equal(again.size, 100);
  for (const p of [...ptrs.slice(2), ...again]) owner.free(p);
  owner.check();
  assert.equal(owner.stats().count, 0);
});
