/**
 * Slab geometry: how objects of one size fit a slab (stride, count, where slot 0 starts, the
 * bitmaps' size) and which slab order a pool takes. The header and bitmap layout those numbers
 * fill, and the slot index of an offset, are block-header.ts's.
 */
import type { SlabCache } from '../slabs/slab-cache.js';
import { BITMAPS, bitmapWords, headerBytes, Word } from './block-header.js';

/** Largest share of a slab that header + tail may waste before a bigger order is tried. */
const WASTE_RATIO = 0.01;

/**
 * Fewest slots a slab should have, unless it is already MANY_SLOTS_BYTES or more. A slab with
 * few slots fills up and comes back into its pool's heap every few allocations (its cold
 * threshold is a twelfth of its slots): in workload (c) the classes with at most 8 slots to
 * a threshold made 83% of the heap pushes. Tarantool sizes a slab to about 100 objects.
 */
const MANY_SLOTS = 96;
/** Slab bytes from which MANY_SLOTS is no longer asked for (a few large objects stay cheap). */
const MANY_SLOTS_BYTES = 64 * 1024;

/** The multiplicative inverse of odd `d` modulo 2^32 (Newton's iteration doubles the bits). @internal */
export function inverse32(d: number): number {
  let x = d;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(d, x));
  return x >>> 0;
}

/** The slab-count numbers for one objsize in one slab size. @internal */
export interface SlabGeometry {
  /** Bytes per slot. */
  stride: number;
  /** Slots per slab. */
  count: number;
  /** Offset of slot 0. */
  first: number;
  /** 32-bit words per bitmap. */
  bw: number;
}

/**
 * Free slots a pool's slab out of its heap needs before it goes back in: a twelfth of its
 * `count` slots (at least 1), as Tarantool keeps "cold" slabs out of its ordered set (it waits
 * for an eighth). Measured on workload (c): 1/8 made steps about 45% faster but held 1.105x
 * the bytes asked after churn; 1/12 held 1.073x, and 1.081x since slabs have 96 slots or
 * 64 KiB (pickOrder). @internal
 */
export function coldLimit(count: number): number {
  return Math.max(1, Math.floor(count / 12)) | 0;
}

/** How `objsize` objects fit a slab of `slabSize` bytes; count 0 when none fits. @internal */
export function geometry(objsize: number, slabSize: number): SlabGeometry {
  const stride = strideOf(objsize);
  const pow2 = (objsize & (objsize - 1)) === 0 && objsize >= 8;
  const align = pow2 ? objsize : 8;
  // Start from the estimate with 3 bits of bitmap per slot, then step down until it fits.
  let count = Math.max(0, Math.floor((slabSize - Word.BYTES) / (stride + 0.375)));
  for (; count > 0; count--) {
    const bw = bitmapWords(count);
    const first = Math.ceil(headerBytes(bw) / align) * align;
    if (first + count * stride <= slabSize) return { stride, count, first, bw };
  }
  return { stride, count: 0, first: 0, bw: 0 };
}

/**
 * Geometries already computed for {@link headerFitsBlock}, by a hash of (objsize, slabSize):
 * MEMO_WORDS words each (objsize, slabSize, stride, count, first), objsize 0 when empty.
 */
const MEMO_ENTRIES = 256;
const MEMO_WORDS = 5;
const memo = new Uint32Array(MEMO_ENTRIES * MEMO_WORDS);

/**
 * True when the header of mempool slab `s` (read through `u32`) describes a slab that
 * `geometry()` makes for its objsize in exactly `blockBytes` bytes, the size of the block the
 * page map says `s` starts. Every bitmap address derived from the header then lies inside
 * that block's header: a stray write into a header can make a free fail, never steer its bit
 * into another slab. A remote free checks this before it touches a bitmap; the geometry is
 * memoized, so the check is a hash and five compares. @internal
 */
export function headerFitsBlock(u32: Uint32Array, s: number, blockBytes: number): boolean {
  const h = s >>> 2;
  const objsize = u32[h + Word.OBJSIZE]!;
  const slabSize = u32[h + Word.SLABSIZE]!;
  if (slabSize !== blockBytes || objsize === 0 || objsize > slabSize) return false;
  const e = ((Math.imul(objsize ^ slabSize, 0x9e3779b1) >>> 24) & (MEMO_ENTRIES - 1)) * MEMO_WORDS;
  if (memo[e] !== objsize || memo[e + 1] !== slabSize) {
    const g = geometry(objsize, slabSize);
    if (g.count === 0) return false;
    memo[e] = objsize;
    memo[e + 1] = slabSize;
    memo[e + 2] = g.stride;
    memo[e + 3] = g.count;
    memo[e + 4] = g.first;
  }
  return u32[h + Word.STRIDE] === memo[e + 2] && u32[h + Word.COUNT] === memo[e + 3] && u32[h + Word.FIRST] === memo[e + 4];
}

/** Bytes from one slot to the next for `objsize`-byte objects: objsize rounded up to 4. @internal */
export function strideOf(objsize: number): number {
  return objsize <= 4 ? 4 : Math.ceil(objsize / 4) * 4;
}

/**
 * The alignment, up to 8, that every slot of `objsize`-byte objects has, in any slab: a slab
 * starts on a page, its slot 0 on 8 bytes (geometry), and each slot is a stride further, so
 * the stride's lowest set bit is the limit. 8 for a multiple of 8; 4 otherwise. @internal
 */
export function slotAlign(objsize: number): number {
  const stride = strideOf(objsize);
  return Math.min(8, stride & -stride);
}

/** Largest objsize a Mempool over `cache` accepts: one object in the biggest slab. @internal */
export function mempoolObjsizeMax(cache: SlabCache): number {
  return cache.order0Size * 2 ** cache.orderMax - Word.BYTES - 16;
}

/**
 * The slab order for `objsize`: the smallest whose header + bitmaps + tail waste at most
 * ~1% beyond the bitmaps' 3 bits per slot and that has MANY_SLOTS slots or MANY_SLOTS_BYTES;
 * failing that, the largest within the waste bound; failing that, the one wasting the least.
 * @internal
 */
export function pickOrder(cache: SlabCache, objsize: number): number {
  let best = -1;
  let bestRatio = Infinity;
  let withinWaste = -1;
  for (let k = 0; k <= cache.orderMax; k++) {
    const size = cache.order0Size * 2 ** k;
    const g = geometry(objsize, size);
    if (g.count === 0) continue;
    const waste = size - g.count * g.stride - BITMAPS * 4 * g.bw;
    const ratio = waste / size;
    if (ratio <= WASTE_RATIO) {
      if (g.count >= MANY_SLOTS || size >= MANY_SLOTS_BYTES) return k;
      withinWaste = k;
    }
    if (ratio < bestRatio - 1e-4) {
      bestRatio = ratio;
      best = k;
    }
  }
  return withinWaste >= 0 ? withinWaste : best;
}
