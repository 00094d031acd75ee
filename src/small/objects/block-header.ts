/**
 * A mempool slab's header: the words every worker reads to find out what a pointer is in, and
 * the owner's own bookkeeping beside them. Mempool writes it; SmallAlloc, the free route and
 * the heap map read it.
 *
 * Glossary: a *slot* is the place of one object in a slab; *untouched* slots are those never
 * handed out since the slab was formatted (above the bump address); *free* slots are on the
 * slab's local free list; *deferred* slots were freed while a read view could see them
 * (SmallAlloc) and wait to become free.
 *
 * Slab layout (every field in the shared buffer, so a worker holding only a pointer finds
 * everything; words are 32-bit, little-endian):
 * ```
 *  s+0                                          s+64          s+64+4*bw        s+first
 *  +------------------------------------------------+-------------+----------------+------+-----+----+
 *  | magic objsize owner pool stride count first    | ALLOCATED   | REMOTE-FREE    | pad  | obj | ...|
 *  | slabSize class PENDING | nfree freeHead bump   | bitmap      | bitmap         |      |  0  |    |
 *  | heapIdx listIdx deferred                       | bw words    | bw words       |      |     |    |
 *  +------------------------------------------------+-------------+----------------+------+-----+----+
 *   words 0-9 are written when the slab is formatted and read by any worker (PENDING is atomic);
 *   words 10-15 are the owner's own bookkeeping, never touched by other workers.
 *   bw = ceil(count / 32). A free slot's first 4 bytes hold the next free slot's address (0 ends).
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
  NFREE = 10,
  FREE = 11,
  BUMP = 12,
  HEAPIDX = 13,
  LISTIDX = 14,
  DEFERRED = 15,
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

/** The header's owner and pool words (Word.OWNER, Word.POOL) read as one little-endian double. @internal */
export function headerTag(ownerId: number, poolId: number): number {
  const words = new Uint32Array([ownerId, poolId]);
  return new Float64Array(words.buffer)[0]!;
}

/**
 * True when mempool slab `s` holds no object: nothing allocated, nothing deferred (read from
 * its header and bitmap, which are current even for a pool's current slab). @internal
 */
export function blockIsEmpty(u32: Uint32Array, i32: Int32Array, s: number): boolean {
  const h = s >>> 2;
  if (u32[h + Word.MAGIC] !== Mark.MEMPOOL || u32[h + Word.DEFERRED] !== 0) return false;
  const bw = (u32[h + Word.COUNT]! + 31) >>> 5;
  for (let w = 0; w < bw; w++) if (i32[h + Word.WORDS + w] !== 0) return false;
  return true;
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
