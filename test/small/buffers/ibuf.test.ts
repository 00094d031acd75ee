import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FREED_BYTE, FRESH_BYTE, Ibuf, OutOfMemoryError, Quota, QuotaExceededError, SlabArena, SlabCache, setDebug } from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { bytesOf } from '../../support/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function setup(limit = 64 * MiB, slabSize = 64 * KiB): { quota: Quota; arena: SlabArena; cache: SlabCache } {
  const quota = new Quota(limit);
  const arena = new SlabArena({ quota, slabSize, shared: false });
  return { quota, arena, cache: new SlabCache(arena) };
}

/** Appends `bytes` the way a reader would: reserve, write at wpos, alloc. */
function append(ibuf: Ibuf, bytes: Uint8Array): void {
  const p = ibuf.reserve(bytes.length);
  ibuf.memory.u8.set(bytes, p);
  assert.equal(ibuf.alloc(bytes.length), p);
}

test('Ibuf takes no slab until the first reserve, then starts at startCapacity', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache, 10_000);
  assert.equal(ibuf.capacity, 0);
  assert.equal(ibuf.rpos, 0);
  const p = ibuf.reserve(10);
  assert.ok(p > 0);
  assert.equal(ibuf.capacity, cache.realSize(10_000));
  assert.equal(ibuf.used, 0);
  ibuf.check();
  ibuf.destroy();
  assert.equal(cache.used, 0);
});

test('Ibuf.view returns the unread bytes and consume/discard move rpos/wpos', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache);
  append(ibuf, Uint8Array.of(1, 2, 3, 4, 5, 6));
  assert.deepEqual([...ibuf.view()], [1, 2, 3, 4, 5, 6]);
  ibuf.consume(2);
  assert.deepEqual([...ibuf.view()], [3, 4, 5, 6]);
  assert.equal(ibuf.used, 4);
  ibuf.discard(1);
  assert.deepEqual([...ibuf.view()], [3, 4, 5]);
  assert.equal(ibuf.wpos - ibuf.rpos, 3);
  ibuf.consume(3);
  assert.equal(ibuf.used, 0);
  assert.equal(ibuf.rpos, ibuf.start, 'an emptied buffer starts over at the front');
  ibuf.check();
});

test('Ibuf.reserve doubles the capacity and moves the data: offsets from rpos survive, pointers do not', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache, 4096);
  const data = bytesOf(3000, 1);
  append(ibuf, data);
  ibuf.consume(100);
  const offset = 500; // a parser's position, kept relative to rpos
  const oldPtr = ibuf.rpos + offset;
  const oldCap = ibuf.capacity;
  ibuf.reserve(10_000);
  assert.ok(ibuf.capacity >= 2 * oldCap);
  assert.notEqual(ibuf.rpos + offset, oldPtr);
  assert.equal(ibuf.memory.u8[ibuf.rpos + offset], data[100 + offset]);
  assert.deepEqual(ibuf.view(), data.subarray(100));
  ibuf.check();
});

test('Ibuf.reserve reuses the consumed head before growing', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache, 4096);
  append(ibuf, bytesOf(3000, 2));
  ibuf.consume(1000); // rpos stays in the first half
  const cap = ibuf.capacity;
  ibuf.reserve(2000); // fits only once the 1000 consumed bytes are reclaimed
  assert.equal(ibuf.capacity, cap);
  assert.equal(ibuf.rpos, ibuf.start);
  assert.deepEqual(ibuf.view(), bytesOf(3000, 2).subarray(1000));
});

test('Ibuf.consume moves the unread tail to the front once rpos passes half the capacity', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache, 4096);
  const data = bytesOf(4000, 3);
  append(ibuf, data);
  ibuf.consume(2100);
  assert.equal(ibuf.rpos, ibuf.start);
  assert.deepEqual(ibuf.view(), data.subarray(2100));
  ibuf.check();
});

test('Ibuf.shrink drops to the smallest slab that holds the unread bytes', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache, 4096);
  append(ibuf, bytesOf(40_000, 4));
  assert.ok(ibuf.capacity >= 40_000);
  ibuf.consume(39_000);
  ibuf.shrink();
  assert.equal(ibuf.capacity, 4096);
  assert.deepEqual(ibuf.view(), bytesOf(40_000, 4).subarray(39_000));
  ibuf.consume(1000);
  ibuf.shrink();
  assert.equal(ibuf.capacity, 0);
  assert.equal(cache.used, 0);
  ibuf.check();
});

test('Ibuf survives a random sequence checked against a model', () => {
  const rng = seeded('ibuf random ops');
  const { cache } = setup(64 * MiB, 64 * KiB);
  const ibuf = new Ibuf(cache, rng.pick([1, 100, 4096, 10_000]));
  let model: number[] = [];
  let seed = 0;
  for (let step = 0; step < 1500; step++) {
    const op = rng.int(0, 99);
    if (op < 40) {
      const n = rng.chance(0.05) ? rng.int(10_000, 200_000) : rng.int(0, 3000);
      const b = bytesOf(n, ++seed);
      append(ibuf, b);
      for (const x of b) model.push(x);
    } else if (op < 50) {
      // Reserve more than is written: only the written part is counted.
      const n = rng.int(0, 5000);
      const p = ibuf.reserve(n);
      const k = rng.int(0, n);
      const b = bytesOf(k, ++seed);
      ibuf.memory.u8.set(b, p);
      assert.equal(ibuf.alloc(k), p);
      for (const x of b) model.push(x);
    } else if (op < 80) {
      const k = rng.int(0, model.length);
      ibuf.consume(k);
      model = model.slice(k);
    } else if (op < 90) {
      const k = rng.int(0, Math.min(model.length, 500));
      ibuf.discard(k);
      model.length -= k;
    } else if (op < 94) {
      ibuf.shrink();
    } else if (op < 96) {
      ibuf.reset();
      model = [];
    } else if (op < 97) {
      ibuf.destroy();
      model = [];
    }
    ibuf.check();
    assert.equal(ibuf.used, model.length);
    assert.ok(ibuf.rpos <= ibuf.wpos);
    const v = ibuf.view();
    assert.equal(v.length, model.length);
    for (let i = 0; i < v.length; i++) if (v[i] !== model[i]) assert.fail(`step ${step}: byte ${i} is ${v[i]}, expected ${model[i]}`);
  }
  ibuf.destroy();
  assert.equal(cache.used, 0);
  cache.check();
});

test('Ibuf rejects bad arguments with the argument named and changes nothing', () => {
  const { cache } = setup();
  const ibuf = new Ibuf(cache);
  append(ibuf, bytesOf(10, 5));
  const before = JSON.stringify([ibuf.stats(), ibuf.rpos, ibuf.wpos]);
  const table: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['reserve of a string', () => ibuf.reserve('1' as unknown as number), TypeError, /Ibuf\.reserve: size.*"1"/],
    ['alloc of a BigInt', () => ibuf.alloc(8n as unknown as number), TypeError, /Ibuf\.alloc: size.*8n/],
    ['reserve of -1', () => ibuf.reserve(-1), RangeError, /Ibuf\.reserve: size.*-1/],
    ['alloc of 0.5', () => ibuf.alloc(0.5), RangeError, /Ibuf\.alloc: size.*0\.5/],
    ['alloc of NaN', () => ibuf.alloc(NaN), RangeError, /size.*NaN/],
    ['tryAlloc of 2^32', () => ibuf.tryAlloc(2 ** 32), RangeError, /Ibuf\.tryAlloc: size/],
    ['consume past wpos', () => ibuf.consume(11), RangeError, /Ibuf\.consume: size.*\[0, 10\].*11/],
    ['consume of -1', () => ibuf.consume(-1), RangeError, /size.*-1/],
    ['discard past rpos', () => ibuf.discard(11), RangeError, /Ibuf\.discard: size.*11/],
    ['discard of undefined', () => ibuf.discard(undefined as unknown as number), TypeError, /size.*undefined/],
    ['startCapacity of 0', () => new Ibuf(cache, 0), RangeError, /startCapacity.*0/],
    ['startCapacity of a string', () => new Ibuf(cache, '1' as unknown as number), TypeError, /startCapacity/],
    ['a cache that is not one', () => new Ibuf(null as unknown as SlabCache), TypeError, /cache/],
  ];
  for (const [name, call, type, message] of table) {
    assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(JSON.stringify([ibuf.stats(), ibuf.rpos, ibuf.wpos]), before, `${name}: state unchanged`);
    ibuf.check();
  }
  assert.deepEqual(ibuf.view(), bytesOf(10, 5));
});

test('Ibuf out of memory throws or returns 0 and keeps its bytes where they were', () => {
  const { cache } = setup(2 * 64 * KiB, 64 * KiB);
  const ibuf = new Ibuf(cache, 4096);
  const data = bytesOf(50_000, 6);
  append(ibuf, data);
  const before = JSON.stringify([ibuf.stats(), ibuf.rpos, ibuf.wpos]);
  assert.throws(() => ibuf.reserve(200_000), OutOfMemoryError);
  assert.throws(() => ibuf.alloc(200_000), OutOfMemoryError);
  assert.equal(ibuf.tryReserve(200_000), 0);
  assert.equal(ibuf.tryAlloc(200_000), 0);
  assert.equal(JSON.stringify([ibuf.stats(), ibuf.rpos, ibuf.wpos]), before);
  assert.deepEqual(ibuf.view(), data);
  ibuf.check();
});

test('Ibuf refilled after destroy() reaches its first capacity again', () => {
  // 8 slabs of 64 KiB: growing to 256 KiB by doubling takes all eight (the small orders' slab,
  // 64 KiB, 128 KiB and 256 KiB runs, each held while the next is taken). destroy() returns
  // them all, so the same growth must fit again.
  const { cache, quota } = setup(8 * 64 * KiB, 64 * KiB);
  const ibuf = new Ibuf(cache);
  const grow = (): void => {
    while (ibuf.used < 256 * KiB) ibuf.alloc(16 * KiB);
  };
  grow();
  assert.equal(ibuf.capacity, 256 * KiB);
  ibuf.destroy();
  assert.equal(cache.used, 0);
  assert.doesNotThrow(grow, `refilling to 256 KiB after destroy() (quota used ${quota.used} of ${quota.total})`);
  assert.equal(ibuf.capacity, 256 * KiB);
  ibuf.check();
});

test('Ibuf out of memory names the method called and keeps the quota\'s error class', () => {
  const { cache } = setup(4 * 64 * KiB, 64 * KiB);
  const ibuf = new Ibuf(cache, 4096);
  ibuf.alloc(10); // one slab of the four the quota allows: 200 000 bytes need four more
  for (const [name, call] of [['Ibuf.alloc', () => ibuf.alloc(200_000)], ['Ibuf.reserve', () => ibuf.reserve(200_000)]] as const) {
    assert.throws(call, (e: unknown) => e instanceof QuotaExceededError && e.requested === 200_000 &&
      e.message.startsWith(`${name}: `), name);
  }
  assert.equal(ibuf.used, 10);
});

test('Ibuf in debug mode poisons fresh and consumed memory', () => {
  setDebug({ enabled: true, checkEvery: 1 });
  try {
    const { cache } = setup();
    const ibuf = new Ibuf(cache);
    const p = ibuf.reserve(100);
    assert.ok(ibuf.memory.u8.subarray(p, p + 100).every((b) => b === FRESH_BYTE));
    append(ibuf, bytesOf(100, 7));
    const r = ibuf.rpos;
    ibuf.consume(10);
    assert.ok(ibuf.memory.u8.subarray(r, r + 10).every((b) => b === FREED_BYTE));
    ibuf.destroy();
  } finally {
    setDebug({ enabled: false });
  }
});
