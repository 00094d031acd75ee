import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { InvalidPointerError, OutOfMemoryError, Quota, QuotaExceededError, SlabArena } from '../../../src/index.js';
import { Kind, writeHeader } from '../../../src/internal/header.js';
import { MapFailure, OWNERS, ownerIndex } from '../../../src/small/slabs/slab-arena.js';
import { seeded } from '../../../dev/rng.js';

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

test('SlabArena has a 4 MiB default slab and reserves all 4 GiB by default, committing only its control state', () => {
  const a = new SlabArena({ quota: new Quota(10 * MB) });
  assert.equal(a.slabSize, 4 * MB);
  assert.equal(a.maximum, 2 ** 32, 'the whole address space a growable buffer can reserve');
  assert.equal(a.memory.maxByteLength, a.maximum);
  assert.equal(a.memory.shared, true);
  assert.ok(a.memory.byteLength < 10 * MB, `committed ${a.memory.byteLength} bytes`);
  const b = new SlabArena({ quota: new Quota(10 * MB), slabSize: 2 ** 30 });
  assert.equal(b.maximum, 2 ** 32);
  assert.equal(b.ctrlSlabs, 1);
});

test('a default arena gives more slabs when the quota is raised later', () => {
  const quota = new Quota(MB);
  const a = new SlabArena({ quota, slabSize: KB64 });
  const held: number[] = [];
  for (let i = 0; i < 16; i++) held.push(a.map());
  assert.throws(() => a.map(), QuotaExceededError);
  assert.equal(a.tryMapRun(2), 0);
  assert.equal(quota.set(8 * MB), 8 * MB);
  for (let i = 16; i < 120; i++) held.push(a.map());
  held.push(a.mapRun(8));
  assert.equal(a.used, 128 * KB64);
  assert.equal(quota.used, 8 * MB);
  a.check();
  for (const p of held) a.unmap(p);
  a.check();
});

test('hundreds of default arenas live at once in one process, each committing little', () => {
  const arenas: SlabArena[] = [];
  for (let i = 0; i < 300; i++) {
    const a = new SlabArena({ quota: new Quota(4 * MB) });
    const p = a.map();
    a.memory.u8[p] = i & 0xff;
    arenas.push(a);
  }
  for (let i = 0; i < arenas.length; i++) {
    const a = arenas[i]!;
    assert.equal(a.memory.u8[a.ctrlSlabs * a.slabSize], i & 0xff);
    assert.ok(a.memory.byteLength <= (a.ctrlSlabs + 1) * a.slabSize);
  }
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

test('owner ids are generation-tagged: a stale id never matches its entry registered again', () => {
  const a = arena64(8 * KB64);
  const x = a.registerOwner(101);
  assert.ok(x > OWNERS && x < 2 ** 30, `id ${x}`);
  const e = ownerIndex(x);
  assert.ok(e >= 1 && e <= OWNERS);
  assert.equal(a.ownerThread(x), 101);
  a.releaseOwner(x);
  assert.equal(a.ownerThread(x), -1);
  const y = a.registerOwner(102);
  assert.equal(ownerIndex(y), e, 'a released entry is reused');
  assert.notEqual(y, x, 'under a new id');
  assert.equal(a.ownerThread(x), -1, 'the stale id matches nothing');
  a.releaseOwner(x);
  assert.equal(a.ownerThread(y), 102, 'releasing a stale id frees nothing');
  a.finishOwner(x, y);
  assert.equal(a.ownerThread(y), 102);
  for (const bad of [0, 1, OWNERS, -5, 2 ** 30, 1.5]) assert.equal(ownerIndex(bad), 0, `ownerIndex(${bad})`);
  a.check();
});

test('owner ids stay below 2^30 however often an entry is registered', () => {
  const a = arena64(8 * KB64);
  let prev = a.registerOwner(1);
  a.releaseOwner(prev);
  let wrapped = 0;
  for (let i = 0; i < 2 ** 30 / OWNERS + 2; i++) {
    const id = a.registerOwner(1);
    if (!(id > OWNERS && id < 2 ** 30 && ownerIndex(id) === ownerIndex(prev) && id !== prev)) {
      assert.fail(`registration ${i}: id ${id} after ${prev}`);
    }
    if (id < prev) wrapped++;
    a.releaseOwner(id);
    prev = id;
  }
  assert.equal(wrapped, 1, 'the generation wraps once, back to 1');
});

test('claimOwners hands a dead worker\'s owners to one adopter, and a killed adopter\'s adoptions to the next', () => {
  const a = arena64(8 * KB64);
  const sort = (xs: number[]): number[] => [...xs].sort((p, q) => p - q);
  const d1 = a.registerOwner(101);
  const d2 = a.registerOwner(101);
  const x = a.registerOwner(200); // adopts 101, then is killed while adopting
  const y = a.registerOwner(300); // adopts 200
  const z = a.registerOwner(400);
  const other = a.registerOwner(500);
  // (a) LIVE owners of the thread, the adopter itself excluded.
  assert.deepEqual(sort(a.claimOwners(101, x)), sort([d1, d2]));
  assert.deepEqual(sort(a.claimOwners(101, d1)), [d2], 'an adopter never takes its own entry');
  assert.deepEqual(sort(a.claimOwners(101, x)), sort([d1, d2]), 'taken back by x: (b) ADOPTING entries of the thread');
  assert.equal(a.ownerThread(d1), 101, 'an entry being adopted still names its thread');
  // (a) + (c): adopting x's thread takes x and what x was adopting.
  assert.deepEqual(sort(a.claimOwners(200, y)), sort([x, d1, d2]));
  a.finishOwner(d1, x);
  assert.equal(a.ownerThread(d1), 101, 'the old adopter can no longer finish it');
  a.finishOwner(d1, y);
  assert.equal(a.ownerThread(d1), -1, 'the adopter finishes it');
  // (b): a concurrent adopter of thread 101 takes d2 over.
  assert.deepEqual(a.claimOwners(101, z), [d2]);
  a.finishOwner(d2, y);
  assert.equal(a.ownerThread(d2), 101, 'y lost d2 to z');
  a.finishOwner(d2, z);
  a.finishOwner(x, y);
  assert.deepEqual(a.claimOwners(101, z), [], 'nothing of 101 is left');
  assert.deepEqual(a.claimOwners(200, z), []);
  assert.equal(a.ownerThread(other), 500, 'other threads are untouched');
  assert.equal(a.ownerThread(y), 300);
  assert.throws(() => a.claimOwners(101, 0), RangeError, 'the adopter is an owner id');
  a.check();
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

test('free slabs coalesce: after every slab is unmapped one by one, a run of any length maps again', () => {
  const rng = seeded('slab arena coalescing');
  const quota = new Quota(512 * 1024);
  const a = new SlabArena({ quota, slabSize: KB64 });
  const slabs: number[] = [];
  for (let i = 0; i < 8; i++) slabs.push(a.map());
  assert.equal(a.tryMap(), 0, 'the quota is spent');
  for (const p of rng.shuffle([...slabs])) a.unmap(p);
  assert.equal(a.used, 0);
  a.check();
  const two = a.tryMapRun(2);
  assert.notEqual(two, 0, 'two adjacent free slabs form a run');
  a.unmap(two);
  const all = a.mapRun(8);
  assert.equal(all, Math.min(...slabs), 'all eight, from the first');
  assert.equal(quota.used, 512 * 1024, 'nothing new was carved');
  a.unmap(all);
  // And runs split again, anywhere.
  const r3 = a.mapRun(3);
  const s1 = a.map();
  const r4 = a.mapRun(4);
  assert.deepEqual([r3, s1, r4], [all, all + 3 * KB64, all + 4 * KB64]);
  a.unmap(s1);
  assert.equal(a.tryMapRun(2), 0, 'a hole of one slab holds no run of two');
  assert.equal(a.map(), s1, 'but a slab');
  a.check();
});

test('runs map into holes left between mapped slabs, lowest first', () => {
  const a = arena64(16 * KB64);
  const s = Array.from({ length: 10 }, () => a.map());
  for (const i of [1, 2, 4, 5, 6, 8]) a.unmap(s[i]!);
  assert.equal(a.mapRun(3), s[4], 'the first hole of three');
  assert.equal(a.mapRun(2), s[1]);
  assert.equal(a.map(), s[8]);
  assert.equal(a.carved, 10 * KB64);
  a.check();
});

test('tryMap, map, tryMapRun and mapRun take no owner: extra arguments are ignored', () => {
  const a = arena64(8 * KB64);
  const loose = a as unknown as Record<'map' | 'tryMap' | 'mapRun' | 'tryMapRun', (...args: unknown[]) => number>;
  for (const extra of [8n, 'x', {}, 5, -1, NaN, OWNERS + 1, undefined]) {
    for (const [name, call] of [
      ['tryMap', () => loose.tryMap(extra)], ['map', () => loose.map(extra)],
      ['tryMapRun', () => loose.tryMapRun(2, extra)], ['mapRun', () => loose.mapRun(2, extra)],
    ] as const) {
      const p = call();
      assert.ok(p > 0, `${name}(…, ${String(extra)})`);
      a.unmap(p); // a slab with an owner would be refused
    }
  }
  assert.equal(a.used, 0);
  a.check();
});

test('mapFor records the owner; unmap refuses what a SlabCache holds and unmapFor all but its owner', () => {
  const a = arena64(8 * KB64, { maximum: 16 * KB64 });
  const me = a.registerOwner(1);
  const other = a.registerOwner(2);
  const p = a.mapFor(me, 1);
  const r = a.mapFor(me, 3);
  const q = a.map();
  assert.ok(p > 0 && r > 0);
  for (let j = 0; j < 3; j++) assert.equal(a.slabOwner[r / KB64 + j], me);
  assert.equal(a.slabOwner[p / KB64], me);
  const cases: [string, () => void][] = [
    ['unmap of a held slab', () => a.unmap(p)],
    ['unmap of a held run', () => a.unmap(r)],
    ['unmapFor by another owner', () => a.unmapFor(p, other)],
    ['unmapFor of a slab no cache holds', () => a.unmapFor(q, me)],
    ['unmapFor inside a run', () => a.unmapFor(r + KB64, me)],
    ['unmapFor of a stale id', () => a.unmapFor(p, me + OWNERS)],
  ];
  for (const [name, fn] of cases) {
    assert.throws(fn, InvalidPointerError, name);
    assert.equal(a.used, 5 * KB64, name);
    assert.equal(a.slabOwner[p / KB64], me, name);
    a.check();
  }
  a.unmapFor(p, me);
  a.unmapFor(r, me);
  assert.throws(() => a.unmapFor(p, me), InvalidPointerError, 'twice');
  for (let j = 0; j < 3; j++) assert.equal(a.slabOwner[r / KB64 + j], 0);
  a.unmap(q);
  assert.equal(a.used, 0);
  // Failures: 0, and `failure` says why.
  assert.equal(a.mapFor(me, 1000), 0);
  assert.equal(a.failure, MapFailure.Space);
  const held = Array.from({ length: 8 }, () => a.mapFor(me, 1));
  assert.equal(a.mapFor(me, 1), 0);
  assert.equal(a.failure, MapFailure.Quota);
  for (const h of held) a.unmapFor(h, me);
  assert.throws(() => a.mapFor(0, 1), RangeError);
  assert.throws(() => a.mapFor(me, 0), RangeError);
  a.check();
});

test('unmap and unmapFor follow the one pointer rule', () => {
  const a = arena64(8 * KB64);
  const me = a.registerOwner(1);
  const p = a.map();
  const cases: [unknown, ErrorConstructor | typeof InvalidPointerError][] = [
    ['65536', TypeError], [BigInt(p), TypeError], [{}, TypeError], [undefined, TypeError], [null, TypeError],
    [NaN, RangeError], [-1, RangeError], [-KB64, RangeError], [1.5, RangeError], [2 ** 53, RangeError], [Infinity, RangeError],
    [1, InvalidPointerError], [p + 8, InvalidPointerError], [0, InvalidPointerError], [2 ** 32, InvalidPointerError],
    [2 ** 40, InvalidPointerError], [2 ** 53 - 1, InvalidPointerError],
  ];
  for (const [v, type] of cases) {
    for (const [name, fn] of [['unmap', () => a.unmap(v as number)], ['unmapFor', () => a.unmapFor(v as number, me)]] as const) {
      assert.throws(fn, (e: unknown) => e instanceof type && (type === InvalidPointerError || /\bslab\b/.test((e as Error).message)),
        `${name}(${typeof v === 'bigint' ? `${v}n` : String(v)})`);
      assert.equal(a.used, KB64);
    }
  }
  a.unmap(p);
  a.check();
});

test('unmap zeroes the page map and both page-tag words of every page of the slab or run', () => {
  const a = arena64(8 * KB64);
  assert.equal(a.pageTags.length, 2 * (a.maximum / 4096), 'two Int32 words per 4 KiB page');
  assert.ok(a.pageTags.every((w) => w === 0));
  const r = a.mapRun(3);
  const s = a.map();
  const p0 = r / 4096;
  const pages = 3 * KB64 / 4096;
  for (let p = p0; p < p0 + pages; p++) {
    a.pageTags[2 * p] = p;
    a.pageTags[2 * p + 1] = -p;
    a.pageMap[p] = 0xff;
  }
  a.pageTags[2 * (s / 4096)] = 77;
  a.unmap(r);
  for (let p = p0; p < p0 + pages; p++) {
    assert.equal(a.pageTags[2 * p], 0);
    assert.equal(a.pageTags[2 * p + 1], 0);
    assert.equal(a.pageMap[p], 0);
  }
  assert.equal(a.pageTags[2 * (s / 4096)], 77, 'a slab still mapped keeps its tags');
  a.check();
  a.pageTags[2 * (s / 4096)] = 0;
  a.unmap(s);
  a.check();
});

test('map and mapRun failures name the method called and say quota or maximum, with the numbers', () => {
  const a = arena64(2 * KB64, { maximum: 16 * KB64 });
  const p = a.map();
  a.map();
  const run = (slabs: number): string => (slabs === 1 ? '1 slab of 65536 bytes' : `${slabs} slabs of 65536 bytes, ${slabs * KB64} bytes in all,`);
  const quotaMsg = (where: string, slabs: number): RegExp =>
    new RegExp(`^SlabArena\\.${where}: ${run(slabs)} exceeds? the quota: it has 0 of ${2 * KB64} bytes left, ${2 * KB64} used`);
  assert.throws(() => a.map(), (e: unknown) => e instanceof QuotaExceededError && e.requested === KB64 && e.limit === 2 * KB64 &&
    quotaMsg('map', 1).test(e.message));
  assert.throws(() => a.mapRun(3), (e: unknown) => e instanceof QuotaExceededError && e.requested === 3 * KB64 &&
    quotaMsg('mapRun', 3).test(e.message) && /no slab is free/.test(e.message));
  a.unmap(p);
  assert.throws(() => a.mapRun(2), (e: unknown) => e instanceof QuotaExceededError && /the 1 free slab of the arena holds no 2 adjacent/.test(e.message));

  const b = arena64(1 << 30, { maximum: 8 * KB64 });
  const data = b.maximum / KB64 - b.ctrlSlabs;
  const held = Array.from({ length: data }, () => b.map());
  b.unmap(held[0]!);
  b.unmap(held[2]!);
  const spaceMsg = (where: string, slabs: number): RegExp =>
    new RegExp(`^SlabArena\\.${where}: ${run(slabs)} do(es)? not fit the arena's reserved maximum of ${8 * KB64} bytes: ${data} of its ${data} slabs are carved`);
  assert.throws(() => b.mapRun(2), (e: unknown) => e instanceof OutOfMemoryError && !(e instanceof QuotaExceededError) &&
    e.requested === 2 * KB64 && spaceMsg('mapRun', 2).test(e.message) && /the 2 free slabs of the arena hold no 2 adjacent/.test(e.message));
  b.map();
  b.map();
  assert.throws(() => b.map(), (e: unknown) => e instanceof OutOfMemoryError && !(e instanceof QuotaExceededError) && spaceMsg('map', 1).test(e.message));
  a.check();
  b.check();
});
