import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FREED_BYTE, FRESH_BYTE, InvalidPointerError, Mempool, OutOfMemoryError, Quota, QuotaExceededError, SlabArena, SlabCache,
  SmallAlloc, getDebug, setDebug,
} from '../../../src/index.js';
import { BITMAPS } from '../../../src/small/objects/block-header.js';
import { geometry, mempoolObjsizeMax, pickOrder } from '../../../src/small/objects/geometry.js';
import { seeded } from '../../../dev/rng.js';
import { KB, MB, cacheOf, stamp, throwsLike, verifyStamp } from './mempool-support.js';

test('Mempool hands out distinct objects and counts them', () => {
  const cache = cacheOf(16 * MB);
  const pool = new Mempool(cache, 40);
  assert.equal(pool.objsize, 40);
  assert.equal(pool.count, 0);
  assert.equal(pool.total, 0);
  const ptrs = new Set<number>();
  for (let i = 0; i < 1000; i++) ptrs.add(pool.alloc());
  assert.equal(ptrs.size, 1000);
  assert.equal(pool.count, 1000);
  assert.equal(pool.used, 40_000);
  assert.ok(pool.total >= pool.used);
  for (const p of ptrs) assert.equal(p % 8, 0, 'objects are 8-aligned');
  pool.check();
  for (const p of ptrs) pool.free(p);
  assert.equal(pool.count, 0);
  assert.equal(pool.used, 0);
  pool.check();
  const st = pool.stats();
  assert.equal(st.slabs, 1, 'only the spare slab is kept');
  assert.equal(st.emptySlabs, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(st)), st, 'stats are JSON-serializable');
});

test('Mempool aligns objects whose size is a power of two to that size', () => {
  const cache = cacheOf(64 * MB);
  for (const objsize of [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 65536]) {
    const pool = new Mempool(cache, objsize);
    for (let i = 0; i < 50; i++) {
      const p = pool.alloc();
      assert.equal(p % Math.max(objsize, 4), 0, `objsize ${objsize}: ${p} aligned`);
    }
    pool.check();
    pool.destroy();
  }
});

test('Mempool picks slabs that waste about 1% beyond the bitmaps and hold 96 objects or 64 KiB', () => {
  const cache = cacheOf(4 * MB);
  const wasteAt = (objsize: number, order: number): number => {
    const size = 4096 * 2 ** order;
    const g = geometry(objsize, size);
    assert.ok(g.first + g.count * g.stride <= size);
    return g.count === 0 ? 1 : (size - g.count * g.stride - 4 * BITMAPS * g.bw) / size;
  };
  const good = (objsize: number, order: number): boolean =>
    wasteAt(objsize, order) <= 0.01 && (geometry(objsize, 4096 * 2 ** order).count >= 96 || order >= 4);
  for (const objsize of [8, 16, 24, 40, 64, 100, 136, 264, 500, 776, 904, 1024, 1500, 4000, 8192, 20_000]) {
    const order = pickOrder(cache, objsize);
    const waste = wasteAt(objsize, order);
    assert.ok(good(objsize, order), `objsize ${objsize}: order ${order}, waste ${(waste * 100).toFixed(2)}%`);
    if (order > 0) assert.ok(!good(objsize, order - 1), `objsize ${objsize}: order ${order} is the smallest good one`);
  }
  // 776-byte objects fit a 16 KiB slab within 1%, but only 21 of them: 64 KiB it is.
  assert.equal(pickOrder(cache, 776), 4);
  // Where no slab gets under 1%, the least wasteful one is taken.
  for (const objsize of [100_000, 300_000, 1_000_000]) {
    const order = pickOrder(cache, objsize);
    for (let k = 0; k <= cache.orderMax; k++) assert.ok(wasteAt(objsize, order) <= wasteAt(objsize, k) + 1e-4);
  }
  // One object: the 64-byte header and three one-word bitmaps, rounded up to 8.
  assert.equal(mempoolObjsizeMax(cache), 4 * MB - 80);
  const big = new Mempool(cache, mempoolObjsizeMax(cache));
  const p = big.alloc();
  assert.ok(p > 0);
  big.free(p);
  big.check();
  big.destroy();
});

test('Mempool allocates from the lowest-address slab with room, and keeps a nearly full slab cold', () => {
  const cache = cacheOf(64 * MB);
  const pool = new Mempool(cache, 512);
  const ptrs: number[] = [];
  for (let i = 0; i < 2000; i++) ptrs.push(pool.alloc());
  const slabSize = pool.stats().slabSize;
  const slabs = [...new Set(ptrs.map((p) => p - (p % slabSize)))].sort((a, b) => a - b);
  assert.ok(slabs.length >= 3);
  const inLowest = ptrs.filter((p) => p - (p % slabSize) === slabs[0]);
  const cold = (pool as unknown as { coldLimit: number }).coldLimit;
  assert.ok(cold >= 1 && cold < inLowest.length);
  // A full slab that gets fewer than coldLimit slots back stays out of the way ("cold").
  for (const p of inLowest.slice(0, cold - 1)) pool.free(p);
  pool.check();
  const next = pool.alloc();
  assert.notEqual(next - (next % slabSize), slabs[0], 'the lowest slab is still cold');
  pool.free(next);
  // With coldLimit slots free it is back in the heap, lowest first: the next objects come from it.
  pool.free(inLowest[cold - 1]!);
  pool.check();
  for (let i = 0; i < cold; i++) {
    const p = pool.alloc();
    assert.equal(p - (p % slabSize), slabs[0], `allocation ${i} comes from the lowest slab`);
  }
  pool.check();
});

test('Mempool keeps one empty spare slab and returns the others to the cache', () => {
  const cache = cacheOf(64 * MB);
  const pool = new Mempool(cache, 256);
  const ptrs: number[] = [];
  for (let i = 0; i < 5000; i++) ptrs.push(pool.alloc());
  const held = pool.stats().slabs;
  assert.ok(held > 3);
  for (const p of ptrs) pool.free(p);
  pool.check();
  assert.equal(pool.stats().slabs, 1);
  assert.equal(cache.used, pool.total, 'the cache holds exactly the spare for us');
  pool.destroy();
  assert.equal(pool.total, 0);
  assert.equal(cache.used, 0);
});

test('Mempool random alloc/free keeps every object intact (stamps), check() after every step', () => {
  const rng = seeded('mempool random');
  const cache = cacheOf(64 * MB);
  for (const objsize of [8, 12, 40, 64, 300, 4096]) {
    const pool = new Mempool(cache, objsize);
    const u8 = () => cache.arena.memory.u8;
    const live = new Map<number, number>();
    let tag = 1;
    const steps = objsize >= 4096 ? 600 : 1500;
    for (let step = 0; step < steps; step++) {
      if (live.size === 0 || rng.chance(0.55)) {
        const p = pool.alloc();
        assert.ok(!live.has(p), `alloc returned live pointer ${p}`);
        stamp(u8(), p, objsize, tag);
        live.set(p, tag++);
      } else {
        const keys = [...live.keys()];
        const p = keys[rng.int(0, keys.length - 1)]!;
        verifyStamp(u8(), p, objsize, live.get(p)!);
        pool.free(p);
        live.delete(p);
      }
      pool.check();
      assert.equal(pool.count, live.size);
    }
    pool.check();
    for (const [p, t] of live) verifyStamp(u8(), p, objsize, t);
    for (const p of live.keys()) pool.free(p);
    assert.equal(pool.used, 0);
    pool.check();
    pool.destroy();
  }
  assert.equal(cache.used, 0);
});

test('Mempool rejects double frees, foreign and interior pointers and changes nothing', () => {
  const cache = cacheOf(16 * MB);
  const pool = new Mempool(cache, 48);
  const other = new Mempool(cache, 48);
  const a = pool.alloc();
  const b = pool.alloc();
  const o = other.alloc();
  other.free(o);
  const region = cache.get(4096);
  pool.free(b);
  const before = JSON.stringify(pool.stats());
  const cases: [string, unknown][] = [
    ['double free', b],
    ['interior pointer', a + 8],
    ['pointer into the slab header', a - (a % pool.stats().slabSize) + 4],
    ['freed object of another pool of this worker', o],
    ['a block of the cache no allocator formatted', region + 64],
    ['null', 0],
    ['never handed out by the arena', 8 * MB + 16],
    ['past 4 GiB', 2 ** 33],
  ];
  for (const [what, ptr] of cases) {
    throwsLike(() => pool.free(ptr as number), InvalidPointerError, /Mempool\(objsize 48\)\.free: pointer/, what);
    assert.equal(JSON.stringify(pool.stats()), before, `${what}: nothing changed`);
    pool.check();
  }
  // Not a non-negative integer: a RangeError, as for every pointer argument.
  for (const [what, ptr] of [['negative', -8], ['fractional', a + 0.5], ['NaN', NaN]] as [string, number][]) {
    throwsLike(() => pool.free(ptr), RangeError, /Mempool\(objsize 48\)\.free: ptr must be a non-negative integer/, what);
    assert.equal(JSON.stringify(pool.stats()), before, `${what}: nothing changed`);
  }
  for (const [what, ptr] of [['a string', '16'], ['undefined', undefined], ['an object', {}]] as [string, unknown][]) {
    throwsLike(() => pool.free(ptr as number), TypeError, /ptr must be a number/, what);
  }
  try {
    pool.free(b);
  } catch (e) {
    assert.equal((e as InvalidPointerError).ptr, b, 'the error carries the pointer');
  }
  pool.free(a);
  pool.check();
  other.check();
  cache.put(region);
});

test('Mempool names a double free a double free, also once the object\'s slab went back to the cache', () => {
  const cache = cacheOf(16 * MB, 64 * KB);
  const pool = new Mempool(cache, 24);
  const other = new Mempool(cache, 40);
  // The other pool's empty slab is the cache's one spare: ours, once empty, goes back to the cache.
  other.free(other.alloc());
  const p = pool.alloc();
  pool.free(p);
  const before = JSON.stringify(pool.stats());
  throwsLike(() => pool.free(p), InvalidPointerError, /Mempool\(objsize 24\)\.free: pointer \d+ is not allocated \(a double free\?\)/, 'a double free');
  assert.equal(JSON.stringify(pool.stats()), before, 'nothing changed');
  pool.check();
  other.check();
});

test('Mempool.free accepts objects of another pool or SmallAlloc of the same worker and gives them back to it', () => {
  const cache = cacheOf(16 * MB);
  const pool = new Mempool(cache, 48);
  const other = new Mempool(cache, 100);
  const small = new SmallAlloc(cache);
  const o = other.alloc();
  const s = small.alloc(300);
  const big = small.alloc(small.objsizeMax + 1);
  pool.free(o);
  pool.free(s);
  pool.free(big);
  assert.equal(other.count, 0, 'the other pool got its object back');
  assert.equal(small.stats().count, 0, 'the SmallAlloc got its objects back');
  assert.equal(pool.count, 0, 'nothing was counted here');
  throwsLike(() => pool.free(o), InvalidPointerError, /Mempool\(objsize 48\)\.free: pointer .* not allocated/,
    'double free through a third allocator');
  throwsLike(() => pool.free(big), InvalidPointerError, /Mempool\(objsize 48\)\.free: pointer/, 'large double free');
  assert.equal(other.alloc(), o, 'the freed object is reused by its owner');
  other.check();
  small.check();
  pool.check();
});

test('Mempool constructor rejects bad arguments with a message naming them', () => {
  const cache = cacheOf(4 * MB);
  const max = mempoolObjsizeMax(cache);
  const table: [string, unknown, unknown, abstract new (...a: never[]) => Error, RegExp][] = [
    ['cache not a SlabCache', {}, 8, TypeError, /cache must be a SlabCache/],
    ['cache missing', undefined, 8, TypeError, /cache/],
    ['objsize a string', cache, '8', TypeError, /objsize must be a number, got "8"/],
    ['objsize zero', cache, 0, RangeError, /objsize must be an integer in \[1, \d+\], got 0/],
    ['objsize negative', cache, -4, RangeError, /objsize .* got -4/],
    ['objsize fractional', cache, 8.5, RangeError, /objsize .* got 8.5/],
    ['objsize NaN', cache, NaN, RangeError, /objsize .* got NaN/],
    ['objsize too large', cache, max + 1, RangeError, new RegExp(`objsize .*${max}.* got ${max + 1}`)],
  ];
  for (const [what, c, objsize, cls, re] of table) {
    throwsLike(() => new Mempool(c as SlabCache, objsize as number), cls, re, what);
  }
  assert.equal(cache.used, 0);
});

test('Mempool runs out of quota cleanly, then frees and allocates again with nothing lost', () => {
  const rng = seeded('mempool quota');
  const arena = new SlabArena({ quota: new Quota(256 * KB), slabSize: 64 * KB });
  const cache = new SlabCache(arena);
  const pool = new Mempool(cache, 100);
  const u8 = () => arena.memory.u8;
  const live = new Map<number, number>();
  let tag = 1;
  for (;;) {
    const p = pool.tryAlloc();
    if (p === 0) break;
    stamp(u8(), p, 100, tag);
    live.set(p, tag++);
  }
  const full = JSON.stringify(pool.stats());
  assert.ok(live.size > 1000, `${live.size} objects fit`);
  assert.throws(() => pool.alloc(), (e: unknown) => e instanceof QuotaExceededError && e instanceof OutOfMemoryError);
  assert.equal(pool.tryAlloc(), 0);
  assert.equal(JSON.stringify(pool.stats()), full, 'failed allocations changed nothing');
  pool.check();
  // Free a random half, allocate as many again: all fit, and nothing was lost.
  const victims = rng.shuffle([...live.keys()]).slice(0, live.size >> 1);
  for (const p of victims) {
    verifyStamp(u8(), p, 100, live.get(p)!);
    pool.free(p);
    live.delete(p);
  }
  pool.check();
  for (let i = 0; i < victims.length; i++) {
    const p = pool.alloc();
    stamp(u8(), p, 100, tag);
    live.set(p, tag++);
  }
  assert.equal(pool.tryAlloc(), 0);
  pool.check();
  for (const [p, t] of live) verifyStamp(u8(), p, 100, t);
  assert.equal(pool.count, live.size);
});

test('Mempool in debug mode poisons fresh and freed objects and checks itself', () => {
  const saved = getDebug();
  setDebug({ enabled: true, checkEvery: 50 });
  try {
    const cache = cacheOf(16 * MB);
    const pool = new Mempool(cache, 32);
    const ptrs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const p = pool.alloc();
      for (let k = 0; k < 32; k++) assert.equal(cache.arena.memory.u8[p + k], FRESH_BYTE);
      ptrs.push(p);
    }
    for (const p of ptrs.slice(0, 150)) pool.free(p);
    const p0 = ptrs[0]!;
    for (let k = 4; k < 32; k++) assert.equal(cache.arena.memory.u8[p0 + k], FREED_BYTE);
    pool.check();
    // A write after free is caught by the next check().
    const u8 = cache.arena.memory.u8;
    u8[ptrs[1]! + 10] = 7;
    assert.throws(() => pool.check(), /written after it was freed/);
    u8[ptrs[1]! + 10] = FREED_BYTE;
    pool.check();
  } finally {
    setDebug(saved);
  }
});

test('Mempool takes frees from another cache\'s pool in on its slow path, stats() and check()', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const owner = new Mempool(new SlabCache(arena), 64);
  const freer = new Mempool(new SlabCache(arena), 64);
  const ptrs: number[] = [];
  for (let i = 0; i < 3000; i++) ptrs.push(owner.alloc());
  for (const p of ptrs.slice(0, 1000)) freer.free(p);
  throwsLike(() => freer.free(ptrs[0]!), InvalidPointerError, /already freed by another worker/, 'second remote free');
  throwsLike(() => owner.free(ptrs[0]!), InvalidPointerError, /already freed by another worker/, 'local free after a remote one');
  assert.equal(owner.count, 3000, 'not taken in yet');
  assert.equal(owner.stats().count, 2000, 'stats() takes remote frees in');
  owner.check();
  // Producer/consumer: the owner only allocates, the other pool only frees; memory stays bounded.
  const queue = ptrs.slice(1000);
  let peak = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 500; i++) queue.push(owner.alloc());
    while (queue.length > 2000) freer.free(queue.shift()!);
    peak = Math.max(peak, owner.total);
  }
  assert.ok(peak <= 2 * 4000 * 64 + 4 * owner.stats().slabSize, `bounded: peak ${peak} bytes`);
  owner.check();
  freer.check();
  assert.equal(freer.count, 0);
});

test('Mempool.adopt takes over the slabs of a dead cache: live objects stay, others are handed back', () => {
  // A cache registered for a made-up worker id stands for a worker that has exited (adopt
  // refuses the calling thread's own id).
  const rng = seeded('mempool adopt');
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const DEAD = 424242;
  const deadCache = new SlabCache(arena, DEAD);
  const dead = new Mempool(deadCache, 80);
  const deadOther = new Mempool(deadCache, 200);
  const live = new Map<number, number>();
  for (let i = 0; i < 4000; i++) {
    const p = dead.alloc();
    stamp(arena.memory.u8, p, 80, i);
    live.set(p, i);
  }
  for (const p of rng.shuffle([...live.keys()]).slice(0, 1500)) {
    dead.free(p);
    live.delete(p);
  }
  const other = deadOther.alloc();
  const heir = new Mempool(new SlabCache(arena), 80);
  const res = heir.adopt(DEAD);
  assert.equal(res.objects, live.size);
  assert.ok(res.slabs >= 1);
  assert.equal(res.others.length, 1, 'the 200-byte pool\'s slab is handed back to the caller');
  assert.equal(heir.count, live.size);
  heir.check();
  for (const [p, t] of live) verifyStamp(arena.memory.u8, p, 80, t);
  const fresh = new Set<number>();
  for (let i = 0; i < 1500; i++) fresh.add(heir.alloc());
  assert.ok([...fresh].every((p) => !live.has(p)), 'free slots of adopted slabs are reused, live ones are not');
  for (const p of live.keys()) heir.free(p);
  heir.check();
  assert.equal(heir.count, 1500);
  void other;
});
