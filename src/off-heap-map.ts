/**
 * OffHeapMap: a hash map from u32 or string keys to u32 values (typically record pointers),
 * its table and keys off the garbage-collected heap, in memory from a `SmallAlloc`, shared by
 * every worker that attaches it.
 *
 * Memory source: the `SmallAlloc` given to the constructor or to `attach` (each worker passes
 * its own, over the same arena): the header (one allocation, for the map's life), the table
 * (one allocation, replaced whole when it grows or shrinks), and for string keys one
 * allocation per key (`allocString`'s layout: u32 byte length, then UTF-8).
 *
 * Thread-safety: any number of readers (`get`, `has`, `size`, iteration) in any workers, never
 * waiting; writers (`set`, `delete`, `clear`) in any workers, serialized by a lock word in the
 * header (compare-exchange; `Atomics.wait` when contended, a spin where waiting is not
 * allowed). A reader that follows what it reads (or reads a table a writer may replace) does
 * so under a read view of the arena (`arena.openReadView()`): a replaced table, a deleted
 * key's string and a record the caller frees stay as they were until the view closes.
 *
 * Keys: a string key is its UTF-8 encoding (TextEncoder's: a lone surrogate is U+FFFD, so
 * '\ud800' and '\ufffd' are the same key); a u32 key is an integer in [0, 2^32).
 *
 * Failure: a bad key or value is a `TypeError`/`RangeError` naming the argument, with nothing
 * changed. `set` allocates what it needs (the key's string, a bigger table) before it changes
 * anything: an allocation that fails throws `OutOfMemoryError` with the map unchanged.
 *
 * Layout (Int32 words):
 * ```
 *  header:  MAGIC | KIND (1 u32, 2 string) | LOCK | TABLE | SIZE | TOMBS | ID (random) | 0
 *  table:   CAPACITY | 3 words unused | slot 0 | slot 1 | ... (capacity slots, a power of two)
 *  slot:    CTRL | KEY | VALUE
 *           CTRL 0: empty; 1: deleted; else hash | 2 (a live key whose hash has those bits)
 *           KEY: the u32 key, or the pointer to the key's string
 * ```
 * Protocol: open addressing with linear probing from `(CTRL >>> 2) & (capacity - 1)`. A slot goes
 * empty -> live -> deleted and never back within one table, so a live slot's KEY never changes:
 * a reader that loads CTRL (atomically, once it matches) and then finds KEY equal has found the
 * key, and its VALUE word (a 32-bit word: never torn) is a value the key held. Insert writes KEY and VALUE, then
 * publishes CTRL; an update stores VALUE; a delete stores CTRL = 1. When live + deleted slots
 * would pass 3/4 of the capacity, or live ones fall under 1/16 of it, the writer builds a new
 * table with the live entries (all at once, at twice the live count rounded up to a power of
 * two, at least MIN_CAPACITY), publishes its pointer, and frees the old one; string keys move
 * as pointers, never copied.
 *
 * Invariants (`check()` verifies them, under the lock): every live slot is found by a probe
 * for its key, and no key twice; SIZE == live slots, TOMBS == deleted slots; live + deleted
 * <= 3/4 capacity; a string key's CTRL is its string's hash | 2, and its string is a live
 * allocation.
 */
import { OutOfMemoryError } from './errors.js';
import { checkInstance, checkInt, describe } from './internal/checks.js';
import { holdViews, type HeldViews } from './memory.js';
import { readStringAt } from './internal/strings.js';
import type { SlabArenaHandle } from './small/slabs/slab-arena.js';
import { SmallAlloc } from './small/objects/small-alloc.js';
import { hashString, hashU32, wellFormed } from './off-heap-map-keys.js';
import type { ReadView } from './small/slabs/arena-views.js';

/** Word indexes of the header. */
const enum H {
  MAGIC = 0,
  KIND = 1,
  LOCK = 2,
  TABLE = 3,
  SIZE = 4,
  TOMBS = 5,
  /** A random id of the map, written with the magic: a handle must name it. */
  ID = 6,
  /** Unused, 0. */
  UNUSED = 7,
  WORDS = 8,
}

/** 'OHMP' */
const MAGIC = 0x504d484f;
const KIND_U32 = 1;
const KIND_STRING = 2;
/** Words before slot 0 in a table. */
const TABLE_HEAD = 4;
const SLOT_WORDS = 3;
const EMPTY = 0;
const DELETED = 1;
/** The smallest table: 16 slots. */
const MIN_CAPACITY = 16;
/** Slots the largest table may have (its bytes stay below 2^31). */
const MAX_CAPACITY = 2 ** 27;

/**
 * What `handle()` returns, for `OffHeapMap.attach` in another worker (structured-cloneable).
 * @category Records
 */
export interface OffHeapMapHandle {
  /** What the handle is for. */
  readonly kind: 'OffHeapMap';
  /** The key kind. */
  readonly keys: 'u32' | 'string';
  /** The header's address in the arena. */
  readonly header: number;
  /** The map's random id, checked against its header. */
  readonly id: number;
}

/**
 * Options of the {@link OffHeapMap} constructor.
 * @category Records
 */
export interface OffHeapMapOptions {
  /** `'u32'`: integer keys in [0, 2^32); `'string'`: any string, stored as UTF-8. */
  keys: 'u32' | 'string';
}

/**
 * What {@link OffHeapMap.stats} reports.
 * @category Records
 */
export interface OffHeapMapStats {
  /** Live entries. */
  size: number;
  /** Slots of the table. */
  capacity: number;
  /** Deleted slots not yet dropped by a rebuild. */
  tombstones: number;
  /** size / capacity. */
  load: number;
  /** Bytes of the table. */
  tableBytes: number;
  /** Bytes of the keys' strings (string keys; 0 for u32 keys), as their allocations hold them. */
  keyBytes: number;
  /** Table and key bytes per live entry (0 when empty). */
  bytesPerEntry: number;
}

/** True for the CTRL of a live slot (neither EMPTY nor DELETED). */
function isLive(c: number): boolean {
  return (c & ~1) !== 0;
}

/** CTRL of a live key with hash `h`: never EMPTY or DELETED. */
function ctrlOf(h: number): number {
  return h | 2;
}

/** The slot a probe for a key with CTRL `c` starts at: the hash bits above the two CTRL marks. */
function homeOf(c: number, mask: number): number {
  return (c >>> 2) & mask;
}

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** The memory's views this class holds in fields of its own (see holdViews). @internal */
export interface OffHeapMap<K extends number | string = number | string> extends HeldViews {}

/**
 * A hash map from keys (u32 or string) to u32 values, kept off the JS heap in memory from a
 * {@link SmallAlloc}, shared by every worker that attaches it. A slot of its table goes empty ->
 * live -> deleted and never back, so a reader that finds its key reads a value the key held;
 * a writer inserts a key's word and value before it publishes the slot, and the table is
 * rebuilt whole (at twice the live count) when live and deleted slots pass 3/4 of it or live
 * ones fall under 1/16.
 *
 * @remarks
 * Memory source: the SmallAlloc of the worker making each change. Thread-safety: readers in
 * any workers never wait; writers in any workers are serialized by the map's lock; a reader
 * that may race a writer reads under `arena.openReadView()`. Failure: bad arguments are
 * `TypeError`/`RangeError`, a failed allocation `OutOfMemoryError`, with nothing changed.
 * @category Records
 */
export class OffHeapMap<K extends number | string = number | string> {
  /** The allocator this worker's changes take memory from (and free through). */
  readonly alloc: SmallAlloc;
  /** The key kind. */
  readonly keyKind: 'u32' | 'string';
  /** The header's address. @internal */
  readonly header: number;
  private readonly hw: number;
  private readonly strings: boolean;
  private readonly id: number;

  /**
   * An empty map whose memory comes from `alloc`.
   * @throws TypeError if `alloc` is not a SmallAlloc or `opts.keys` is not 'u32' or 'string'; OutOfMemoryError if its first table cannot be had.
   */
  constructor(alloc: SmallAlloc, opts: OffHeapMapOptions);
  /** @internal */
  constructor(alloc: SmallAlloc, opts: OffHeapMapOptions, attachTo: OffHeapMapHandle);
  constructor(alloc: SmallAlloc, opts: OffHeapMapOptions, attachTo?: OffHeapMapHandle) {
    const where = attachTo === undefined ? 'OffHeapMap' : 'OffHeapMap.attach';
    checkInstance(where, 'alloc', alloc, SmallAlloc);
    if (typeof opts !== 'object' || opts === null || (opts.keys !== 'u32' && opts.keys !== 'string')) {
      throw new TypeError(`${where}: opts.keys must be 'u32' or 'string', got ${describe((opts as { keys?: unknown } | null)?.keys)}`);
    }
    this.alloc = alloc;
    this.keyKind = opts.keys;
    this.strings = opts.keys === 'string';
    holdViews(alloc.memory, this);
    if (attachTo !== undefined) {
      this.header = attachTo.header;
      this.hw = attachTo.header >>> 2;
      this.id = attachTo.id;
      return;
    }
    const header = alloc.alloc(4 * H.WORDS);
    let table = 0;
    try {
      table = this.newTable(MIN_CAPACITY);
    } catch (e) {
      alloc.free(header);
      throw e;
    }
    if (header + 4 * H.WORDS > this.viewEnd) this.refresh();
    this.header = header;
    this.hw = header >>> 2;
    this.id = (Math.random() * 0x7fffffff) | 1;
    const i32 = this.i32;
    const hw = this.hw;
    i32[hw + H.KIND] = this.strings ? KIND_STRING : KIND_U32;
    i32[hw + H.LOCK] = 0;
    i32[hw + H.SIZE] = 0;
    i32[hw + H.TOMBS] = 0;
    i32[hw + H.ID] = this.id;
    i32[hw + H.UNUSED] = 0;
    Atomics.store(i32, hw + H.TABLE, table);
    Atomics.store(i32, hw + H.MAGIC, MAGIC);
  }

  /**
   * The map whose `handle()` another worker sent, with `alloc` (this worker's SmallAlloc over
   * the same arena) for the memory this worker's changes need.
   * @throws TypeError if `handle` is not a map handle or `alloc` not a SmallAlloc; RangeError if the handle does not name a live map in alloc's arena.
   */
  static attach<K extends number | string = number | string>(handle: OffHeapMapHandle, alloc: SmallAlloc): OffHeapMap<K> {
    const where = 'OffHeapMap.attach';
    const h = handle as Partial<OffHeapMapHandle> | null;
    if (typeof h !== 'object' || h === null || h.kind !== 'OffHeapMap' || (h.keys !== 'u32' && h.keys !== 'string')) {
      throw new TypeError(`${where}: handle is not an OffHeapMap handle (got ${describe(handle)})`);
    }
    checkInt(where, 'handle.header', h.header, 4, 2 ** 32 - 4 * H.WORDS);
    checkInt(where, 'handle.id', h.id, 1, 0x7fffffff);
    checkInstance(where, 'alloc', alloc, SmallAlloc);
    if ((h.header! & 3) !== 0) throw new RangeError(`${where}: handle.header ${h.header} is not 4-byte aligned`);
    let live = false;
    try {
      live = alloc.info(h.header!).realSize >= 4 * H.WORDS;
    } catch {
      live = false;
    }
    const i32 = alloc.memory.i32;
    const hw = h.header! >>> 2;
    if (!live || Atomics.load(i32, hw + H.MAGIC) !== MAGIC || i32[hw + H.ID] !== h.id ||
      i32[hw + H.KIND] !== (h.keys === 'string' ? KIND_STRING : KIND_U32)) {
      throw new RangeError(`${where}: handle.header ${h.header} does not hold this map in alloc's arena`);
    }
    return new OffHeapMap<K>(alloc, { keys: h.keys }, h as OffHeapMapHandle);
  }

  /** A handle for `OffHeapMap.attach` in another worker. */
  handle(): OffHeapMapHandle {
    return { kind: 'OffHeapMap', keys: this.keyKind, header: this.header, id: this.id };
  }

  /** Live entries. */
  get size(): number {
    return Atomics.load(this.i32, this.hw + H.SIZE);
  }

  /** The value of `key`, or undefined. @throws TypeError / RangeError for a bad key. */
  get(key: K): number | undefined {
    const s = this.find(key, 'get');
    // find's atomic load of the slot's CTRL ordered this load after it; an update stores VALUE
    // atomically, so this reads the old value or the new, never a mix.
    return s < 0 ? undefined : this.i32[s + 2]! >>> 0;
  }

  /** True when `key` has a value. @throws TypeError / RangeError for a bad key. */
  has(key: K): boolean {
    return this.find(key, 'has') >= 0;
  }

  /**
   * Gives `key` the value `value` (a u32); returns the map.
   * @throws TypeError / RangeError for a bad key or value; OutOfMemoryError when the memory it needs cannot be had (nothing changed).
   */
  set(key: K, value: number): this {
    const h = this.keyHash(key, 'set');
    if (typeof value !== 'number' || (value >>> 0) !== value) checkInt('OffHeapMap.set', 'value', value, 0, 2 ** 32 - 1);
    this.lock();
    try {
      this.setLocked(key, h, value);
    } finally {
      this.unlock();
    }
    return this;
  }

  /** Removes `key`; true if it had a value. @throws TypeError / RangeError for a bad key. */
  delete(key: K): boolean {
    const h = this.keyHash(key, 'delete');
    this.lock();
    try {
      const t = this.tableLocked();
      const s = this.probe(t, key, h, true);
      if (s < 0) return false;
      const i32 = this.i32;
      const hw = this.hw;
      const keyPtr = i32[s + 1]!;
      Atomics.store(i32, s, DELETED);
      Atomics.store(i32, hw + H.SIZE, i32[hw + H.SIZE]! - 1);
      i32[hw + H.TOMBS] = i32[hw + H.TOMBS]! + 1;
      // Readers under a view may still compare this key: it is freed, not overwritten.
      if (this.strings) this.alloc.free(keyPtr >>> 0);
      const cap = this.capacityOf(t);
      if (i32[hw + H.SIZE]! * 16 < cap && cap > MIN_CAPACITY) this.tryRebuild(t);
      return true;
    } finally {
      this.unlock();
    }
  }

  /** Removes every entry (a fresh table; the old one and the keys are freed). */
  clear(): void {
    this.lock();
    try {
      const next = this.newTable(MIN_CAPACITY);
      const old = this.tableLocked();
      const i32 = this.i32;
      Atomics.store(i32, this.hw + H.TABLE, next);
      Atomics.store(i32, this.hw + H.SIZE, 0);
      i32[this.hw + H.TOMBS] = 0;
      this.freeTable(old, true);
    } finally {
      this.unlock();
    }
  }

  /** The keys, from the table as it is when the iteration starts (under a read view of its own). */
  keys(): IterableIterator<K> {
    return this.walk(0) as IterableIterator<K>;
  }

  /** The values (see keys()). */
  values(): IterableIterator<number> {
    return this.walk(1) as IterableIterator<number>;
  }

  /** [key, value] pairs (see keys()). */
  entries(): IterableIterator<[K, number]> {
    return this.walk(2) as IterableIterator<[K, number]>;
  }

  /** Same as entries(). */
  [Symbol.iterator](): IterableIterator<[K, number]> {
    return this.entries();
  }

  /** Size, capacity and bytes (see OffHeapMapStats). */
  stats(): OffHeapMapStats {
    this.lock();
    try {
      const t = this.tableLocked();
      const cap = this.capacityOf(t);
      const size = this.i32[this.hw + H.SIZE]!;
      const tableBytes = 4 * (TABLE_HEAD + SLOT_WORDS * cap);
      let keyBytes = 0;
      if (this.strings) {
        for (let s = (t >>> 2) + TABLE_HEAD, end = s + SLOT_WORDS * cap; s < end; s += SLOT_WORDS) {
          if (isLive(this.i32[s]!)) keyBytes += this.alloc.info(this.i32[s + 1]! >>> 0).realSize;
        }
      }
      return {
        size, capacity: cap, tombstones: this.i32[this.hw + H.TOMBS]!, load: size / cap, tableBytes, keyBytes,
        bytesPerEntry: size === 0 ? 0 : (tableBytes + keyBytes) / size,
      };
    } finally {
      this.unlock();
    }
  }

  /**
   * Walks the table under the lock and throws an Error naming the first broken invariant: every
   * live key is found by a probe for it, and only once; the size and deleted counts match the
   * slots; at most 3/4 of the slots are used; a string key's hash and string are intact.
   * @throws Error naming the first broken invariant.
   */
  check(): void {
    this.lock();
    try {
      const problem = this.problem();
      if (problem !== null) throw new Error(`OffHeapMap.check: ${problem}`);
    } finally {
      this.unlock();
    }
  }

  /** One line: the key kind, size and capacity. */
  toString(): string {
    const t = this.table();
    return `OffHeapMap(${this.keyKind}) { size: ${this.size}, capacity: ${this.capacityOf(t)} }`;
  }

  /** Node's console.log and util.inspect print toString()'s one line. */
  [inspectSymbol](): string {
    return this.toString();
  }

  // ---- the table ----

  /** The current table's address (an atomic load: another worker may have replaced it). */
  private table(): number {
    return Atomics.load(this.i32, this.hw + H.TABLE) >>> 0;
  }

  /** The table's address for the lock holder: only lock holders replace it, so a plain load. */
  private tableLocked(): number {
    return this.i32[this.hw + H.TABLE]! >>> 0;
  }

  /** Slots of table `t`, refreshing our views when it lies past them. */
  private capacityOf(t: number): number {
    if (t + 4 * TABLE_HEAD > this.viewEnd) this.refresh();
    const cap = this.i32[t >>> 2]!;
    if (t + 4 * (TABLE_HEAD + SLOT_WORDS * cap) > this.viewEnd) this.refresh();
    return cap;
  }

  /** The word index of `key`'s live slot, or -1. Checks the key. */
  private find(key: K, op: string): number {
    return this.probe(this.table(), key, this.keyHash(key, op));
  }

  /**
   * The word index of `key`'s live slot in table `t` (hash `h`), or -1. `locked`: the caller
   * holds the writers' lock, so no slot changes under it (only lock holders write them).
   */
  private probe(t: number, key: K, h: number, locked = false): number {
    const cap = this.capacityOf(t);
    const i32 = this.i32;
    const base = (t >>> 2) + TABLE_HEAD;
    const mask = cap - 1;
    const want = ctrlOf(h);
    for (let i = homeOf(want, mask), n = 0; n < cap; i = (i + 1) & mask, n++) {
      const s = base + i * SLOT_WORDS;
      // Plain loads pass over other keys' slots (an Atomics.load costs 10-15 ns on Node 20 and
      // 24: it is not inlined); a slot whose CTRL matches is loaded again atomically, which
      // orders the KEY and VALUE loads after it (they were written before CTRL was published).
      // A plain load that misses a slot being published reads as "inserted after this probe".
      const c = i32[s]!;
      if (c === EMPTY) return -1;
      if (c !== want || (!locked && Atomics.load(i32, s) !== want)) continue;
      if (this.strings ? this.keyEquals(i32[s + 1]! >>> 0, key as string) : i32[s + 1] === ((key as number) | 0)) return s;
    }
    return -1;
  }

  /** True when the string at `ptr` (allocString's layout) is `key`. */
  private keyEquals(ptr: number, key: string): boolean {
    if (ptr + 4 > this.viewEnd) this.refresh();
    const n = this.dv.getUint32(ptr, true);
    if (n < key.length) return false;
    if (n === key.length) {
      // ASCII: one byte a code unit.
      const u8 = this.u8;
      let i = 0;
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80 || u8[ptr + 4 + i] !== c) break;
      }
      if (i === n) return true;
      if (key.charCodeAt(i) < 0x80) return false;
    }
    return this.stringAt(ptr) === wellFormed(key);
  }

  /**
   * The string at `ptr` read raw: a key deleted while a reader compares it is freed but, under
   * the reader's view, unchanged (SmallAlloc.readString would refuse a freed pointer).
   */
  private stringAt(ptr: number): string {
    if (ptr + 4 > this.viewEnd) this.refresh();
    const end = ptr + 4 + this.dv.getUint32(ptr, true);
    if (end > this.viewEnd) this.refresh();
    return readStringAt(this.u8, this.dv, ptr, end, 'OffHeapMap');
  }

  /** The key's hash after checking it (a TypeError/RangeError naming `op`). */
  private keyHash(key: K, op: string): number {
    if (this.strings) {
      if (typeof key !== 'string') throw new TypeError(`OffHeapMap.${op}: key must be a string, got ${describe(key)}`);
      return hashString(key);
    }
    if (typeof key !== 'number' || (key >>> 0) !== key) checkInt(`OffHeapMap.${op}`, 'key', key, 0, 2 ** 32 - 1);
    return hashU32(key as number);
  }

  /** set() under the lock. */
  private setLocked(key: K, h: number, value: number): void {
    let t = this.tableLocked();
    const existing = this.probe(t, key, h, true);
    if (existing >= 0) {
      // Atomic: a release, so a reader that loads this value sees the record it points to.
      Atomics.store(this.i32, existing + 2, value | 0);
      return;
    }
    // What the insert needs, before anything changes: the key's string, a bigger table.
    const keyWord = this.strings ? this.alloc.allocString(key as string) : key as number;
    const hw = this.hw;
    const live = this.i32[hw + H.SIZE]!;
    if ((live + this.i32[hw + H.TOMBS]! + 1) * 4 > this.capacityOf(t) * 3) {
      try {
        t = this.rebuild(t, live + 1);
      } catch (e) {
        if (this.strings) this.alloc.free(keyWord);
        throw e;
      }
    }
    this.insert(t, h, keyWord, value);
    Atomics.store(this.i32, hw + H.SIZE, live + 1);
  }

  /** Puts a new key in the first empty slot of its probe in table `t`: KEY, VALUE, then CTRL. */
  private insert(t: number, h: number, keyWord: number, value: number): void {
    const cap = this.capacityOf(t);
    const i32 = this.i32;
    const base = (t >>> 2) + TABLE_HEAD;
    const mask = cap - 1;
    let i = homeOf(ctrlOf(h), mask);
    while (i32[base + i * SLOT_WORDS] !== EMPTY) i = (i + 1) & mask;
    const s = base + i * SLOT_WORDS;
    i32[s + 1] = keyWord | 0;
    i32[s + 2] = value | 0;
    Atomics.store(i32, s, ctrlOf(h));
  }

  /**
   * A new table for `live` entries, at twice that rounded up to a power of two, holding every
   * live entry of `t`; published, and `t` freed. Returns the new table. Throws (nothing
   * changed) when the memory cannot be had.
   */
  private rebuild(t: number, live: number): number {
    let cap = MIN_CAPACITY;
    while (cap < live * 2) cap *= 2;
    if (cap > MAX_CAPACITY) throw new OutOfMemoryError(0, `OffHeapMap.set: a table for ${live} entries would pass ${MAX_CAPACITY} slots`);
    const next = this.newTable(cap);
    const oldCap = this.capacityOf(t);
    const i32 = this.i32;
    for (let s = (t >>> 2) + TABLE_HEAD, end = s + SLOT_WORDS * oldCap; s < end; s += SLOT_WORDS) {
      const c = i32[s]!;
      if (!isLive(c)) continue;
      this.insert(next, c, i32[s + 1]!, i32[s + 2]!);
    }
    Atomics.store(i32, this.hw + H.TABLE, next);
    i32[this.hw + H.TOMBS] = 0;
    this.freeTable(t, false);
    return next;
  }

  /** A shrink after a delete: only when the memory can be had (a delete never fails). */
  private tryRebuild(t: number): void {
    try {
      this.rebuild(t, this.i32[this.hw + H.SIZE]!);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
    }
  }

  /** A table of `cap` empty slots. */
  private newTable(cap: number): number {
    const bytes = 4 * (TABLE_HEAD + SLOT_WORDS * cap);
    const t = this.alloc.alloc(bytes);
    if (t + bytes > this.viewEnd) this.refresh();
    this.i32.fill(0, t >>> 2, (t + bytes) >>> 2);
    this.i32[t >>> 2] = cap;
    return t;
  }

  /** Frees table `t`, and with `keys` the strings of its live keys (clear()). */
  private freeTable(t: number, keys: boolean): void {
    if (keys && this.strings) {
      const cap = this.capacityOf(t);
      const i32 = this.i32;
      for (let s = (t >>> 2) + TABLE_HEAD, end = s + SLOT_WORDS * cap; s < end; s += SLOT_WORDS) {
        if (isLive(i32[s]!)) this.alloc.free(i32[s + 1]! >>> 0);
      }
    }
    this.alloc.free(t);
  }

  /** Iterates the table as it is now (0: keys, 1: values, 2: entries), under a view. */
  private *walk(what: 0 | 1 | 2): Generator<unknown> {
    const view: ReadView = this.alloc.cache.arena.openReadView();
    try {
      const t = this.table();
      const cap = this.capacityOf(t);
      for (let k = 0; k < cap; k++) {
        const s = (t >>> 2) + TABLE_HEAD + k * SLOT_WORDS;
        if (!isLive(Atomics.load(this.i32, s))) continue;
        const value = Atomics.load(this.i32, s + 2) >>> 0;
        if (what === 1) {
          yield value;
          continue;
        }
        const keyWord = this.i32[s + 1]! >>> 0;
        const key = this.strings ? this.stringAt(keyWord) : keyWord;
        yield what === 0 ? key : [key, value];
      }
    } finally {
      view.close();
    }
  }

  /** The first broken invariant, or null (under the lock). */
  private problem(): string | null {
    const i32 = this.i32;
    const hw = this.hw;
    if (Atomics.load(i32, hw + H.MAGIC) !== MAGIC) return `the header at ${this.header} lost its magic`;
    const t = this.tableLocked();
    const cap = this.capacityOf(t);
    if (cap < MIN_CAPACITY || cap > MAX_CAPACITY || (cap & (cap - 1)) !== 0) return `the table's capacity ${cap} is not a power of two in range`;
    let live = 0;
    let deleted = 0;
    const seen = new Set<number | string>();
    for (let k = 0; k < cap; k++) {
      const s = (t >>> 2) + TABLE_HEAD + k * SLOT_WORDS;
      const c = i32[s]!;
      if (c === EMPTY) continue;
      if (c === DELETED) {
        deleted++;
        continue;
      }
      live++;
      const keyWord = i32[s + 1]! >>> 0;
      let key: number | string = keyWord;
      if (this.strings) {
        try {
          key = this.alloc.readString(keyWord);
        } catch (e) {
          return `slot ${k}: its key pointer ${keyWord} is not a live string (${(e as Error).message})`;
        }
      }
      const h = this.strings ? hashString(key as string) : hashU32(keyWord);
      if (ctrlOf(h) !== c) return `slot ${k}: the hash of key ${JSON.stringify(key)} does not match its CTRL`;
      if (seen.has(key)) return `key ${JSON.stringify(key)} is in two slots`;
      seen.add(key);
      if (this.probe(t, key as K, h, true) !== s) {
        return `slot ${k}: a probe for key ${JSON.stringify(key)} does not find it`;
      }
    }
    if (live !== i32[hw + H.SIZE]) return `${live} live slots, the header says ${i32[hw + H.SIZE]}`;
    if (deleted !== i32[hw + H.TOMBS]) return `${deleted} deleted slots, the header says ${i32[hw + H.TOMBS]}`;
    if ((live + deleted) * 4 > cap * 3) return `${live + deleted} of ${cap} slots used, above 3/4`;
    return null;
  }

  // ---- the writers' lock ----

  /** Takes the writers' lock: 0 free, 1 held, 2 held with waiters (a futex mutex). */
  private lock(): void {
    const i32 = this.i32;
    const w = this.hw + H.LOCK;
    if (Atomics.compareExchange(i32, w, 0, 1) === 0) return;
    let c = Atomics.exchange(i32, w, 2);
    while (c !== 0) {
      try {
        Atomics.wait(i32, w, 2, 100);
      } catch {
        // A thread that may not wait (a browser's main thread) spins instead.
      }
      c = Atomics.exchange(i32, w, 2);
    }
  }

  private unlock(): void {
    if (Atomics.exchange(this.i32, this.hw + H.LOCK, 0) === 2) Atomics.notify(this.i32, this.hw + H.LOCK, 1);
  }

  /** Re-reads the views after the buffer grew. */
  private refresh(): void {
    holdViews(this.alloc.memory, this);
  }
}
