/**
 * A shared table of stamped allocations that workers fill and empty through their own
 * allocators (adopt-stress.test.ts and its worker), so most frees are cross-frees into
 * another worker's slabs.
 *
 * Table slot (4 Int32 words): state, ptr, size, tag. The state moves by compare-exchange:
 *   EMPTY -> ALLOCATING (ptr 0 until alloc returns, then set before the claim and the stamp)
 *   -> LIVE (stamped, claimed) -> FREEING (one taker: checks the stamp, unclaims, sets ptr 0,
 *   frees) -> EMPTY.
 * Claims (one bit per 8 bytes) catch an address handed out twice while live; a stamp that is
 * not intact when its object is freed catches a write by whoever was given its bytes.
 */
import type { Memory, SmallAlloc } from '../../src/index.js';
import type { Rng } from '../../dev/rng.js';
import { ALLOCATING, type Claims, EMPTY, LIVE, SLOT, stampAt, stampError, tagOf } from './support.js';

/** A slot taken to be freed. */
export const FREEING = 5;
/** Word of the stress test's sync array: 1 tells the mixers to stop. */
export const STOP = 0;

export class StampedTable {
  private seq = 0;
  private readonly slots: number;

  constructor(
    private readonly table: Int32Array,
    private readonly claims: Claims,
    private readonly memory: Memory,
    private readonly alloc: SmallAlloc,
    private readonly rng: Rng,
    /** 0..127, for the tags. */
    private readonly id: number,
  ) {
    this.slots = table.length / SLOT;
  }

  /** One operation on a random slot: fill it if EMPTY, or (as often) free it if LIVE. Throws on a broken stamp or claim. */
  step(): void {
    const { table, rng, alloc, memory } = this;
    const at = rng.int(0, this.slots - 1) * SLOT;
    if (rng.chance(0.5)) {
      if (Atomics.compareExchange(table, at, EMPTY, ALLOCATING) !== EMPTY) return;
      const n = rng.chance(0.01) ? rng.int(alloc.objsizeMax + 1, 3 * alloc.objsizeMax) : rng.chance(0.1) ? rng.int(0, 16) : rng.int(17, 1500);
      const p = alloc.alloc(n);
      const tag = tagOf(this.id, ++this.seq);
      Atomics.store(table, at + 1, p);
      table[at + 2] = n;
      table[at + 3] = tag;
      if (!this.claims.claim(p)) throw new Error(`alloc(${n}) returned ${p}, which is live: handed out twice`);
      stampAt(memory.dv, memory.u8, p, n, tag);
      Atomics.store(table, at, LIVE);
      return;
    }
    if (Atomics.compareExchange(table, at, LIVE, FREEING) !== LIVE) return;
    this.freeSlot(at);
    Atomics.store(table, at, EMPTY);
  }

  /** Frees the object of slot `at` (taken by the caller): its stamp checked, its claim released. */
  private freeSlot(at: number): void {
    const { table, memory } = this;
    const p = table[at + 1]!;
    const n = table[at + 2]!;
    const why = stampError(memory.dv, memory.u8, p, n, table[at + 3]!);
    if (why !== null) throw new Error(`${why}: overwritten while live`);
    if (!this.claims.release(p)) throw new Error(`${p} was live but not claimed`);
    Atomics.store(table, at + 1, 0);
    this.alloc.free(p);
  }

  /**
   * Once every worker that used the table has stopped or exited: frees every object still in
   * it through this allocator (which adopted the dead ones). A killed worker may have been in
   * one of two windows that leave an object nobody can find: given it but not yet published
   * (ALLOCATING, ptr 0), or inside its free (FREEING, ptr 0), which may or may not have taken
   * effect. Returns how many slots were left in those windows.
   */
  drain(): number {
    const table = this.table;
    let unknown = 0;
    for (let at = 0; at < table.length; at += SLOT) {
      const state = table[at]!;
      const p = table[at + 1]!;
      if (state === LIVE) {
        this.freeSlot(at);
      } else if ((state === ALLOCATING || state === FREEING) && p !== 0) {
        // Killed after alloc returned and before publishing, or after taking it to free:
        // the object is live (and adopted). Its stamp may be half-written; its claim may be gone.
        this.claims.release(p);
        this.alloc.free(p);
      } else if (state === ALLOCATING || state === FREEING) {
        unknown++;
      }
      table[at] = EMPTY;
      table[at + 1] = 0;
    }
    return unknown;
  }
}
