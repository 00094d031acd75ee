import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Quota, QuotaExceededError, OutOfMemoryError } from '../../../src/index.js';
import { HEADER_BYTES, Kind, writeHeader } from '../../../src/internal/header.js';

test('Quota rounds its limit and every charge up to UNIT', () => {
  assert.equal(Quota.UNIT, 1024);
  const q = new Quota(10_000);
  assert.equal(q.total, 10_240);
  assert.equal(q.used, 0);
  assert.equal(q.use(1), 1024);
  assert.equal(q.use(1025), 2048);
  assert.equal(q.used, 3072);
  assert.equal(q.use(0), 0);
  assert.equal(q.release(2000), 2048);
  assert.equal(q.used, 1024);
});

test('Quota.use past the limit throws QuotaExceededError and charges nothing', () => {
  const q = new Quota(4096);
  q.use(3000);
  const err = assert.throws(() => q.use(2000), (e: unknown) => {
    assert.ok(e instanceof QuotaExceededError);
    assert.ok(e instanceof OutOfMemoryError);
    assert.equal(e.requested, 2000);
    assert.equal(e.limit, 4096);
    return true;
  });
  void err;
  assert.equal(q.used, 3072);
  assert.equal(q.tryUse(2000), -1);
  assert.equal(q.used, 3072);
  assert.equal(q.tryUse(1024), 1024);
  assert.equal(q.used, 4096);
  assert.equal(q.tryUse(1), -1);
});

test('Quota.set moves the limit but never below what is used', () => {
  const q = new Quota(8192);
  q.use(5000);
  assert.equal(q.set(1 << 20), 1 << 20);
  assert.equal(q.total, 1 << 20);
  assert.equal(q.set(5121), 6144);
  assert.throws(() => q.set(4096), /Quota\.set: limit must be at least the bytes used \(5120\), got 4096/);
  assert.equal(q.total, 6144);
  assert.equal(q.set(5120), 5120);
  assert.equal(q.tryUse(1), -1);
});

test('Quota.release of more than is used is a RangeError and changes nothing', () => {
  const q = new Quota(8192);
  q.use(2048);
  assert.throws(() => q.release(3000), RangeError);
  assert.equal(q.used, 2048);
  q.release(2048);
  assert.equal(q.used, 0);
});

test('Quota holds limits up to 2^32 - 1 units', () => {
  const q = new Quota(Quota.MAX_LIMIT);
  assert.equal(q.total, Quota.MAX_LIMIT);
  assert.equal(q.use(2 ** 40), 2 ** 40);
  assert.equal(q.used, 2 ** 40);
  assert.equal(q.tryUse(Quota.MAX_LIMIT), -1);
});

test('Quota rejects bad arguments with the argument and value named', () => {
  const q = new Quota(1 << 20);
  q.use(1024);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['constructor string', () => new Quota('1' as never), TypeError, /Quota: limit must be a number, got "1"/],
    ['constructor NaN', () => new Quota(NaN), RangeError, /limit .* got NaN/],
    ['constructor negative', () => new Quota(-1), RangeError, /limit .* got -1/],
    ['constructor fraction', () => new Quota(1.5), RangeError, /limit .* got 1.5/],
    ['constructor too large', () => new Quota(Quota.MAX_LIMIT + 1), RangeError, /limit/],
    ['constructor opts', () => new Quota(1, 5 as never), TypeError, /opts/],
    ['constructor shared', () => new Quota(1, { shared: 'yes' as never }), TypeError, /shared/],
    ['use string', () => q.use('1' as never), TypeError, /Quota\.use: bytes must be a number/],
    ['use negative', () => q.use(-1), RangeError, /bytes .* got -1/],
    ['tryUse NaN', () => q.tryUse(NaN), RangeError, /bytes .* got NaN/],
    ['release fraction', () => q.release(0.5), RangeError, /Quota\.release: bytes .* got 0.5/],
    ['set undefined', () => q.set(undefined as never), TypeError, /Quota\.set: limit must be a number, got undefined/],
    ['set Infinity', () => q.set(Infinity), RangeError, /limit .* got Infinity/],
  ];
  for (const [name, fn, type, message] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    assert.equal(q.used, 1024, `${name}: used unchanged`);
    assert.equal(q.total, 1 << 20, `${name}: total unchanged`);
  }
});

test('Quota.attach shares the one counter word', () => {
  const q = new Quota(1 << 20);
  const h = structuredClone(q.handle());
  const other = Quota.attach(h);
  other.use(4096);
  assert.equal(q.used, 4096);
  q.set(8192);
  assert.equal(other.total, 8192);
  assert.equal(other.tryUse(8192), -1);
});

test('Quota.handle of a quota that is not shared is a TypeError', () => {
  const q = new Quota(1 << 20, { shared: false });
  assert.equal(q.shared, false);
  assert.equal(q.use(100), 1024);
  assert.throws(() => q.handle(), TypeError);
});

test('Quota.attach refuses foreign, other-kind, truncated and corrupt buffers', () => {
  const good = new Quota(1 << 20).handle().buffer;
  const copy = (): SharedArrayBuffer => {
    const b = new SharedArrayBuffer(good.byteLength);
    new Uint8Array(b).set(new Uint8Array(good));
    return b;
  };
  const otherKind = copy();
  writeHeader(new Int32Array(otherKind, 0, 4), Kind.SlabArena, 1, good.byteLength);
  const otherVersion = copy();
  writeHeader(new Int32Array(otherVersion, 0, 4), Kind.Quota, 99, good.byteLength);
  const version = new Int32Array(good, 0, 4)[1]! & 0xffff;
  const longer = copy();
  writeHeader(new Int32Array(longer, 0, 4), Kind.Quota, version, good.byteLength + 8);
  const declaresMore = new SharedArrayBuffer(good.byteLength + 8);
  new Uint8Array(declaresMore).set(new Uint8Array(good));
  writeHeader(new Int32Array(declaresMore, 0, 4), Kind.Quota, version, good.byteLength + 8);
  const overUsed = copy();
  new BigUint64Array(overUsed, HEADER_BYTES, 1)[0] = (10n << 32n) | 11n;
  const noIdentity = copy();
  new Int32Array(noIdentity)[7] = 0;
  const corrupt = copy();
  new Int32Array(corrupt)[3] ^= 1;
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 5, /handle must be a QuotaHandle/],
    ['plain ArrayBuffer', { buffer: new ArrayBuffer(24) }, /SharedArrayBuffer/],
    ['zeros', { buffer: new SharedArrayBuffer(24) }, /bad magic/],
    ['too short', { buffer: new SharedArrayBuffer(8) }, /truncated/],
    ['truncated', { buffer: good.slice(0, HEADER_BYTES + 4) }, /truncated/],
    ['corrupt', { buffer: corrupt }, /corrupt header/],
    ['other kind', { buffer: otherKind }, /another kind/],
    ['other version', { buffer: otherVersion }, /layout version 99/],
    ['shorter than its header says', { buffer: longer }, /truncated/],
    ['declaring more than a quota holds', { buffer: declaresMore }, /Quota\.attach: corrupt state/],
    ['used above the limit', { buffer: overUsed }, /Quota\.attach: corrupt state \(11 units used above the limit of 10 units\)/],
    ['no identity', { buffer: noIdentity }, /Quota\.attach: corrupt state \(identity/],
  ];
  for (const [name, handle, message] of cases) {
    assert.throws(() => Quota.attach(handle as never), (e: unknown) => e instanceof TypeError && message.test((e as Error).message), name);
  }
  assert.equal(Quota.attach({ buffer: good }).total, 1 << 20, 'the good buffer still attaches');
});

test('every quota has its own identity, the same in every attached copy', () => {
  const a = new Quota(1 << 20);
  const b = new Quota(1 << 20);
  const c = new Quota(1 << 20, { shared: false });
  assert.ok(Number.isSafeInteger(a.identity) && a.identity >= 2 ** 32);
  assert.equal(new Set([a.identity, b.identity, c.identity]).size, 3);
  assert.equal(Quota.attach(structuredClone(a.handle())).identity, a.identity);
});
