/**
 * block-header.ts owns the slab bitmaps' encoding (which word and bit hold a slot, where the
 * REMOTE and HELD words are, the slot index of an offset). Mempool's fast paths keep inline
 * copies of some of it (alloc, freeIn, slot): these tests check that the copies and the owner's
 * functions agree, for the geometries the pools pick over a range of object sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mempool, getDebug, setDebug, type SlabCache } from '../../../src/index.js';
import {
  allocBase, allocWord, BITMAPS, bitmapWords, headerBytes, heldWord, lowestSlot, remoteWord, slotBit, slotIndex, slotOf, slotStart,
  tailBits, Word,
} from '../../../src/small/objects/block-header.js';
import { geometry } from '../../../src/small/objects/geometry.js';
import { MB, cacheOf } from './mempool-support.js';

/** Object sizes with strides of many shapes: odd multiples of 4, powers of two, and large ones. */
const SIZES = [
  1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 20, 24, 28, 31, 32, 33, 36, 40, 44, 48, 52, 60, 63, 64, 65, 72, 96, 100, 127, 128, 129, 136,
  192, 200, 255, 256, 264, 300, 384, 500, 512, 640, 776, 904, 1000, 1024, 1500, 2048, 3000, 4000, 4096, 8192, 12_345, 20_000, 65_536,
];

/** A fresh pool of `objsize` objects, checked to have the geometry geometry() gives its slab size. */
function poolOf(cache: SlabCache, objsize: number): Mempool {
  const pool = new Mempool(cache, objsize);
  const g = geometry(objsize, pool.slabSize);
  assert.deepEqual([pool.stride, pool.objcount, pool.first, pool.bw], [g.stride, g.count, g.first, g.bw], `objsize ${objsize}`);
  assert.equal(g.bw, bitmapWords(g.count), `objsize ${objsize}: bitmap words`);
  assert.ok(g.first >= headerBytes(g.bw) && g.first + g.count * g.stride <= pool.slabSize, `objsize ${objsize}: the slots fit`);
  return pool;
}

test('block header: the accessors place the bitmaps as the layout says', () => {
  assert.equal(BITMAPS, 3);
  for (const count of [1, 2, 31, 32, 33, 63, 64, 65, 96, 1000, 1024, 1025]) {
    const bw = bitmapWords(count);
    assert.equal(bw, Math.ceil(count / 32), `count ${count}`);
    assert.equal(headerBytes(bw), Word.BYTES + 12 * bw);
    assert.equal(bitmapWords(count), (count + 31) >>> 5, `count ${count}: as the fast paths' bound`);
    // The last ALLOCATED word is the one tailBits is written to, and the last slot's bit is below its tail.
    const s = 1 << 20;
    assert.equal(allocWord(s, count - 1), allocBase(s) + bw - 1, `count ${count}: last word`);
    assert.equal(tailBits(count) & slotBit(count - 1), 0, `count ${count}: the last slot is not in the tail`);
    if ((count & 31) !== 0) assert.equal(tailBits(count) & slotBit(count), slotBit(count), `count ${count}: the next bit is`);
  }
  // A corrupt header's count (readers such as the heap map see any 32-bit value) is still ceil(count / 32).
  for (const count of [0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 33, 2 ** 32 - 31, 2 ** 32 - 1]) {
    assert.equal(bitmapWords(count), Math.ceil(count / 32), `count ${count}`);
  }
  const s = 3 << 16;
  for (let idx = 0; idx < 200; idx++) {
    const w = allocWord(s, idx);
    assert.equal(w, (s >>> 2) + Word.WORDS + Math.floor(idx / 32));
    assert.equal(slotBit(idx) >>> 0, 2 ** (idx % 32));
    assert.equal(remoteWord(w, 7), w + 7);
    assert.equal(heldWord(w, 7), w + 14);
    assert.equal(lowestSlot(w - allocBase(s), slotBit(idx) | slotBit(31)), idx);
    assert.equal(lowestSlot(w - allocBase(s), slotBit(idx)), idx);
  }
  assert.equal(slotIndex(0, 12, 10), 0);
  assert.equal(slotIndex(108, 12, 10), 9);
  assert.equal(slotIndex(120, 12, 10), -1, 'past the last slot');
  assert.equal(slotIndex(13, 12, 10), -1, 'inside a slot');
  assert.equal(slotIndex(-12, 12, 10), -1, 'before slot 0');
});

test('block header: Mempool.slot (the fast paths\' inverse) agrees with slotIndex', () => {
  const cache = cacheOf(16 * MB);
  const sizes = new Set(SIZES);
  for (let n = 1; n <= 300; n++) sizes.add(n);
  for (const objsize of sizes) {
    const pool = poolOf(cache, objsize);
    const { stride, objcount: count } = pool;
    const end = count * stride;
    const expect = (off: number): void => {
      assert.equal(pool.slot(off), slotIndex(off, stride, count), `objsize ${objsize}, offset ${off}`);
    };
    // Every slot start, and the offsets around it.
    for (let idx = 0; idx <= count; idx++) {
      const off = idx * stride;
      for (const d of [-5, -4, -3, -1, 0, 1, 2, 3, 4, 8]) expect(off + d);
      assert.equal(pool.slot(off), idx < count ? idx : -1, `objsize ${objsize}: slot ${idx} starts at ${off}`);
    }
    // Every byte of the slab, and beyond, where that is cheap.
    if (pool.slabSize <= 256 * 1024) for (let off = -stride; off < pool.slabSize + stride; off++) expect(off);
    for (const off of [-1, -pool.first, end, end + stride, pool.slabSize, 2 ** 31 - 4, 2 ** 31, 2 ** 32 - 4]) expect(off);
    pool.destroy();
  }
});

/** The three bitmaps of slab `s` of `pool`, copied. */
function bitmaps(pool: Mempool, s: number): Int32Array {
  return pool.i32.slice(allocBase(s), allocBase(s) + BITMAPS * pool.bw);
}

/** The words (relative to the first ALLOCATED word) where `a` and `b` differ, with their bits. */
function changes(a: Int32Array, b: Int32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) out.push([k, (a[k]! ^ b[k]!) >>> 0]);
  return out;
}

test('block header: Mempool.alloc and free set the bits the accessors name', () => {
  // Debug mode off (whatever the environment says): the fast free path is the one checked.
  const saved = getDebug();
  setDebug({ enabled: false });
  try {
    allocAndFree();
  } finally {
    setDebug(saved);
  }
});

function allocAndFree(): void {
  const cache = cacheOf(64 * MB);
  for (const objsize of SIZES) {
    const pool = poolOf(cache, objsize);
    if (pool.slabSize > MB) {
      pool.destroy();
      continue;
    }
    const { bw, objcount: count } = pool;
    // A fresh slab, filled: each allocation sets exactly the ALLOCATED bit of its slot.
    const ptrs: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = pool.cur === 0 ? null : bitmaps(pool, pool.cur);
      const p = pool.alloc();
      const s = p - (p & (pool.slabSize - 1));
      if (i === 0) assert.equal(pool.cur, s, `objsize ${objsize}: the first slab is current`);
      assert.equal(s, pool.cur, `objsize ${objsize}: allocation ${i} is in the first slab`);
      const idx = slotOf(pool.u32, s, p);
      assert.ok(idx >= 0, `objsize ${objsize}: ${p} starts a slot`);
      assert.equal(p, slotStart(s, pool.first, pool.stride, idx), `objsize ${objsize}: slot ${idx}'s start`);
      const w = allocWord(s, idx);
      const bit = slotBit(idx);
      assert.equal(pool.i32[w]! & bit, bit, `objsize ${objsize}: slot ${idx}'s ALLOCATED bit is set`);
      if (before !== null) {
        assert.deepEqual(changes(before, bitmaps(pool, s)), [[w - allocBase(s), bit >>> 0]], `objsize ${objsize}: allocation ${i} set one bit`);
      }
      ptrs.push(p);
    }
    const s = pool.cur;
    assert.equal(pool.count, count);
    // Every slot taken: each ALLOCATED word full (the tail is set for good).
    for (let k = 0; k < bw; k++) assert.equal(pool.i32[allocBase(s) + k], -1, `objsize ${objsize}: word ${k} is full`);
    // The fast free retires a slot: exactly its HELD bit, where heldWord says. Every other slot
    // only, so no word empties (an empty word settles the slab, which clears more bits).
    for (let i = 0; i < count; i += 2) {
      const p = ptrs[i]!;
      const idx = slotOf(pool.u32, s, p);
      const before = bitmaps(pool, s);
      assert.equal(pool.holds(p, s), true);
      pool.free(p);
      assert.equal(pool.holds(p, s), false, `objsize ${objsize}: slot ${idx} is no longer live`);
      const w = allocWord(s, idx);
      if (count === 1) continue; // the slab emptied: settled and given back or kept as the spare
      assert.deepEqual(changes(before, bitmaps(pool, s)), [[heldWord(w, bw) - allocBase(s), slotBit(idx) >>> 0]],
        `objsize ${objsize}: the free of slot ${idx} set its HELD bit alone`);
      assert.equal(pool.i32[remoteWord(w, bw)]! & slotBit(idx), 0);
    }
    pool.check();
    pool.destroy();
  }
}
