/**
 * defineLayout: record layouts over an existing Memory, read and written through cursors.
 *
 * This file is also the worker of its cross-worker test (a Worker started on this very module):
 * in that worker no test is defined, it only runs `layoutWorker`.
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { defineLayout, InvalidPointerError, Memory, type FieldKind, type FieldRecord } from '../src/index.js';
import { seeded, type Rng } from '../dev/rng.js';
import { setCodeGeneration } from '../src/layout.js';
import { runWorkers } from './multi/support.js';

const test = isMainThread ? nodeTest : ((() => undefined) as unknown as typeof nodeTest);

const KB = 1024;

/** The layout drawn in src/layout.ts's header. */
const DIAGRAM = { id: 'u32', score: 'f64', alive: 'bool', tag: { bytes: 3 }, name: { string: 10 } } as const;

// ---- a reference model of the rules, written apart from the implementation ----------------

const SCALAR_SIZE: Record<string, number> = {
  u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8,
};
const SCALARS = Object.keys(SCALAR_SIZE);

/** Offsets, size and align by C's struct rules (fields in order, each at its natural alignment). */
function cStruct(fields: FieldRecord): { offsets: Map<string, number>; size: number; align: number } {
  const offsets = new Map<string, number>();
  let at = 0;
  let align = 1;
  for (const [name, kind] of Object.entries(fields)) {
    let a: number;
    let size: number;
    if (typeof kind === 'string') a = size = SCALAR_SIZE[kind]!;
    else if ('bytes' in kind) [a, size] = [1, kind.bytes];
    else [a, size] = [4, 4 + kind.string];
    at = Math.ceil(at / a) * a;
    offsets.set(name, at);
    at += size;
    align = Math.max(align, a);
  }
  return { offsets, size: Math.ceil(at / align) * align, align };
}

function randomKind(rng: Rng): FieldKind {
  const r = rng.int(0, 13);
  if (r === 12) return { bytes: rng.int(1, 20) };
  if (r === 13) return { string: rng.int(1, 24) };
  return SCALARS[r % SCALARS.length] as FieldKind;
}

/** A random value of `kind`, as the cursor returns it. */
function randomValue(rng: Rng, kind: FieldKind): unknown {
  if (typeof kind !== 'string') {
    if ('bytes' in kind) return Uint8Array.from({ length: kind.bytes }, () => rng.int(0, 255));
    const chars = ['a', 'Z', '0', ' ', 'é', 'ß', '€', '中', '😀'];
    let s = '';
    for (;;) {
      const next = s + rng.pick(chars);
      if (new TextEncoder().encode(next).length > kind.string || rng.chance(0.15)) return s;
      s = next;
    }
  }
  const u32 = (): number => rng.int(0, 0xffffffff);
  switch (kind) {
    case 'u8': return rng.int(0, 255);
    case 'i8': return rng.int(-128, 127);
    case 'u16': return rng.int(0, 65535);
    case 'i16': return rng.int(-32768, 32767);
    case 'u32': return u32();
    case 'i32': return u32() | 0;
    case 'u64': return (BigInt(u32()) << 32n) | BigInt(u32());
    case 'i64': return BigInt.asIntN(64, (BigInt(u32()) << 32n) | BigInt(u32()));
    case 'f32': return Math.fround((rng.next() - 0.5) * 1e6);
    case 'f64': return (rng.next() - 0.5) * 1e300;
    default: return rng.chance(0.5);
  }
}

/** The field of `kind` at `at`, read with a little-endian DataView (and u8 for bytes). */
function readRef(m: Memory, at: number, kind: FieldKind): unknown {
  const dv = m.dv;
  if (typeof kind !== 'string') {
    if ('bytes' in kind) return m.u8.slice(at, at + kind.bytes);
    const n = dv.getUint32(at, true);
    return new TextDecoder().decode(m.u8.slice(at + 4, at + 4 + n));
  }
  switch (kind) {
    case 'u8': return dv.getUint8(at);
    case 'i8': return dv.getInt8(at);
    case 'u16': return dv.getUint16(at, true);
    case 'i16': return dv.getInt16(at, true);
    case 'u32': return dv.getUint32(at, true);
    case 'i32': return dv.getInt32(at, true);
    case 'u64': return dv.getBigUint64(at, true);
    case 'i64': return dv.getBigInt64(at, true);
    case 'f32': return dv.getFloat32(at, true);
    case 'f64': return dv.getFloat64(at, true);
    default: return dv.getUint8(at) !== 0;
  }
}

/** Writes `value` as the field of `kind` at `at` with a little-endian DataView. */
function writeRef(m: Memory, at: number, kind: FieldKind, value: unknown): void {
  const dv = m.dv;
  if (typeof kind !== 'string') {
    if ('bytes' in kind) {
      m.u8.set(value as Uint8Array, at);
      return;
    }
    const bytes = new TextEncoder().encode(value as string);
    dv.setUint32(at, bytes.length, true);
    m.u8.set(bytes, at + 4);
    return;
  }
  const v = value as never;
  switch (kind) {
    case 'u8': dv.setUint8(at, v); break;
    case 'i8': dv.setInt8(at, v); break;
    case 'u16': dv.setUint16(at, v, true); break;
    case 'i16': dv.setInt16(at, v, true); break;
    case 'u32': dv.setUint32(at, v, true); break;
    case 'i32': dv.setInt32(at, v, true); break;
    case 'u64': dv.setBigUint64(at, v, true); break;
    case 'i64': dv.setBigInt64(at, v, true); break;
    case 'f32': dv.setFloat32(at, v, true); break;
    case 'f64': dv.setFloat64(at, v, true); break;
    default: dv.setUint8(at, (value as boolean) ? 1 : 0);
  }
}

type AnyCursor = Record<string, unknown> & { ptr: number };

// ---- layout rules ------------------------------------------------------------------------

test('defineLayout lays fields out in declaration order, each at its natural alignment', () => {
  const d = defineLayout(DIAGRAM);
  assert.deepEqual(['id', 'score', 'alive', 'tag', 'name'].map((f) => d.offsetOf(f)), [0, 8, 16, 17, 20]);
  assert.equal(d.size, 40);
  assert.equal(d.align, 8);

  const mixed = defineLayout({ a: 'u8', b: 'u16', c: 'u8', d: 'u32', e: 'u8', f: 'f64', g: 'i16' });
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((f) => mixed.offsetOf(f)), [0, 2, 4, 8, 12, 16, 24]);
  assert.equal(mixed.size, 32, 'the end (26) rounded up to the align (8)');

  const bytesOnly = defineLayout({ a: { bytes: 3 }, b: 'bool' });
  assert.deepEqual([bytesOnly.size, bytesOnly.align, bytesOnly.offsetOf('b')], [4, 1, 3]);

  const str = defineLayout({ a: 'u8', s: { string: 5 } });
  assert.deepEqual([str.offsetOf('s'), str.size, str.align], [4, 16, 4], "a string's u32 length is 4-aligned");

  const wide = defineLayout({ a: 'i8', b: 'u64', c: 'f32', d: 'i64' });
  assert.deepEqual(['a', 'b', 'c', 'd'].map((f) => wide.offsetOf(f)), [0, 8, 16, 24]);
  assert.equal(wide.size, 32);
});

test('random layouts follow the C struct rules and every value round-trips through the little-endian bytes a DataView reads', () => {
  const rng = seeded('layout random round-trip');
  const memory = Memory.create({ initial: 256 * KB, maximum: 256 * KB });
  for (let round = 0; round < 200; round++) {
    const fields: Record<string, FieldKind> = {};
    const n = rng.int(1, 12);
    for (let i = 0; i < n; i++) fields[`f${i}_${rng.int(0, 99)}`] = randomKind(rng);
    const layout = defineLayout(fields);
    const ref = cStruct(fields);
    assert.equal(layout.size, ref.size, `size of ${JSON.stringify(fields)}`);
    assert.equal(layout.align, ref.align);
    for (const [name, offset] of ref.offsets) assert.equal(layout.offsetOf(name), offset, `${name} in ${JSON.stringify(fields)}`);

    // Records laid end to end from an aligned base: a field spilling past `size` would show.
    const count = rng.int(1, 8);
    const base = layout.align * rng.int(1, 64);
    const c = layout.cursor(memory) as unknown as AnyCursor;
    const written: Record<string, unknown>[] = [];
    for (let r = 0; r < count; r++) {
      c.ptr = base + r * layout.size;
      const values: Record<string, unknown> = {};
      for (const [name, kind] of Object.entries(fields)) {
        values[name] = randomValue(rng, kind);
        if (r % 2 === 0) c[name] = values[name];
        else writeRef(memory, c.ptr + layout.offsetOf(name), kind, values[name]);
      }
      written.push(values);
    }
    for (let r = 0; r < count; r++) {
      c.ptr = base + r * layout.size;
      for (const [name, kind] of Object.entries(fields)) {
        const want = written[r]![name];
        assert.deepEqual(c[name], want, `record ${r}, ${name} (${JSON.stringify(kind)}) through the cursor`);
        assert.deepEqual(readRef(memory, c.ptr + layout.offsetOf(name), kind), want, `record ${r}, ${name} through a DataView`);
      }
    }
  }
});

test('numeric fields store as their typed arrays do, and 64-bit fields are bigints', () => {
  const layout = defineLayout({
    u8: 'u8', i8: 'i8', u16: 'u16', i16: 'i16', u32: 'u32', i32: 'i32', u64: 'u64', i64: 'i64', f32: 'f32', f64: 'f64', bool: 'bool',
  });
  const memory = Memory.wrap(new ArrayBuffer(4 * KB));
  const c = layout.cursor(memory, 64);
  c.u8 = 300; assert.equal(c.u8, 44);
  c.i8 = 200; assert.equal(c.i8, -56);
  c.u16 = -1; assert.equal(c.u16, 65535);
  c.i16 = 40000; assert.equal(c.i16, -25536);
  c.u32 = -1; assert.equal(c.u32, 0xffffffff);
  c.i32 = 2 ** 31; assert.equal(c.i32, -(2 ** 31));
  c.u64 = 2n ** 64n - 1n; assert.equal(c.u64, 2n ** 64n - 1n);
  c.i64 = -(2n ** 63n); assert.equal(c.i64, -(2n ** 63n));
  c.f32 = 0.1; assert.equal(c.f32, Math.fround(0.1));
  c.f64 = -0.1; assert.equal(c.f64, -0.1);
  c.bool = true; assert.equal(c.bool, true);
  assert.equal(memory.u8[64 + layout.offsetOf('bool')], 1, 'true is stored as 1');
  (c as unknown as AnyCursor)['bool'] = 'yes'; assert.equal(c.bool, true);
  c.bool = false; assert.equal(c.bool, false);
  memory.u8[64 + layout.offsetOf('bool')] = 7;
  assert.equal(c.bool, true, 'any non-zero byte reads as true');
  c.u32 = 0x01020304;
  assert.deepEqual([...memory.u8.subarray(64 + layout.offsetOf('u32'), 64 + layout.offsetOf('u32') + 4)], [4, 3, 2, 1], 'little-endian');
  assert.throws(() => { (c as unknown as AnyCursor)['u64'] = 1; }, TypeError, 'a number is not a bigint');
});

test('a byte-array field reads as a view of the record; assigning copies an array or Uint8Array of its length', () => {
  const layout = defineLayout({ n: 'u8', key: { bytes: 4 } });
  const memory = Memory.create({ initial: 4 * KB, maximum: 64 * KB, shared: true });
  const c = layout.cursor(memory, 100);
  c.key = Uint8Array.of(1, 2, 3, 4);
  const view = c.key;
  assert.equal(view.length, 4);
  assert.equal(view.buffer, memory.buffer);
  assert.equal(view.byteOffset, 101);
  view[2] = 99;
  assert.equal(memory.u8[103], 99, 'writes through the view land in the record');
  (c as unknown as AnyCursor)['key'] = [9, 8, 7, 6];
  assert.deepEqual([...c.key], [9, 8, 7, 6]);
  c.key = c.key.map((x) => x + 1);
  assert.deepEqual([...memory.u8.subarray(101, 105)], [10, 9, 8, 7]);
  assert.throws(() => { c.key = Uint8Array.of(1, 2, 3); }, (e: Error) => e instanceof RangeError && /key must be 4 bytes long, got 3/.test(e.message));
  assert.throws(() => { (c as unknown as AnyCursor)['key'] = 'abcd'; }, (e: Error) => e instanceof TypeError && /key must be a Uint8Array or an array/.test(e.message));
  assert.deepEqual([...memory.u8.subarray(101, 105)], [10, 9, 8, 7], 'a refused write wrote nothing');
});

test('a string field reads back what was written, up to its capacity in UTF-8 bytes', () => {
  const layout = defineLayout({ flag: 'bool', name: { string: 8 }, after: 'u8' });
  const memory = Memory.create({ initial: 4 * KB, maximum: 4 * KB, shared: true });
  const c = layout.cursor(memory, 16);
  c.after = 0xaa;
  for (const s of ['', 'a', 'abcdefgh', 'héllo', '€€', 'a😀b', '中中']) {
    c.name = s;
    assert.equal(c.name, s);
    assert.equal(memory.dv.getUint32(16 + layout.offsetOf('name'), true), new TextEncoder().encode(s).length, `length of ${s}`);
  }
  assert.equal(c.after, 0xaa, 'a string never spills into the next field');
  c.name = 'keep';
  const before = memory.u8.slice(16, 16 + layout.size);
  assert.throws(() => { c.name = 'abcdefghi'; }, (e: Error) => e instanceof RangeError && /name holds at most 8 bytes of UTF-8, got 9/.test(e.message));
  assert.throws(() => { c.name = '€€€'; }, (e: Error) => e instanceof RangeError && /name .*got 9/.test(e.message), '3 chars, 9 bytes');
  assert.throws(() => { (c as unknown as AnyCursor)['name'] = 42; }, (e: Error) => e instanceof TypeError && /name must be a string/.test(e.message));
  assert.deepEqual(memory.u8.slice(16, 16 + layout.size), before, 'a refused string wrote nothing');
  assert.equal(c.name, 'keep');
  memory.dv.setUint32(16 + layout.offsetOf('name'), 9, true);
  assert.throws(() => c.name, InvalidPointerError, 'a stored length past the capacity is garbage');
});

// ---- pointers and bounds -----------------------------------------------------------------

test('cursor.ptr takes only a non-negative integer below 2^32 that is a multiple of the align, and keeps its value otherwise', () => {
  const layout = defineLayout({ a: 'u32', b: 'f64' });
  const c = layout.cursor(Memory.wrap(new ArrayBuffer(KB)));
  assert.equal(c.ptr, 0);
  c.ptr = 16;
  for (const bad of [-8, 12, 4, 8.5, NaN, Infinity, 2 ** 32, 2 ** 32 + 8, -0.5]) {
    assert.throws(() => { c.ptr = bad; }, (e: Error) => e instanceof RangeError && /ptr must be a non-negative integer below 2\^32 and a multiple of 8/.test(e.message), String(bad));
  }
  for (const bad of ['16', 16n, null, undefined, {}]) {
    assert.throws(() => { (c as unknown as { ptr: unknown }).ptr = bad; }, (e: Error) => e instanceof TypeError && /ptr must be a number/.test(e.message), String(bad));
  }
  assert.equal(c.ptr, 16);
  c.ptr = 2 ** 32 - 8; // a pointer the memory does not reach yet: accepted, then every access misses
  assert.throws(() => c.a, RangeError);
  const bytes = defineLayout({ x: 'u8' }).cursor(Memory.wrap(new ArrayBuffer(KB)));
  bytes.ptr = 7; // align 1: any integer
  assert.throws(() => { bytes.ptr = 7.5; }, RangeError);
  assert.throws(() => layout.cursor(Memory.wrap(new ArrayBuffer(KB)), 3), RangeError, 'cursor(memory, ptr) checks ptr too');
});

test('a field past the memory\'s end is a RangeError naming it, and a write there writes nothing', () => {
  const layout = defineLayout({ a: 'u32', b: 'f64', s: { string: 4 }, k: { bytes: 4 } }); // size 32
  const memory = Memory.wrap(new ArrayBuffer(64));
  const c = layout.cursor(memory, 48); // a at 48, b at 56: inside; s at 64: past
  c.a = 5;
  c.b = 2.5;
  assert.deepEqual([c.a, c.b], [5, 2.5]);
  const past = (name: string, ptr = 48) => (e: Error) => e instanceof RangeError &&
    new RegExp(`LayoutCursor: ${name} \\(bytes \\d+\\.\\.\\d+ of the 32-byte record at ptr ${ptr}\\) runs past the memory's end \\(64 bytes\\)`).test(e.message);
  assert.throws(() => c.s, past('s'));
  assert.throws(() => { c.s = 'x'; }, past('s'));
  assert.throws(() => c.k, past('k'));
  assert.throws(() => { c.k = Uint8Array.of(1, 2, 3, 4); }, past('k'));
  c.ptr = 64;
  assert.throws(() => c.a, past('a', 64));
  const snapshot = memory.u8.slice();
  assert.throws(() => { c.a = 1; }, RangeError);
  assert.throws(() => { c.b = 1; }, RangeError);
  assert.deepEqual(memory.u8.slice(), snapshot);
});

// ---- growth ------------------------------------------------------------------------------

const GROW = { v: 'f64', n: 'u32', s: { string: 6 } } as const;

/** Writes a record at the old end through a cursor made before the memory grew, and reads it back. */
function growAndUse(memory: Memory, grow: () => void, label: string): void {
  const layout = defineLayout(GROW);
  const c = layout.cursor(memory, 64);
  c.v = 1.25;
  c.n = 7;
  c.s = 'before';
  const oldEnd = memory.byteLength;
  c.ptr = oldEnd;
  assert.throws(() => c.v, RangeError, `${label}: nothing there yet`);
  grow();
  c.v = 3.5;
  c.n = 9;
  c.s = 'after';
  assert.deepEqual([c.v, c.n, c.s], [3.5, 9, 'after'], `${label}: the record past the old end`);
  c.ptr = 64;
  assert.deepEqual([c.v, c.n, c.s], [1.25, 7, 'before'], `${label}: the record written before the growth`);
  const fresh = layout.cursor(memory, oldEnd);
  assert.deepEqual([fresh.v, fresh.n, fresh.s], [3.5, 9, 'after'], `${label}: a new cursor sees the same bytes`);
}

test('a cursor notices growth by itself: resizable, growable shared, and a shared buffer grown through another Memory', () => {
  const resizable = Memory.create({ initial: 64 * KB, maximum: 1024 * KB });
  growAndUse(resizable, () => resizable.grow(128 * KB), 'resizable ArrayBuffer');
  const shared = Memory.create({ initial: 64 * KB, maximum: 1024 * KB, shared: true });
  growAndUse(shared, () => shared.grow(128 * KB), 'growable SharedArrayBuffer');
  const other = Memory.create({ initial: 64 * KB, maximum: 1024 * KB, shared: true });
  const sameBuffer = Memory.wrap(other.buffer);
  growAndUse(other, () => sameBuffer.grow(128 * KB), 'grown by another Memory over the same buffer (as by a worker)');
});

test('a cursor notices that a wasm memory swapped its buffer, shared or not, grown through Memory or directly', () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 8 });
  const m1 = Memory.wrap(wasm);
  growAndUse(m1, () => wasm.grow(1), 'wasm memory grown directly (its old buffer is detached)');
  const wasm2 = new WebAssembly.Memory({ initial: 1, maximum: 8 });
  const m2 = Memory.wrap(wasm2);
  growAndUse(m2, () => m2.grow(2 * 65536), 'wasm memory grown through Memory');
  const shared = new WebAssembly.Memory({ initial: 1, maximum: 8, shared: true });
  const m3 = Memory.wrap(shared);
  growAndUse(m3, () => shared.grow(1), 'shared wasm memory');

  // A write right after a detaching grow, with no read in between, lands in the new buffer.
  const wasm4 = new WebAssembly.Memory({ initial: 1, maximum: 8 });
  const c = defineLayout(GROW).cursor(Memory.wrap(wasm4), 128);
  c.v = 1;
  wasm4.grow(1);
  c.n = 42;
  assert.equal(new DataView(wasm4.buffer).getUint32(136, true), 42);
  assert.equal(new DataView(wasm4.buffer).getFloat64(128, true), 1);
});

// ---- plain data, classes, bad input -----------------------------------------------------

test('fields is a frozen copy of the record given, and defineLayout(fields) or a structured clone of it rebuilds the layout', () => {
  const given = { id: 'u32', score: 'f64', tag: { bytes: 3 }, name: { string: 10 } } as Record<string, FieldKind>;
  const layout = defineLayout(given);
  assert.deepEqual(layout.fields, given);
  assert.deepEqual(Object.keys(layout.fields), Object.keys(given), 'in declaration order');
  assert.ok(Object.isFrozen(layout.fields));
  assert.ok(Object.isFrozen(layout.fields['tag']));
  assert.ok(!Object.isFrozen(given), 'the caller\'s object is left alone');
  given['extra'] = 'u8';
  (given['tag'] as { bytes: number }).bytes = 100;
  assert.deepEqual(Object.keys(layout.fields), ['id', 'score', 'tag', 'name'], 'later changes to the given record do not reach the layout');
  assert.deepEqual(layout.fields['tag'], { bytes: 3 });
  for (const again of [defineLayout(layout.fields), defineLayout(structuredClone(layout.fields)), defineLayout(JSON.parse(JSON.stringify(layout.fields)))]) {
    assert.deepEqual([again.size, again.align], [layout.size, layout.align]);
    for (const name of Object.keys(layout.fields)) assert.equal(again.offsetOf(name), layout.offsetOf(name));
  }
});

test('offsetOf names an unknown field in a RangeError and a non-string in a TypeError', () => {
  const layout = defineLayout(DIAGRAM);
  assert.throws(() => layout.offsetOf('nope'), (e: Error) => e instanceof RangeError && /Layout\.offsetOf: field must be a field of this layout \(id, score, alive, tag, name\), got "nope"/.test(e.message));
  assert.throws(() => layout.offsetOf('toString'), RangeError);
  assert.throws(() => layout.offsetOf(1 as unknown as string), TypeError);
});

test('where code generation is refused, cursors built of closures write the same bytes, read the same values and throw the same errors as compiled ones', () => {
  const rng = seeded('layout closures vs compiled');
  const memory = Memory.create({ initial: 64 * KB, maximum: 128 * KB });
  const outcome = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  };
  for (let round = 0; round < 100; round++) {
    const fields: Record<string, FieldKind> = {};
    const n = rng.int(1, 10);
    for (let i = 0; i < n; i++) fields[`f${i}`] = randomKind(rng);
    const compiled = defineLayout(fields);
    let closures;
    try {
      setCodeGeneration(false);
      closures = defineLayout(fields);
    } finally {
      setCodeGeneration(undefined);
    }
    assert.notEqual(Object.getPrototypeOf(closures.cursor(memory)), Object.getPrototypeOf(compiled.cursor(memory)));
    const a = compiled.cursor(memory) as unknown as AnyCursor;
    const b = closures.cursor(memory) as unknown as AnyCursor;
    // The last record may run past the end, and one pointer in ten is bad: errors must agree too.
    const size = compiled.size;
    const last = Math.floor(64 * KB / compiled.align) * compiled.align - rng.int(0, 2) * compiled.align;
    for (let r = 0; r < 6; r++) {
      const ptr = r === 5 ? last : rng.int(0, 9) === 0 ? rng.pick([-1, 0.5, 2 ** 32, compiled.align > 1 ? 1 : -8]) : compiled.align * rng.int(0, Math.floor((64 * KB - size) / compiled.align));
      assert.deepEqual(outcome(() => { b.ptr = ptr; }), outcome(() => { a.ptr = ptr; }), `ptr ${ptr}`);
      for (const [name, kind] of Object.entries(fields)) {
        const value = rng.int(0, 9) === 0 ? rng.pick([undefined, 'x'.repeat(40), new Uint8Array(1), 1n, 1.5]) : randomValue(rng, kind);
        const before = memory.u8.slice();
        const wa = outcome(() => { a[name] = value; });
        const afterA = memory.u8.slice();
        memory.u8.set(before);
        const wb = outcome(() => { b[name] = value; });
        assert.deepEqual(wb, wa, `writing ${name} (${JSON.stringify(kind)}) at ${a.ptr}`);
        assert.ok(Buffer.from(memory.u8).equals(Buffer.from(afterA)), `bytes written to ${name} at ${a.ptr}`);
        assert.deepEqual(outcome(() => b[name]), outcome(() => a[name]), `reading ${name} at ${a.ptr}`);
      }
    }
  }
});

test('cursors of one layout share one class; each layout has its own; odd field names work', () => {
  const a = defineLayout({ x: 'f64' });
  const b = defineLayout({ y: 'f64' });
  const memory = Memory.wrap(new ArrayBuffer(KB));
  assert.equal(Object.getPrototypeOf(a.cursor(memory)), Object.getPrototypeOf(a.cursor(memory)));
  assert.notEqual(Object.getPrototypeOf(a.cursor(memory)), Object.getPrototypeOf(b.cursor(memory)));
  const odd = defineLayout({ constructor: 'u32', __proto__x: 'u8', 'two words': 'u16', toString: 'u8' } as FieldRecord);
  const c = odd.cursor(memory, 8);
  Reflect.set(c, 'constructor', 5);
  Reflect.set(c, 'two words', 513);
  Reflect.set(c, 'toString', 1);
  assert.deepEqual(['constructor', 'two words', 'toString'].map((k) => Reflect.get(c, k)), [5, 513, 1]);
  const proto = defineLayout(JSON.parse('{"__proto__": "u8", "b": "u8"}') as FieldRecord);
  assert.deepEqual(Object.keys(proto.fields), ['__proto__', 'b']);
  const pc = proto.cursor(memory, 32) as unknown as AnyCursor;
  pc['__proto__'] = 3;
  assert.equal(memory.u8[32], 3);
  assert.equal(pc['__proto__'], 3);
});

test('defineLayout rejects bad input with a TypeError or RangeError that names the field', () => {
  const type = (re: RegExp) => (e: Error) => e instanceof TypeError && re.test(e.message);
  const range = (re: RegExp) => (e: Error) => e instanceof RangeError && re.test(e.message);
  const define = defineLayout as (x: unknown) => unknown;
  for (const bad of [null, undefined, 5, 'u8', [], ['u8']]) assert.throws(() => define(bad), type(/defineLayout: fields must be an object/), String(bad));
  assert.throws(() => define({}), range(/at least one field/));
  assert.throws(() => define({ a: 'u9' }), type(/defineLayout: fields\.a must be one of 'u8', .* \{ bytes: n \} or \{ string: capacity \}, got "u9"/));
  assert.throws(() => define({ a: null }), type(/fields\.a/));
  assert.throws(() => define({ a: 8 }), type(/fields\.a/));
  assert.throws(() => define({ 'a b': 'toString' }), type(/fields\["a b"\]/));
  assert.throws(() => define({ a: { bytes: 4, string: 4 } }), type(/fields\.a/));
  assert.throws(() => define({ a: { size: 4 } }), type(/fields\.a/));
  assert.throws(() => define({ a: { bytes: '4' } }), type(/fields\.a\.bytes must be a number/));
  for (const n of [0, -1, 1.5, NaN, 2 ** 32]) {
    assert.throws(() => define({ a: 'u8', b: { bytes: n } }), range(/fields\.b\.bytes must be an integer/), String(n));
    assert.throws(() => define({ a: 'u8', b: { string: n } }), range(/fields\.b\.string must be an integer/), String(n));
  }
  assert.throws(() => define({ a: 'u32', b: { bytes: 2 ** 32 - 4 }, c: 'u8' }), range(/fields\.c would end at byte 4294967297/));
  assert.throws(() => define({ ptr: 'u32' }), range(/fields\.ptr: the name "ptr" is the cursor's pointer/));
  assert.throws(() => define({ a: 'u8', 1: 'u8' }), range(/fields\["1"\]: a name that is an array index/));
  assert.throws(() => define({ [Symbol('s')]: 'u8', a: 'u8' }), type(/keyed by strings only/));
  const big = defineLayout({ a: 'u32', b: { bytes: 2 ** 32 - 4 } });
  assert.equal(big.size, 2 ** 32, 'a record as large as the largest memory is allowed');
});

test('cursor() takes only a Memory', () => {
  const layout = defineLayout({ a: 'u8' });
  for (const bad of [new ArrayBuffer(8), {}, undefined, null]) {
    assert.throws(() => layout.cursor(bad as unknown as Memory), (e: Error) => e instanceof TypeError && /Layout\.cursor: memory must be a Memory/.test(e.message));
  }
});

// ---- across workers ----------------------------------------------------------------------

/** What the main thread posts to the worker. */
interface WorkerTask {
  fields: FieldRecord;
  buffer: SharedArrayBuffer;
  base: number;
  count: number;
  /** The layout as the main thread computed it, for the worker to compare with its own. */
  size: number;
  offsets: Record<string, number>;
}

/** What the worker answers. */
interface WorkerReport {
  error?: string;
  checked?: number;
  /** Where the worker wrote `count` records past the memory's end as the main thread knew it. */
  grownBase?: number;
}

const RECORD = {
  id: 'u32', score: 'f64', big: 'i64', alive: 'bool', tag: { bytes: 5 }, name: { string: 20 },
} as const satisfies FieldRecord;

function expected(i: number): { id: number; score: number; big: bigint; alive: boolean; tag: number[]; name: string } {
  return {
    id: i * 7 + 1, score: i * 1.5, big: BigInt(i) * -(2n ** 40n), alive: i % 3 === 0,
    tag: [i & 255, 1, 2, 3, (i * 13) & 255], name: `rec ${i} é😀`,
  };
}

/** The worker's side: rebuild the layout from plain data, check every record, update, grow, write more. */
function layoutWorker(task: WorkerTask): WorkerReport {
  const layout = defineLayout(task.fields);
  assert.equal(layout.size, task.size, 'the same size in the worker');
  for (const [name, offset] of Object.entries(task.offsets)) assert.equal(layout.offsetOf(name), offset, `the same offset of ${name}`);
  const memory = Memory.wrap(task.buffer);
  const c = layout.cursor(memory) as unknown as AnyCursor;
  for (let i = 0; i < task.count; i++) {
    c.ptr = task.base + i * layout.size;
    const e = expected(i);
    assert.deepEqual([c['id'], c['score'], c['big'], c['alive'], [...(c['tag'] as Uint8Array)], c['name']], [e.id, e.score, e.big, e.alive, e.tag, e.name], `record ${i} in the worker`);
    c['score'] = e.score + 1;
  }
  const grownBase = memory.byteLength;
  memory.grow(grownBase + task.count * layout.size);
  for (let i = 0; i < task.count; i++) {
    c.ptr = grownBase + i * layout.size;
    const e = expected(i + 1000);
    Object.assign(c, { id: e.id, score: e.score, big: e.big, alive: e.alive, tag: e.tag, name: e.name });
  }
  return { checked: task.count, grownBase };
}

if (!isMainThread && (workerData as { layoutTask?: WorkerTask } | null)?.layoutTask !== undefined) {
  let report: WorkerReport;
  try {
    report = layoutWorker((workerData as { layoutTask: WorkerTask }).layoutTask);
  } catch (e) {
    report = { error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(report);
}

test('records written in one worker are read in another that rebuilt the layout from layout.fields, and growth there is seen here', { timeout: 20_000 }, async () => {
  const layout = defineLayout(RECORD);
  const memory = Memory.create({ initial: 64 * KB, maximum: 1024 * KB, shared: true });
  const count = 100;
  const base = 1024;
  const c = layout.cursor(memory);
  for (let i = 0; i < count; i++) {
    c.ptr = base + i * layout.size;
    Object.assign(c, expected(i));
  }
  const task: WorkerTask = {
    fields: layout.fields, buffer: memory.buffer as SharedArrayBuffer, base, count, size: layout.size,
    offsets: Object.fromEntries(Object.keys(RECORD).map((f) => [f, layout.offsetOf(f)])),
  };
  const [report] = await runWorkers<WorkerReport>(new URL(import.meta.url), [{ layoutTask: task }], 15_000);
  assert.equal(report!.error, undefined, report!.error);
  assert.equal(report!.checked, count);
  assert.equal(report!.grownBase, 64 * KB);
  for (let i = 0; i < count; i++) {
    c.ptr = base + i * layout.size;
    assert.equal(c.score, expected(i).score + 1, `record ${i} updated by the worker`);
    c.ptr = report!.grownBase! + i * layout.size; // past this thread's views: the cursor syncs
    const e = expected(i + 1000);
    assert.deepEqual([c.id, c.score, c.big, c.alive, [...c.tag], c.name], [e.id, e.score, e.big, e.alive, e.tag, e.name], `record ${i} written by the worker past the old end`);
  }
  assert.ok(memory.byteLength > 64 * KB);
});
