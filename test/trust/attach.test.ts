/**
 * Attach safety: for every structure that can be shared (Quota, SlabArena, BumpArena),
 * `attach()` of anything but a live handle of its own kind and layout version fails with a
 * clear TypeError: never a silently working object over garbage. A good handle survives
 * structured cloning (what postMessage does) and attaches to the same state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER_BYTES, writeHeader } from '../../src/internal/header.js';
import { BumpArena, need, Quota, SlabArena, unless } from '../support/lib.js';

interface Shareable {
  handle(): unknown;
}
interface Subject {
  name: string;
  skip: false | string;
  make(): Shareable;
  makeUnshared(): Shareable;
  attach(h: unknown): Shareable;
  /** Reads a fact of the state through an object, to compare an attached one with its origin. */
  probe(x: Shareable): unknown;
  /** Changes the state through one object, so the other can be seen to follow. */
  poke(x: Shareable): void;
}

const SLAB = 1 << 16;

const subjects: Subject[] = [
  {
    name: 'Quota',
    skip: unless('Quota'),
    make: () => new (need(Quota, 'Quota'))(1 << 20, { shared: true }),
    makeUnshared: () => new (need(Quota, 'Quota'))(1 << 20, { shared: false }),
    attach: (h) => need(Quota, 'Quota').attach(h),
    probe: (x) => [(x as InstanceType<NonNullable<typeof Quota>>).used, (x as InstanceType<NonNullable<typeof Quota>>).total],
    poke: (x) => void (x as InstanceType<NonNullable<typeof Quota>>).use(5000),
  },
  {
    name: 'SlabArena',
    skip: unless('SlabArena', 'Quota'),
    make: () => new (need(SlabArena, 'SlabArena'))({ quota: new (need(Quota, 'Quota'))(8 * SLAB), slabSize: SLAB, shared: true }),
    makeUnshared: () => new (need(SlabArena, 'SlabArena'))({ quota: new (need(Quota, 'Quota'))(8 * SLAB, { shared: false }), slabSize: SLAB, shared: false }),
    attach: (h) => need(SlabArena, 'SlabArena').attach(h),
    probe: (x) => {
      const a = x as InstanceType<NonNullable<typeof SlabArena>>;
      return [a.used, a.slabSize, a.maximum, a.quota.used];
    },
    poke: (x) => void (x as InstanceType<NonNullable<typeof SlabArena>>).map(),
  },
  {
    name: 'BumpArena',
    skip: unless('BumpArena'),
    make: () => new (need(BumpArena, 'BumpArena'))(4096, { shared: true }),
    makeUnshared: () => new (need(BumpArena, 'BumpArena'))(4096),
    attach: (h) => need(BumpArena, 'BumpArena').attach(h),
    probe: (x) => {
      const a = x as InstanceType<NonNullable<typeof BumpArena>>;
      return [a.remaining(), a.capacity];
    },
    poke: (x) => void (x as InstanceType<NonNullable<typeof BumpArena>>).alloc(100),
  },
];

/** A copy of `sab` (same growability), `len` bytes of it, optionally edited. */
function copyOf(sab: SharedArrayBuffer, len = sab.byteLength, edit?: (i32: Int32Array, u8: Uint8Array) => void): SharedArrayBuffer {
  const out = sab.growable
    ? new SharedArrayBuffer(len, { maxByteLength: Math.max(len, Math.min(sab.maxByteLength, len === sab.byteLength ? sab.maxByteLength : len)) })
    : new SharedArrayBuffer(len);
  new Uint8Array(out).set(new Uint8Array(sab, 0, Math.min(len, sab.byteLength)));
  if (edit !== undefined) edit(new Int32Array(out, 0, len >>> 2), new Uint8Array(out));
  return out;
}

/** The handle with its `buffer` replaced. */
function withBuffer(h: unknown, buffer: unknown): unknown {
  return { ...(h as object), buffer };
}

function assertRefused(s: Subject, h: unknown, why: RegExp | null, what: string): void {
  assert.throws(() => s.attach(h), (e: unknown) => {
    assert.ok(e instanceof TypeError, `${s.name}.attach(${what}): expected a TypeError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    // A SlabArena handle carries its quota's: a bad one is refused by Quota.attach, named so.
    assert.match(e.message, new RegExp(`(${s.name}|Quota)\\.attach`), `${what}: the message names ${s.name}.attach`);
    if (why !== null) assert.match(e.message, why, `${what}: the message says why`);
    return true;
  }, `${s.name}.attach(${what}) must throw`);
}

let cases = 0;
for (const s of subjects) {
  test(`${s.name}.attach of a cloned handle sees and changes the same state`, { skip: s.skip }, () => {
    const a = s.make();
    const b = s.attach(structuredClone(a.handle()));
    assert.deepEqual(s.probe(b), s.probe(a));
    s.poke(b);
    assert.deepEqual(s.probe(a), s.probe(b));
    s.poke(a);
    assert.deepEqual(s.probe(b), s.probe(a));
  });

  test(`${s.name}.handle of an unshared ${s.name} is a TypeError`, { skip: s.skip }, () => {
    assert.throws(() => s.makeUnshared().handle(), TypeError);
    cases++;
  });

  test(`${s.name}.attach refuses what is not a handle of its own with a clear TypeError`, { skip: s.skip }, () => {
    const a = s.make();
    const h = a.handle() as { buffer: SharedArrayBuffer };
    const buf = h.buffer;
    assert.ok(buf instanceof SharedArrayBuffer, 'a handle carries its state in a SharedArrayBuffer');
    const before = JSON.stringify(s.probe(a));
    const kindVersion = new Int32Array(buf, 0, 4)[1]!;
    const declared = new Int32Array(buf, 0, 4)[2]!;
    const table: [string, unknown, RegExp | null][] = [
      ['undefined', undefined, null],
      ['null', null, null],
      ['a number', 42, null],
      ['a string', 'handle', null],
      ['an empty object', {}, null],
      ['a handle whose buffer is an ArrayBuffer', withBuffer(h, new ArrayBuffer(buf.byteLength)), /SharedArrayBuffer/],
      ['a handle whose buffer is a typed array', withBuffer(h, new Int32Array(buf)), /SharedArrayBuffer/],
      ['a zeroed buffer of the same size (not ours)', withBuffer(h, new SharedArrayBuffer(buf.byteLength)), /not one of this library's|magic/],
      ['a buffer of random bytes', withBuffer(h, copyOf(buf, buf.byteLength, (_i, u8) => {
        for (let i = 0; i < u8.length; i++) u8[i] = (i * 2654435761) >>> 24;
      })), null],
      ['a buffer too short for a header', withBuffer(h, new SharedArrayBuffer(8)), /truncated/],
      ['a buffer cut right after its header', withBuffer(h, copyOf(buf, HEADER_BYTES)), /truncated/],
      ['a buffer cut short of its state', withBuffer(h, copyOf(buf, Math.max(HEADER_BYTES, (declared >>> 1) & ~7))), /truncated/],
      ['a header with a corrupt magic', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[0] = i32[0]! ^ 1; })), /magic|not one of/],
      ['a header with a corrupt length', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[2] = i32[2]! ^ 0x40; })), /corrupt/],
      ['a header with a corrupt check word', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[3] = i32[3]! + 1; })), /corrupt/],
      ['a header with a corrupt kind/version (check word kept)', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[1] = i32[1]! ^ 0x10000; })), /corrupt/],
      ['a buffer of another layout version', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (kindVersion >>> 16) as never, (kindVersion & 0xffff) + 1, declared);
      })), /version/],
      ['a buffer of layout version 0', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (kindVersion >>> 16) as never, 0, declared);
      })), /version/],
      ['a buffer of another kind of structure', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (((kindVersion >>> 16) % 3) + 1) as never, kindVersion & 0xffff, declared);
      })), /kind/],
    ];
    for (const other of subjects) {
      if (other === s || other.skip !== false) continue;
      table.push([`a handle of a ${other.name}`, other.make().handle(), /kind|truncated/]);
    }
    if (s.name === 'SlabArena') {
      table.push(['a handle without its quota', { buffer: buf }, /quota/]);
      table.push(['a handle whose quota is not a Quota handle', { ...h, quota: { buffer: new SharedArrayBuffer(64) } }, /Quota/]);
    }
    if (s.name === 'BumpArena' || s.name === 'SlabArena') {
      // Control words right after the header, all ones: no valid state reads like that.
      table.push(['a buffer whose state words are garbage', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        for (let i = 4; i < 8; i++) i32[i] = -1;
      })), /corrupt/]);
    }
    for (const [what, handle, why] of table) {
      assertRefused(s, handle, why, what);
      cases++;
    }
    assert.equal(JSON.stringify(s.probe(a)), before, 'the original is untouched');
  });
}

test('attach cases are counted', () => {
  console.log(`attach: ${cases} refused handles tried`);
});
