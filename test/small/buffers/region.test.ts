import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FREED_BYTE, FRESH_BYTE, OutOfMemoryError, Quota, QuotaExceededError, Region, REGION_SLAB_CAP, SlabArena, SlabCache, setDebug,
} from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { bytesOf, holds } from '../../support/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function setup(limit = 64 * MiB, slabSize = 64 * KiB): { quota: Quota; arena: SlabArena; cache: SlabCache } {
  const quota = new Quota(limit);
  const arena = new SlabArena({ quota, slabSize, shared: false });
  return { quota, arena, cache: new SlabCache(arena) };
}

/** Writes a pattern derived from `tag` into [ptr, ptr + size). */
function stamp(u8: Uint8Array, ptr: number, size: number, tag: number): void {
  u8.set(bytesOf(size, tag), ptr);
}

test('Region.alloc hands out disjoint non-null memory and counts it in used', () => {
  const { cache } = setup();
  const r = new Region(cache);
  assert.equal(r.used, 0);
  assert.equal(r.total, 0);
  const a = r.alloc(10);
  const b = r.alloc(20);
  const z = r.alloc(0);
  assert.ok(a > 0 && b > 0 && z > 0);
  assert.equal(b, a + 10);
  assert.equal(r.used, 30);
  assert.equal(r.total, cache.order0Size);
  r.check();
  r.free();
  assert.equal(r.total, 0);
  assert.equal(cache.used, 0);
});

test('Region.alignedAlloc aligns the pointer and counts the padding in used', () => {
  const { cache } = setup();
  const r = new Region(cache);
  r.alloc(3);
  const p = r.alignedAlloc(16, 64);
  assert.equal(p % 64, 0);
  assert.equal(r.used, p - (p - (p % 4096)) + 16); // padding from the slab start counted
  const q = r.alignedAlloc(100, 8192);
  assert.equal(q % 8192, 0);
  r.check();
});

test('Region.reserve gives room the next alloc returns, without counting it', () => {
  const { cache } = setup();
  const r = new Region(cache);
  r.alloc(100);
  const p = r.reserve(50_000);
  assert.equal(r.used, 100);
  assert.equal(r.alloc(40_000), p);
  assert.equal(r.used, 40_100);
  r.check();
});

test('Region.truncate frees back to a savepoint, newest slabs first', () => {
  const { cache } = setup();
  const r = new Region(cache);
  r.alloc(1000);
  const svp = r.used;
  for (let i = 0; i < 100; i++) r.alloc(1000);
  assert.ok(r.stats().slabs > 1);
  r.truncate(svp);
  assert.equal(r.used, svp);
  assert.equal(r.stats().slabs, 1);
  r.check();
  assert.equal(r.alloc(8), r.alloc(8) - 8);
});

test('Region.join returns the last bytes in place when they lie in one slab', () => {
  const { cache } = setup();
  const r = new Region(cache);
  const a = r.alloc(10);
  r.alloc(20);
  assert.equal(r.join(30), a);
  assert.equal(r.used, 30);
});

test('Region.join copies pieces that span slabs into one chunk, in order', () => {
  const { cache } = setup();
  const r = new Region(cache);
  const u8 = () => cache.arena.memory.u8;
  const pieces: Array<[number, number]> = [];
  for (let i = 0; i < 12; i++) {
    const p = r.alloc(1000);
    stamp(u8(), p, 1000, i);
    pieces.push([p, i]);
  }
  assert.ok(r.stats().slabs >= 2);
  const before = r.used;
  const j = r.join(12_000);
  assert.equal(r.used, before + 12_000);
  for (let i = 0; i < 12; i++) assert.ok(holds(u8(), j + 1000 * i, bytesOf(1000, i)), `piece ${i}`);
  r.check();
});

test('Region.reset keeps the memory held bounded under an allocation loop', () => {
  const rng = seeded('region reset loop');
  const { cache } = setup(256 * MiB, 1 * MiB);
  const r = new Region(cache);
  let peak = 0;
  for (let round = 0; round < 3000; round++) {
    const n = rng.int(1, 200);
    for (let i = 0; i < n; i++) r.alloc(rng.int(0, 2000));
    peak = Math.max(peak, r.total);
    r.reset();
    assert.equal(r.used, 0);
    assert.ok(r.total <= 2 * REGION_SLAB_CAP, `round ${round}: total ${r.total} after reset`);
  }
  r.check();
  assert.ok(cache.used <= 2 * REGION_SLAB_CAP);
  r.free();
  assert.equal(cache.used, 0);
  assert.ok(peak > 0);
});

test('Region survives a random sequence checked against a model', () => {
  const rng = seeded('region random ops');
  const { cache } = setup(64 * MiB, 64 * KiB);
  const r = new Region(cache);
  const mem = cache.arena.memory;
  // Live allocations with their tag and the `used` right after them.
  let live: Array<{ ptr: number; bytes: Uint8Array; after: number }> = [];
  const savepoints: number[] = [];
  let tag = 0;
  for (let step = 0; step < 600; step++) {
    const op = rng.int(0, 99);
    const before = r.used;
    if (op < 55) {
      const size = rng.chance(0.03) ? rng.int(60 * KiB, 150 * KiB) : rng.int(0, 600);
      const ptr = r.alloc(size);
      assert.equal(r.used, before + size);
      const bytes = bytesOf(size, ++tag);
      mem.u8.set(bytes, ptr);
      live.push({ ptr, bytes, after: r.used });
    } else if (op < 65) {
      const align = 2 ** rng.int(0, 13);
      const size = rng.int(0, 300);
      const ptr = r.alignedAlloc(size, align);
      assert.equal(ptr % align, 0);
      assert.ok(r.used - before >= size && r.used - before < size + align, 'padding within align');
      const bytes = bytesOf(size, ++tag);
      mem.u8.set(bytes, ptr);
      live.push({ ptr, bytes, after: r.used });
    } else if (op < 70) {
      const size = rng.int(0, 5000);
      const p = r.reserve(size);
      assert.equal(r.used, before);
      const k = rng.int(0, size);
      assert.equal(r.alloc(k), p);
      const bytes = bytesOf(k, ++tag);
      mem.u8.set(bytes, p);
      live.push({ ptr: p, bytes, after: r.used });
    } else if (op < 80) {
      savepoints.push(r.used);
    } else if (op < 88 && savepoints.length > 0) {
      const svp = savepoints.splice(rng.int(0, savepoints.length - 1))[0]!;
      r.truncate(svp);
      assert.equal(r.used, svp);
      live = live.filter((a) => a.after <= svp);
    } else if (op < 95 && live.length > 0) {
      // Join the last few allocations (only sizes that were allocated contiguously in time).
      const k = rng.int(1, Math.min(5, live.length));
      const tail = live.slice(-k);
      const size = tail.reduce((s, a) => s + a.bytes.length, 0);
      const expected = new Uint8Array(size);
      let o = 0;
      for (const a of tail) {
        expected.set(a.bytes, o);
        o += a.bytes.length;
      }
      // Only valid when those allocations were exactly the last `size` bytes (no padding).
      const start = tail[0]!.after - tail[0]!.bytes.length;
      if (start === r.used - size && tail.every((a, i) => i === 0 || a.after - a.bytes.length === tail[i - 1]!.after)) {
        const j = r.join(size);
        assert.ok(holds(mem.u8, j, expected), 'joined bytes in order');
        assert.ok(r.used === before || r.used === before + size);
        live.push({ ptr: j, bytes: expected, after: r.used });
      }
    } else if (op < 97) {
      r.reset();
      assert.equal(r.used, 0);
      live = [];
      savepoints.length = 0;
    }
    r.check();
    for (const a of live) assert.ok(holds(mem.u8, a.ptr, a.bytes), `step ${step}: allocation at ${a.ptr} intact`);
    assert.equal(r.total, r.stats().total);
  }
  r.free();
  assert.equal(cache.used, 0);
  cache.check();
});

test('Region rejects bad arguments with the argument named and changes nothing', () => {
  const { cache } = setup();
  const r = new Region(cache);
  r.alloc(100);
  const before = JSON.stringify(r.stats());
  const used = r.used;
  const table: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['alloc of a string', () => r.alloc('8' as unknown as number), TypeError, /Region\.alloc: size.*"8"/],
    ['alloc of a BigInt', () => r.alloc(8n as unknown as number), TypeError, /Region\.alloc: size.*8n/],
    ['alloc of -1', () => r.alloc(-1), RangeError, /Region\.alloc: size.*-1/],
    ['alloc of 1.5', () => r.alloc(1.5), RangeError, /size.*1\.5/],
    ['alloc of NaN', () => r.alloc(NaN), RangeError, /size.*NaN/],
    ['alloc of 2^32', () => r.alloc(2 ** 32), RangeError, /size.*4294967296/],
    ['tryAlloc of -1', () => r.tryAlloc(-1), RangeError, /Region\.tryAlloc: size/],
    ['alignedAlloc with align 3', () => r.alignedAlloc(8, 3), RangeError, /align.*3/],
    ['alignedAlloc with align 0', () => r.alignedAlloc(8, 0), RangeError, /align.*0/],
    ['alignedAlloc with a string align', () => r.alignedAlloc(8, '8' as unknown as number), TypeError, /align/],
    ['alignedAlloc with a BigInt align', () => r.alignedAlloc(8, 8n as unknown as number), TypeError, /align.*8n/],
    ['alignedAlloc of a BigInt', () => r.alignedAlloc(8n as unknown as number, 8), TypeError, /size.*8n/],
    ['alignedAlloc of -5', () => r.alignedAlloc(-5, 8), RangeError, /size.*-5/],
    ['reserve of -1', () => r.reserve(-1), RangeError, /Region\.reserve: size/],
    ['truncate above used', () => r.truncate(used + 1), RangeError, /Region\.truncate: used.*101/],
    ['truncate to -1', () => r.truncate(-1), RangeError, /used.*-1/],
    ['truncate to null', () => r.truncate(null as unknown as number), TypeError, /used.*null/],
    ['join above used', () => r.join(used + 1), RangeError, /Region\.join: size.*101/],
    ['a cache that is not one', () => new Region({} as unknown as SlabCache), TypeError, /cache/],
  ];
  for (const [name, call, type, message] of table) {
    assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(JSON.stringify(r.stats()), before, `${name}: state unchanged`);
    r.check();
  }
});

test('Region out of memory throws or returns 0 and changes nothing', () => {
  const { cache, arena } = setup(2 * 64 * KiB, 64 * KiB);
  const r = new Region(cache);
  const mem = arena.memory;
  const ptrs: number[] = [];
  for (;;) {
    const p = r.tryAlloc(1000);
    if (p === 0) break;
    mem.u8.fill(ptrs.length & 255, p, p + 1000);
    ptrs.push(p);
  }
  assert.ok(ptrs.length > 100);
  const before = JSON.stringify(r.stats());
  assert.throws(() => r.alloc(1000), OutOfMemoryError);
  assert.throws(() => r.alignedAlloc(10, 65536), OutOfMemoryError);
  assert.throws(() => r.reserve(100_000), OutOfMemoryError);
  assert.equal(r.tryAlloc(5000), 0);
  assert.equal(JSON.stringify(r.stats()), before);
  r.check();
  ptrs.forEach((p, i) => assert.equal(mem.u8[p + 999], i & 255));
  r.truncate(0);
  assert.ok(r.alloc(1000) > 0);
});

test('Region out of memory names the method called and keeps the quota\'s error class', () => {
  const { cache } = setup(4 * 64 * KiB, 64 * KiB);
  const r = new Region(cache);
  r.alloc(10); // one slab of the four the quota allows: 200 000 bytes need four more
  const calls = [
    ['Region.alloc', () => r.alloc(200_000)],
    ['Region.reserve', () => r.reserve(200_000)],
    ['Region.alignedAlloc', () => r.alignedAlloc(200_000, 8)],
  ] as const;
  for (const [name, call] of calls) {
    assert.throws(call, (e: unknown) => e instanceof QuotaExceededError && e.message.startsWith(`${name}: `), name);
  }
  assert.equal(r.used, 10);
  r.check();
});

test('Region in debug mode poisons fresh and truncated memory', () => {
  setDebug({ enabled: true, checkEvery: 1 });
  try {
    const { cache } = setup();
    const r = new Region(cache);
    const u8 = cache.arena.memory.u8;
    const p = r.alloc(64);
    assert.ok(u8.subarray(p, p + 64).every((b) => b === FRESH_BYTE));
    u8.fill(1, p, p + 64);
    const svp = r.used;
    const q = r.alloc(32);
    u8.fill(2, q, q + 32);
    r.truncate(svp);
    assert.ok(u8.subarray(q, q + 32).every((b) => b === FREED_BYTE));
    assert.ok(u8.subarray(p, p + 64).every((b) => b === 1));
    r.free();
  } finally {
    setDebug({ enabled: false });
  }
});
