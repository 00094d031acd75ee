/**
 * The core of a Mempool (Tarantool's `mempool`): its state and every change to it. The public
 * class and its contract (memory source, thread-safety, failure) are in mempool.ts, whose
 * operations only call this class and read it. Helpers read the pool (pool-parts.ts) and return
 * what to apply: a slab's bitmaps changed a batch at a time in slab-frees.ts and
 * mempool-adopt.ts, the header's encoding (and the glossary) in block-header.ts.
 *
 * Allocation takes the lowest-address slab with room (a min-heap of slab addresses, touched
 * only when a slab turns full or gets its first free slots back), so memory stays compact.
 * In that slab, the *current* one, it takes the lowest clear bit of the ALLOCATED word at
 * `scan`, moving on (and round) to the next word with one; once none is left, it settles the
 * slab's retired slots and looks again. It never reads or writes the object: no free list is
 * threaded through free slots, so only the header's cache lines are touched (a churn over
 * 100,000 objects took about a quarter less time a step than with a free list), and a write
 * through a stale pointer cannot corrupt the pool. The fast paths keep no counter: see liveRest.
 *
 * Frees: a local free *retires* its slot (its HELD bit alone), with no look at shared memory;
 * settling checks a slab's retired slots against the read views (the SmallAlloc's, and the
 * arena's in every worker) as one batch, and frees them or defers them all with one arena tag.
 * A slab is settled when its search runs out, when a free empties one of its words, at stats()
 * and under memory pressure: freed memory is reused before new memory is taken, never before a
 * check made after its free. (So an alloc+free pair walks the slab instead of reusing one
 * slot: the price of not reading a shared word per free.) A remote free only sets the slot's
 * REMOTE bit and raises the slab's pending flag (free-route.ts); a free through another
 * allocator of this worker reaches the one the header names (owners.ts).
 *
 * Finding the slab of a freed pointer: slabs are aligned to their size, so free masks the
 * pointer and compares the header's owner and pool words with its own (pool ids are random);
 * anything else goes to the page map. The slot index takes no division (see `slot`).
 *
 * Invariants (mempool-check.ts lists them all): every slot is exactly one of free, live,
 * retired, pending, deferred; a slab with coldLimit free slots is in the heap, whose top is the
 * current slab; at most one slab is empty: the pool's spare block.
 */
import { InvalidPointerError } from '../../errors.js';
import { checkPointer, describe } from '../../internal/checks.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, PeriodicCheck } from '../../debug.js';
import { holdViews, type HeldViews } from '../../memory.js';
import { NO_EPOCH } from '../slabs/arena-views.js';
import { blockByte } from '../slabs/page-map.js';
import { SlabCache } from '../slabs/slab-cache.js';
import { newSpareBlock, tryGetSlab, type SpareBlock, type SpareHolder } from '../spare-block.js';
import {
  allocBase, allocWord, blockIsEmpty, formatBlock, headerTag, heldWord, Mark, occupiedSlots, onlyRetiredLeft,
  remoteWord, retireSlab, slotBit, slotStart, tailBits, Word,
} from './block-header.js';
import { freeAnywhere } from './free-route.js';
import { coldLimit, geometry, inverse32, pickOrder } from './geometry.js';
import { adoptBits } from './mempool-adopt.js';
import { checkMempool } from './mempool-check.js';
import { newPoolId, type BlockOwner } from './owners.js';
import { FREE_NOW, ReadViews } from './read-views.js';
import { settleSlab, takeSlab } from './slab-frees.js';
import { SlabHeap } from './slab-heap.js';

/** The memory's views this class holds in fields of its own (see holdViews). @internal */
export interface MempoolCore extends HeldViews {}

/**
 * A Mempool's state and every change to it; {@link Mempool} adds the public operations that
 * only call these and read them.
 * @hidden
 */
export class MempoolCore {
  /** Bytes per object, as asked. */
  declare readonly objsize: number;
  /** The memory source. */
  declare readonly cache: SlabCache;
  // The slab format (Word.* of block-header.ts), as formatBlock writes it. @internal all.
  /** @internal */
  declare readonly slabSize: number;
  /** Slots per slab. @internal */
  declare readonly objcount: number;
  /** Distance between slots. @internal */
  declare readonly stride: number;
  /** Offset of slot 0 in a slab. @internal */
  declare readonly first: number;
  /** 32-bit words per bitmap. @internal */
  declare readonly bw: number;
  /** This pool's id (Word.POOL), random. @internal */
  declare readonly poolId: number;
  /** The cache's owner id (Word.OWNER). @internal */
  declare readonly ownerId: number;
  /** SmallAlloc class index (Word.CLASS), or Mark.NO_CLASS. @internal */
  declare readonly classIndex: number;
  /**
   * Free slots a slab out of the heap needs before it goes back in (coldLimit in geometry.ts):
   * a slab that filled up and got a few slots back stays out, so a free into it costs no heap
   * operation. @internal
   */
  declare readonly coldLimit: number;
  /** stride = d * 2^shift with d odd, and dinv * d == 1 (mod 2^32): see `slot`. */
  private declare readonly shift: number;
  private declare readonly dinv: number;
  protected declare readonly slabMask: number;
  /** The page map's byte for our slabs. */
  private declare readonly order1: number;
  private declare readonly name: string;
  /** The last ALLOCATED word of an empty slab: its bits past the last slot. */
  private declare readonly tail: number;
  /** Debug mode: poisoned memory, periodic checks. @internal */
  declare readonly debug: boolean;
  private readonly periodic: PeriodicCheck;
  /** The queue of frees held back: the SmallAlloc's this pool serves, or one of its own. @internal */
  declare readonly views: ReadViews;
  /** A SmallAlloc's pool: it counts no debug operations and leaves reclaiming to the SmallAlloc. */
  protected declare readonly hosted: boolean;

  /**
   * Our owner and pool words read as one double (f64[(s >>> 3) + 1] of slab s), never a NaN
   * (pool ids are below 2^30) nor a zero (owner ids are not 0): equal doubles are equal words.
   * @internal
   */
  declare readonly tag: number;
  private declare readonly pageMap: Uint8Array;

  /** The current slab (the heap's top), 0 when the heap is empty. @internal */
  cur = 0;
  /** Its slot 0's address. */
  private curBase = 0;
  /** Index in u32/i32 of its first ALLOCATED word. */
  private curBm = 0;
  /** Index of its ALLOCATED word the next allocation looks in first; 0 with no current slab. @internal */
  scan = 0;
  /** No read view of the SmallAlloc open and debug mode off (viewsChanged): a free may retire its slot. */
  private declare quick: boolean;

  /** Min-heap (by address) of the slabs that may have room (Word.HEAPIDX); a full one leaves it when found at the top. @internal */
  readonly heap = new SlabHeap();
  /** Every slab held; each slab's index is in its Word.LISTIDX. @internal */
  slabs: number[] = [];
  /** The empty block this pool may keep; whoever reads it checks it is still empty. @internal */
  declare readonly spare: SpareBlock;
  /**
   * Live objects in every slab but the current one (remote frees not yet taken in included).
   * The fast paths keep no counter (one bumped by both alloc and free is a load-store chain
   * through memory on every call): the current slab's live objects are recounted from its
   * bitmaps (O(bw)) only where needed, and setCur moves a slab's share in and out of here.
   * @internal
   */
  liveRest = 0;
  /** Objects deferred for read views. @internal */
  deferredCount = 0;
  /** Slots made available since the last scan for remote frees (bounds the scan cost). @internal */
  sinceScan = 0;

  /**
   * A pool of `objsize`-byte objects over `cache` (Mempool checks both), serving SmallAlloc
   * class `classIndex` and sharing its `views` when they are given. @internal
   */
  constructor(cache: SlabCache, objsize: number, views: ReadViews | null, classIndex: number) {
    this.cache = cache;
    this.objsize = objsize | 0;
    const order = pickOrder(cache, objsize);
    this.slabSize = (cache.order0Size << order) >>> 0;
    const g = geometry(objsize, this.slabSize);
    // `| 0`: geometry() computes with Math.ceil / Math.floor, whose results V8 may keep as
    // doubles, and a double field turns the fast paths' integer arithmetic into float.
    this.stride = g.stride | 0;
    this.objcount = g.count | 0;
    this.first = g.first | 0;
    this.bw = g.bw | 0;
    this.coldLimit = coldLimit(g.count);
    this.tail = tailBits(g.count);
    this.shift = 31 - Math.clz32(g.stride & -g.stride);
    this.dinv = inverse32(g.stride >>> this.shift) | 0;
    this.slabMask = this.slabSize - 1;
    this.order1 = blockByte(order);
    this.poolId = newPoolId(this);
    this.ownerId = cache.ownerId;
    this.tag = headerTag(this.ownerId, this.poolId);
    this.classIndex = classIndex;
    this.hosted = views !== null;
    const d = getDebug();
    // A pool of its own holds frees back only for debug mode's quarantine.
    this.views = views ?? new ReadViews(cache.arena.views, d.enabled ? d.quarantine : 0, d.quarantineBytes);
    this.name = views === null ? `Mempool(objsize ${objsize})` : 'SmallAlloc';
    this.debug = d.enabled;
    this.periodic = new PeriodicCheck(d.checkEvery);
    this.quick = !this.debug && !this.views.anyOpen;
    holdViews(cache.arena.memory, this);
    this.pageMap = cache.arena.pageMap;
    this.spare = newSpareBlock(cache, this);
  }

  /**
   * An object of `objsize` bytes. Throws `OutOfMemoryError` when the cache has no slab.
   * @throws OutOfMemoryError (QuotaExceededError when the quota refused) when the cache has no slab.
   */
  alloc(): number {
    const i32 = this.i32;
    const w = this.scan;
    const x = i32[w]!;
    if (x === -1 || w === 0) return this.allocSlow(true);
    // x + 1 carries through the trailing ones: the lowest clear bit is the only one set in both.
    const low = ~x & (x + 1);
    i32[w] = x | low;
    // slotStart(cur, first, stride, lowestSlot(w - curBm, low)) (block-header.ts), written out
    // for the fast path; block-header.test.ts checks that they agree.
    const p = this.curBase + Math.imul(((w - this.curBm) << 5) + 31 - Math.clz32(low), this.stride);
    // `=== true`: a plain truth test of a boolean field compiles to a generic ToBoolean.
    if (this.debug === true) this.debugOps(p);
    return p;
  }

  /** An object of `objsize` bytes, or 0 when the cache has no slab. */
  tryAlloc(): number {
    const w = this.scan;
    if (this.i32[w] === -1 || w === 0) return this.allocSlow(false);
    return this.alloc();
  }

  /**
   * The word at `scan` is full or there is no current slab: look further along it; drop full
   * slabs off the heap's top; take remote frees in (when enough was allocated since the last
   * scan to pay for it), else a new slab; before failing, take everything in.
   */
  private allocSlow(throwing: boolean): number {
    for (;;) {
      // A full current slab's retired slots are its last free ones: settled before it leaves.
      while (this.cur !== 0 && !this.findRoom() && !(this.settle(this.cur) !== 0 && this.findRoom())) this.heapRemove(0);
      if (this.cur !== 0) return this.alloc();
      if (this.sinceScan >= this.slabs.length && this.slabs.length > 0) {
        this.sinceScan = this.takeRemote();
        if (this.sinceScan > 0) continue;
      }
      // Frees held for the arena's views that they have let go come before new memory (a
      // SmallAlloc's pool hands the release to the SmallAlloc, whose queue holds them).
      if (this.views.arenaDue()) {
        if (this.hosted) return 0;
        this.releaseHeld(false);
        continue;
      }
      let s = tryGetSlab(this.cache, this.slabSize) >>> 0;
      if (s === 0) {
        // Memory is short: remote frees and retired slots count now. A SmallAlloc's pool
        // returns 0 instead: the SmallAlloc takes in what all its pools hold, and tries again.
        if (this.hosted) return 0;
        if (this.takeRemote() > 0 || this.settleAll() > 0 || this.releaseHeld(true) > 0) continue;
        if (!throwing) return 0;
        this.cache.noMemory(`${this.name}.alloc`, this.objsize);
      }
      this.addSlab(s);
      this.sinceScan += this.objcount;
    }
  }

  /**
   * Moves `scan` to an ALLOCATED word of the current slab with a clear bit: the next one from
   * `scan` on, going round to the first word (frees do not move `scan`); false if none.
   */
  private findRoom(): boolean {
    const i32 = this.i32;
    const first = this.curBm;
    const end = first + this.bw;
    for (let k = 0, w = this.scan; k < this.bw; k++, w = w + 1 === end ? first : w + 1) {
      if (i32[w] !== -1) {
        this.scan = w;
        return true;
      }
    }
    return false;
  }

  /**
   * Frees `ptr`. Throws `InvalidPointerError` (and changes nothing) if `ptr` is not a live
   * object this pool, or another worker's pool over the same arena, handed out.
   * @throws TypeError if `ptr` is not a number; RangeError if it is not a non-negative integer; InvalidPointerError if it is not a live object.
   */
  free(ptr: number): void {
    if (typeof ptr !== 'number' || (ptr >>> 0) !== ptr) {
      this.freeSlow(ptr);
      return;
    }
    // Our slabs are aligned to their size: masking finds the slab of any pointer of ours. Any
    // other pointer's masked address would need our owner word and random pool id there (set
    // with the magic, cleared when the slab goes back); past our views' end reads are undefined.
    const s = ptr - (ptr & this.slabMask);
    if (this.f64[(s >>> 3) + 1] !== this.tag) {
      this.freeSlow(ptr);
      return;
    }
    this.freeIn(ptr, s);
  }

  /**
   * The slot starting `off` bytes after slot 0, or -1: block-header.ts's `slotIndex` without a
   * division (block-header.test.ts checks they agree). stride = d * 2^shift with d odd; for
   * off = idx * stride, idx = imul(off >>> shift, dinv) as dinv * d == 1 (mod 2^32); any other
   * offset gives idx >= count or fails imul(idx, stride) === off. @internal
   */
  slot(off: number): number {
    const idx = Math.imul(off >>> this.shift, this.dinv) >>> 0;
    return idx < this.objcount && Math.imul(idx, this.stride) === off ? idx : -1;
  }

  /**
   * Frees `ptr` of our slab `s`. The fast path, a valid free with `quick` set, *retires* the
   * slot (its HELD bit alone) until `settle` checks a batch against the views; anything else
   * goes to freeLocal, which finds the precise error or takes the slow road. @internal
   */
  freeIn(ptr: number, s: number): void {
    const idx = this.slot(ptr - s - this.first);
    const i32 = this.i32;
    const bw = this.bw;
    // allocWord, slotBit, and below remoteWord (w + bw) and heldWord (w + 2 * bw), of
    // block-header.ts, written out for the fast path; block-header.test.ts checks that they agree.
    const w = (s >>> 2) + Word.WORDS + (idx >>> 5);
    const bit = 1 << (idx & 31);
    // Reads before the bounds test are harmless: a bad idx fails the test and is refused there.
    const a = i32[w]!;
    const held = i32[w + 2 * bw]!;
    if (idx < 0 || (a & bit) === 0 || ((i32[w + bw]! | held) & bit) !== 0 || this.quick !== true) {
      this.freeLocal(ptr, s, this.name);
      return;
    }
    const retired = held | bit;
    i32[w + 2 * bw] = retired;
    if (s === this.cur) {
      // The slab can have become empty only if this word's slots are all free or retired now
      // (a deferred slot also reads as retired here: becameEmpty counts exactly).
      const left = a & ~retired;
      if ((left === 0 || left === this.tail) && this.spare.block !== s) this.becameEmpty(s);
      return;
    }
    this.liveRest--;
    this.freedIn(s);
  }

  /** A slot of slab `s`, not the current one, became free or retired. */
  private freedIn(s: number): void {
    const nf = (s >>> 2) + Word.NFREE;
    const n = this.u32[nf]! + 1;
    this.u32[nf] = n;
    if (n === this.coldLimit || n === this.objcount) this.afterFree(s, n);
  }

  /** Frees `ptr` of our slab `s` (header already matched this pool); errors name `caller`. @internal */
  freeLocal(ptr: number, s: number, caller: string): void {
    const idx = this.slot(ptr - s - this.first);
    if (idx < 0) this.invalid(ptr, 'is not at an object boundary', caller);
    const i32 = this.i32;
    const w = allocWord(s, idx);
    const bit = slotBit(idx);
    const a = i32[w]!;
    const bw = this.bw;
    if ((a & bit) === 0 || (i32[heldWord(w, bw)]! & bit) !== 0) this.invalid(ptr, 'is not allocated (a double free?)', caller);
    if ((i32[remoteWord(w, bw)]! & bit) !== 0) this.invalid(ptr, 'was already freed by another worker', caller);
    if (this.quick === true) {
      // Valid, and nothing of ours holds frees back: retired as on the fast path.
      this.freeIn(ptr, s);
      return;
    }
    if (s !== this.cur) this.liveRest--;
    const tag = this.views.holdTag();
    if (tag !== FREE_NOW) {
      this.defer(ptr, s, w, bit, tag);
      return;
    }
    i32[w] = a ^ bit;
    this.release(ptr, s);
  }

  /** Slab `s`'s slot at `ptr` has just been made free. */
  private release(ptr: number, s: number): void {
    if (this.debug) this.u8.fill(FREED_BYTE, ptr, ptr + this.objsize);
    if (s === this.cur) {
      // It may have lost its last object (becameEmpty settles and counts).
      if (this.spare.block !== s) this.becameEmpty(s);
    } else {
      this.freedIn(s);
    }
    if (this.debug) this.debugOps();
  }

  /** Slab `s` (not the current one) has `coldLimit` free slots again, or became empty. */
  private afterFree(s: number, n: number): void {
    if (n >= this.coldLimit && this.u32[(s >>> 2) + Word.HEAPIDX] === Mark.NONE) this.heapPush(s);
    if (n === this.objcount) this.becameEmpty(s);
  }

  /**
   * Holds a freed slot back, taken, while a read view may see it or the quarantine holds it:
   * REMOTE and HELD set (deferred). `w`, `bit`: its ALLOCATED word and bit; `tag`: holdTag's.
   */
  private defer(ptr: number, s: number, w: number, bit: number, tag: number): void {
    Atomics.or(this.i32, remoteWord(w, this.bw), bit);
    this.i32[heldWord(w, this.bw)]! |= bit;
    this.u32[(s >>> 2) + Word.DEFERRED]!++;
    this.deferredCount++;
    this.views.defer(ptr, this.objsize, tag);
    this.views.syncHeld();
    if (this.debug) {
      // Quarantined, not seen by a view: poisoned now, so a read after the free shows it.
      if (!this.views.anyOpen && tag === NO_EPOCH) this.u8.fill(FREED_BYTE, ptr, ptr + this.objsize);
      if (!this.hosted) this.releaseHeld(false);
      this.debugOps();
    }
  }

  /**
   * A pool of its own (a SmallAlloc releases its pools' frees): releases the held frees no view
   * sees and, unless `unseen` (memory is short), the quarantine no longer holds. Returns how many.
   */
  protected releaseHeld(unseen: boolean): number {
    let n = 0;
    const views = this.views;
    for (let p; (p = unseen ? views.takeUnseen() : views.takeReleasable()) !== 0; n++) this.releaseDeferred(p, p - (p & this.slabMask));
    views.syncHeld();
    return n;
  }

  /** A deferred slot of our slab `s` may be reused now. @internal */
  releaseDeferred(ptr: number, s: number): void {
    const idx = this.slot(ptr - s - this.first);
    const w = allocWord(s, idx);
    const bit = slotBit(idx);
    this.i32[heldWord(w, this.bw)]! &= ~bit;
    Atomics.and(this.i32, remoteWord(w, this.bw), ~bit);
    this.i32[w]! &= ~bit;
    this.u32[(s >>> 2) + Word.DEFERRED]!--;
    this.deferredCount--;
    this.release(ptr, s);
  }

  /** Slots of slab `s` free or retired (for the current slab, recounted). @internal */
  nfree(s: number): number {
    if (s !== this.cur) return this.u32[(s >>> 2) + Word.NFREE]!;
    return this.objcount - occupiedSlots(this.i32, s);
  }

  /** Settles slab `s`'s retired slots: free, or all deferred while a view may see them. Returns the slots made free. @internal */
  settle(s: number): number {
    const dw = (s >>> 2) + Word.DEFERRED;
    const before = this.u32[dw]!;
    const n = settleSlab(this, s);
    const deferred = this.u32[dw]! - before;
    if (deferred === 0) return n;
    this.deferredCount += deferred;
    // A slab out of the heap counted its retired slots as freed; deferred ones are not.
    if (s !== this.cur) this.u32[(s >>> 2) + Word.NFREE]! -= deferred;
    return 0;
  }

  /** Settles every slab (stats, memory pressure); returns the slots made free. @internal */
  settleAll(): number {
    let n = 0;
    // From the end: a slab given back takes the last one's place in the list, one already seen.
    for (let i = this.slabs.length - 1; i >= 0; i--) {
      const s = this.slabs[i]!;
      const k = this.settle(s);
      n += k;
      if (k !== 0 && this.nfree(s) === this.objcount) this.becameEmpty(s);
    }
    return n;
  }

  /** Settles slab `s` and says whether it holds no object now. @internal */
  settledEmpty(s: number): boolean {
    // Cheap tests first: nothing but retired slots may be left (a word at a time, stopping at
    // the first object), or, out of the current slab, the count says so.
    if (s === this.cur ? !onlyRetiredLeft(this.i32, s) : this.u32[(s >>> 2) + Word.NFREE] !== this.objcount) return false;
    this.settle(s);
    return s === this.cur ? blockIsEmpty(this.i32, s) : this.u32[(s >>> 2) + Word.NFREE] === this.objcount;
  }

  // ---- slabs joining and leaving: once per slab, never per object ----

  /** Fresh block `s` from the cache becomes a slab of ours. */
  private addSlab(s: number): void {
    if (s + this.slabSize > this.viewEnd) this.refresh();
    formatBlock(this.u32, this.f64, s, this);
    // Debug mode checks that every free slot still holds the poison it was freed with.
    if (this.debug) this.u8.fill(FREED_BYTE, slotStart(s, this.first, this.stride, 0), slotStart(s, this.first, this.stride, this.objcount));
    this.list(s);
    this.heapPush(s);
  }

  /** Slab `s` joins `slabs`, at the index its Word.LISTIDX keeps. */
  private list(s: number): void {
    this.u32[(s >>> 2) + Word.LISTIDX] = this.slabs.length;
    this.slabs.push(s);
  }

  /** Slab `s` leaves `slabs`: the last slab fills its place. */
  private unlist(s: number): void {
    const u32 = this.u32;
    const i = u32[(s >>> 2) + Word.LISTIDX]!;
    const last = this.slabs.pop()!;
    if (last !== s) {
      this.slabs[i] = last;
      u32[(last >>> 2) + Word.LISTIDX] = i;
    }
  }

  /**
   * Slab `s` may have become empty (once settled: a slot a view holds keeps it): it becomes our
   * spare block; of two empty blocks the lower is kept (as Tarantool's mempool does), so the
   * memory above stays free to merge into long runs, and the other goes back to the cache.
   */
  private becameEmpty(s: number): void {
    const spare = this.spare;
    if (spare.block === s || !this.settledEmpty(s)) return;
    if (spare.block !== 0 && this.settledEmpty(spare.block)) {
      if (spare.block < s) {
        this.giveBack(s);
        return;
      }
      this.giveBack(spare.block);
    }
    spare.keep(s);
  }

  /** {@link SpareHolder.dropSpare}: our spare goes back to the cache if it is still empty. @internal */
  dropSpare(): boolean {
    const s = this.spare.block;
    this.spare.clear();
    if (s === 0 || !this.settledEmpty(s)) return false;
    this.giveBack(s);
    return true;
  }

  /** Our empty slab `s` goes back to the cache, retired first: a stale pointer into it matches no pool. */
  private giveBack(s: number): void {
    if (this.spare.block === s) this.spare.clear();
    this.heapRemove(this.u32[(s >>> 2) + Word.HEAPIDX]!);
    retireSlab(this.u32, s);
    this.unlist(s);
    this.cache.put(s);
  }

  /** Not a fast-path pointer of ours: the page map decides whose block it is in, if any. */
  private freeSlow(ptr: number): void {
    if (typeof ptr !== 'number' || !Number.isSafeInteger(ptr) || ptr < 0) checkPointer(`${this.name}.free`, 'ptr', ptr);
    if (ptr >= this.viewEnd) {
      this.refresh();
      // The first free into memory grown since our views: ours stays on the local route.
      const s = ptr - (ptr & this.slabMask);
      if (ptr < this.viewEnd && this.f64[(s >>> 3) + 1] === this.tag) return this.freeIn(ptr, s);
    }
    freeAnywhere(this.cache.arena, this.ownerId, this.u32, this.i32, ptr, this.name);
  }

  /** {@link BlockOwner.freeOwned}: a free of our `ptr` made through another allocator. @internal */
  freeOwned(ptr: number, s: number, caller: string): void {
    const h = s >>> 2;
    if (this.u32[h + Word.MAGIC] !== Mark.MEMPOOL || this.slabs[this.u32[h + Word.LISTIDX]!] !== s) {
      this.invalid(ptr, 'is not in a slab of the allocator its header names', caller);
    }
    this.freeLocal(ptr, s, caller);
  }

  /** Throws InvalidPointerError naming `caller` (this pool by default). @internal */
  invalid(ptr: number, why: string, caller: string = this.name): never {
    throw new InvalidPointerError(ptr, `${caller}.free: pointer ${describe(ptr)} ${why}`);
  }

  /** Re-reads the views after the buffer grew. @internal */
  refresh(): void {
    holdViews(this.cache.arena.memory, this);
  }

  /** Makes `s` (the heap's new top, or 0) the current slab. @internal */
  setCur(s: number): void {
    const old = this.cur;
    if (s === old) return;
    if (old !== 0) {
      const occupied = occupiedSlots(this.i32, old);
      this.u32[(old >>> 2) + Word.NFREE] = this.objcount - occupied;
      this.liveRest += occupied - this.u32[(old >>> 2) + Word.DEFERRED]!;
    }
    if (s !== 0) this.liveRest -= this.objcount - this.u32[(s >>> 2) + Word.NFREE]! - this.u32[(s >>> 2) + Word.DEFERRED]!;
    this.cur = s;
    if (s === 0) {
      this.curBase = 0;
      this.curBm = 0;
      this.scan = 0;
      return;
    }
    this.curBase = slotStart(s, this.first, this.stride, 0);
    this.curBm = allocBase(s);
    this.scan = this.curBm;
  }

  /** Views were opened or all closed: the fast free path must know (SmallAlloc calls this). @internal */
  viewsChanged(): void {
    this.quick = !this.debug && !this.views.anyOpen;
  }

  /** Takes in the remote frees of every slab whose pending flag is up; returns the slots freed. @internal */
  takeRemote(): number {
    let n = 0;
    const u32 = this.u32;
    // Backwards: a slab returned to the cache is swapped with the last, already visited.
    for (let i = this.slabs.length - 1; i >= 0; i--) {
      const s = this.slabs[i];
      if (s === undefined || Atomics.load(this.i32, (s >>> 2) + Word.PENDING) === 0) continue;
      const before = u32[(s >>> 2) + Word.DEFERRED]!;
      const got = takeSlab(this, s);
      n += got;
      this.freedRemote(s, got, u32[(s >>> 2) + Word.DEFERRED]! - before);
    }
    // Remote frees taken in join the quarantine too: what leaves its window goes now.
    if (n !== 0 && !this.hosted && this.views.quarantining) this.releaseHeld(false);
    return n;
  }

  /** `n` remote frees of slab `s` were taken in, `deferred` of them held back for read views. */
  private freedRemote(s: number, n: number, deferred: number): void {
    this.deferredCount += deferred;
    if (s !== this.cur) this.liveRest -= n;
    if (deferred !== 0 || n === 0) return;
    if (s === this.cur) {
      if (this.nfree(s) === this.objcount) this.becameEmpty(s);
      return;
    }
    const nfree = this.u32[(s >>> 2) + Word.NFREE]! + n;
    this.u32[(s >>> 2) + Word.NFREE] = nfree;
    this.afterFree(s, nfree);
  }

  /** Takes over slab `s` (one we `fit`) of a worker that has exited; returns its live objects. @internal */
  adoptSlab(slab: number): number {
    const s = slab >>> 0;
    if (s + this.slabSize > this.viewEnd) this.refresh();
    const live = adoptBits(this, s);
    const h = s >>> 2;
    const nfree = this.u32[h + Word.NFREE]!;
    this.deferredCount += this.u32[h + Word.DEFERRED]!;
    this.liveRest += live;
    this.u32[h + Word.HEAPIDX] = Mark.NONE;
    this.list(s);
    this.afterFree(s, nfree);
    return live;
  }

  /** Every slab back to the cache; the pool is empty and usable again. */
  destroy(): void {
    this.setCur(0);
    this.spare.clear();
    // A slab the cache refuses (its owner word overwritten: corrupt shared state) stops
    // nothing: every other slab still goes back, and the first refusal is thrown at the end.
    let refused: unknown = null;
    for (const s of this.slabs) {
      retireSlab(this.u32, s);
      try {
        this.cache.put(s);
      } catch (e) {
        refused ??= e;
      }
    }
    this.slabs = [];
    this.heap.clear();
    this.liveRest = 0;
    this.deferredCount = 0;
    this.sinceScan = 0;
    if (refused !== null) throw refused;
    // A pool of its own empties its quarantine (a SmallAlloc resets the queue it shares).
    if (!this.hosted) this.views.reset();
  }

  /**
   * Walks every slab and throws an Error naming the first broken invariant (slots, free counts,
   * heap, spare and counters against the bitmaps). Remote frees are taken in first.
   * @throws Error naming the first broken invariant.
   */
  check(): void {
    checkMempool(this, this.name, this.pageMap, this.order1, this.hosted ? null : this.views);
  }

  // ---- the heap of slabs with room: it returns its new top, which becomes current ----

  /** Puts slab `s` in the heap. @internal */
  heapPush(s: number): void {
    this.setCur(this.heap.push(this.u32, s));
  }

  /** Takes the slab at heap index `i` out of the heap. @internal */
  heapRemove(i: number): void {
    if (this.heap.at(i) === this.cur) this.setCur(0);
    this.setCur(this.heap.remove(this.u32, i));
  }

  /** Debug mode: one more operation (an allocation of `fresh`, poisoned fresh). */
  private debugOps(fresh = 0): void {
    if (fresh !== 0) this.u8.fill(FRESH_BYTE, fresh, fresh + this.objsize);
    // A SmallAlloc counts its own operations and checks everything, its pools included.
    if (this.hosted) return;
    if (this.periodic.due()) this.check();
  }
}

