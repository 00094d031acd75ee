import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BumpArena } from '../../src/arena/bump-arena.js';
import { InvalidPointerError, OutOfMemoryError } from '../../src/errors.js';
import { FRESH_BYTE, getDebug, setDebug } from '../../src/debug.js';
import { Kind, writeHeader } from '../../src/internal/header.js';
import { seeded } from '../../dev/rng.js';

const MODES = [false, true] as const;
const label = (shared: boolean): string => (shared ? 'shared' : 'unshared');

for (const shared of MODES) {
  test(`a new ${label(shared)} BumpArena has all its capacity remaining`, () => {
    const arena = new BumpArena(100, { shared });
    assert.equal(arena.capacity, 100);
    assert.equal(arena.remaining(), 100);
    assert.equal(arena.shared, shared);
    assert.equal(arena.memory.shared, shared);
    assert.deepEqual(arena.stats(), { used: 0, total: 100, remaining: 100 });
    arena.check();
  });

  test(`${label(shared)} BumpArena bumps downward, aligns, and counts padding as spent`, () => {
    const arena = new BumpArena(100, { shared });
    const top = arena.memory.byteLength;
    const a = arena.alloc(1, 1);
    assert.equal(a, top - 1);
    assert.equal(arena.remaining(), 99);
    const b = arena.alloc(1); // align 8 by default
    assert.equal(b % 8, 0);
    assert.ok(b + 1 <= a && a - (b + 1) < 8);
    assert.equal(arena.remaining(), 99 - (a - b));
    const c = arena.alloc(10, 64);
    assert.equal(c % 64, 0);
    assert.ok(c + 10 <= b);
    assert.equal(arena.remaining(), c - (top - 100));
    arena.check();
  });

  test(`${label(shared)} BumpArena fills to exactly its capacity, then fails without change`, () => {
    const arena = new BumpArena(64, { shared });
    const p = arena.alloc(64, 1);
    assert.equal(arena.remaining(), 0);
    assert.equal(arena.tryAlloc(1, 1), 0);
    assert.throws(() => arena.alloc(1, 1), (e: unknown) => e instanceof OutOfMemoryError && e.requested === 1);
    assert.equal(arena.remaining(), 0);
    // malloc(0) semantics: a valid, non-null pointer, even when full.
    assert.equal(arena.alloc(0, 1), p);
    arena.check();
  });

  test(`${label(shared)} BumpArena.tryAlloc returns 0 when alignment padding does not fit`, () => {
    const arena = new BumpArena(64, { shared });
    assert.equal(arena.tryAlloc(1, 4096), 0);
    assert.equal(arena.tryAlloc(65, 1), 0);
    assert.equal(arena.remaining(), 64);
    assert.throws(() => arena.alloc(65), OutOfMemoryError);
    assert.equal(arena.remaining(), 64);
  });

  test(`${label(shared)} BumpArena.reset makes all the capacity remaining again`, () => {
    const arena = new BumpArena(1000, { shared });
    for (let i = 0; i < 50; i++) arena.alloc(7, 4);
    assert.ok(arena.remaining() < 1000 - 350);
    arena.reset();
    assert.equal(arena.remaining(), 1000);
    arena.check();
  });

  test(`${label(shared)} BumpArena.allocSlice returns aligned, filled views over the arena`, () => {
    const arena = new BumpArena(4096, { shared });
    const f = arena.allocSlice(Float64Array, 4, 1.5);
    assert.ok(f instanceof Float64Array);
    assert.equal(f.buffer, arena.memory.buffer);
    assert.equal(f.byteOffset % 8, 0);
    assert.deepEqual([...f], [1.5, 1.5, 1.5, 1.5]);
    const bi = arena.allocSlice(BigInt64Array, 3, -5n);
    assert.deepEqual([...bi], [-5n, -5n, -5n]);
    const bu = arena.allocSlice(BigUint64Array, 1, 2n ** 64n - 1n);
    assert.equal(bu[0], 2n ** 64n - 1n);
    const u16 = arena.allocSlice(Uint16Array, 3, 7);
    assert.equal(u16.byteOffset % 2, 0);
    const u8 = arena.allocSlice(Uint8Array, 5);
    assert.equal(u8.length, 5);
    assert.deepEqual([...u8], [0, 0, 0, 0, 0], 'a fresh arena holds zeros');
    const empty = arena.allocSlice(Int32Array, 0);
    assert.equal(empty.length, 0);
    // The views are the arena's bytes, and none overlaps another.
    const spans = [f, bi, bu, u16, u8].map((v) => [v.byteOffset, v.byteOffset + v.byteLength] as const)
      .sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1]![1] <= spans[i]![0]);
    u8.fill(9);
    assert.equal(arena.memory.u8[u8.byteOffset + 4], 9);
    assert.deepEqual([...f], [1.5, 1.5, 1.5, 1.5]);
    const t = arena.tryAllocSlice(Uint32Array, 2, 3);
    assert.deepEqual(t && [...t], [3, 3]);
    arena.check();
  });

  test(`${label(shared)} BumpArena refuses slices whose byte size overflows or exceeds the capacity`, () => {
    const arena = new BumpArena(64, { shared });
    arena.alloc(8);
    const before = arena.remaining();
    for (const length of [9, 2 ** 29, 2 ** 50, Number.MAX_SAFE_INTEGER]) {
      // Past the capacity is out of memory too, as every other allocation without `try`.
      assert.throws(() => arena.allocSlice(Float64Array, length), (e: unknown) => e instanceof OutOfMemoryError &&
        e.requested === length * 8 &&
        new RegExp(`^BumpArena\\.allocSlice: length ${length} of Float64Array needs ${length * 8} bytes, more than the capacity 64$`).test(e.message),
        `length ${length}`);
      assert.equal(arena.tryAllocSlice(Float64Array, length), null, `length ${length}`);
    }
    // Within the capacity but not what remains: OutOfMemoryError / null.
    assert.throws(() => arena.allocSlice(Float64Array, 8), OutOfMemoryError);
    assert.equal(arena.tryAllocSlice(Float64Array, 8), null);
    assert.equal(arena.remaining(), before);
    const last = arena.allocSlice(Float64Array, 7, 2);
    assert.ok(last.byteOffset + last.byteLength <= arena.memory.byteLength);
    arena.check();
  });

  test(`${label(shared)} BumpArena strings round-trip, empty and non-ASCII included`, () => {
    const arena = new BumpArena(4096, { shared });
    const strings = ['', 'a', 'hello, world', 'héllo wörld', '日本語テキスト', '😀 emoji 🎉', 'x'.repeat(1000), 'mixed ∑ ascii 𝄞'];
    const ptrs = strings.map((s) => arena.allocString(s));
    for (const p of ptrs) assert.equal(p % 4, 0);
    strings.forEach((s, i) => assert.equal(arena.readString(ptrs[i]!), s));
    // The stored length is the UTF-8 byte length, little-endian, in front.
    const p = arena.allocString('é');
    assert.equal(arena.memory.dv.getUint32(p, true), 2);
    // A lone surrogate is stored as U+FFFD, as TextEncoder writes it.
    assert.equal(arena.readString(arena.allocString('a\ud800b')), 'a\ufffdb');
    assert.equal(arena.readString(arena.allocString('\udc00')), '\ufffd');
    arena.check();
  });

  test(`${label(shared)} BumpArena.allocString fails cleanly when the string does not fit`, () => {
    const arena = new BumpArena(16, { shared });
    assert.throws(() => arena.allocString('x'.repeat(13)), (e: unknown) => e instanceof OutOfMemoryError && e.requested === 17);
    assert.equal(arena.remaining(), 16);
    assert.equal(arena.readString(arena.allocString('x'.repeat(12))), 'x'.repeat(12));
    assert.equal(arena.remaining(), 0);
  });

  test(`${label(shared)} BumpArena.readString refuses pointers that hold no string of its`, () => {
    const arena = new BumpArena(64, { shared });
    const p = arena.allocString('abc');
    const top = arena.memory.byteLength;
    arena.memory.dv.setUint32(p - 4, 1000, true); // a "length" running past the end
    for (const bad of [0, 4, top, top - 2, p - 4]) {
      assert.throws(() => arena.readString(bad), InvalidPointerError, `ptr ${bad}`);
    }
    assert.throws(() => arena.readString(p + 1), InvalidPointerError);
    assert.throws(() => arena.readString('8' as never), TypeError);
    assert.throws(() => arena.readString(-4), RangeError);
    assert.throws(() => arena.readString(4.5), RangeError);
  });

  test(`${label(shared)} BumpArena.readString follows the one pointer rule`, () => {
    const arena = new BumpArena(64, { shared });
    const p = arena.allocString('abc');
    const before = arena.remaining();
    const rule: [unknown, abstract new (...a: never[]) => Error][] = [
      ['8', TypeError], [8n, TypeError], [null, TypeError], [undefined, TypeError], [{}, TypeError],
      [NaN, RangeError], [-1, RangeError], [-4, RangeError], [1.5, RangeError], [Infinity, RangeError], [-Infinity, RangeError], [2 ** 53, RangeError],
      [0, InvalidPointerError], [4, InvalidPointerError], [2 ** 32, InvalidPointerError], [2 ** 40, InvalidPointerError], [2 ** 53 - 1, InvalidPointerError],
    ];
    for (const [bad, type] of rule) {
      assert.throws(() => arena.readString(bad as number), (e: unknown) => e instanceof type &&
        (type === InvalidPointerError || !(e instanceof InvalidPointerError)) &&
        /^BumpArena\.readString: /.test((e as Error).message) &&
        (type === InvalidPointerError ? (e as InvalidPointerError).ptr === bad : /\bptr\b/.test((e as Error).message)),
      `readString(${typeof bad === 'bigint' ? `${bad}n` : String(bad)}) throws ${type.name}`);
      assert.equal(arena.remaining(), before);
    }
    assert.equal(arena.readString(p), 'abc');
  });

  test(`${label(shared)} BumpArena rejects bad arguments and stays unchanged`, () => {
    const arena = new BumpArena(256, { shared });
    arena.alloc(3, 1);
    const before = arena.remaining();
    const cases: [string, () => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      ['new(0)', () => new BumpArena(0), RangeError, /BumpArena: capacity .* got 0/],
      ['new(-1)', () => new BumpArena(-1), RangeError, /capacity .* got -1/],
      ['new(1.5)', () => new BumpArena(1.5), RangeError, /capacity .* got 1\.5/],
      ['new(NaN)', () => new BumpArena(NaN), RangeError, /capacity .* got NaN/],
      ['new(2**33)', () => new BumpArena(2 ** 33), RangeError, /capacity .* got 8589934592/],
      ['new("8")', () => new BumpArena('8' as never), TypeError, /capacity must be a number, got "8"/],
      ['new(8, 1)', () => new BumpArena(8, 1 as never), TypeError, /opts must be an object/],
      ['shared: "yes"', () => new BumpArena(8, { shared: 'yes' as never }), TypeError, /opts\.shared must be a boolean/],
      ['alloc(-1)', () => arena.alloc(-1), RangeError, /BumpArena\.alloc: size .* got -1/],
      ['alloc(1.5)', () => arena.alloc(1.5), RangeError, /size .* got 1\.5/],
      ['alloc(NaN)', () => arena.alloc(NaN), RangeError, /size .* got NaN/],
      ['alloc("1")', () => arena.alloc('1' as never), TypeError, /size must be a number, got "1"/],
      ['alloc(1, 3)', () => arena.alloc(1, 3), RangeError, /align must be a power of two .* got 3/],
      ['alloc(1, 0)', () => arena.alloc(1, 0), RangeError, /align .* got 0/],
      ['alloc(1, -8)', () => arena.alloc(1, -8), RangeError, /align .* got -8/],
      ['alloc(1, 2**32)', () => arena.alloc(1, 2 ** 32), RangeError, /align .* got 4294967296/],
      ['tryAlloc(1, 1.5)', () => arena.tryAlloc(1, 1.5), RangeError, /align .* got 1\.5/],
      ['tryAlloc(1, "8")', () => arena.tryAlloc(1, '8' as never), TypeError, /align must be a number/],
      ['allocSlice(Array)', () => arena.allocSlice(Array as never, 1), TypeError, /type must be a typed array constructor/],
      ['allocSlice(DataView)', () => arena.allocSlice(DataView as never, 1), TypeError, /type must be a typed array constructor/],
      ['allocSlice(length -1)', () => arena.allocSlice(Uint8Array, -1), RangeError, /length .* got -1/],
      ['tryAllocSlice(length 1.5)', () => arena.tryAllocSlice(Uint8Array, 1.5), RangeError, /length .* got 1\.5/],
      ['allocSlice(length NaN)', () => arena.allocSlice(Uint8Array, NaN), RangeError, /length .* got NaN/],
      ['allocSlice(BigInt64Array, fill 1)', () => arena.allocSlice(BigInt64Array, 1, 1), TypeError, /fill must be a bigint/],
      ['allocSlice(Float64Array, fill 1n)', () => arena.allocSlice(Float64Array, 1, 1n), TypeError, /fill must be a number/],
      ['tryAllocSlice(Uint8Array, fill "x")', () => arena.tryAllocSlice(Uint8Array, 1, 'x' as never), TypeError, /fill must be a number/],
      ['allocString(5)', () => arena.allocString(5 as never), TypeError, /s must be a string, got 5/],
    ];
    for (const [name, fn, type, message] of cases) {
      assert.throws(fn, (e: unknown) => e instanceof type && !(e instanceof OutOfMemoryError) && message.test((e as Error).message), name);
      assert.equal(arena.remaining(), before, name);
    }
    arena.check();
  });

  test(`${label(shared)} BumpArena survives seeded random allocations`, () => {
    const rng = seeded(`bump arena random ops (${label(shared)})`);
    const arena = new BumpArena(1 << 16, { shared });
    const data = arena.memory.byteLength - arena.capacity;
    let end = arena.memory.byteLength;
    let live: { p: number; n: number; stamp: number }[] = [];
    for (let step = 0; step < 5000; step++) {
      const op = rng.int(0, 99);
      if (op < 2) {
        arena.reset();
        end = arena.memory.byteLength;
        live = [];
      } else if (op < 80) {
        const n = rng.int(0, 200);
        const align = 2 ** rng.int(0, 6);
        const p = arena.tryAlloc(n, align);
        const expected = Math.floor((end - n) / align) * align;
        if (expected < data) {
          assert.equal(p, 0, `step ${step}: should not fit`);
        } else {
          assert.equal(p, expected, `step ${step}: alloc(${n}, ${align})`);
          end = p;
          const stamp = step & 0xff;
          arena.memory.u8.fill(stamp, p, p + n);
          live.push({ p, n, stamp });
        }
      } else if (op < 90) {
        const s = 'ü'.repeat(rng.int(0, 10)) + String(step);
        const n = 4 + new TextEncoder().encode(s).length;
        const expected = Math.floor((end - n) / 4) * 4;
        if (expected < data) {
          assert.throws(() => arena.allocString(s), OutOfMemoryError);
        } else {
          const p = arena.allocString(s);
          assert.equal(p, expected);
          assert.equal(arena.readString(p), s);
          end = p;
        }
      } else {
        const length = rng.int(0, 20);
        const v = arena.tryAllocSlice(Int32Array, length, step);
        if (v !== null) {
          end = v.byteOffset;
          assert.ok(v.every((x) => x === step));
        }
      }
      assert.equal(arena.remaining(), end - data, `step ${step}: remaining`);
      arena.check();
    }
    const u8 = arena.memory.u8;
    for (const { p, n, stamp } of live) {
      for (let b = p; b < p + n; b++) if (u8[b] !== stamp) assert.fail(`allocation at ${p} overwritten at ${b}`);
    }
  });
}

test('an unshared BumpArena has no handle', () => {
  assert.throws(() => new BumpArena(8).handle(), /TypeError: BumpArena\.handle: this arena is not shared/);
});

test('a shared BumpArena attached twice in one worker hands out disjoint memory', () => {
  const arena = new BumpArena(1024, { shared: true });
  const other = BumpArena.attach(arena.handle());
  assert.equal(other.capacity, 1024);
  assert.equal(other.memory.buffer, arena.memory.buffer);
  const spans: [number, number][] = [];
  for (let i = 0; i < 40; i++) {
    const a = i % 2 === 0 ? arena : other;
    const p = a.alloc(10, 4);
    spans.push([p, p + 10]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1]![1] <= spans[i]![0]);
  assert.equal(arena.remaining(), other.remaining());
  assert.equal(arena.remaining(), 1024 - 40 * 12);
  const s = other.allocString('shared ✓');
  assert.equal(arena.readString(s), 'shared ✓');
  other.reset();
  assert.equal(arena.remaining(), 1024);
});

test('BumpArena.attach refuses foreign, truncated, other-version and corrupt buffers', () => {
  const good = new BumpArena(256, { shared: true });
  const goodBuffer = good.handle().buffer;
  const copy = (n: number): SharedArrayBuffer => {
    const b = new SharedArrayBuffer(n);
    new Uint8Array(b).set(new Uint8Array(goodBuffer).subarray(0, Math.min(n, goodBuffer.byteLength)));
    return b;
  };
  const withHeader = (kind: Kind, version: number): SharedArrayBuffer => {
    const b = copy(goodBuffer.byteLength);
    writeHeader(new Int32Array(b, 0, 4), kind, version, b.byteLength);
    return b;
  };
  const corruptHeader = copy(goodBuffer.byteLength);
  new Uint8Array(corruptHeader)[9] ^= 0x40;
  const badEnd = copy(goodBuffer.byteLength);
  new Uint32Array(badEnd)[4] = 3;
  const badCapacity = copy(goodBuffer.byteLength);
  new Uint32Array(badCapacity)[5] = 999;
  const cases: [string, unknown, RegExp][] = [
    ['null handle', null, /handle must be a BumpArenaHandle, got null/],
    ['a number', 5, /handle must be a BumpArenaHandle, got 5/],
    ['no buffer', {}, /handle\.buffer must be a SharedArrayBuffer, got undefined/],
    ['an ArrayBuffer', { buffer: new ArrayBuffer(300) }, /must be a SharedArrayBuffer/],
    ['too short for a header', { buffer: new SharedArrayBuffer(8) }, /truncated .*no header/],
    ['foreign (zeros)', { buffer: new SharedArrayBuffer(300) }, /not one of this library's/],
    ['truncated copy', { buffer: copy(100) }, /truncated/],
    ['other version', { buffer: withHeader(Kind.BumpArena, 2) }, /layout version 2/],
    ['other kind', { buffer: withHeader(Kind.Quota, 1) }, /another kind of structure/],
    ['corrupt header', { buffer: corruptHeader }, /corrupt header/],
    ['end pointer out of range', { buffer: badEnd }, /corrupt state \(end pointer 3/],
    ['capacity mismatch', { buffer: badCapacity }, /corrupt state \(capacity 999/],
  ];
  for (const [name, handle, message] of cases) {
    assert.throws(() => BumpArena.attach(handle as never),
      (e: unknown) => e instanceof TypeError && message.test(e.message), name);
  }
  assert.equal(BumpArena.attach({ buffer: copy(goodBuffer.byteLength) }).remaining(), 256);
});

test('BumpArena in debug mode hands out poisoned memory', () => {
  const saved = getDebug();
  setDebug({ enabled: true });
  try {
    const arena = new BumpArena(64);
    const p = arena.alloc(16);
    assert.ok(arena.memory.u8.subarray(p, p + 16).every((b) => b === FRESH_BYTE));
    arena.memory.u8.fill(1, p, p + 16);
    arena.reset();
    const q = arena.alloc(16);
    assert.equal(q, p);
    assert.ok(arena.memory.u8.subarray(q, q + 16).every((b) => b === FRESH_BYTE));
  } finally {
    setDebug(saved);
  }
});
