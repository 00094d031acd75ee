import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FREED_BYTE, FRESH_BYTE, LSRegion, OutOfMemoryError, Quota, QuotaExceededError, SlabArena, setDebug,
} from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { bytesOf, holds } from '../../support/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const S = 64 * KiB;

function setup(limit = 64 * MiB): { quota: Quota; arena: SlabArena } {
  const quota = new Quota(limit);
  return { quota, arena: new SlabArena({ quota, slabSize: S, shared: false }) };
}

test('LSRegion.alloc bumps within a slab and counts used', () => {
  const { arena } = setup();
  const r = new LSRegion(arena);
  const a = r.alloc(10, 1);
  const b = r.alloc(20, 1);
  const c = r.alloc(0, 2);
  assert.ok(a > 0);
  assert.equal(b, a + 10);
  assert.equal(c, b + 20);
  assert.equal(a % S, 0, 'the first allocation starts a slab');
  assert.equal(r.used, 30);
  assert.equal(r.total, S);
  assert.equal(arena.used, S);
  r.check();
  r.destroy();
  assert.equal(arena.used, 0);
});

test('LSRegion.gc frees whole slabs whose ids are all <= minId, never part of one', () => {
  const { arena } = setup();
  const r = new LSRegion(arena);
  // Slab A: ids 1..2; slab B: ids 2..3; slab C (current): id 4.
  r.alloc(40_000, 1);
  r.alloc(20_000, 2);
  r.alloc(40_000, 2); // does not fit A: starts B
  r.alloc(20_000, 3);
  r.alloc(40_000, 4); // starts C
  assert.equal(r.stats().slabs, 3);
  r.gc(1);
  assert.equal(r.stats().slabs, 3, 'A holds id 2: it stays whole');
  r.gc(2);
  assert.equal(r.stats().slabs, 2);
  assert.equal(r.used, 100_000);
  assert.equal(r.stats().cached, 1, 'the freed slab is kept for reuse');
  r.gc(3);
  assert.equal(r.stats().slabs, 1);
  assert.equal(r.used, 40_000);
  r.gc(4);
  assert.equal(r.stats().slabs, 0);
  assert.equal(r.used, 0);
  assert.equal(r.total, S, 'only the cached slab is held');
  r.check();
  // The cached slab is reused before the arena is asked.
  const mapped = arena.used;
  r.alloc(100, 5);
  assert.equal(arena.used, mapped);
  r.check();
});

test('LSRegion puts allocations larger than a slab in quota-charged runs that gc frees', () => {
  const { arena, quota } = setup();
  const r = new LSRegion(arena);
  r.alloc(100, 1);
  const q0 = quota.used;
  const big = r.alloc(3 * S + 5, 2);
  assert.equal(big % S, 0);
  assert.equal(r.stats().runs, 1);
  assert.equal(arena.used, 5 * S);
  assert.ok(quota.used >= q0 + 4 * S, 'the run is charged to the quota');
  // The current slab goes on after the run.
  const next = r.alloc(100, 2);
  assert.ok(next < big || next >= big + 4 * S);
  assert.equal(r.used, 3 * S + 5 + 200);
  r.gc(1);
  assert.equal(r.stats().runs, 1);
  r.gc(2);
  assert.equal(r.stats().runs, 0);
  assert.equal(r.used, 0);
  r.check();
  r.destroy();
  assert.equal(arena.used, 0);
});

test('LSRegion frees a slab whose ids are older than a run taken after them', () => {
  const { arena } = setup();
  const r = new LSRegion(arena);
  r.alloc(100, 1);
  r.alloc(2 * S, 5);
  r.gc(3);
  assert.equal(r.used, 2 * S, 'the slab with id 1 went, the run with id 5 stayed');
  r.check();
  r.alloc(10, 6);
  r.check();
});

test('LSRegion.alignedAlloc aligns and counts the padding', () => {
  const { arena } = setup();
  const r = new LSRegion(arena);
  r.alloc(3, 1);
  const p = r.alignedAlloc(8, 64, 1);
  assert.equal(p % 64, 0);
  assert.equal(r.used, 64 + 8);
  const q = r.alignedAlloc(10, 2 * S, 2);
  assert.equal(q % (2 * S), 0);
  r.check();
});

test('LSRegion survives a random sequence checked against a model', () => {
  const rng = seeded('lsregion random ops');
  const { arena } = setup(256 * MiB);
  const r = new LSRegion(arena);
  const mem = arena.memory;
  let live: Array<{ ptr: number; bytes: Uint8Array; id: number; charge: number; key: number }> = [];
  let id = 0;
  for (let step = 0; step < 1500; step++) {
    const op = rng.int(0, 99);
    if (op < 80) {
      if (rng.chance(0.3)) id += rng.int(0, 3);
      const large = rng.chance(0.02);
      const size = large ? rng.int(S + 1, 3 * S) : rng.int(0, rng.chance(0.1) ? 30_000 : 500);
      const align = rng.chance(0.2) ? 2 ** rng.int(0, 12) : 1;
      const before = r.used;
      const ptr = align === 1 ? r.alloc(size, id) : r.alignedAlloc(size, align, id);
      assert.equal(ptr % align, 0);
      const charge = r.used - before;
      assert.ok(charge >= size && charge < size + align);
      const bytes = bytesOf(size, step);
      mem.u8.set(bytes, ptr);
      live.push({ ptr, bytes, id, charge, key: large ? -ptr : Math.floor(ptr / S) });
    } else if (op < 95) {
      const minId = rng.int(Math.max(0, id - 10), id);
      r.gc(minId);
      const maxByKey = new Map<number, number>();
      for (const a of live) maxByKey.set(a.key, Math.max(maxByKey.get(a.key) ?? -1, a.id));
      live = live.filter((a) => maxByKey.get(a.key)! > minId);
    } else {
      // A decreasing id is refused and changes nothing.
      if (id > 0) {
        const before = JSON.stringify(r.stats());
        assert.throws(() => r.alloc(1, id - 1), RangeError);
        assert.equal(JSON.stringify(r.stats()), before);
      }
    }
    r.check();
    assert.equal(r.used, live.reduce((s, a) => s + a.charge, 0), `step ${step}: used`);
    const slabs = new Set(live.filter((a) => a.key >= 0).map((a) => a.key)).size;
    const runs = live.filter((a) => a.key < 0).reduce((s, a) => s + Math.ceil(a.bytes.length / S) * S, 0);
    const extra = r.total - slabs * S - runs;
    assert.ok(extra === 0 || extra === S, `step ${step}: total ${r.total} for ${slabs} slabs and ${runs} run bytes`);
    for (const a of live) assert.ok(holds(mem.u8, a.ptr, a.bytes), `step ${step}: allocation ${a.ptr} (id ${a.id}) intact`);
  }
  r.destroy();
  assert.equal(arena.used, 0);
  arena.check();
});

test('LSRegion rejects bad arguments and decreasing ids with the argument named and changes nothing', () => {
  const { arena } = setup();
  const r = new LSRegion(arena);
  r.alloc(10, 5);
  const before = JSON.stringify(r.stats());
  const table: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['a decreasing id', () => r.alloc(8, 4), RangeError, /LSRegion\.alloc: id.*\[5, .*4/],
    ['a string id', () => r.alloc(8, '6' as unknown as number), TypeError, /LSRegion\.alloc: id.*"6"/],
    ['a BigInt id', () => r.alloc(8, 6n as unknown as number), TypeError, /LSRegion\.alloc: id.*6n/],
    ['a BigInt size', () => r.alloc(8n as unknown as number, 6), TypeError, /LSRegion\.alloc: size.*8n/],
    ['a BigInt align', () => r.alignedAlloc(8, 8n as unknown as number, 6), TypeError, /align.*8n/],
    ['a BigInt id, aligned', () => r.alignedAlloc(8, 8, 6n as unknown as number), TypeError, /id.*6n/],
    ['a fractional id', () => r.alloc(8, 5.5), RangeError, /id.*5\.5/],
    ['a NaN id', () => r.alloc(8, NaN), RangeError, /id.*NaN/],
    ['an infinite id', () => r.alloc(8, Infinity), RangeError, /id.*Infinity/],
    ['an unsafe id', () => r.alloc(8, 2 ** 53), RangeError, /id/],
    ['a negative size', () => r.alloc(-1, 6), RangeError, /LSRegion\.alloc: size.*-1/],
    ['a string size', () => r.alloc('8' as unknown as number, 6), TypeError, /size.*"8"/],
    ['a fractional size', () => r.tryAlloc(1.5, 6), RangeError, /LSRegion\.tryAlloc: size.*1\.5/],
    ['align 3', () => r.alignedAlloc(8, 3, 6), RangeError, /LSRegion\.alignedAlloc: align.*3/],
    ['align 0', () => r.alignedAlloc(8, 0, 6), RangeError, /align.*0/],
    ['align as a string', () => r.alignedAlloc(8, '8' as unknown as number, 6), TypeError, /align/],
    ['a decreasing id, aligned', () => r.alignedAlloc(8, 8, 1), RangeError, /alignedAlloc: id/],
    ['gc of -1', () => r.gc(-1), RangeError, /LSRegion\.gc: minId.*-1/],
    ['gc of NaN', () => r.gc(NaN), RangeError, /minId.*NaN/],
    ['gc of a string', () => r.gc('1' as unknown as number), TypeError, /minId/],
    ['an arena that is not one', () => new LSRegion({} as unknown as SlabArena), TypeError, /arena/],
  ];
  for (const [name, call, type, message] of table) {
    assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(JSON.stringify(r.stats()), before, `${name}: state unchanged`);
    r.check();
  }
  assert.ok(r.alloc(8, 5) > 0, 'the same id is still fine');
});

test('LSRegion out of memory throws or returns 0 and changes nothing, not even the last id', () => {
  const { arena } = setup(3 * S);
  const r = new LSRegion(arena);
  const p = r.alloc(S, 1);
  arena.memory.u8.fill(7, p, p + S);
  r.alloc(S, 2);
  r.alloc(S, 3);
  const before = JSON.stringify(r.stats());
  assert.throws(() => r.alloc(10, 10), OutOfMemoryError);
  assert.throws(() => r.alloc(2 * S, 10), OutOfMemoryError);
  assert.throws(() => r.alignedAlloc(10, 2 * S, 10), OutOfMemoryError);
  assert.equal(r.tryAlloc(10, 10), 0);
  assert.equal(r.tryAlignedAlloc(10, 8, 10), 0);
  assert.equal(JSON.stringify(r.stats()), before);
  assert.ok(arena.memory.u8.subarray(p, p + S).every((b) => b === 7));
  r.check();
  r.gc(1);
  assert.ok(r.alloc(10, 3) > 0, 'id 3 is still allowed: the failed calls did not advance it');
});

test('LSRegion out of memory names the method called and keeps the quota\'s error class', () => {
  const { arena } = setup(2 * S);
  const r = new LSRegion(arena);
  r.alloc(10, 1);
  r.alloc(S, 1); // the second and last slab the quota allows
  const calls = [
    ['LSRegion.alloc', S, () => r.alloc(S, 2)],
    ['LSRegion.alloc', 2 * S, () => r.alloc(2 * S, 2)],
    ['LSRegion.alignedAlloc', S, () => r.alignedAlloc(S, 8, 2)],
  ] as const;
  for (const [name, size, call] of calls) {
    assert.throws(call, (e: unknown) => e instanceof QuotaExceededError && e.requested === size &&
      e.message.startsWith(`${name}: `), name);
  }
  assert.equal(r.used, 10 + S);
  r.check();
});

test('LSRegion in debug mode poisons fresh and collected memory', () => {
  setDebug({ enabled: true, checkEvery: 1 });
  try {
    const { arena } = setup();
    const r = new LSRegion(arena);
    const u8 = arena.memory.u8;
    const p = r.alloc(100, 1);
    assert.ok(u8.subarray(p, p + 100).every((b) => b === FRESH_BYTE));
    r.gc(1);
    assert.ok(arena.memory.u8.subarray(p, p + 100).every((b) => b === FREED_BYTE));
    r.destroy();
  } finally {
    setDebug({ enabled: false });
  }
});
