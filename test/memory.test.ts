import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Arena, BumpArena, Memory, OutOfMemoryError, Quota, SlabArena } from '../src/index.js';
import { committed, WASM_BACKED } from './support/paged.js';

test('Memory.create reserves up to maximum and grows on demand', () => {
  const m = Memory.create({ initial: 1024, maximum: 1 << 20 });
  assert.equal(m.byteLength, committed(1024, 1 << 20), 'initial (on Bun rounded up to a wasm page)');
  assert.equal(m.maxByteLength, 1 << 20);
  assert.equal(m.shared, false);
  m.u8[1000] = 7;
  m.grow(65536);
  assert.equal(m.byteLength, 65536);
  assert.equal(m.u8.length, 65536);
  assert.equal(m.u8[1000], 7);
  m.u8[65535] = 9;
  assert.equal(m.dv.getUint8(65535), 9);
  assert.equal(m.i32.length, 16384);
  m.f64[8191] = 1.5;
  assert.equal(m.f64.length, 8192);
  assert.equal(m.dv.getFloat64(65528, true), 1.5);
});

test('Memory.grow past the maximum throws OutOfMemoryError and changes nothing', () => {
  for (const shared of [false, true]) {
    const m = Memory.create({ initial: 4096, maximum: 8192, shared });
    m.u8[4095] = 7;
    assert.throws(() => m.grow(8193), OutOfMemoryError);
    assert.equal(m.byteLength, 4096);
    m.grow(100); // smaller than now: a no-op
    assert.equal(m.byteLength, 4096);
    // Grown to exactly the maximum, it still refuses one byte more, and keeps its bytes.
    m.grow(8192);
    assert.throws(() => m.grow(8193), OutOfMemoryError);
    assert.equal(m.byteLength, 8192);
    assert.equal(m.u8[4095], 7);
    m.grow(8192);
    assert.equal(m.byteLength, 8192);
  }
});

test('Memory.create shared is a growable SharedArrayBuffer', () => {
  const m = Memory.create({ maximum: 1 << 16, shared: true });
  assert.equal(m.shared, true);
  assert.ok(m.buffer instanceof SharedArrayBuffer);
  m.grow(4096);
  const other = Memory.wrap(m.buffer);
  assert.equal(other.maxByteLength, 1 << 16);
  other.grow(8192);
  assert.equal(m.byteLength, 8192);
  assert.equal(m.u8.length, 8192, 'views follow growth made through another Memory');
});

test('Memory.create unshared is fast-backed, not shareable, and keeps views valid across growth', () => {
  const m = Memory.create({ maximum: 1 << 20 });
  assert.equal(m.shared, false);
  assert.ok(m.buffer instanceof SharedArrayBuffer, 'a growable SharedArrayBuffer: V8 is fast on its fixed-length views');
  const arena = new Arena({ memory: m });
  const f = arena.allocAs(Float64Array, 4);
  f[3] = 2.5;
  for (let i = 0; i < 200; i++) arena.allocate(4096); // grows the memory many times
  assert.ok(m.byteLength > 200 * 4096);
  assert.equal(f[3], 2.5, 'a view taken before growth still reads the memory');
  f[2] = 1.25;
  assert.equal(m.dv.getFloat64(f.byteOffset + 16, true), 1.25, 'and writes it');
  const slabs = new SlabArena({ quota: new Quota(1 << 20), shared: false });
  assert.throws(() => slabs.handle(), TypeError);
});

test('Memory.create unshared falls back to a resizable ArrayBuffer where SharedArrayBuffer is missing', () => {
  // A browser page that is not cross-origin isolated has no SharedArrayBuffer constructor.
  const script = `
    const { Memory } = await import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)});
    delete globalThis.SharedArrayBuffer;
    const m = Memory.create({ initial: 8, maximum: 1 << 16 });
    m.u8[7] = 3;
    m.grow(4096);
    if (m.shared || !(m.buffer instanceof ArrayBuffer) || !m.buffer.resizable) throw new Error('not a resizable ArrayBuffer');
    if (m.byteLength !== 4096 || m.u8[7] !== 3) throw new Error('growth lost bytes');
    console.log('ok');
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.trim(), 'ok');
});

test('Memory.wrap of a fixed ArrayBuffer cannot grow', () => {
  const m = Memory.wrap(new ArrayBuffer(64));
  assert.equal(m.maxByteLength, 64);
  assert.throws(() => m.grow(128), OutOfMemoryError);
});

test('Memory.wrap of a WebAssembly.Memory keeps views current after the buffer swaps', () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const m = Memory.wrap(wasm);
  m.u8[10] = 42;
  const before = m.buffer;
  m.grow(2 * 65536 + 1);
  assert.equal(m.byteLength, 3 * 65536);
  assert.notEqual(m.buffer, before);
  assert.equal(m.u8[10], 42);
  assert.equal(m.u8.length, 3 * 65536);
  wasm.grow(1); // grown behind our back
  assert.equal(m.u8.length, 4 * 65536);
  assert.throws(() => m.grow(5 * 65536), OutOfMemoryError);
  assert.equal(m.byteLength, 4 * 65536);
});

test('Memory.wrap of a WebAssembly.Memory sees a grow by zero pages (a new buffer, same length)', () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const m = Memory.wrap(wasm);
  m.u8[7] = 9;
  wasm.grow(0); // detaches the old buffer: the views must move to the new one
  assert.equal(m.u8.buffer, wasm.buffer);
  assert.equal(m.dv.buffer, wasm.buffer);
  assert.equal(m.u8[7], 9);
  assert.equal(m.sync(), false);
});

test('Memory.wrap of an empty WebAssembly.Memory notices its first growth', () => {
  const wasm = new WebAssembly.Memory({ initial: 0, maximum: 2 });
  const m = Memory.wrap(wasm);
  assert.equal(m.u8.length, 0);
  wasm.grow(1);
  assert.equal(m.u8.length, 65536);
});

test('Memory rejects bad arguments with errors naming them', () => {
  assert.throws(() => Memory.create({ maximum: -1 }), /maximum/);
  assert.throws(() => Memory.create({ initial: 1.5 }), RangeError);
  assert.throws(() => Memory.create({ shared: 1 as unknown as boolean }), TypeError);
  assert.throws(() => Memory.wrap({} as ArrayBuffer), TypeError);
  const m = Memory.create({ maximum: 4096 });
  assert.throws(() => m.grow('1' as unknown as number), /byteLength/);
  assert.throws(() => m.grow(NaN), RangeError);
  assert.equal(m.byteLength, 0);
});

// ---- One allocator per Memory ----

test('a Memory given to an Arena is claimed: a second Arena over it is a TypeError naming opts.memory', () => {
  const memory = Memory.create({ maximum: 1 << 20 });
  const first = new Arena({ memory });
  const p = first.allocate(16);
  const before = memory.byteLength;
  assert.throws(() => new Arena({ memory }),
    (e: unknown) => e instanceof TypeError && /^Arena: opts\.memory is already used by Arena$/.test((e as Error).message));
  assert.equal(memory.byteLength, before, 'the refused arena carved nothing');
  assert.equal(first.memoryUsage(), 4096 + 8, 'the first arena is as it was');
  assert.ok(first.allocate(16) > p, 'and goes on bumping where it was');
});

test('an Arena refused for a bad argument does not claim its memory', () => {
  const memory = Memory.create({ maximum: 1 << 20 });
  assert.throws(() => new Arena({ memory, blockSize: 0 }), RangeError);
  assert.ok(new Arena({ memory }).allocate(8) > 0, 'the memory is still free to use');
});

test('a BumpArena\'s memory cannot be given to an Arena', () => {
  const bump = new BumpArena(4096);
  bump.alloc(64);
  const remaining = bump.remaining();
  assert.throws(() => new Arena({ memory: bump.memory }),
    (e: unknown) => e instanceof TypeError && /opts\.memory is already used by BumpArena/.test((e as Error).message));
  assert.equal(bump.remaining(), remaining);
});

test('a SlabArena\'s memory cannot be given to an Arena', () => {
  const arena = new SlabArena({ quota: new Quota(1 << 20), slabSize: 1 << 16 });
  const slab = arena.map();
  arena.memory.u8.fill(7, slab, slab + 64);
  assert.throws(() => new Arena({ memory: arena.memory }),
    (e: unknown) => e instanceof TypeError && /opts\.memory is already used by SlabArena/.test((e as Error).message));
  assert.ok(arena.memory.u8.subarray(slab, slab + 64).every((b) => b === 7), 'the slab is untouched');
  arena.check();
});

test('on Bun, unshared memory and a SlabArena\'s are a shared wasm memory (JavaScriptCore is slow on growable buffers\' views); elsewhere growable buffers', () => {
  const solo = Memory.create({ maximum: 1 << 20 });
  assert.equal((solo.buffer as SharedArrayBuffer).growable, !WASM_BACKED);
  const odd = Memory.create({ maximum: 100_000 });
  assert.equal((odd.buffer as SharedArrayBuffer).growable, true, 'a maximum inside a page keeps the growable buffer');
  const shared = Memory.create({ maximum: 1 << 20, shared: true });
  assert.equal((shared.buffer as SharedArrayBuffer).growable, true, 'Memory.create shared: a worker wraps its buffer and sees it grow');
  const arena = new SlabArena({ quota: new Quota(8 << 16), slabSize: 1 << 16 });
  const handle = structuredClone(arena.handle());
  assert.equal(handle.wasm !== undefined, WASM_BACKED);
  const other = SlabArena.attach(handle);
  const slabs = [];
  for (let i = 0; i < 8; i++) slabs.push(other.map());
  for (const s of slabs) arena.unmap(s); // the memory grew through the other object; this one follows
  arena.check();
  other.check();
  assert.throws(() => SlabArena.attach({ ...handle, wasm: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }) }), /handle\.wasm/);
});
