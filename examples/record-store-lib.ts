/**
 * The record store's parts shared by its main program and its reader workers: the record
 * layout, the names, and the ordered index (a skiplist whose nodes live in an `Arena`, as
 * LevelDB keeps its memtable), with the search the workers run on the same shared memory.
 *
 * Skiplist node (u32 words, in the arena's memory):
 * ```
 *  +-----+-----------+---------+---------+-- ... --+
 *  | key | record    | next[0] | next[1] |  up to  |
 *  |     | (atomic)  |         |         | height  |
 *  +-----+-----------+---------+---------+-- ... --+
 * ```
 * The head has every level. Links are written once, at insert, before any reader starts; the
 * record word changes (copy-on-write updates, 0 for a deleted record) by `Atomics.store`, and
 * readers load it with `Atomics.load`.
 */
import type { Arena } from 'binalloc';

/** A player record. */
export const fieldsOfPlayer = { id: 'u32', score: 'f64', name: { string: 16 } } as const;

/** A short name per id (at most 16 bytes). */
export function nameOf(id: number): string {
  return `player-${id.toString(36)}`;
}

/** Levels of the skiplist; with LevelDB's branching of 4, enough for 4^15 keys. */
export const MAX_HEIGHT = 16;
const KEY = 0;
const REC = 1;
const NEXT = 2;

/**
 * The record pointer stored for `key` in the skiplist at `head` over `u32`/`i32` (views of
 * the arena's memory), or 0 when the key is absent or deleted.
 */
export function search(u32: Uint32Array, i32: Int32Array, head: number, key: number): number {
  let x = head >>> 2;
  for (let level = MAX_HEIGHT - 1; level >= 0; level--) {
    for (;;) {
      const next = u32[x + NEXT + level]! >>> 2;
      if (next === 0 || u32[next + KEY]! >= key) break;
      x = next;
    }
  }
  const n = u32[x + NEXT]! >>> 2;
  return n !== 0 && u32[n + KEY] === key ? Atomics.load(i32, n + REC) >>> 0 : 0;
}

/** An ordered index from u32 keys to record pointers, its nodes in an Arena. */
export class SkipList {
  /** The head node's address. */
  readonly head: number;
  private u32: Uint32Array;
  private i32: Int32Array;
  private random: number;
  private readonly prev = new Uint32Array(MAX_HEIGHT);

  constructor(private readonly arena: Arena, seed: number) {
    this.random = seed >>> 0 || 1;
    this.u32 = arena.memory.u32;
    this.i32 = arena.memory.i32;
    this.head = this.node(0, 0, MAX_HEIGHT);
  }

  /** The record of `key`, or 0. */
  get(key: number): number {
    return search(this.u32, this.i32, this.head, key);
  }

  /** Points `key` (present) at `rec` (0 deletes it). */
  set(key: number, rec: number): void {
    const n = this.find(key);
    if (n !== 0) Atomics.store(this.i32, (n >>> 2) + REC, rec);
  }

  /** Adds `key` (absent) pointing at `rec`. */
  insert(key: number, rec: number): void {
    this.descend(key);
    const h = this.height();
    const p = this.node(key, rec, h) >>> 2;
    const u32 = this.u32;
    for (let level = 0; level < h; level++) {
      const before = this.prev[level]!;
      u32[p + NEXT + level] = u32[before + NEXT + level]!;
      u32[before + NEXT + level] = p << 2;
    }
  }

  /** The node of `key` (its address), or 0. */
  private find(key: number): number {
    const n = this.u32[this.descend(key) + NEXT]! >>> 2;
    return n !== 0 && this.u32[n + KEY] === key ? n << 2 : 0;
  }

  /**
   * Walks down from the head to the last node before `key` on every level, noting them in
   * `prev`; returns the one on level 0 (a u32 index).
   */
  private descend(key: number): number {
    let x = this.head >>> 2;
    for (let level = MAX_HEIGHT - 1; level >= 0; level--) {
      for (;;) {
        const next = this.u32[x + NEXT + level]! >>> 2;
        if (next === 0 || this.u32[next + KEY]! >= key) break;
        x = next;
      }
      this.prev[level] = x;
    }
    return x;
  }

  /** LevelDB's: height 1, and one more level with probability 1/4 each time. */
  private height(): number {
    let h = 1;
    for (;;) {
      let s = this.random;
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      this.random = s >>> 0;
      if (h >= MAX_HEIGHT || (this.random & 3) !== 0) return h;
      h++;
    }
  }

  private node(key: number, rec: number, height: number): number {
    const p = this.arena.allocateAligned(4 * (NEXT + height));
    const m = this.arena.memory;
    if (p + 4 * (NEXT + height) > this.u32.length * 4) {
      this.u32 = m.u32;
      this.i32 = m.i32;
    }
    const w = p >>> 2;
    this.u32[w + KEY] = key;
    this.i32[w + REC] = rec;
    this.u32.fill(0, w + NEXT, w + NEXT + height);
    return p;
  }
}

/** One phase's figures. */
export interface PhaseResult {
  name: string;
  count: number;
  ms: number;
  perSecond: number;
}

/** What one store's process reports. */
export interface StoreResult {
  store: 'map' | 'offheap';
  records: number;
  phases: PhaseResult[];
  rssPerRecord: number;
  heapPerRecord: number;
  rssGrowth: number;
  heapGrowth: number;
  rssEnd: number;
  gcTotalMs: number;
  gcMaxMs: number;
  gcCount: number;
  snapshotConsistent: boolean;
  readers: { workers: number; perSecond: number; ok: boolean; setupMs: number } | null;
  stats: Record<string, unknown>;
  statsText?: string;
  heapMap: string;
  sink: number;
}
