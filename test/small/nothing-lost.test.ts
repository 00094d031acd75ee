/**
 * Nothing is lost: memory freed through the small family comes back, whole, for the next user.
 *
 * Each test reads as the promise it checks and ends the same way: everything freed, every
 * allocator destroyed, the arena has no slab handed out (`arena.used === 0`) and every
 * `check()` passes.
 *
 * A. capacity after churn (the spare block each size class keeps goes back under memory pressure,
 *    so spares never eat the quota; a buffer after a pool's churn gets what it gets on a fresh arena);
 * B. a large allocation of a power of two takes that many bytes, not twice as many;
 * C. adopt() of a live thread is refused and changes nothing;
 * D. error classes and messages of SmallAlloc, and one rule for pointer arguments;
 * E. read views that are never closed, and the release of deferred frees after the last close;
 * F. writes through stale pointers (use after free) spoil those bytes only, never the allocator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { threadId } from 'node:worker_threads';
import {
  Ibuf, InvalidPointerError, LSRegion, Mempool, Obuf, Region, OutOfMemoryError, Quota, QuotaExceededError, SlabArena, SlabCache, SmallAlloc,
} from '../../src/index.js';
import { seeded, type Rng } from '../../dev/rng.js';

const KB = 1024;
const MB = 1024 * KB;

/** A quota, an arena over it, one cache and one SmallAlloc. */
interface Setup {
  quota: Quota;
  arena: SlabArena;
  cache: SlabCache;
  alloc: SmallAlloc;
}

function setup(limit: number, slabSize?: number, maximum?: number): Setup {
  const quota = new Quota(limit);
  const arena = new SlabArena({ quota, ...(slabSize !== undefined ? { slabSize } : {}), ...(maximum !== undefined ? { maximum } : {}) });
  const cache = new SlabCache(arena);
  return { quota, arena, cache, alloc: new SmallAlloc(cache) };
}

/**
 * The end of every test: `allocs` (already emptied by the test) pass check() and are destroyed,
 * then their caches; the arena has no slab handed out and passes its own check().
 */
function nothingLost(arena: SlabArena, allocs: { check(): void; destroy(): void }[], caches: SlabCache[]): void {
  for (const a of allocs) a.check();
  for (const a of allocs) a.destroy();
  for (const c of caches) {
    c.check();
    c.destroy();
  }
  assert.equal(arena.used, 0, 'every slab went back to the arena');
  arena.check();
}

/** Allocates `size`-byte objects until the allocator says no; returns them. */
function fillWith(alloc: SmallAlloc, size: number): number[] {
  const ptrs: number[] = [];
  for (;;) {
    const p = alloc.tryAlloc(size);
    if (p === 0) return ptrs;
    ptrs.push(p);
  }
}

function freeAll(alloc: SmallAlloc, ptrs: number[]): void {
  for (const p of ptrs) alloc.free(p);
  ptrs.length = 0;
}

/**
 * One object of every size 1, 8, 15, ... up to 3000, all live at once (as many as the quota
 * lets through: a 2 MiB quota cannot hold a slab of every class at once), then all freed.
 */
function churn(alloc: SmallAlloc): void {
  const ptrs: number[] = [];
  for (let size = 1; size <= 3000; size += 7) {
    const p = alloc.tryAlloc(size);
    if (p !== 0) ptrs.push(p);
  }
  assert.ok(ptrs.length > 0, 'the churn allocated something');
  freeAll(alloc, ptrs);
}

/** A SmallAlloc over 64 KiB slabs under a 2 MiB quota, and how many 24-byte objects it fits fresh. */
function churnSetup(): Setup & { fresh: number } {
  const s = setup(2 * MB, 64 * KB);
  const ptrs = fillWith(s.alloc, 24);
  const fresh = ptrs.length;
  assert.ok(fresh > 80_000, `a fresh SmallAlloc fits ${fresh} 24-byte objects in 2 MiB`);
  freeAll(s.alloc, ptrs);
  return { ...s, fresh };
}

// ---- A. capacity after churn ----

test('after one object of every size from 1 to 3000 bytes is freed, a SmallAlloc still fits 90% as many 24-byte objects as a fresh one, and then a 300 KiB allocation', () => {
  const s = churnSetup();
  churn(s.alloc);
  const ptrs = fillWith(s.alloc, 24);
  assert.ok(ptrs.length >= 0.9 * s.fresh,
    `after the churn ${ptrs.length} 24-byte objects fit, a fresh SmallAlloc fits ${s.fresh}: empty slabs kept by size classes eat the quota`);
  freeAll(s.alloc, ptrs);
  const big = s.alloc.alloc(300 * KB);
  assert.ok(s.alloc.info(big).realSize >= 300 * KB);
  s.alloc.free(big);
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('a SmallAlloc whose objects are all freed keeps at most one empty block per size class, and an LSRegion on the same arena gets the rest of the quota through pressure', () => {
  const s = churnSetup();
  churn(s.alloc);
  const st = s.alloc.stats();
  assert.equal(st.count, 0);
  assert.equal(st.large.total, 0, 'no large allocation is held');
  for (const c of st.classes) {
    assert.ok(c.slabs <= 1, `the empty size class of ${c.objsize} bytes keeps ${c.slabs} blocks, at most one (its spare)`);
  }
  const keptBytes = st.classes.reduce((n, c) => n + c.slabs * c.slabSize, 0);
  assert.equal(st.total, keptBytes, 'stats().total is those blocks and nothing else');
  assert.ok(st.total > 0, 'the churn left spare blocks kept (else pressure has nothing to show)');
  // Every byte of the quota is free for another allocator of the arena once pressure takes the
  // spares back: the LSRegion's first failed map gives them back and maps again. It hands out
  // whole slabs with no header in them, so 1 KiB pieces fill each slab exactly; a slab of slack
  // is allowed for its own bookkeeping.
  const slab = s.arena.slabSize;
  const region = new LSRegion(s.arena);
  let got = 0;
  while (region.tryAlloc(KB, 1) !== 0) got += KB;
  const want = s.quota.total - slab;
  assert.ok(got >= want, `an LSRegion got ${got} bytes of a quota of ${s.quota.total}: at least ${want} were free once the spares went back`);
  assert.equal(s.alloc.stats().total, 0, 'the spares went back under pressure');
  assert.equal(s.cache.total, 0, 'and the cache kept no free slab');
  region.destroy();
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

/**
 * Bytes `kind` gets from a cache over a 256 KiB quota of 64 KiB slabs, in 1 KiB steps until it
 * fails; with `spare`, a Mempool over the same cache first keeps an empty spare block. Also
 * whether the pool still keeps that block once the buffer has failed.
 */
function bufferCapacity(kind: 'Region' | 'Ibuf' | 'Obuf', spare: boolean): { got: number; kept: number } {
  const s = setup(256 * KB, 64 * KB);
  const pool = new Mempool(s.cache, 64);
  if (spare) {
    pool.free(pool.alloc());
    assert.equal(pool.stats().emptySlabs, 1, 'the pool keeps its empty block as the spare');
  }
  const buffer = kind === 'Region' ? new Region(s.cache) : kind === 'Obuf' ? new Obuf(s.cache) : new Ibuf(s.cache);
  let got = 0;
  while (buffer.tryAlloc(KB) !== 0) got += KB;
  const kept = pool.stats().slabs;
  if (buffer instanceof Region) buffer.free();
  else buffer.destroy();
  pool.destroy();
  s.alloc.destroy();
  nothingLost(s.arena, [], [s.cache]);
  return { got, kept };
}

for (const kind of ['Region', 'Ibuf', 'Obuf'] as const) {
  test(`a ${kind} over a cache whose pools keep an empty spare block gets that block before it fails`, () => {
    const alone = bufferCapacity(kind, false);
    const withSpare = bufferCapacity(kind, true);
    assert.ok(alone.got >= 128 * KB, `a ${kind} alone gets ${alone.got} bytes`);
    assert.equal(withSpare.kept, 0, `the pool still keeps its spare block after the ${kind} failed`);
    if (kind === 'Obuf') {
      // The chain holds at most 31 buffers, and the spare makes the first ones smaller: the
      // chain can fill before the quota does.
      assert.ok(withSpare.got >= 0.85 * alone.got, `with a spare block kept, an Obuf gets ${withSpare.got} bytes, alone ${alone.got}`);
    } else {
      assert.equal(withSpare.got, alone.got, `with a spare block kept, a ${kind} gets ${withSpare.got} bytes, alone ${alone.got}`);
    }
  });
}

/** How the objects of a filled Mempool are freed: in allocation order, backwards, or shuffled. */
type FreeOrder = 'in order' | 'backwards' | 'shuffled';

/**
 * Fills a Mempool of `objsize` over `cache` until it fails, then frees every object in `order`;
 * with `destroy`, the pool is destroyed too (else it lives on, empty, keeping its spare block).
 */
function fillAndEmptyPool(cache: SlabCache, objsize: number, order: FreeOrder, destroy: boolean, rng: Rng): void {
  const pool = new Mempool(cache, objsize);
  const ptrs: number[] = [];
  for (;;) {
    const p = pool.tryAlloc();
    if (p === 0) break;
    ptrs.push(p);
  }
  assert.ok(ptrs.length > 0, 'the pool allocated something');
  if (order === 'backwards') ptrs.reverse();
  else if (order === 'shuffled') rng.shuffle(ptrs);
  for (const p of ptrs) pool.free(p);
  assert.equal(pool.count, 0);
  pool.check();
  if (destroy) pool.destroy();
}

/** The buffer allocators, each measured the way a user fills it: as much as it will take. */
type BufferKind = 'Ibuf' | 'Region' | 'Obuf' | 'LSRegion';

/**
 * Bytes a `kind` gets over a 2 MiB quota of 64 KiB slabs (so that a 1 MiB Ibuf, grown by
 * doubling, is the most the quota holds), on a fresh arena or after `churn` ran on its cache.
 * The Ibuf's answer is its capacity once `reserve` fails; the others' is the sum of 1 KiB
 * allocations until one fails. Also returns the bytes the cache kept (empty, cached) at the end.
 */
function capacityAfter(kind: BufferKind, churn: ((cache: SlabCache) => void) | null): { got: number; cached: number } {
  const quota = new Quota(2 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const cache = new SlabCache(arena);
  if (churn !== null) churn(cache);
  let got = 0;
  let release: () => void;
  if (kind === 'Ibuf') {
    const ibuf = new Ibuf(cache);
    let want = KB;
    while (ibuf.tryReserve(want) !== 0) want += KB;
    got = ibuf.capacity;
    ibuf.check();
    release = () => ibuf.destroy();
  } else if (kind === 'LSRegion') {
    const region = new LSRegion(arena);
    while (region.tryAlloc(KB, 1) !== 0) got += KB;
    release = () => region.destroy();
  } else {
    const buffer = kind === 'Region' ? new Region(cache) : new Obuf(cache);
    while (buffer.tryAlloc(KB) !== 0) got += KB;
    release = () => (buffer instanceof Region ? buffer.free() : buffer.destroy());
  }
  const cached = cache.total - cache.used;
  release();
  cache.check();
  cache.destroy();
  assert.equal(arena.used, 0, 'every slab went back to the arena');
  arena.check();
  return { got, cached };
}

/**
 * The churns after which a `kind` is measured against a fresh arena: a Mempool of 16-, 64- and
 * 1000-byte objects filled until it fails, emptied in `orders`, then destroyed or (with
 * `kept`) left alive, empty, keeping its spare block. Returns the cases that came out short.
 */
function shortAfterChurn(kind: BufferKind, orders: readonly FreeOrder[], kept: readonly boolean[], rng: Rng): string[] {
  const fresh = capacityAfter(kind, null).got;
  if (kind === 'Ibuf') assert.equal(fresh, MB, 'a fresh Ibuf grows to 1 MiB under a 2 MiB quota');
  const slab = 64 * KB;
  const short: string[] = [];
  for (const objsize of [16, 64, 1000]) {
    for (const order of orders) {
      for (const keep of kept) {
        const after = capacityAfter(kind, (cache) => fillAndEmptyPool(cache, objsize, order, !keep, rng));
        // An Ibuf's capacity doubles: within a slab of the fresh one means the same. An
        // LSRegion takes slabs from the arena, so it cannot have what the cache keeps empty
        // (the pool's spare block, the cache's one free slab); the cache's buffers can.
        const floor = kind === 'Ibuf' ? fresh : kind === 'LSRegion' ? fresh - after.cached - slab : fresh - slab;
        if (after.got < floor) {
          short.push(`${objsize}-byte objects freed ${order}, pool ${keep ? 'kept' : 'destroyed'}: ${after.got} bytes, fresh ${fresh}`);
        }
      }
    }
  }
  return short;
}

for (const kind of ['Ibuf', 'Region', 'Obuf', 'LSRegion'] as const) {
  test(`a ${kind} gets as much after a Mempool on its cache was filled and emptied as on a fresh arena`, () => {
    const rng = seeded(`${kind} capacity after a pool's churn`);
    const short = shortAfterChurn(kind, ['in order', 'backwards', 'shuffled'], [false, true], rng);
    assert.deepEqual(short, [], `a ${kind} gets less after a pool's churn than on a fresh arena (SEED=${rng.seed})`);
  });
}

// ---- B. power-of-two large allocations ----

test('a 1 MiB allocation holds 1 MiB, not 2: at least 60 of them fit under a 64 MiB quota', () => {
  const s = setup(64 * MB);
  const ptrs: number[] = [];
  for (let i = 0; i < 64; i++) {
    const p = s.alloc.tryAlloc(MB);
    if (p === 0) break;
    const info = s.alloc.info(p);
    assert.equal(info.isLarge, true);
    // At least what was asked, at most that rounded up to a 4 KiB page: 1 MiB exactly.
    assert.ok(info.realSize >= MB && info.realSize <= Math.ceil(MB / (4 * KB)) * 4 * KB, `alloc(1 MiB) holds ${info.realSize} bytes, not 1 MiB`);
    ptrs.push(p);
  }
  assert.ok(ptrs.length >= 60, `only ${ptrs.length} allocations of 1 MiB fit under a 64 MiB quota`);
  freeAll(s.alloc, ptrs);
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('a large allocation holds its size rounded up to 4 KiB, or to whole slabs above a slab', () => {
  const s = setup(64 * MB);
  const slab = s.arena.slabSize;
  const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;
  for (const size of [MB + 1, 5 * MB]) {
    const p = s.alloc.alloc(size);
    const want = size > slab ? roundUp(size, slab) : roundUp(size, 4 * KB);
    assert.equal(s.alloc.info(p).realSize, want, `alloc(${size}) holds ${want} bytes`);
    s.alloc.free(p);
  }
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

// ---- C. adopt() of a live thread ----

test('SmallAlloc.adopt of the calling thread\'s own id throws a RangeError and leaves both allocators as they were', () => {
  const quota = new Quota(64 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const ca = new SlabCache(arena);
  const cb = new SlabCache(arena);
  const a = new SmallAlloc(ca);
  const b = new SmallAlloc(cb);
  const ptrs: number[] = [];
  for (let size = 0; size <= 3000; size += 11) ptrs.push(a.alloc(size));
  ptrs.push(a.alloc(200 * KB));
  const before = JSON.stringify([a.stats(), b.stats(), ca.stats(), cb.stats(), arena.used]);
  assert.throws(() => b.adopt(threadId), RangeError, 'the calling thread is alive');
  assert.equal(JSON.stringify([a.stats(), b.stats(), ca.stats(), cb.stats(), arena.used]), before, 'nothing changed');
  a.check();
  b.check();
  for (const p of ptrs) a.free(p);
  for (const p of ptrs.slice(0, 8)) assert.throws(() => a.free(p), InvalidPointerError, 'each object is freed once only');
  assert.equal(a.stats().count, 0);
  nothingLost(arena, [a, b], [ca, cb]);
});

test('Mempool.adopt of the calling thread\'s own id throws a RangeError and leaves both pools as they were', () => {
  const quota = new Quota(64 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const ca = new SlabCache(arena);
  const cb = new SlabCache(arena);
  const a = new Mempool(ca, 32);
  const b = new Mempool(cb, 32);
  const other = new Mempool(ca, 200);
  const ptrs: number[] = [];
  for (let i = 0; i < 5000; i++) ptrs.push(a.alloc());
  const others: number[] = [];
  for (let i = 0; i < 500; i++) others.push(other.alloc());
  const before = JSON.stringify([a.stats(), b.stats(), other.stats(), ca.stats(), cb.stats(), arena.used]);
  assert.throws(() => b.adopt(threadId), RangeError, 'the calling thread is alive');
  assert.equal(JSON.stringify([a.stats(), b.stats(), other.stats(), ca.stats(), cb.stats(), arena.used]), before, 'nothing changed');
  a.check();
  b.check();
  other.check();
  for (const p of ptrs) a.free(p);
  for (const p of others) other.free(p);
  assert.throws(() => a.free(ptrs[0]!), InvalidPointerError, 'an object is freed once only');
  assert.equal(a.count + other.count, 0);
  nothingLost(arena, [a, b, other], [ca, cb]);
});

// ---- D. errors ----

/** Asserts `fn` throws an instance of `cls` (and, with `not`, not of `not`); returns the error. */
function thrown<E extends Error>(fn: () => unknown, cls: abstract new (...a: never[]) => E, what: string, not?: abstract new (...a: never[]) => Error): E {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `${what}: expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (not !== undefined) assert.ok(!(e instanceof not), `${what}: not a ${not.name}: ${(e as Error).message}`);
    return e;
  }
  assert.fail(`${what}: expected ${cls.name}, nothing was thrown`);
}

test('SmallAlloc.alloc of more than the quota throws a QuotaExceededError that names SmallAlloc.alloc and says the request exceeds the quota', () => {
  const s = setup(64 * MB);
  const before = JSON.stringify([s.alloc.stats(), s.cache.stats(), s.arena.used, s.quota.used]);
  const e = thrown(() => s.alloc.alloc(100 * MB), QuotaExceededError, 'alloc(100 MiB) under 64 MiB');
  assert.match(e.message, /SmallAlloc\.alloc/, 'the message names the method called');
  assert.match(e.message, /exceeds? the quota/, 'the message says the request exceeds the quota');
  assert.equal(e.requested, 100 * MB, 'requested is what the caller asked for');
  assert.equal(s.alloc.tryAlloc(100 * MB), 0);
  assert.equal(JSON.stringify([s.alloc.stats(), s.cache.stats(), s.arena.used, s.quota.used]), before, 'nothing changed');
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('SmallAlloc.alloc past the arena\'s reserved maximum, under a larger quota, throws an OutOfMemoryError that names SmallAlloc.alloc and the maximum', () => {
  const s = setup(1024 * MB, undefined, 64 * MB);
  const e = thrown(() => s.alloc.alloc(100 * MB), OutOfMemoryError, 'alloc(100 MiB) in a 64 MiB arena', QuotaExceededError);
  assert.match(e.message, /SmallAlloc\.alloc/, 'the message names the method called');
  assert.match(e.message, /maximum/, 'the message says the arena\'s maximum is what ran out');
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('SmallAlloc.free of a pointer inside a large allocation, with the right size, throws an InvalidPointerError naming that address', () => {
  const s = setup(64 * MB);
  for (const size of [MB, 5 * MB]) {
    const p = s.alloc.alloc(size);
    const before = JSON.stringify(s.alloc.stats());
    const inside = p + 4096;
    const e = thrown(() => s.alloc.free(inside, size), InvalidPointerError, `free(p + 4096, ${size})`);
    assert.equal(e.ptr, inside);
    assert.ok(e.message.includes(String(inside)), `the message names ${inside}: ${e.message}`);
    assert.equal(JSON.stringify(s.alloc.stats()), before, 'nothing changed');
    s.alloc.free(p, size);
  }
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('every pointer argument follows one rule: not a number is a TypeError, not a non-negative integer a RangeError, not live an InvalidPointerError, and nothing changes', () => {
  const quota = new Quota(64 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const pool = new Mempool(cache, 32);
  const live = [alloc.alloc(48), alloc.alloc(200 * KB), pool.alloc()];
  const freedSmall = alloc.alloc(48);
  alloc.free(freedSmall);
  const freedObject = pool.alloc();
  pool.free(freedObject);
  const block = cache.get(4096);
  const freedBlock = cache.get(8192);
  cache.put(freedBlock);

  const calls: [string, RegExp, (p: number) => unknown, number][] = [
    ['SmallAlloc.free', /SmallAlloc\.free/, (p) => alloc.free(p), freedSmall],
    ['SmallAlloc.info', /SmallAlloc\.info/, (p) => alloc.info(p), freedSmall],
    ['Mempool.free', /Mempool.*free/, (p) => pool.free(p), freedObject],
    ['SlabCache.put', /SlabCache\.put/, (p) => cache.put(p), freedBlock],
  ];
  const notNumbers: unknown[] = ['64', undefined, null, 64n, {}];
  const notIntegers = [NaN, -1, 1.5, Infinity, -Infinity];
  const notLive = [0, 8, 2 ** 32];
  const state = (): string => JSON.stringify([alloc.stats(), pool.stats(), cache.stats(), arena.used]);
  const before = state();
  // Every case is tried and every wrong answer listed, so one run shows the whole rule's state.
  const wrong: string[] = [];
  const expect = (name: string, names: RegExp, call: (p: number) => unknown, v: unknown, cls: abstract new (...a: never[]) => Error): void => {
    const what = `${name}(${typeof v === 'bigint' ? `${v}n` : typeof v === 'object' && v !== null ? '{}' : String(v)})`;
    try {
      call(v as number);
      wrong.push(`${what}: nothing thrown, ${cls.name} expected`);
      return;
    } catch (e) {
      const err = e as Error;
      const got = err?.constructor?.name;
      if (!(err instanceof cls) || (cls === RangeError && err instanceof OutOfMemoryError)) {
        wrong.push(`${what}: ${got} (${err?.message}), ${cls.name} expected`);
      } else if (!names.test(err.message)) {
        wrong.push(`${what}: the message does not name the method: ${err.message}`);
      } else if (cls === InvalidPointerError && (err as InvalidPointerError).ptr !== v) {
        wrong.push(`${what}: the error's ptr is ${(err as InvalidPointerError).ptr}`);
      }
    }
    if (state() !== before) wrong.push(`${what}: the state changed`);
  };
  for (const [name, names, call, freed] of calls) {
    for (const v of notNumbers) expect(name, names, call, v, TypeError);
    for (const v of notIntegers) expect(name, names, call, v, RangeError);
    for (const v of [...notLive, freed]) expect(name, names, call, v, InvalidPointerError);
  }
  assert.deepEqual(wrong, [], 'every pointer argument follows the rule');
  alloc.free(live[0]!);
  alloc.free(live[1]!);
  pool.free(live[2]!);
  cache.put(block);
  nothingLost(arena, [alloc, pool], [cache]);
});

/** What a failed allocation must leave as it was: live objects, used bytes, quota bytes. */
function liveState(quota: Quota, allocs: { count: number; used: number }[]): string {
  return JSON.stringify({ quota: quota.used, allocs: allocs.map((a) => ({ count: a.count, used: a.used })) });
}

test('a failed Mempool.alloc changes no live object, no used byte and no quota byte; the spare block another pool kept may go back, so its total drops', () => {
  const s = setup(MB, 64 * KB);
  const small = new Mempool(s.cache, 64);
  const big = new Mempool(s.cache, 60_000); // one object per 64 KiB slab
  const ptrs: number[] = [];
  for (;;) {
    const p = small.tryAlloc();
    if (p === 0) break;
    ptrs.push(p);
  }
  // Empty the first slab of the small pool: it stays as the spare block.
  const per = small.stats().objectsPerSlab;
  for (const p of ptrs.splice(0, per)) small.free(p);
  assert.equal(small.stats().emptySlabs, 1, 'the small pool keeps its empty slab as the spare');
  for (const [i, p] of ptrs.entries()) s.arena.memory.u32[p >>> 2] = i;
  const before = liveState(s.quota, [small, big]);
  const totalBefore = small.total;
  assert.equal(big.tryAlloc(), 0, 'no 64 KiB slab is left for the big pool');
  assert.throws(() => big.alloc(), OutOfMemoryError);
  assert.equal(liveState(s.quota, [small, big]), before, 'live objects, used bytes and quota bytes are as they were');
  assert.ok(small.total < totalBefore, `the spare block went back before the allocation failed: total ${totalBefore} -> ${small.total}`);
  for (const [i, p] of ptrs.entries()) assert.equal(s.arena.memory.u32[p >>> 2], i, 'every live object keeps its bytes');
  small.check();
  big.check();
  for (const p of ptrs) small.free(p);
  nothingLost(s.arena, [small, big, s.alloc], [s.cache]);
});

test('a failed SmallAlloc.alloc changes no live allocation, no used byte and no quota byte; its empty memory may go back, so total may drop', () => {
  const s = setup(2 * MB, 64 * KB);
  const ptrs = fillWith(s.alloc, 24);
  // Empty some of the pool's slabs: one stays as the spare block, the rest go to the cache.
  for (const p of ptrs.splice(0, 3000)) s.alloc.free(p);
  for (const [i, p] of ptrs.entries()) s.arena.memory.u32[p >>> 2] = i;
  const state = (): string => JSON.stringify({ quota: s.quota.used, count: s.alloc.stats().count, used: s.alloc.stats().used });
  const before = state();
  const totalBefore = s.alloc.stats().total;
  for (const size of [MB, 512 * KB, 300 * KB]) {
    assert.equal(s.alloc.tryAlloc(size), 0, `no room for ${size} bytes`);
    assert.throws(() => s.alloc.alloc(size), OutOfMemoryError);
    assert.equal(state(), before, `after failing ${size} bytes, live allocations, used bytes and quota bytes are as they were`);
  }
  assert.ok(s.alloc.stats().total <= totalBefore, 'total may drop, never grow');
  for (const [i, p] of ptrs.entries()) assert.equal(s.arena.memory.u32[p >>> 2], i, 'every live allocation keeps its bytes');
  s.alloc.check();
  freeAll(s.alloc, ptrs);
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

// ---- E. read views ----

/** The stats of `alloc` with the field for views the GC released (not in every version's type). */
function viewStats(alloc: SmallAlloc): { deferred: number; views: number; viewsCollected?: number; total: number } {
  return alloc.stats() as unknown as { deferred: number; views: number; viewsCollected?: number; total: number };
}

/** The engine's gc(), as `--expose-gc` gives it, without the flag on the command line. */
function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Opens a read view and lets go of it without closing it. */
function openAndDrop(alloc: SmallAlloc): void {
  alloc.openReadView();
}

test('a read view dropped without close() stops holding back frees once the GC has collected it, and stats() counts it in viewsCollected', async () => {
  const gc = gcFunction();
  const s = setup(64 * MB, 64 * KB);
  const N = 20_000;
  const ptrs: number[] = [];
  for (let i = 0; i < N; i++) ptrs.push(s.alloc.alloc(64));
  const usedWhenFull = s.arena.used;
  openAndDrop(s.alloc);
  freeAll(s.alloc, ptrs);
  assert.equal(viewStats(s.alloc).deferred, N, 'the open view holds the frees back');
  // Let the GC find the view and the FinalizationRegistry callback run (a later macrotask).
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(5);
  }
  const st = viewStats(s.alloc);
  assert.equal(st.deferred, 0, 'the frees held back for the collected view are released by one stats() call');
  assert.equal(st.views, 0, 'no view is open');
  assert.equal(st.viewsCollected, 1, 'stats().viewsCollected counts the view the GC released');
  // Capacity is back: the same objects again take no new slab.
  for (let i = 0; i < N; i++) ptrs.push(s.alloc.alloc(64));
  assert.ok(s.arena.used <= usedWhenFull, `${N} objects again take ${s.arena.used} bytes of slabs, first ${usedWhenFull}`);
  freeAll(s.alloc, ptrs);
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

test('after the last read view closes, every deferred free is released at the next stats() call, not a batch of 16', () => {
  const s = setup(64 * MB);
  const N = 65_024;
  const ptrs: number[] = [];
  for (let i = 0; i < N; i++) ptrs.push(s.alloc.alloc(16));
  const view = s.alloc.openReadView();
  freeAll(s.alloc, ptrs);
  view.close();
  assert.equal(s.alloc.stats().deferred, 0, 'one stats() call after the close releases every deferred free');
  nothingLost(s.arena, [s.alloc], [s.cache]);
});

// ---- F. use after free ----

test('writes through stale pointers into freed objects spoil no allocator state: every pointer handed out afterwards is distinct, in range and live', () => {
  const s = setup(8 * MB, 64 * KB);
  const pool = new Mempool(s.cache, 40);
  const u32 = (): Uint32Array => s.arena.memory.u32;
  for (const [name, alloc, free] of [
    ['Mempool', () => pool.alloc(), (p: number) => pool.free(p)],
    ['SmallAlloc', () => s.alloc.alloc(40), (p: number) => s.alloc.free(p)],
  ] as const) {
    const live: number[] = [];
    for (let i = 0; i < 5000; i++) live.push(alloc());
    const stale = live.splice(0, 2500);
    for (const p of stale) free(p);
    // The program keeps writing through what it freed: addresses of other objects, of the slab
    // header, zero, all ones, as a free list threaded through free objects would read them.
    for (const [i, p] of stale.entries()) {
      const v = [live[i]!, p - (p % (64 * KB)), 0, 0xffffffff][i % 4]!;
      for (let k = 0; k < 10; k++) u32()[(p >>> 2) + k] = v;
    }
    const seen = new Set(live);
    for (let i = 0; i < 5000; i++) {
      const p = alloc();
      assert.ok(!seen.has(p), `${name}: ${p} handed out twice`);
      assert.ok(p > 0 && p + 40 <= s.arena.memory.byteLength, `${name}: ${p} is in the memory`);
      seen.add(p);
      live.push(p);
    }
    pool.check();
    s.alloc.check();
    for (const p of live) free(p);
  }
  nothingLost(s.arena, [pool, s.alloc], [s.cache]);
});
