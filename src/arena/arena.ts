/**
 * Arena: LevelDB's block arena (`util/arena`), over a `Memory`. Its contract (memory source,
 * thread-safety, failure) is on the class.
 *
 * Debug mode (`setDebug`): a new block is filled with `FRESH_BYTE` when it is carved, before
 * any of it is handed out, and `reset()` fills everything carved with `FREED_BYTE`; bytes
 * handed out are never written by the arena while they are live.
 *
 * Rules (LevelDB's, exactly, so that its own test replays with its numbers):
 * - a request that fits the current block's tail is bumped from it;
 * - otherwise a request > blockSize/4 gets a block of exactly its size, and the current block
 *   stays current (its tail still serves small requests);
 * - otherwise a new blockSize block becomes current and the old block's tail is wasted;
 * - `allocateAligned` pads the position up to 8 (`slop`); on a miss it falls back as above
 *   with the unpadded size (every block starts 8-aligned).
 *
 * Layout of the memory:
 * ```
 *  0        8                         cursor               byteLength   maxByteLength
 *  +--------+-------+---------+-------+--------------------+------------+
 *  | unused | block | block   | block | not yet carved     | not yet    |
 *  |        | (8-aligned starts)      |                    | committed  |
 *  +--------+-------+---------+-------+--------------------+------------+
 *                   [ptr, limit) = tail of the current block
 * ```
 * Invariants:
 *   8 <= ptr <= limit <= cursor <= alignUp(memory.byteLength, 8)   (or ptr = limit = 0)
 *   cursor % 8 === 0
 *   usage === Σ block sizes + 8 * blocks   (LevelDB charges sizeof(char*) per block)
 *   reset() => cursor === 8, usage === 0   (the same memory is carved again)
 */
import { InvalidPointerError, OutOfMemoryError } from '../errors.js';
import { checkInt, checkPointer, optionalInt, optionsBag, typeError } from '../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../debug.js';
import { readStringAt, STRING_PREFIX, stringArg, writeString } from '../internal/strings.js';
import { typedBytes, type TypedArray, type TypedArrayConstructor } from '../internal/typed.js';
import { MAX_BYTE_LENGTH, Memory } from '../memory.js';

import type { Ptr } from '../internal/ptr.js';

/**
 * Options of the {@link Arena} constructor.
 * @category Arenas
 */
export interface ArenaOptions {
  /**
   * Where blocks are carved from. Default: a fresh, non-shared `Memory.create()` (as fast to
   * read and write as a fixed buffer; see `Memory.create`).
   * The arena claims it: a memory another allocator uses already is a `TypeError`.
   */
  memory?: Memory;
  /** Size of an ordinary block. Default 4096 (LevelDB's kBlockSize). */
  blockSize?: number;
}

/** First byte the arena may carve: keeps offset 0 (null) out of every block. */
const FIRST_BLOCK = 8;
/** LevelDB's per-block bookkeeping charge: sizeof(char*) on a 64-bit machine. */
const BLOCK_OVERHEAD = 8;
/** Blocks start 8-aligned, as malloc's do. */
const BLOCK_ALIGN = 8;
/** Growth is geometric (at least this much) so that a block is rarely a resize. */
const MIN_GROW = 64 * 1024;

/**
 * LevelDB's arena: bump allocation inside blocks, no individual frees, everything released at
 * once by {@link Arena.reset}.
 *
 * @remarks
 * Memory source: one `Memory` (by default a fresh, non-shared `Memory.create()`), carved into
 * blocks by bumping a block cursor; the memory grows as blocks are needed. The arena owns the
 * whole memory from offset 8 on (offsets 0..7 are never handed out, so pointer 0 stays null)
 * and claims it: a memory already claimed by another allocator is a `TypeError` naming
 * `opts.memory`, since both would carve the same bytes.
 *
 * Thread-safety: none. An arena belongs to the worker that created it; the bytes it hands out
 * may be read by any worker that sees the buffer (nothing in an arena moves or is freed while
 * it lives, which is what lets LevelDB's memtable readers run without locks).
 *
 * Failure: when the memory cannot grow for a new block, `allocate` throws `OutOfMemoryError`
 * and nothing has changed. Bad arguments throw `TypeError`/`RangeError` naming them.
 *
 *     const arena = new Arena();
 *     const p = arena.allocate(24);
 *     arena.memory.u8[p] = 1;
 * @category Arenas
 */
export class Arena {
  /** The memory the blocks are carved from. */
  readonly memory: Memory;
  /** Size of an ordinary block; larger requests (> blockSize / 4) get a block of their own. */
  readonly blockSize: number;
  // Plain class fields on purpose: with `declare`d ones V8 tracked these as small integers and
  // allocate() measured 1.4x slower (representation checks on every bump).
  /** Next byte of the current block. */
  private ptr: number;
  /** End of the current block: `limit - ptr` bytes are left in it (LevelDB's remaining). */
  private limit: number;
  /** Bytes of the memory known to be committed (it only ever grows). */
  private committed: number;
  /** End of the carved region: where the next block starts (8-aligned). */
  private cursor: number;
  /** Σ block sizes + 8 per block. */
  private usage: number;
  /** Blocks carved since construction or the last reset. */
  private blocks: number;
  private readonly debug: boolean;
  private readonly periodic: PeriodicCheck;

  /**
   * A new, empty arena: `memoryUsage() === 0`, no block carved yet.
   *
   * @throws TypeError if `opts` is not an object, `opts.memory` is not a `Memory` or is already
   *   used by another allocator, or `opts.blockSize` is not a number.
   * @throws RangeError if `opts.blockSize` is not an integer in [1, 4 GiB - 8].
   */
  constructor(opts?: ArenaOptions) {
    const where = 'Arena';
    const o = optionsBag<ArenaOptions>(where, opts);
    if (o.memory !== undefined && o.memory !== null && !(o.memory instanceof Memory)) {
      typeError(where, 'opts.memory', 'a Memory', o.memory);
    }
    const blockSize = optionalInt(where, 'opts.blockSize', o.blockSize, 4096, 1, MAX_BYTE_LENGTH - FIRST_BLOCK);
    const memory = o.memory ?? Memory.create();
    // Last of the checks: a refused constructor leaves the memory unclaimed.
    memory.claim(where);
    this.memory = memory;
    this.blockSize = blockSize;
    this.ptr = 0;
    this.limit = 0;
    this.committed = this.memory.byteLength;
    this.cursor = FIRST_BLOCK;
    this.usage = 0;
    this.blocks = 0;
    const d = getDebug();
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
  }

  /**
   * `bytes` (>= 1) contiguous bytes; no alignment promised.
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [1, 4 GiB].
   * @throws {@link OutOfMemoryError} if the memory cannot grow for the block it needs.
   */
  allocate(bytes: number): Ptr {
    if (typeof bytes !== 'number' || (bytes >>> 0) !== bytes || bytes === 0) checkInt('Arena.allocate', 'bytes', bytes, 1, MAX_BYTE_LENGTH);
    const result = this.ptr;
    const next = result + bytes;
    if (next <= this.limit) {
      this.ptr = next;
      if (this.debug === true) this.tick();
      return result;
    }
    return this.allocateFallback('Arena.allocate', bytes);
  }

  /**
   * `bytes` (>= 1) contiguous bytes at a multiple of 8.
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [1, 4 GiB].
   * @throws {@link OutOfMemoryError} if the memory cannot grow for the block it needs.
   */
  allocateAligned(bytes: number): Ptr {
    if (typeof bytes !== 'number' || (bytes >>> 0) !== bytes || bytes === 0) checkInt('Arena.allocateAligned', 'bytes', bytes, 1, MAX_BYTE_LENGTH);
    const ptr = this.ptr;
    const mod = ptr & (BLOCK_ALIGN - 1); // low bits are right for any ptr below 2^53
    const slop = mod === 0 ? 0 : BLOCK_ALIGN - mod;
    const next = ptr + slop + bytes;
    if (next <= this.limit) {
      this.ptr = next;
      if (this.debug === true) this.tick();
      return ptr + slop;
    }
    // Every block starts 8-aligned, so the fallback's result is aligned too.
    return this.allocateFallback('Arena.allocateAligned', bytes);
  }
  /**
   * `bytes` (>= 1) bytes, all zero (memory of a `reset` arena is reused).
   *
   * @throws TypeError if `bytes` is not a number.
   * @throws RangeError if `bytes` is not an integer in [1, 4 GiB].
   * @throws {@link OutOfMemoryError} if the memory cannot grow for the block it needs.
   */
  calloc(bytes: number): Ptr {
    if (typeof bytes !== 'number' || (bytes >>> 0) !== bytes || bytes === 0) checkInt('Arena.calloc', 'bytes', bytes, 1, MAX_BYTE_LENGTH);
    const p = this.allocateAligned(bytes);
    this.memory.u8.fill(0, p, p + bytes);
    return p;
  }

  /**
   * Stores `s` as UTF-8 after its byte length (a u32), 8-aligned; returns its pointer.
   *
   * @throws TypeError if `s` is not a string.
   * @throws {@link OutOfMemoryError} if the memory cannot grow for the block it needs.
   */
  allocString(s: string): Ptr {
    const n = stringArg('Arena.allocString', s);
    const p = this.allocateAligned(STRING_PREFIX + n);
    writeString(this.memory.u8, this.memory.dv, p, s, n);
    return p;
  }

  /**
   * The string `allocString` stored at `ptr`. A pointer outside the blocks carved so far, or
   * whose length runs past them, is an `InvalidPointerError`.
   *
   * @throws TypeError if `ptr` is not a number.
   * @throws RangeError if `ptr` is not a non-negative safe integer.
   * @throws {@link InvalidPointerError} if `ptr`, or the string's length there, runs outside the
   *   blocks carved so far.
   */
  readString(ptr: Ptr): string {
    const where = 'Arena.readString';
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(where, 'ptr', ptr);
    if (ptr < 8) throw new InvalidPointerError(ptr, `${where}: ${ptr} is not in a block of this arena`);
    const m = this.memory;
    return readStringAt(m.u8, m.dv, ptr, this.cursor, where);
  }

  /**
   * `length` elements of `type` as a typed array over the memory, 8-aligned (enough for every
   * type); freed with the arena (`reset`).
   *
   * @throws TypeError if `type` is not a built-in typed array constructor, or `length` is not a
   *   number.
   * @throws RangeError if `length` is not a non-negative safe integer.
   * @throws {@link OutOfMemoryError} if the array is larger than 4 GiB, or the memory cannot grow for
   *   it.
   */
  allocAs<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T {
    const bytes = typedBytes('Arena.allocAs', type, length, MAX_BYTE_LENGTH);
    // LevelDB's arena hands out no empty block: an empty array takes one byte.
    const p = this.allocateAligned(bytes === 0 ? 1 : bytes);
    return new type(this.memory.buffer, p, length);
  }


  /** Σ sizes of the blocks carved + 8 bytes of bookkeeping per block (LevelDB's measure). */
  memoryUsage(): number {
    return this.usage;
  }

  /**
   * Returns every block: `memoryUsage() === 0`, and the next blocks are carved from the
   * start of the same memory again, so a reset loop does not grow it.
   */
  reset(): void {
    if (this.debug && this.cursor > FIRST_BLOCK) this.memory.u8.fill(FREED_BYTE, FIRST_BLOCK, this.cursor);
    this.ptr = 0;
    this.limit = 0;
    this.cursor = FIRST_BLOCK;
    this.usage = 0;
    this.blocks = 0;
  }

  /**
   * Checks the invariants in the header; throws an `Error` naming the broken one.
   *
   * @throws Error naming the broken invariant.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`Arena.check: ${what} (ptr ${this.ptr}, limit ${this.limit}, cursor ${this.cursor}, usage ${this.usage}, blocks ${this.blocks})`);
    };
    if (this.cursor % BLOCK_ALIGN !== 0) fail('block cursor is not 8-aligned');
    // The last block may end up to 7 bytes short of the aligned cursor at the memory's end.
    if (this.cursor < FIRST_BLOCK || (this.blocks > 0 && this.cursor > this.memory.byteLength + BLOCK_ALIGN - 1)) {
      fail('block cursor outside the memory');
    }
    if (this.limit < this.ptr) fail('bump position past the end of its block');
    if (this.limit > this.ptr && (this.ptr < FIRST_BLOCK || this.limit > this.cursor)) {
      fail('current block tail outside the carved region');
    }
    if (this.usage < this.blocks * BLOCK_OVERHEAD) fail('usage below the bookkeeping of its blocks');
    if (this.usage - this.blocks * BLOCK_OVERHEAD > this.cursor - FIRST_BLOCK) fail('usage above the carved region');
    if (this.blocks === 0 && (this.usage !== 0 || this.cursor !== FIRST_BLOCK)) fail('no blocks but usage or carved bytes');
  }

  /** Plain numbers for logs and dashboards: `used` (bytes carved into blocks) and `total`. */
  stats(): {
    /** Bytes of the blocks carved (`memoryUsage()` less the bookkeeping). */
    used: number;
    /** Bytes carved from the memory, alignment padding between blocks included. */
    total: number;
    /** Blocks carved since construction or the last `reset`. */
    blocks: number;
    /** What {@link Arena.memoryUsage} returns. */
    memoryUsage: number;
  } {
    return {
      used: this.usage - this.blocks * BLOCK_OVERHEAD,
      total: this.cursor - FIRST_BLOCK,
      blocks: this.blocks,
      memoryUsage: this.usage,
    };
  }

  /** LevelDB's AllocateFallback: a block of its own for large requests, else a fresh block. */
  private allocateFallback(where: string, bytes: number): Ptr {
    if (this.debug) this.tick();
    if (bytes > this.blockSize / 4) {
      // The current block stays current: its tail may still serve the next small requests.
      return this.newBlock(where, bytes);
    }
    const block = this.newBlock(where, this.blockSize);
    this.ptr = block + bytes;
    this.limit = block + this.blockSize;
    return block;
  }

  /** Debug mode: one more operation; check() when it is due. */
  private tick(): void {
    if (this.periodic.due()) this.check();
  }

  /** Carves a block of exactly `size` bytes at the cursor, growing the memory if needed. */
  private newBlock(where: string, size: number): Ptr {
    const start = this.cursor;
    const end = start + size;
    // Integer rounding, not Math.ceil: a float stored into `cursor` (and from there into `ptr`)
    // turns those fields into boxed doubles and slows every allocate() down by half.
    const next = end + ((BLOCK_ALIGN - (end & (BLOCK_ALIGN - 1))) & (BLOCK_ALIGN - 1));
    if (end > this.committed) this.grow(where, size, end);
    this.cursor = next;
    this.usage += size + BLOCK_OVERHEAD;
    this.blocks++;
    if (this.debug) this.memory.u8.fill(FRESH_BYTE, start, end);
    return start;
  }

  /** Commits memory up to at least `end`: doubling when it can, exactly `end` when it must. */
  private grow(where: string, size: number, end: number): void {
    const memory = this.memory;
    if (end > memory.maxByteLength) {
      throw new OutOfMemoryError(size,
        `${where}: cannot carve a block of ${size} bytes: the memory holds at most ${memory.maxByteLength} bytes, ${this.cursor} already carved`);
    }
    const want = Math.min(memory.maxByteLength, Math.max(end, memory.byteLength * 2, MIN_GROW));
    try {
      memory.grow(want);
    } catch {
      try {
        memory.grow(end);
      } catch (e) {
        throw new OutOfMemoryError(size, `${where}: cannot carve a block of ${size} bytes: ${(e as Error).message}`);
      }
    }
    this.committed = memory.byteLength;
  }
}
