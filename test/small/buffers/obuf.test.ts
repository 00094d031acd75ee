import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { FREED_BYTE, FRESH_BYTE, Obuf, OutOfMemoryError, Quota, SlabArena, SlabCache, setDebug } from '../../../src/index.js';
import type { ObufSavepoint } from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { bytesOf } from '../../support/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function setup(limit = 64 * MiB, slabSize = 64 * KiB, shared = false): { quota: Quota; arena: SlabArena; cache: SlabCache } {
  const quota = new Quota(limit);
  const arena = new SlabArena({ quota, slabSize, shared });
  return { quota, arena, cache: new SlabCache(arena) };
}

function contents(obuf: Obuf): Uint8Array {
  const parts = obuf.toBuffers();
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test('Obuf grows as a chain of doubling buffers and never copies to grow', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  const first = obuf.alloc(100);
  for (let i = 0; i < 100; i++) obuf.dup(bytesOf(1000, i));
  assert.equal(obuf.size, 100 + 100_000);
  const parts = obuf.toBuffers();
  assert.ok(parts.length > 2 && parts.length <= 6, `${parts.length} buffers`);
  assert.equal(parts[0]!.byteOffset, first, 'the first buffer never moved');
  for (let i = 1; i < parts.length; i++) assert.ok(parts[i]!.length <= 4096 * 2 ** i);
  obuf.check();
  obuf.destroy();
  assert.equal(cache.used, 0);
});

test('Obuf.dup splits bytes across buffers and returns the byte count', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.alloc(4000);
  const data = bytesOf(10_000, 1);
  assert.equal(obuf.dup(data), 10_000);
  const parts = obuf.toBuffers();
  assert.equal(parts.length, 2);
  assert.equal(parts[0]!.length, 4096, 'the first buffer was filled to its end');
  assert.deepEqual(contents(obuf).subarray(4000), data);
  assert.equal(obuf.dup(new Uint8Array(0)), 0);
});

test('Obuf.reserve gives contiguous room the next alloc returns', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.alloc(4000);
  const p = obuf.reserve(1000); // does not fit what is left: moves to the next buffer
  assert.equal(obuf.size, 4000);
  assert.equal(obuf.alloc(1000), p);
  assert.equal(obuf.iovCount, 2);
  const big = obuf.reserve(1_000_000);
  assert.equal(obuf.alloc(1_000_000), big);
  obuf.check();
});

test('Obuf.rollbackTo restores the position and size exactly', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.dup(bytesOf(3000, 2));
  const svp = obuf.createSavepoint();
  const before = contents(obuf);
  obuf.dup(bytesOf(50_000, 3));
  obuf.alloc(7);
  obuf.rollbackTo(svp);
  assert.equal(obuf.size, 3000);
  assert.deepEqual(obuf.createSavepoint(), svp);
  assert.deepEqual(contents(obuf), before);
  obuf.check();
  obuf.dup(bytesOf(10, 4));
  assert.equal(obuf.size, 3010);
});

test('Obuf.rollbackTo refuses a savepoint from before a reset() and changes nothing', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.dup(bytesOf(3000, 20));
  const svp = obuf.createSavepoint();
  obuf.reset();
  obuf.alloc(100);
  obuf.alloc(4090);
  const before = JSON.stringify([obuf.stats(), obuf.createSavepoint()]);
  const data = contents(obuf);
  assert.throws(() => obuf.rollbackTo(svp),
    (e: unknown) => e instanceof RangeError && /^Obuf\.rollbackTo: svp is stale/.test((e as Error).message));
  assert.equal(obuf.size, 4190);
  assert.equal(JSON.stringify([obuf.stats(), obuf.createSavepoint()]), before);
  assert.deepEqual(contents(obuf), data);
  obuf.check();
});

test('Obuf.rollbackTo refuses a savepoint from before a destroy(), or from another obuf', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.dup(bytesOf(100, 21));
  const svp = obuf.createSavepoint();
  obuf.destroy();
  obuf.dup(bytesOf(200, 22));
  assert.throws(() => obuf.rollbackTo(svp), RangeError);
  assert.equal(obuf.size, 200);
  // Another obuf with the same layout: its savepoint fits these buffers, but is not of them.
  const other = new Obuf(cache, 4096);
  other.dup(bytesOf(50, 23));
  const foreign = other.createSavepoint();
  assert.throws(() => obuf.rollbackTo(foreign), RangeError);
  assert.equal(obuf.size, 200);
  obuf.check();
});

test('Obuf.rollbackTo refuses a savepoint past the point rolled back to, and keeps the ones before it', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache, 4096);
  obuf.dup(bytesOf(100, 24));
  const first = obuf.createSavepoint();
  obuf.dup(bytesOf(100, 25));
  const mid = obuf.createSavepoint();
  obuf.dup(bytesOf(100, 26));
  const late = obuf.createSavepoint();
  obuf.dup(bytesOf(100, 27));
  obuf.rollbackTo(mid); // size 200: `late` marked bytes that are gone
  obuf.dup(bytesOf(300, 28)); // and are written again, differently: size 500
  const before = JSON.stringify([obuf.stats(), obuf.createSavepoint()]);
  const data = contents(obuf);
  assert.throws(() => obuf.rollbackTo(late),
    (e: unknown) => e instanceof RangeError && /^Obuf\.rollbackTo: svp is stale/.test((e as Error).message));
  assert.equal(JSON.stringify([obuf.stats(), obuf.createSavepoint()]), before, 'nothing changed');
  assert.deepEqual(contents(obuf), data);
  // The point rolled back to, and those before it, stay valid, as often as needed.
  obuf.rollbackTo(mid);
  assert.equal(obuf.size, 200);
  assert.deepEqual(obuf.createSavepoint(), mid, 'the position is exactly the savepoint again');
  obuf.dup(bytesOf(10, 29));
  obuf.rollbackTo(mid);
  assert.equal(obuf.size, 200);
  const again = obuf.createSavepoint();
  obuf.dup(bytesOf(10, 30));
  obuf.rollbackTo(first);
  assert.equal(obuf.size, 100);
  assert.throws(() => obuf.rollbackTo(mid), RangeError, 'mid is past the point rolled back to now');
  assert.throws(() => obuf.rollbackTo(again), RangeError);
  assert.equal(obuf.size, 100);
  assert.deepEqual(contents(obuf), bytesOf(100, 24));
  obuf.check();
});

test('Obuf survives a random sequence checked against a model', () => {
  const rng = seeded('obuf random ops');
  const { cache } = setup(256 * MiB, 64 * KiB);
  const obuf = new Obuf(cache, rng.pick([1, 512, 4096, 16_384]));
  let model: number[] = [];
  const svps: Array<[ObufSavepoint, number]> = [];
  let seed = 0;
  for (let step = 0; step < 800; step++) {
    const op = rng.int(0, 99);
    if (op < 40) {
      const n = rng.chance(0.03) ? rng.int(50_000, 300_000) : rng.int(0, 3000);
      const b = bytesOf(n, ++seed);
      assert.equal(obuf.dup(b), n);
      for (const x of b) model.push(x);
    } else if (op < 55) {
      const n = rng.int(0, 5000);
      const p = obuf.alloc(n);
      const b = bytesOf(n, ++seed);
      obuf.memory.u8.set(b, p);
      for (const x of b) model.push(x);
    } else if (op < 65) {
      const n = rng.int(0, 8000);
      const p = obuf.reserve(n);
      const k = rng.int(0, n);
      assert.equal(obuf.alloc(k), p);
      const b = bytesOf(k, ++seed);
      obuf.memory.u8.set(b, p);
      for (const x of b) model.push(x);
    } else if (op < 78) {
      svps.push([obuf.createSavepoint(), model.length]);
    } else if (op < 90 && svps.length > 0) {
      const [svp, len] = svps.splice(rng.int(0, svps.length - 1))[0]!;
      obuf.rollbackTo(svp);
      model.length = len;
    } else if (op < 93) {
      obuf.reset();
      model = [];
      svps.length = 0;
    } else if (op < 94) {
      obuf.destroy();
      model = [];
      svps.length = 0;
    }
    obuf.check();
    assert.equal(obuf.size, model.length);
    const c = contents(obuf);
    assert.equal(c.length, model.length);
    for (let i = 0; i < c.length; i++) if (c[i] !== model[i]) assert.fail(`step ${step}: byte ${i} is ${c[i]}, expected ${model[i]}`);
  }
  obuf.destroy();
  assert.equal(cache.used, 0);
  cache.check();
});

test('Obuf.toBuffers writes to a TCP socket and reads back byte for byte', { timeout: 10_000 }, async () => {
  // A shared arena: the views handed to the socket are over a SharedArrayBuffer.
  const { cache } = setup(64 * MiB, 64 * KiB, true);
  const obuf = new Obuf(cache, 4096);
  assert.ok(obuf.memory.buffer instanceof SharedArrayBuffer);
  const rng = seeded('obuf tcp');
  const expected: number[] = [];
  for (let i = 0; i < 60; i++) {
    const b = bytesOf(rng.int(1, 8000), i);
    obuf.dup(b);
    for (const x of b) expected.push(x);
  }
  assert.ok(obuf.toBuffers().length > 3);
  const received: Buffer[] = [];
  const server = net.createServer((sock) => {
    sock.on('data', (d: Buffer) => received.push(d));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    const serverDone = new Promise<void>((resolve) => server.on('connection', (s) => s.on('end', () => resolve())));
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    // A gathering write: cork, one write per buffer, uncork (libuv turns it into writev).
    client.cork();
    for (const part of obuf.toBuffers()) client.write(part);
    client.uncork();
    client.end();
    await once(client, 'finish');
    await serverDone;
    client.destroy();
  } finally {
    server.close();
  }
  const got = Buffer.concat(received);
  assert.equal(got.length, expected.length);
  assert.ok(got.equals(Buffer.from(expected)), 'the bytes read back are the bytes written');
  obuf.destroy();
});

test('Obuf rejects bad arguments with the argument named and changes nothing', () => {
  const { cache } = setup();
  const obuf = new Obuf(cache);
  obuf.dup(bytesOf(100, 9));
  const svp = obuf.createSavepoint();
  obuf.dup(bytesOf(10, 10));
  const before = JSON.stringify([obuf.stats(), obuf.createSavepoint()]);
  const table: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['alloc of a string', () => obuf.alloc('1' as unknown as number), TypeError, /Obuf\.alloc: size.*"1"/],
    ['alloc of a BigInt', () => obuf.alloc(8n as unknown as number), TypeError, /Obuf\.alloc: size.*8n/],
    ['alloc of -1', () => obuf.alloc(-1), RangeError, /Obuf\.alloc: size.*-1/],
    ['reserve of 1.5', () => obuf.reserve(1.5), RangeError, /Obuf\.reserve: size.*1\.5/],
    ['tryAlloc of NaN', () => obuf.tryAlloc(NaN), RangeError, /Obuf\.tryAlloc: size.*NaN/],
    ['dup of a string', () => obuf.dup('abc' as unknown as Uint8Array), TypeError, /Obuf\.dup: bytes.*"abc"/],
    ['dup of an array', () => obuf.dup([1, 2] as unknown as Uint8Array), TypeError, /bytes/],
    ['rollbackTo null', () => obuf.rollbackTo(null as unknown as ObufSavepoint), TypeError, /Obuf\.rollbackTo: svp.*null/],
    ['rollbackTo a position ahead', () => obuf.rollbackTo({ ...svp, used: 1000 }), RangeError, /svp\.used/],
    ['rollbackTo a foreign position', () => obuf.rollbackTo({ ...svp, used: svp.used - 1 }), RangeError, /svp/],
    ['rollbackTo a bad pos', () => obuf.rollbackTo({ ...svp, pos: 5 }), RangeError, /svp\.pos/],
    ['startCapacity of -1', () => new Obuf(cache, -1), RangeError, /startCapacity.*-1/],
    ['a cache that is not one', () => new Obuf(42 as unknown as SlabCache), TypeError, /cache.*42/],
  ];
  for (const [name, call, type, message] of table) {
    assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(JSON.stringify([obuf.stats(), obuf.createSavepoint()]), before, `${name}: state unchanged`);
    obuf.check();
  }
});

test('Obuf out of memory throws or returns 0 and changes nothing, even for a dup cut part-way', () => {
  const { cache } = setup(2 * 64 * KiB, 64 * KiB);
  const obuf = new Obuf(cache, 4096);
  obuf.dup(bytesOf(3000, 11));
  const before = JSON.stringify([obuf.stats(), obuf.createSavepoint()]);
  const data = contents(obuf);
  assert.throws(() => obuf.alloc(500_000), OutOfMemoryError);
  assert.throws(() => obuf.reserve(500_000), OutOfMemoryError);
  assert.equal(obuf.tryAlloc(500_000), 0);
  assert.equal(obuf.tryReserve(500_000), 0);
  assert.throws(() => obuf.dup(bytesOf(500_000, 12)), OutOfMemoryError);
  assert.equal(JSON.stringify([obuf.stats(), obuf.createSavepoint()]), before);
  assert.deepEqual(contents(obuf), data);
  obuf.check();
});

test('Obuf in debug mode poisons fresh and rolled-back memory', () => {
  setDebug({ enabled: true, checkEvery: 1 });
  try {
    const { cache } = setup();
    const obuf = new Obuf(cache, 4096);
    const p = obuf.alloc(100);
    assert.ok(obuf.memory.u8.subarray(p, p + 100).every((b) => b === FRESH_BYTE));
    const svp = obuf.createSavepoint();
    obuf.dup(bytesOf(50, 13));
    obuf.rollbackTo(svp);
    assert.ok(obuf.memory.u8.subarray(p + 100, p + 150).every((b) => b === FREED_BYTE));
    obuf.destroy();
  } finally {
    setDebug({ enabled: false });
  }
});
