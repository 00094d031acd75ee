/**
 * A mempool slab's header: the words every worker reads to find out what a pointer is in, and
 * the owner's own bookkeeping beside them. The owning Mempool writes it: through this module
 * (formatBlock formats a slab, retireSlab retires it), in its own code (mempool-core.ts), and in
 * the helpers that change a slab's bitmaps a batch at a time and return counts (slab-frees.ts
 * settles retired slots and takes remote frees in, mempool-adopt.ts re-tags an adopted slab;
 * slab-heap.ts keeps HEAPIDX). Two writers besides: a remote free (through an allocator of
 * another cache, most often another worker's) sets the slot's REMOTE bit and raises PENDING,
 * atomically (free-route.ts), and a SmallAlloc's adoption retires a slab that no pool of it
 * takes (small-alloc-adopt.ts, with retireSlab below).
 * SmallAlloc, the free route and the heap map read it.
 *
 * Glossary: a *slot* is the place of one object in a slab. A slot is *taken* when its bit in
 * the ALLOCATED bitmap is set, else *free*: allocation finds a free slot in the bitmap, so the
 * allocator never reads or writes the objects themselves (a write through a stale pointer can
 * corrupt that object's bytes, never the allocator's state). A taken slot is *live*, or
 * *pending* when its REMOTE bit is set too: freed by another worker and not yet taken in (its
 * HELD bit clear), or *deferred*, freed while a read view could see it, waiting to become free
 * (its HELD bit set), or *retired* when its HELD bit alone is set: freed by the owner and not
 * yet checked against the read views (Mempool.settle frees or defers a slab's retired slots
 * together). So a slot is one of: free (A=0, R=0, H=0), live (1, 0, 0), retired (1, 0, 1),
 * pending (1, 1, 0), deferred (1, 1, 1).
 *
 * Slab layout (every field in the shared buffer, so a worker holding only a pointer finds
 * everything; words are 32-bit, little-endian):
 * ```
 *  s+0                                       s+64        s+64+4*bw   s+64+8*bw    s+first
 *  +---------------------------------------------+-----------+-----------+-----------+-----+-----+----+
 *  | magic objsize owner pool stride count first | ALLOCATED | REMOTE    | HELD      | pad | obj | ...|
 *  | slabSize class PENDING | nfree heapIdx      | bitmap    | bitmap    | bitmap    |     |  0  |    |
 *  | listIdx deferred adopted (one word unused)  | bw words  | bw words  | bw words  |     |     |    |
 *  +---------------------------------------------+-----------+-----------+-----------+-----+-----+----+
 *   words 0-9 are written when the slab is formatted and read by any worker (PENDING is atomic);
 *   words 10-15 are the owner's own bookkeeping, never touched by other workers; so is HELD
 *   (others read it only to refuse a free of a retired or deferred slot).
 *   bw = ceil(count / 32). The bits of ALLOCATED past the last slot are set (taken for good),
 *   so a search for a clear bit needs no bound; every other bitmap has them clear.
 *   REMOTE is set by any worker (Atomics.or), cleared by the owner (Atomics.and).
 *   owner and pool are words 2 and 3: one aligned 8-byte read (a Float64Array element)
 *   compares both on the fast free paths.
 * ```
 * Objects whose size is a power of two are aligned to their size (`first` is a multiple of it).
 */

// const enums: tsc writes their values in as literals, so the hot paths read no module binding.

/**
 * Word indexes (32-bit words from the slab start) of a mempool slab's header. (Large
 * allocations keep no header: see large.ts.) @internal
 */
export const enum Word {
  /** Mark.MEMPOOL for a formatted mempool slab. */
  MAGIC = 0,
  /** Object size asked for. */
  OBJSIZE = 1,
  /** ownerId of the SlabCache whose allocator owns the slab. */
  OWNER = 2,
  /** Id of the owning pool; always below 2^30. */
  POOL = 3,
  /** Distance between slots (objsize rounded up to 4). */
  STRIDE = 4,
  /** Slots in the slab. */
  COUNT = 5,
  /** Offset of slot 0 from the slab start. */
  FIRST = 6,
  /** Bytes of the slab. */
  SLABSIZE = 7,
  /** SmallAlloc class index, or Mark.NO_CLASS. */
  CLASS = 8,
  /** Atomic: 1 when REMOTE may hold bits the owner has not taken in. */
  PENDING = 9,
  // The owner's own bookkeeping, never touched by other workers:
  /** Free and retired slots (for the current slab, as of when it stopped being current). */
  NFREE = 10,
  /** Index in the pool's heap, or Mark.NONE. */
  HEAPIDX = 11,
  /** Index in the pool's list of slabs. */
  LISTIDX = 12,
  /** Deferred slots (bits set in HELD). */
  DEFERRED = 13,
  /**
   * 1 when the slab joined its pool by adoption: its objects may have been asked for with
   * another allocator's size classes, so a sized free accepts any size up to OBJSIZE.
   */
  ADOPTED = 14,
  /** Header words before the ALLOCATED bitmap. */
  WORDS = 16,
  /** Header bytes. */
  BYTES = 64,
}

/** Magic words and other header values. @internal */
export const enum Mark {
  /** A mempool slab ('MPSL'). */
  MEMPOOL = 0x4c53504d,
  /** Word.CLASS of a slab outside any SmallAlloc class. */
  NO_CLASS = 0x7fffffff,
  /** Word.HEAPIDX of a slab out of the heap. */
  NONE = 0xffffffff,
}

/** Bitmaps in a slab header: ALLOCATED, REMOTE, HELD, in that order. @internal */
export const BITMAPS = 3;

// ---- The bitmaps' encoding: the one place it is written out ----
//
// A slab's bitmaps are `bw` words each, one after another from header word Word.WORDS; slot
// idx is bit idx & 31 of word idx >>> 5 of each. Word indexes below are into the buffer as
// 32-bit words (an index of i32 / u32), so they serve any view of the slab. The fast paths of
// mempool.ts keep inline copies of some of these (each names the function it must match);
// test/small/objects/block-header.test.ts checks that they agree.

/**
 * 32-bit words in each bitmap of a slab of `count` slots: ceil(count / 32), exactly for any
 * count up to 2^32 - 1 (a corrupt header's too), as a small integer. @internal
 */
export function bitmapWords(count: number): number {
  return (count >>> 5) + ((count & 31) === 0 ? 0 : 1);
}

/** Bytes of a slab header with bitmaps of `bw` words (what precedes slot 0, padding aside). @internal */
export function headerBytes(bw: number): number {
  return Word.BYTES + BITMAPS * 4 * bw;
}

/** Word index of slab `s`'s first ALLOCATED word (the bitmaps start there). @internal */
export function allocBase(s: number): number {
  return (s >>> 2) + Word.WORDS;
}

/** Word index of the ALLOCATED word of slab `s` that holds slot `idx`. @internal */
export function allocWord(s: number, idx: number): number {
  return (s >>> 2) + Word.WORDS + (idx >>> 5);
}

/** Slot `idx`'s bit in its bitmap words. @internal */
export function slotBit(idx: number): number {
  return 1 << (idx & 31);
}

/**
 * Word index of the REMOTE word beside ALLOCATED word `w` (same slots), in a slab whose
 * bitmaps are `bw` words. @internal
 */
export function remoteWord(w: number, bw: number): number {
  return w + bw;
}

/**
 * Word index of the HELD word beside ALLOCATED word `w` (same slots), in a slab whose
 * bitmaps are `bw` words. @internal
 */
export function heldWord(w: number, bw: number): number {
  return w + 2 * bw;
}

/** The slot of the lowest set bit of `bits`, word `k` (0 = the first) of a bitmap; `bits` not 0. @internal */
export function lowestSlot(k: number, bits: number): number {
  return (k << 5) + 31 - Math.clz32(bits & -bits);
}

/**
 * The index of the slot that starts `off` bytes after slot 0, in a slab of `count` slots of
 * `stride` bytes; -1 when no slot starts there. (Mempool.slot computes the same without a
 * division.) @internal
 */
export function slotIndex(off: number, stride: number, count: number): number {
  const idx = off / stride;
  return Number.isInteger(idx) && idx >= 0 && idx < count ? idx : -1;
}

/**
 * The index of the slot of mempool slab `s` that starts at `ptr`, as the slab's header
 * (FIRST, STRIDE, COUNT) places its slots; -1 when none does. @internal
 */
export function slotOf(u32: Uint32Array, s: number, ptr: number): number {
  const h = s >>> 2;
  return slotIndex(ptr - s - u32[h + Word.FIRST]!, u32[h + Word.STRIDE]!, u32[h + Word.COUNT]!);
}

/** Where slot `idx` starts, in slab `s` whose slot 0 is `first` bytes in and slots `stride` apart. @internal */
export function slotStart(s: number, first: number, stride: number, idx: number): number {
  return s + first + idx * stride;
}

/** The header's owner and pool words (Word.OWNER, Word.POOL) read as one little-endian double. @internal */
export function headerTag(ownerId: number, poolId: number): number {
  const words = new Uint32Array([ownerId, poolId]);
  return new Float64Array(words.buffer)[0]!;
}

/**
 * The bits of a slab's last ALLOCATED word that are past its `count` slots (set for good), as
 * an int32; 0 when count is a multiple of 32. @internal
 */
export function tailBits(count: number): number {
  return (count & 31) === 0 ? 0 : -1 << (count & 31);
}

/** Bits set in the 32-bit word `x`. @internal */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * Slots of mempool slab `s` that are taken and not retired (live, pending or deferred), those
 * past the last slot not counted: in one pass over the bitmaps. @internal
 */
export function occupiedSlots(i32: Int32Array, s: number): number {
  const count = i32[(s >>> 2) + Word.COUNT]!;
  const bw = bitmapWords(count);
  const aw = allocBase(s);
  let n = 0;
  for (let w = aw; w < aw + bw; w++) n += popcount(i32[w]! & ~(i32[heldWord(w, bw)]! & ~i32[remoteWord(w, bw)]!));
  return n - popcount(tailBits(count));
}

/**
 * True when mempool slab `s` holds no object: no slot taken. Word by word, stopping at the
 * first taken slot, without counting: a slab with objects fails at its first word most often,
 * and an empty one costs a compare a word where a count cost a population count. @internal
 */
export function blockIsEmpty(i32: Int32Array, s: number): boolean {
  const h = s >>> 2;
  if (i32[h + Word.MAGIC] !== (Mark.MEMPOOL | 0)) return false;
  const count = i32[h + Word.COUNT]!;
  const last = allocWord(s, count - 1);
  for (let w = allocBase(s); w < last; w++) if (i32[w] !== 0) return false;
  return i32[last] === tailBits(count);
}

/**
 * True when mempool slab `s` holds no slot but free and retired ones (none live, pending or
 * deferred): what settling it with no read view open would leave empty. Word by word,
 * stopping at the first other slot. @internal
 */
export function onlyRetiredLeft(i32: Int32Array, s: number): boolean {
  const count = i32[(s >>> 2) + Word.COUNT]!;
  const bw = bitmapWords(count);
  const last = allocBase(s) + bw - 1;
  for (let w = allocBase(s); w <= last; w++) {
    // Taken and not retired (retired: HELD without REMOTE).
    const other = i32[w]! & ~(i32[heldWord(w, bw)]! & ~i32[remoteWord(w, bw)]!);
    if (other !== (w === last ? tailBits(count) : 0)) return false;
  }
  return true;
}

/** A pool's geometry and identity, as a slab's header records them. @internal */
export interface BlockFormat {
  readonly objsize: number;
  readonly stride: number;
  readonly objcount: number;
  readonly first: number;
  readonly bw: number;
  readonly slabSize: number;
  readonly classIndex: number;
  readonly ownerId: number;
  readonly poolId: number;
}

/**
 * Writes fresh slab `s`'s header and clears its bitmaps for a pool of format `f`; LISTIDX
 * and HEAPIDX are the pool's to set. `f64` and `u32` must cover the slab. @internal
 */
export function formatBlock(u32: Uint32Array, f64: Float64Array, s: number, f: BlockFormat): void {
  const h = s >>> 2;
  // No magic until every other word is written: the block's old bytes may hold anything.
  u32[h + Word.MAGIC] = 0;
  // The bitmaps cleared two words a store (the header starts 8-byte aligned and is 16 words
  // long): a loop of doubles took about half the time of one of words, and a typed array's
  // fill() costs a call into the runtime.
  const words = BITMAPS * f.bw;
  const aw = allocBase(s);
  for (let d = aw >>> 1, end = d + (words >>> 1); d < end; d++) f64[d] = 0;
  if ((words & 1) !== 0) u32[aw + words - 1] = 0;
  u32[aw + f.bw - 1] = tailBits(f.objcount);
  u32[h + Word.OWNER] = f.ownerId;
  u32[h + Word.POOL] = f.poolId;
  u32[h + Word.OBJSIZE] = f.objsize;
  u32[h + Word.STRIDE] = f.stride;
  u32[h + Word.COUNT] = f.objcount;
  u32[h + Word.FIRST] = f.first;
  u32[h + Word.SLABSIZE] = f.slabSize;
  u32[h + Word.CLASS] = f.classIndex;
  u32[h + Word.PENDING] = 0;
  u32[h + Word.NFREE] = f.objcount;
  u32[h + Word.HEAPIDX] = Mark.NONE;
  u32[h + Word.LISTIDX] = 0;
  u32[h + Word.DEFERRED] = 0;
  u32[h + Word.ADOPTED] = 0;
  u32[h + Word.WORDS - 1] = 0;
  u32[h + Word.MAGIC] = Mark.MEMPOOL;
}

/**
 * Clears the header words that say whose slab `s` is (the magic and the pool id), before it
 * goes back to the cache: a stale pointer into it then matches no pool on any free path.
 * @internal
 */
export function retireSlab(u32: Uint32Array, s: number): void {
  u32[(s >>> 2) + Word.MAGIC] = 0;
  u32[(s >>> 2) + Word.POOL] = 0;
}
