import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { InvalidPointerError, OutOfMemoryError, Quota, QuotaExceededError, SlabArena } from '../../src/index.js';
import { Kind, writeHeader } from '../../src/internal/header.js';
import { seeded } from '../support/rng.js';

const KB64 = 64 * 1024;
const MB = 1024 * 1024;

function arena64(quotaBytes: number, opts: { maximum?: number; prealloc?: number; shared?: boolean } = {}): SlabArena {
  return new SlabArena({ quota: new Quota(quotaBytes), slabSize: KB64, ...opts });
}

test('SlabArena.map hands out distinct slabs aligned to slabSize, never 0, charged to the quota', () => {
  const a = arena64(16 * KB64);
  assert.equal(a.slabSize, KB64);
  const seen = new Set<number>();
  for (let i = 0; i < 16; i++) {
    const p = a.map();
    assert.notEqual(p, 0);
    assert.equal(p % KB64, 0);
    assert.ok(!seen.has(p));
    seen.add(p);
    assert.ok(p + KB64 <= a.memory.byteLength, 'the slab is committed');
    a.memory.u8[p] = 1;
    a.memory.u8[p + KB64 - 1] = 2;
    a.check();
  }
  assert.equal(a.used, 16 * KB64);
  assert.equal(a.quota.used, 16 * KB64);
  assert.equal(a.carved, 16 * KB64);
});

test('SlabArena has a 4 MiB default slab and reserves the quota rounded up to slabs', () => {
  const a = new SlabArena({ quota: new Quota(10 * MB) });
  assert.equal(a.slabSize, 4 * MB);
  assert.equal(a.maximum, 4 * 4 * MB, 'one control slab and three slabs');
  assert.equal(a.memory.maxByteLength, a.maximum);
  assert.equal(a.memory.shared, true);
});

test('SlabArena never reserves more than 4 GiB', () => {
  const a = new SlabArena({ quota: new Quota(Quota.MAX_LIMIT), slabSize: KB64 });
  assert.equal(a.maximum, 2 ** 32);
  const p = a.map();
  assert.equal(p, a.ctrlSlabs * KB64);
});

test('an unmapped slab stays charged and is handed out again before new memory is carved', () => {
  const a = arena64(4 * KB64);
  const p = a.map();
  const q = a.map();
  a.unmap(p);
  assert.equal(a.used, KB64);
  assert.equal(a.quota.used, 2 * KB64, 'the quota still counts the returned slab');
  assert.equal(a.map(), p);
  assert.equal(a.quota.used, 2 * KB64);
  a.unmap(q);
  a.unmap(p);
  assert.equal(a.used, 0);
  a.check();
});

test('SlabArena.map past the quota throws QuotaExceededError and changes nothing', () => {
  const a = arena64(2 * KB64, { maximum: 64 * KB64 });
  a.map();
  a.map();
  assert.throws(() => a.map(), (e: unknown) => e instanceof QuotaExceededError && e.limit === 2 * KB64 && e.requested === KB64);
  assert.equal(a.tryMap(), 0);
  assert.equal(a.used, 2 * KB64);
  assert.equal(a.quota.used, 2 * KB64);
  a.quota.set(3 * KB64);
  assert.notEqual(a.tryMap(), 0, 'a raised quota lets the arena carve again');
  a.check();
});

test('SlabArena.map past maximum throws OutOfMemoryError, gives the quota charge back and changes nothing', () => {
  const a = arena64(1 << 30, { maximum: 8 * KB64 });
  const n = a.maximum / KB64 - a.ctrlSlabs;
  for (let i = 0; i < n; i++) a.map();
  const used = a.quota.used;
  assert.throws(() => a.map(), (e: unknown) => e instanceof OutOfMemoryError && !(e instanceof QuotaExceededError));
  assert.equal(a.tryMap(), 0);
  assert.throws(() => a.mapRun(2), OutOfMemoryError);
  assert.equal(a.quota.used, used);
  assert.equal(a.used, n * KB64);
  a.check();
});

test('SlabArena.mapRun hands out adjacent slabs and reuses freed runs first', () => {
  const a = arena64(64 * KB64);
  const r = a.mapRun(3);
  assert.equal(r % KB64, 0);
  assert.equal(a.used, 3 * KB64);
  a.memory.u8.fill(7, r, r + 3 * KB64);
  const s = a.map();
  assert.ok(s >= r + 3 * KB64 || s + KB64 <= r, 'a slab does not overlap the run');
  a.unmap(r);
  a.check();
  const carved = a.carved;
  assert.equal(a.mapRun(2), r, 'the freed run is reused');
  assert.equal(a.map(), r + 2 * KB64, 'its rest serves a single slab');
  assert.equal(a.carved, carved, 'nothing new was carved');
  a.check();
});

test('SlabArena.unmap of something not mapped is an InvalidPointerError and changes nothing', () => {
  const a = arena64(64 * KB64);
  const p = a.map();
  const r = a.mapRun(4);
  const q = a.map();
  a.unmap(q);
  const cases: [string, number][] = [
    ['a pointer inside a slab', p + 8],
    ['the second slab of a run', r + KB64],
    ['a slab already unmapped', q],
    ['a slab never carved', q + 10 * KB64],
    ['the control area', 0],
    ['past the reserved space', a.maximum],
  ];
  for (const [name, ptr] of cases) {
    assert.throws(() => a.unmap(ptr), (e: unknown) => e instanceof InvalidPointerError && e.ptr === ptr, name);
    assert.equal(a.used, 5 * KB64, name);
    a.check();
  }
});

test('SlabArena rejects bad arguments with the argument and value named', () => {
  const quota = new Quota(MB);
  const a = new SlabArena({ quota, slabSize: KB64 });
  a.map();
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['no options', () => new SlabArena(undefined as never), TypeError, /opts/],
    ['no quota', () => new SlabArena({} as never), TypeError, /quota must be a Quota/],
    ['quota not a Quota', () => new SlabArena({ quota: { total: 1 } as never }), TypeError, /quota/],
    ['slabSize not a power of two', () => new SlabArena({ quota, slabSize: 100_000 }), RangeError, /slabSize .* got 100000/],
    ['slabSize too small', () => new SlabArena({ quota, slabSize: 32768 }), RangeError, /slabSize .* got 32768/],
    ['slabSize a string', () => new SlabArena({ quota, slabSize: '65536' as never }), TypeError, /slabSize must be a number/],
    ['maximum too large', () => new SlabArena({ quota, slabSize: KB64, maximum: 2 ** 32 + 1 }), RangeError, /maximum/],
    ['maximum too small', () => new SlabArena({ quota, slabSize: KB64, maximum: KB64 }), RangeError, /maximum .* got 65536/],
    ['maximum NaN', () => new SlabArena({ quota, slabSize: KB64, maximum: NaN }), RangeError, /maximum .* got NaN/],
    ['prealloc negative', () => new SlabArena({ quota, slabSize: KB64, prealloc: -1 }), RangeError, /prealloc .* got -1/],
    ['prealloc past maximum', () => new SlabArena({ quota, slabSize: KB64, maximum: 4 * KB64, prealloc: 4 * KB64 }), RangeError, /prealloc/],
    ['shared not boolean', () => new SlabArena({ quota, slabSize: KB64, shared: 1 as never }), TypeError, /shared/],
    ['mapRun zero', () => a.mapRun(0), RangeError, /SlabArena\.mapRun: slabs .* got 0/],
    ['mapRun fraction', () => a.tryMapRun(1.5), RangeError, /slabs .* got 1.5/],
    ['mapRun string', () => a.mapRun('2' as never), TypeError, /slabs must be a number/],
    ['mapRun above capacity', () => a.mapRun(a.maximum / KB64), RangeError, /slabs/],
    ['unmap NaN', () => a.unmap(NaN), RangeError, /SlabArena\.unmap: slab .* got NaN/],
    ['unmap negative', () => a.unmap(-KB64), RangeError, /slab .* got -65536/],
    ['unmap string', () => a.unmap('0' as never), TypeError, /slab must be a number/],
  ];
  for (const [name, fn, type, message] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(a.used, KB64, name);
    assert.equal(quota.used, KB64, `${name}: the quota is unchanged`);
    a.check();
  }
});

test('prealloc carves and charges slabs up front and maps take them first', () => {
  const quota = new Quota(8 * KB64);
  const a = new SlabArena({ quota, slabSize: KB64, prealloc: 3 * KB64 + 1 });
  assert.equal(quota.used, 4 * KB64);
  assert.equal(a.used, 0);
  a.check();
  const r = a.mapRun(2);
  const p = a.map();
  const q = a.map();
  assert.deepEqual([r, p, q], [a.ctrlSlabs * KB64, (a.ctrlSlabs + 2) * KB64, (a.ctrlSlabs + 3) * KB64]);
  assert.equal(quota.used, 4 * KB64);
  a.map();
  assert.equal(quota.used, 5 * KB64);
  assert.throws(() => new SlabArena({ quota, slabSize: KB64, maximum: 64 * KB64, prealloc: 4 * KB64 }), QuotaExceededError);
  assert.equal(quota.used, 5 * KB64, 'a failed prealloc charges nothing');
});

test('a non-shared arena works and refuses handle()', () => {
  const a = arena64(4 * KB64, { shared: false });
  assert.equal(a.memory.shared, false);
  const p = a.map();
  a.unmap(p);
  assert.throws(() => a.handle(), TypeError);
});

test('SlabArena.attach shares slabs, counters and the quota across instances', () => {
  const a = arena64(8 * KB64);
  const b = SlabArena.attach(structuredClone(a.handle()));
  assert.equal(b.slabSize, KB64);
  assert.equal(b.maximum, a.maximum);
  const p = a.map();
  const q = b.map();
  assert.notEqual(p, q);
  b.memory.u8[q + 5] = 42;
  a.memory.sync();
  assert.equal(a.memory.u8[q + 5], 42);
  assert.equal(a.used, 2 * KB64);
  b.unmap(p);
  assert.equal(a.map(), p, 'a slab unmapped through one instance is reused through the other');
  assert.equal(b.quota.used, 2 * KB64);
  a.quota.set(2 * KB64);
  assert.equal(b.tryMap(), 0);
  assert.ok(b.failure !== 0);
  a.check();
  b.check();
});

test('SlabArena.attach refuses foreign, other-kind, other-version, truncated and corrupt buffers', () => {
  const a = arena64(8 * KB64);
  const h = a.handle();
  const copy = (): SharedArrayBuffer => {
    const buf = new SharedArrayBuffer(h.buffer.byteLength, { maxByteLength: h.buffer.maxByteLength });
    new Uint8Array(buf).set(new Uint8Array(h.buffer));
    return buf;
  };
  const otherKind = copy();
  writeHeader(new Int32Array(otherKind, 0, 4), Kind.Quota, 1, new Int32Array(h.buffer)[2]!);
  const otherVersion = copy();
  writeHeader(new Int32Array(otherVersion, 0, 4), Kind.SlabArena, 7, new Int32Array(h.buffer)[2]!);
  const corrupt = copy();
  new Int32Array(corrupt)[3] ^= 0x100;
  const badState = copy();
  new Int32Array(badState)[4] = 40; // slab shift
  const fixed = new SharedArrayBuffer(h.buffer.byteLength);
  new Uint8Array(fixed).set(new Uint8Array(h.buffer));
  const cases: [string, unknown, RegExp][] = [
    ['null', null, /handle must be a SlabArenaHandle/],
    ['no buffer', { quota: h.quota }, /SharedArrayBuffer/],
    ['a quota buffer', { buffer: h.quota.buffer, quota: h.quota }, /another kind|truncated/],
    ['zeros', { buffer: new SharedArrayBuffer(4096), quota: h.quota }, /bad magic/],
    ['other kind', { buffer: otherKind, quota: h.quota }, /another kind/],
    ['other version', { buffer: otherVersion, quota: h.quota }, /layout version 7/],
    ['corrupt header', { buffer: corrupt, quota: h.quota }, /corrupt header/],
    ['corrupt state', { buffer: badState, quota: h.quota }, /corrupt control state/],
    ['not reserved as big', { buffer: fixed, quota: h.quota }, /truncated/],
    ['truncated', { buffer: h.buffer.slice(0, 100), quota: h.quota }, /truncated/],
    ['no quota', { buffer: h.buffer }, /quota/],
    ['a foreign quota', { buffer: h.buffer, quota: { buffer: new SharedArrayBuffer(24) } }, /bad magic/],
  ];
  for (const [name, handle, message] of cases) {
    assert.throws(() => SlabArena.attach(handle as never), (e: unknown) => e instanceof TypeError && message.test((e as Error).message), name);
  }
});

test('the owner registry hands out ids from 1 and gives each dead owner to one claimant', () => {
  const a = arena64(8 * KB64);
  const x = a.registerOwner(101);
  const y = a.registerOwner(102);
  const z = a.registerOwner(101);
  assert.ok(x >= 1 && y >= 1 && z >= 1 && new Set([x, y, z]).size === 3);
  assert.equal(a.ownerThread(y), 102);
  assert.deepEqual(a.claimOwners(101, z).sort(), [x]);
  assert.deepEqual(a.claimOwners(101, 0), [z]);
  assert.deepEqual(a.claimOwners(101, 0), [], 'a claimed owner is not claimed twice');
  assert.equal(a.ownerThread(x), -1);
  a.releaseOwner(x);
  assert.equal(a.registerOwner(5), x, 'a released entry is reused');
});

test('random map, mapRun and unmap keep slabs apart and intact', () => {
  const rng = seeded('slab arena random ops');
  const a = arena64(40 * KB64, { maximum: 48 * KB64 });
  const live: { p: number; n: number; stamp: number }[] = [];
  let stamp = 1;
  const u32 = (): Uint32Array => a.memory.u32;
  for (let step = 0; step < 600; step++) {
    if (live.length > 0 && rng.chance(0.45)) {
      const i = rng.int(0, live.length - 1);
      const s = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      assert.equal(u32()[s.p >>> 2], s.stamp, `step ${step}: first word of ${s.p}`);
      assert.equal(u32()[((s.p + s.n * KB64) >>> 2) - 1], s.stamp, `step ${step}: last word of ${s.p}`);
      a.unmap(s.p);
    } else {
      const n = rng.chance(0.5) ? 1 : rng.int(2, 5);
      const before = { used: a.used, quota: a.quota.used };
      const p = n === 1 ? a.tryMap() : a.tryMapRun(n);
      if (p === 0) {
        assert.deepEqual({ used: a.used, quota: a.quota.used }, before, `step ${step}: a failed map changes nothing`);
      } else {
        assert.equal(p % KB64, 0);
        for (const s of live) assert.ok(p + n * KB64 <= s.p || s.p + s.n * KB64 <= p, `step ${step}: ${p} overlaps ${s.p}`);
        u32()[p >>> 2] = stamp;
        u32()[((p + n * KB64) >>> 2) - 1] = stamp;
        live.push({ p, n, stamp: stamp++ });
      }
    }
    a.check();
    assert.equal(a.used, live.reduce((t, s) => t + s.n * KB64, 0));
    assert.ok(a.quota.used <= a.quota.total);
  }
  for (const s of live) a.unmap(s.p);
  assert.equal(a.used, 0);
  a.check();
});

test('workers mapping, unmapping and using the quota never take it past its limit while it changes', async () => {
  const rng = seeded('slab arena workers');
  const quota = new Quota(24 * KB64);
  const a = new SlabArena({ quota, slabSize: KB64, maximum: 64 * KB64 });
  const nworkers = rng.int(2, 4);
  const word = new BigUint64Array(quota.handle().buffer, 16, 1); // limit units << 32 | used units
  const workers: Worker[] = [];
  try {
    const results = await Promise.all(Array.from({ length: nworkers }, (_, i) => new Promise<{ maps: number; bad: string[] }>((resolve, reject) => {
      const w = new Worker(new URL('./slab-arena-worker.js', import.meta.url), {
        workerData: { handle: a.handle(), id: i + 1, seed: rng.seed + i, setter: i === 0, ms: 300 },
      });
      workers.push(w);
      const timer = setTimeout(() => reject(new Error(`worker ${i + 1} timed out`)), 20_000);
      w.once('message', (m) => { clearTimeout(timer); resolve(m as { maps: number; bad: string[] }); });
      w.once('error', (e) => { clearTimeout(timer); reject(e); });
    })));
    for (const r of results) {
      assert.deepEqual(r.bad, []);
      assert.ok(r.maps > 0);
    }
    const v = Atomics.load(word, 0);
    assert.ok((v & 0xffffffffn) <= v >> 32n);
    assert.equal(a.used, 0, 'every worker unmapped what it mapped');
    assert.equal(quota.used, a.carved, 'the quota holds exactly the carved slabs: no charge lost or leaked');
    a.check();
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});
