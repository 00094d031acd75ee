/**
 * Model of `BumpArena` (bitena): what remains, which allocations are live and what they hold.
 * The contract fixes remaining() only up to alignment padding, so the model checks that each
 * allocation consumed between `size` and `size + align - 1` bytes, that one must succeed when
 * `size + align - 1` bytes remain and must fail when fewer than `size` do, that a failure
 * changes nothing, and that `Σ consumed === capacity - remaining()`. Slices keep their fill,
 * strings read back, stamps survive until `reset()`.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { BumpArena, OutOfMemoryError, type TypedArray, type TypedArrayConstructor } from '../../../src/index.js';
import {
  assertDisjoint, command, expectThrow, sizeArb, stamp, verifyAll, type Block, type ModelSpec, type Real,
} from '../../support/model.js';

interface Str {
  ptr: number;
  s: string;
}
interface M {
  readonly capacity: number;
  remaining: number;
  readonly live: Block[];
  readonly strings: Str[];
  tag: number;
}
interface R extends Real {
  arena: BumpArena;
}

const SLICE_TYPES = [Uint8Array, Int16Array, Uint32Array, Float32Array, Float64Array, BigInt64Array] as const;

/** What an allocation of `size` at `align` must do given `m.remaining`: 'fit', 'fail' or 'either'. */
function outlook(m: M, size: number, align: number): 'fit' | 'fail' | 'either' {
  if (size + align - 1 <= m.remaining) return 'fit';
  if (size > m.remaining) return 'fail';
  return 'either';
}

/** Records a successful allocation of `size` at `ptr`; checks its alignment and what it consumed. */
function took(m: M, r: R, ptr: number, size: number, align: number, what: string): number {
  const after = r.arena.remaining();
  const consumed = m.remaining - after;
  assert.ok(ptr > 0, `${what}: never null`);
  assert.equal(ptr % align, 0, `${what}: aligned to ${align}`);
  assert.ok(consumed >= size && consumed <= size + align - 1, `${what}: consumed ${consumed} bytes`);
  assert.ok(ptr + size <= r.arena.memory.byteLength, `${what}: inside the memory`);
  assertDisjoint(m.live, ptr, size, what, true);
  for (const s of m.strings) assertDisjoint([{ ptr: s.ptr, size: 4 + Buffer.byteLength(s.s), tag: 0 }], ptr, size, what, true);
  m.remaining = after;
  return ++m.tag;
}

function failed(m: M, r: R, size: number, align: number, what: string): void {
  assert.notEqual(outlook(m, size, align), 'fit', `${what} failed with ${m.remaining} bytes remaining`);
  assert.equal(r.arena.remaining(), m.remaining, `${what}: a failed allocation changes nothing`);
}

function alloc(m: M, r: R, size: number, align: number, useTry: boolean): void {
  const what = `${useTry ? 'tryAlloc' : 'alloc'}(${size}, ${align})`;
  let ptr = 0;
  if (useTry) ptr = r.arena.tryAlloc(size, align);
  else if (outlook(m, size, align) === 'fail') expectThrow(() => r.arena.alloc(size, align), OutOfMemoryError, what);
  else {
    try {
      ptr = r.arena.alloc(size, align);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
    }
  }
  if (ptr === 0) return failed(m, r, size, align, what);
  const tag = took(m, r, ptr, size, align, what);
  stamp(r.arena.memory.u8, ptr, size, tag);
  m.live.push({ ptr, size, tag });
}

function allocSlice(m: M, r: R, t: number, length: number, fill: number | null, useTry: boolean): void {
  const type = SLICE_TYPES[t % SLICE_TYPES.length]! as unknown as TypedArrayConstructor<TypedArray>;
  const bpe = type.BYTES_PER_ELEMENT;
  const bytes = length * bpe;
  const what = `${useTry ? 'tryAllocSlice' : 'allocSlice'}(${type.name}, ${length})`;
  const f = fill === null ? undefined : bpe === 8 && type.name.startsWith('Big') ? BigInt(fill) : fill;
  let view: TypedArray | null = null;
  if (useTry) view = r.arena.tryAllocSlice(type, length, f);
  else if (bytes > m.capacity) expectThrow(() => r.arena.allocSlice(type, length, f), OutOfMemoryError, what);
  else {
    try {
      view = r.arena.allocSlice(type, length, f);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
    }
  }
  if (view === null) return failed(m, r, bytes, bpe, what);
  assert.equal(view.length, length, `${what}: length`);
  assert.equal(view.buffer, r.arena.memory.buffer, `${what}: a view of the arena's memory`);
  if (f !== undefined) {
    for (let i = 0; i < view.length; i++) assert.equal(view[i], f as never, `${what}: element ${i} is the fill`);
  }
  const tag = took(m, r, view.byteOffset, bytes, bpe, what);
  stamp(r.arena.memory.u8, view.byteOffset, bytes, tag);
  m.live.push({ ptr: view.byteOffset, size: bytes, tag });
}

const spec: ModelSpec<M, R, { capacity: number; shared: boolean }> = {
  name: 'BumpArena',
  quickRuns: 60,
  maxCommands: 50,
  params: fc.record({ capacity: fc.constantFrom(1, 7, 64, 1000, 4096, 65536), shared: fc.boolean() }),
  setup({ capacity, shared }) {
    const arena = new BumpArena(capacity, { shared });
    assert.equal(arena.capacity, capacity);
    assert.equal(arena.remaining(), capacity, 'a new arena has all of its capacity');
    const model: M = { capacity, remaining: capacity, live: [], strings: [], tag: 0 };
    const real: R = {
      arena,
      check() {
        arena.check();
        assert.equal(arena.remaining(), model.remaining, 'remaining()');
        const u8 = arena.memory.u8;
        verifyAll(u8, model.live);
        for (const s of model.strings) assert.equal(arena.readString(s.ptr), s.s, `string at ${s.ptr}`);
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.tuple(sizeArb(5000), fc.constantFrom(1, 2, 8, 16, 64, 4096)), (m: M, r: R, [s, a]) => alloc(m, r, s, a, false)),
    command('tryAlloc', fc.tuple(sizeArb(5000), fc.constantFrom(1, 4, 8, 32)), (m: M, r: R, [s, a]) => alloc(m, r, s, a, true)),
    command('allocSlice', fc.tuple(fc.nat(), sizeArb(2000), fc.option(fc.integer({ min: 0, max: 100 }))),
      (m: M, r: R, [t, n, f]) => allocSlice(m, r, t, n, f, false)),
    command('tryAllocSlice', fc.tuple(fc.nat(), sizeArb(2000), fc.option(fc.integer({ min: 0, max: 100 }))),
      (m: M, r: R, [t, n, f]) => allocSlice(m, r, t, n, f, true)),
    command('allocString', fc.string({ unit: 'binary', maxLength: 40 }), (m: M, r: R, s) => {
      const n = 4 + Buffer.byteLength(s);
      const what = `allocString(${JSON.stringify(s)})`;
      let ptr = 0;
      try {
        ptr = r.arena.allocString(s);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
      }
      if (ptr === 0) return failed(m, r, n, 4, what);
      took(m, r, ptr, n, 4, what);
      m.strings.push({ ptr, s: new TextDecoder().decode(new TextEncoder().encode(s)) });
    }),
    command('reset', fc.constant(null), (m: M, r: R) => {
      r.arena.reset();
      m.remaining = m.capacity;
      m.live.length = 0;
      m.strings.length = 0;
    }),
  ],
};

export const bumpArenaSpecs = [spec];
