import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  FREED_BYTE, FRESH_BYTE, InvalidPointerError, OutOfMemoryError, Quota, QuotaExceededError, SlabArena, SlabCache,
  getDebug, setDebug,
} from '../../../src/index.js';
import { ownerIndex } from '../../../src/small/slabs/slab-arena.js';
import { slabOf, slabSizeAt } from '../../../src/small/slabs/slab-cache.js';
import { seeded } from '../../../dev/rng.js';

const KB = 1024;
const KB64 = 64 * KB;
const MB = 1024 * KB;

function cacheOf(quotaBytes: number, slabSize = KB64, maximum?: number): SlabCache {
  const arena = new SlabArena({ quota: new Quota(quotaBytes), slabSize, ...(maximum ? { maximum } : {}) });
  return new SlabCache(arena);
}

test('SlabCache orders run from 4 KiB to the arena slab', () => {
  const c = cacheOf(MB);
  assert.equal(c.order0Size, 4096);
  assert.equal(c.orderMax, 4);
  const big = new SlabCache(new SlabArena({ quota: new Quota(8 * MB) }));
  assert.equal(big.orderMax, 10);
  assert.ok(c.ownerId >= 1);
  assert.notEqual(big.ownerId, 0);
});

test('SlabCache.realSize is the smallest order size, or whole slabs above a slab', () => {
  const c = cacheOf(MB);
  const table: [number, number][] = [
    [0, 4096], [1, 4096], [4096, 4096], [4097, 8192], [8192, 8192], [40_000, 65536], [65536, 65536],
    [65537, 131072], [3 * 65536 + 5, 4 * 65536],
  ];
  for (const [size, real] of table) assert.equal(c.realSize(size), real, `realSize(${size})`);
});

test('SlabCache.get hands out blocks aligned to their size and marks every page', () => {
  const c = cacheOf(MB);
  for (const size of [0, 100, 4096, 5000, 20_000, 65536]) {
    const p = c.get(size);
    const real = c.realSize(size);
    assert.notEqual(p, 0);
    assert.equal(p % real, 0, `get(${size}) is aligned to ${real}`);
    assert.equal(slabOf(c.arena, p), p);
    assert.equal(slabOf(c.arena, p + real - 1), p, 'the last byte finds its block');
    assert.equal(slabSizeAt(c.arena, p), real);
    c.check();
  }
  assert.equal(c.used, 4096 + 4096 + 4096 + 8192 + 32768 + 65536);
});

test('SlabCache.put merges buddies until a whole arena slab reassembles', () => {
  const rng = seeded('slab cache merge');
  const c = cacheOf(MB);
  const blocks: number[] = [];
  for (let i = 0; i < 16; i++) blocks.push(c.get(4096));
  assert.equal(c.stats().slabs, 1);
  rng.shuffle(blocks);
  for (const p of blocks) {
    c.put(p);
    c.check();
  }
  const s = c.stats();
  assert.equal(s.used, 0);
  assert.deepEqual(s.orders.map((o) => o.free), [0, 0, 0, 0, 1]);
  assert.equal(c.arena.used, KB64, 'the cache keeps one free arena slab');
});

test('a second wholly free arena slab goes back to the arena', () => {
  const c = cacheOf(MB);
  const a = c.get(KB64);
  const b = c.get(KB64);
  assert.equal(c.arena.used, 2 * KB64);
  c.put(a);
  assert.equal(c.arena.used, 2 * KB64, 'the first free slab is kept');
  c.put(b);
  assert.equal(c.arena.used, KB64, 'the second goes back');
  assert.equal(c.total, KB64);
  c.check();
  c.arena.check();
});

test('sizes above a slab are quota-charged runs of arena slabs, counted apart', () => {
  const c = cacheOf(8 * KB64);
  const p = c.get(KB64 + 1);
  assert.equal(p % KB64, 0);
  assert.deepEqual(c.stats().large, { count: 1, used: 2 * KB64 });
  assert.equal(c.used, 2 * KB64);
  assert.equal(c.arena.quota.used, 2 * KB64);
  assert.equal(slabOf(c.arena, p + KB64 + 100), p);
  assert.equal(slabSizeAt(c.arena, p), 2 * KB64);
  c.check();
  assert.throws(() => c.put(p + KB64), InvalidPointerError, 'a pointer inside a run');
  c.put(p);
  assert.deepEqual(c.stats().large, { count: 0, used: 0 });
  assert.equal(c.used, 0);
  assert.equal(c.get(2 * KB64), p, 'the freed run is reused');
  assert.throws(() => c.get(7 * KB64), QuotaExceededError);
  assert.throws(() => c.get(2 ** 32), OutOfMemoryError);
  c.check();
});

test('SlabCache.put of what is not a live block is an InvalidPointerError and changes nothing', () => {
  const c = cacheOf(MB);
  const other = new SlabCache(c.arena);
  const p = c.get(8192);
  const q = c.get(4096);
  const f = c.get(4096);
  c.put(f);
  const o = other.get(4096);
  const before = JSON.stringify(c.stats());
  const cases: [string, number][] = [
    ['a pointer inside a block', p + 4096],
    ['a pointer one byte in', q + 1],
    ['a block already put', f],
    ['another cache\'s block', o],
    ['the control area', 0],
    ['memory never handed out', c.arena.maximum - 4096],
    ['past the arena', c.arena.maximum + 4096],
  ];
  for (const [name, ptr] of cases) {
    assert.throws(() => c.put(ptr), (e: unknown) => e instanceof InvalidPointerError && e.ptr === ptr, name);
    assert.equal(JSON.stringify(c.stats()), before, name);
    c.check();
  }
  other.put(o);
  other.check();
});

test('SlabCache rejects bad arguments with the argument and value named', () => {
  const c = cacheOf(MB);
  c.get(100);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['constructor without arena', () => new SlabCache(undefined as never), TypeError, /arena must be a SlabArena/],
    ['constructor with a quota', () => new SlabCache(new Quota(1) as never), TypeError, /arena/],
    ['get string', () => c.get('1' as never), TypeError, /SlabCache\.get: size must be a number, got "1"/],
    ['get negative', () => c.get(-1), RangeError, /size .* got -1/],
    ['tryGet NaN', () => c.tryGet(NaN), RangeError, /size .* got NaN/],
    ['get fraction', () => c.get(1.5), RangeError, /size .* got 1.5/],
    ['get above 4 GiB', () => c.get(2 ** 32 + 1), RangeError, /size/],
    ['realSize negative', () => c.realSize(-5), RangeError, /SlabCache\.realSize: size .* got -5/],
    ['put string', () => c.put('4096' as never), TypeError, /SlabCache\.put: ptr must be a number/],
    ['put negative', () => c.put(-4096), RangeError, /ptr .* got -4096/],
    ['put fraction', () => c.put(4096.5), RangeError, /ptr .* got 4096.5/],
    ['adopt fraction', () => c.adopt(1.5), RangeError, /threadId/],
  ];
  const before = JSON.stringify(c.stats());
  for (const [name, fn, type, message] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(JSON.stringify(c.stats()), before, name);
  }
  c.check();
});

test('random get and put keep blocks apart and intact, and give everything back', () => {
  const rng = seeded('slab cache random ops');
  const c = cacheOf(40 * KB64, KB64, 64 * KB64);
  const u8 = (): Uint8Array => c.arena.memory.u8;
  const live: { p: number; size: number; stamp: number }[] = [];
  for (let step = 0; step < 1500; step++) {
    if (live.length > 0 && rng.chance(0.48)) {
      const i = rng.int(0, live.length - 1);
      const b = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      assert.equal(u8()[b.p], b.stamp, `step ${step}: first byte of ${b.p}`);
      assert.equal(u8()[b.p + b.size - 1], b.stamp, `step ${step}: last byte of ${b.p}`);
      c.put(b.p);
    } else {
      const size = rng.chance(0.05) ? rng.int(KB64 + 1, 3 * KB64) : rng.int(0, rng.pick([4096, 16384, KB64]));
      const before = JSON.stringify(c.stats());
      const p = c.tryGet(size);
      if (p === 0) {
        assert.equal(JSON.stringify(c.stats()), before, `step ${step}: a failed get changes nothing`);
      } else {
        const real = c.realSize(size);
        for (const b of live) assert.ok(p + real <= b.p || b.p + b.size <= p, `step ${step}: ${p} overlaps ${b.p}`);
        const stamp = (step % 251) + 1;
        u8()[p] = stamp;
        u8()[p + real - 1] = stamp;
        live.push({ p, size: real, stamp });
      }
    }
    c.check();
    c.arena.check();
    assert.equal(c.used, live.reduce((t, b) => t + b.size, 0), `step ${step}: used`);
    assert.ok(c.arena.quota.used <= c.arena.quota.total);
  }
  for (const b of live) c.put(b.p);
  c.check();
  assert.equal(c.used, 0);
  assert.ok(c.total <= KB64, 'at most one free arena slab stays cached');
});

test('filling until the quota says no, freeing, and filling again loses nothing', () => {
  const rng = seeded('slab cache fill');
  const c = cacheOf(16 * KB64, KB64, 64 * KB64);
  const sizes = Array.from({ length: 400 }, () => rng.int(1, 20_000));
  const fill = (): number[] => {
    const got: number[] = [];
    for (const size of sizes) {
      const p = c.tryGet(size);
      if (p === 0) {
        assert.throws(() => c.get(size), QuotaExceededError);
        break;
      }
      got.push(p);
    }
    return got;
  };
  const first = fill();
  assert.ok(first.length < sizes.length, 'the quota ran out');
  c.check();
  for (const p of rng.shuffle(first.slice())) c.put(p);
  assert.equal(c.used, 0);
  const second = fill();
  assert.equal(second.length, first.length, 'as many blocks fit the second time');
  c.check();
  for (const p of second) c.put(p);
  c.check();
});

test('filling until the address space runs out throws OutOfMemoryError, not QuotaExceededError', () => {
  const c = cacheOf(1 << 30, KB64, 8 * KB64);
  const got: number[] = [];
  for (;;) {
    const p = c.tryGet(KB64);
    if (p === 0) break;
    got.push(p);
  }
  assert.throws(() => c.get(1), (e: unknown) => e instanceof OutOfMemoryError && !(e instanceof QuotaExceededError));
  for (const p of got) c.put(p);
  c.check();
});

test('debug mode poisons fresh and freed blocks and checks as it goes', () => {
  const saved = getDebug();
  setDebug({ enabled: true, checkEvery: 1 });
  try {
    const c = cacheOf(MB);
    const p = c.get(8192);
    const u8 = c.arena.memory.u8;
    assert.ok(u8.subarray(p, p + 8192).every((b) => b === FRESH_BYTE));
    c.get(4096); // keeps p's buddy area busy so p's bytes past its links stay poisoned
    c.put(p);
    assert.ok(u8.subarray(p + 8, p + 8192).every((b) => b === FREED_BYTE));
  } finally {
    setDebug(saved);
  }
});

test('SlabCache.adopt takes over the slabs of a worker terminated while it allocates', async () => {
  const rng = seeded('slab cache adopt');
  const arena = new SlabArena({ quota: new Quota(64 * KB64), slabSize: KB64, maximum: 80 * KB64 });
  const mine = new SlabCache(arena);
  const kept = mine.get(4096);
  const w = new Worker(new URL('./slab-cache-worker.js', import.meta.url), {
    workerData: { handle: arena.handle(), seed: rng.seed },
  });
  try {
    const tid = w.threadId;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker never got going')), 20_000);
      w.once('message', () => { clearTimeout(timer); resolve(); });
      w.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    await new Promise((r) => setTimeout(r, rng.int(20, 80)));
    await w.terminate();
    const before = arena.used;
    assert.ok(before > mine.total, 'the worker held slabs');
    const starts = mine.adopt(tid);
    mine.check();
    arena.check();
    assert.deepEqual(mine.adopt(tid), [], 'a worker is adopted once');
    for (const s of starts) {
      assert.equal(slabOf(arena, s), s, `${s} is a handed-out block`);
      assert.ok(slabSizeAt(arena, s) > 0);
    }
    assert.equal(mine.used, 4096 + starts.reduce((t, s) => t + slabSizeAt(arena, s), 0));
    for (const s of rng.shuffle(starts)) {
      mine.put(s);
      mine.check();
    }
    mine.put(kept);
    mine.check();
    assert.equal(mine.used, 0);
    // A worker killed between taking a slab (or run) off the arena's stacks and publishing it,
    // or between unpublishing and pushing it back, leaks that one slab or run (at most 2 slabs
    // here), by design: a leak is the worst a killed worker may cause.
    const leaked = arena.used - mine.total;
    assert.ok(leaked >= 0 && leaked <= 2 * KB64, `nothing of the dead worker is left mapped but what was in flight (${leaked} bytes)`);
    assert.ok(mine.total <= KB64);
  } finally {
    await w.terminate();
  }
});

test('SlabCache.destroy gives every slab back and frees its owner entry', () => {
  const c = cacheOf(MB);
  c.get(4096);
  c.get(KB64 * 2);
  const kept = new SlabCache(c.arena);
  const k = kept.get(100);
  const id = c.ownerId;
  c.destroy();
  c.destroy();
  assert.equal(c.used, 0);
  assert.equal(c.total, 0);
  assert.equal(c.arena.used, KB64, 'only the other cache\'s slab stays mapped');
  assert.throws(() => c.get(1), /destroy/);
  c.check();
  kept.check();
  c.arena.check();
  // The entry is reused under a new generation, so a stale id never matches it.
  const again = new SlabCache(c.arena).ownerId;
  assert.equal(ownerIndex(again), ownerIndex(id), 'the owner entry is reused');
  assert.notEqual(again, id, 'with a new generation');
  kept.put(k);
});

test('thousands of caches can come and go over one arena', () => {
  const arena = new SlabArena({ quota: new Quota(MB), slabSize: KB64 });
  for (let i = 0; i < 5000; i++) {
    const c = new SlabCache(arena);
    c.put(c.get(100));
    c.destroy();
  }
  assert.equal(arena.used, 0);
});
