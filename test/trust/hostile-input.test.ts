/**
 * Hostile input: one table over the whole public API. Every argument of every constructor and
 * method gets undefined, null, NaN, -1, 1.5, 2**53, Infinity, a string, a bigint, an object,
 * and the values just past its own limits. Each case asserts the error class (TypeError for a
 * wrong type, RangeError for a bad number), that the message names the argument as API.md
 * names it, and that the allocator's state and statistics did not change. `undefined` and
 * `null` for an optional argument mean its default and must be accepted.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Arena, BumpArena, getDebug, Ibuf, InvalidPointerError, LSRegion, Memory, Mempool, Obuf, OutOfMemoryError, Quota, Region,
  setDebug, SlabArena, SlabCache, SmallAlloc,
} from '../../src/index.js';

type World = Record<string, unknown>;
/** 'ptr': RangeError or InvalidPointerError; 'invalid': InvalidPointerError; 'oom': OutOfMemoryError. */
type Expect = 'type' | 'range' | 'ok' | 'ptr' | 'invalid' | 'oom';
const EXPECTED: Record<Expect, string> = {
  type: 'TypeError', range: 'RangeError', ok: 'no error', ptr: 'RangeError or InvalidPointerError',
  invalid: 'InvalidPointerError', oom: 'OutOfMemoryError',
};
type Kind = 'int' | 'ptr' | 'bool' | 'object' | 'opts' | 'string' | 'bytes' | 'ctor' | 'custom';

interface Row {
  /** What is called, as API.md writes it, e.g. `BumpArena.alloc`. */
  target: string;
  /** The argument, as API.md names it. */
  arg: string;
  kind: Kind;
  optional?: boolean;
  make(): World;
  call(w: World, v: unknown): unknown;
  /** Values past this argument's own limits, with what they must throw. */
  extra?: [unknown, Expect][];
  /** For kind 'custom': the whole list of values. */
  values?: [unknown, Expect][];
}

const SLAB = 1 << 16;
const quota = (limit = 16 * SLAB) => new Quota(limit);
const slabArena = (q = quota()) => new SlabArena({ quota: q, slabSize: SLAB });
function cacheWorld(): World {
  const q = quota();
  const arena = slabArena(q);
  const cache = new SlabCache(arena);
  return { quota: q, arena, cache };
}
/** A world with one live allocation `live` made by `alloc`. */
function withLive(make: () => World, key: string, alloc: (x: never) => number): () => World {
  return () => {
    const w = make();
    w['live'] = alloc(w[key] as never);
    return w;
  };
}

/** The standard hostile values of an argument kind, with what each must do. */
function standard(kind: Kind, optional: boolean): [unknown, Expect][] {
  const absent: Expect = optional ? 'ok' : 'type';
  switch (kind) {
    case 'int':
    case 'ptr': {
      // The one pointer rule: not a non-negative safe integer is a RangeError (2^53 too); a
      // safe integer that is not a live allocation an InvalidPointerError (the rows' extras).
      return [[undefined, absent], [null, absent], [NaN, 'range'], [-1, 'range'], [1.5, 'range'], [2 ** 53, 'range'], [Infinity, 'range'],
        [-Infinity, 'range'], ['8', 'type'], [8n, 'type'], [{}, 'type'], [[8], 'type'], [true, 'type']];
    }
    case 'bool':
      return [[undefined, absent], [null, absent], [NaN, 'type'], [-1, 'type'], [1, 'type'], ['true', 'type'], [1n, 'type'], [{}, 'type']];
    case 'object':
      return [[undefined, absent], [null, absent], [NaN, 'type'], [-1, 'type'], [1.5, 'type'], ['x', 'type'], [1n, 'type'], [{}, 'type']];
    case 'opts': // an options bag: {} is every default
      return [[undefined, absent], [null, absent], [NaN, 'type'], [-1, 'type'], [1.5, 'type'], ['x', 'type'], [1n, 'type'], [[], 'type']];
    case 'custom':
      return [];
    case 'ctor':
      return [[undefined, 'type'], [null, 'type'], [NaN, 'type'], [8, 'type'], ['Uint8Array', 'type'], [1n, 'type'], [{}, 'type'], [Array, 'type'], [DataView, 'type']];
    case 'string':
      return [[undefined, 'type'], [null, 'type'], [NaN, 'type'], [1, 'type'], [1n, 'type'], [{}, 'type']];
    case 'bytes':
      return [[undefined, 'type'], [null, 'type'], [NaN, 'type'], [1, 'type'], ['abc', 'type'], [1n, 'type'], [{}, 'type'], [[1, 2], 'type']];
  }
}

const memory = () => ({ mem: Memory.create({ initial: 4096, maximum: 1 << 20 }) });
const rows: Row[] = [
  // ---- Memory ----
  { target: 'Memory.create', arg: 'initial', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => Memory.create({ initial: v as number, maximum: 1 << 16 }), extra: [[(1 << 16) + 1, 'range']] },
  { target: 'Memory.create', arg: 'maximum', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => Memory.create({ maximum: v as number }), extra: [[2 ** 32 + 1, 'range']] },
  { target: 'Memory.create', arg: 'shared', kind: 'bool', optional: true, make: () => ({}),
    call: (_w, v) => Memory.create({ maximum: 1 << 16, shared: v as boolean }) },
  { target: 'Memory.create', arg: 'opts', kind: 'opts', optional: true, make: () => ({}),
    call: (_w, v) => Memory.create(v as never) },
  { target: 'Memory.wrap', arg: 'source', kind: 'object', make: () => ({}),
    call: (_w, v) => Memory.wrap(v as never), extra: [[new Uint8Array(8), 'type'], [new DataView(new ArrayBuffer(8)), 'type']] },
  { target: 'Memory.grow', arg: 'byteLength', kind: 'int', make: memory,
    call: (w, v) => (w['mem'] as { grow(n: unknown): void }).grow(v), extra: [[(1 << 20) + 1, 'range']] },
  // ---- Arena ----
  { target: 'Arena', arg: 'blockSize', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => new Arena({ blockSize: v as number }), extra: [[0, 'range']] },
  { target: 'Arena', arg: 'memory', kind: 'object', optional: true, make: () => ({}),
    call: (_w, v) => new Arena({ memory: v as never }), extra: [[new ArrayBuffer(8), 'type']] },
  // A memory another allocator claimed (API.md: one owner per Memory): 'arena' and 'bump' stand
  // for the memory of the Arena and the BumpArena in the world.
  { target: 'Arena', arg: 'memory', kind: 'custom',
    make: () => {
      const mem = Memory.create({ maximum: 1 << 20 });
      const arena = new Arena({ memory: mem });
      arena.allocate(10);
      return { mem, arena, bump: bump()['arena'] };
    },
    call: (w, v) => new Arena({ memory: (v === 'arena' ? w['mem'] : (w['bump'] as { memory: unknown }).memory) as never }),
    values: [['arena', 'type'], ['bump', 'type']] },
  { target: 'Arena', arg: 'opts', kind: 'opts', optional: true, make: () => ({}),
    call: (_w, v) => new Arena(v as never) },
  ...(['allocate', 'allocateAligned'] as const).map((m): Row => ({
    target: `Arena.${m}`, arg: 'bytes', kind: 'int',
    make: () => { const a = new Arena(); a.allocate(10); return { arena: a }; },
    call: (w, v) => (w['arena'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[0, 'range'], [2 ** 32 + 1, 'range']],
  })),
  // ---- BumpArena ----
  { target: 'BumpArena', arg: 'capacity', kind: 'int', make: () => ({}),
    call: (_w, v) => new BumpArena(v as number), extra: [[0, 'range'], [2 ** 32, 'range']] },
  { target: 'BumpArena', arg: 'shared', kind: 'bool', optional: true, make: () => ({}),
    call: (_w, v) => new BumpArena(64, { shared: v as boolean }) },
  { target: 'BumpArena', arg: 'opts', kind: 'opts', optional: true, make: () => ({}),
    call: (_w, v) => new BumpArena(64, v as never) },
  ...(['alloc', 'tryAlloc'] as const).flatMap((m): Row[] => [
    { target: `BumpArena.${m}`, arg: 'size', kind: 'int', make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b?: unknown) => number>)[m]!(v, 8), extra: [[2 ** 32, 'range']] },
    { target: `BumpArena.${m}`, arg: 'align', kind: 'int', optional: true, make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b?: unknown) => number>)[m]!(8, v),
      extra: [[0, 'range'], [3, 'range'], [12, 'range'], [2 ** 32, 'range'], [2 ** 31 + 1, 'range']] },
  ]),
  ...(['allocSlice', 'tryAllocSlice'] as const).flatMap((m): Row[] => [
    { target: `BumpArena.${m}`, arg: 'type', kind: 'ctor', make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b: unknown, c?: unknown) => unknown>)[m]!(v, 4) },
    { target: `BumpArena.${m}`, arg: 'length', kind: 'int', make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b: unknown, c?: unknown) => unknown>)[m]!(Float64Array, v),
      // Past the capacity: out of memory, as every allocation without `try`.
      extra: m === 'allocSlice' ? [[513, 'oom'], [4097, 'oom'], [2 ** 50, 'oom'], [Number.MAX_SAFE_INTEGER, 'oom']] : [] },
    { target: `BumpArena.${m}`, arg: 'fill', kind: 'custom', make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b: unknown, c?: unknown) => unknown>)[m]!(Float64Array, 4, v),
      values: [[undefined, 'ok'], [null, 'ok'], ['1', 'type'], [2n, 'type'], [{}, 'type'], [[1], 'type'], [true, 'type']] },
    { target: `BumpArena.${m}`, arg: 'fill', kind: 'custom', make: bump,
      call: (w, v) => (w['arena'] as Record<string, (a: unknown, b: unknown, c?: unknown) => unknown>)[m]!(BigInt64Array, 4, v),
      values: [[undefined, 'ok'], [null, 'ok'], [2, 'type'], [NaN, 'type'], ['1', 'type'], [{}, 'type']] },
  ]),
  { target: 'BumpArena.allocString', arg: 's', kind: 'string', make: bump,
    call: (w, v) => (w['arena'] as { allocString(s: unknown): number }).allocString(v), extra: [[['a'], 'type']] },
  // The one pointer rule, exactly: not a number, TypeError; not a non-negative integer,
  // RangeError; an integer where no string of the arena lies, InvalidPointerError.
  { target: 'BumpArena.readString', arg: 'ptr', kind: 'custom', make: bump,
    call: (w, v) => (w['arena'] as { readString(p: unknown): string }).readString(v),
    values: [[undefined, 'type'], [null, 'type'], ['8', 'type'], [8n, 'type'], [{}, 'type'], [[8], 'type'], [true, 'type'],
      [NaN, 'range'], [-1, 'range'], [1.5, 'range'], [Infinity, 'range'], [-Infinity, 'range'],
      [0, 'invalid'], [4, 'invalid'], [33, 'invalid'], [2 ** 32, 'invalid'], [2 ** 53 - 1, 'invalid'], [2 ** 53, 'range']] },
  // ---- Quota ----
  { target: 'Quota', arg: 'limit', kind: 'int', make: () => ({}),
    call: (_w, v) => new Quota(v as number), extra: [[2 ** 45, 'range']] },
  { target: 'Quota', arg: 'shared', kind: 'bool', optional: true, make: () => ({}),
    call: (_w, v) => new Quota(1024, { shared: v as boolean }) },
  { target: 'Quota.set', arg: 'limit', kind: 'int', make: usedQuota,
    call: (w, v) => (w['quota'] as { set(n: unknown): number }).set(v), extra: [[2047, 'range'], [0, 'range'], [2 ** 45, 'range']] },
  ...(['use', 'tryUse'] as const).map((m): Row => ({
    target: `Quota.${m}`, arg: 'bytes', kind: 'int', make: usedQuota,
    call: (w, v) => (w['quota'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[2 ** 45, 'range']],
  })),
  { target: 'Quota.release', arg: 'bytes', kind: 'int', make: usedQuota,
    call: (w, v) => (w['quota'] as { release(n: unknown): number }).release(v), extra: [[3073, 'range'], [2 ** 45, 'range']] },
  // ---- SlabArena ----
  { target: 'SlabArena', arg: 'quota', kind: 'object', make: () => ({}),
    call: (_w, v) => new SlabArena({ quota: v as never, slabSize: SLAB }), extra: [[{ total: 1 << 20, used: 0 }, 'type']] },
  { target: 'SlabArena', arg: 'opts', kind: 'opts', make: () => ({}),
    call: (_w, v) => new SlabArena(v as never) },
  ...(['slabSize', 'prealloc', 'maximum'] as const).map((o): Row => ({
    target: 'SlabArena', arg: o, kind: 'int', optional: true, make: () => ({ quota: quota() }),
    call: (w, v) => new SlabArena({ quota: w['quota'] as never, slabSize: SLAB, [o]: v } as never),
    extra: o === 'slabSize' ? [[0, 'range'], [SLAB / 2, 'range'], [3 * SLAB, 'range'], [SLAB + 1, 'range'], [2 ** 31, 'range']]
      : o === 'maximum' ? [[2 ** 32 + 1, 'range'], [SLAB, 'range'], [0, 'range']] : [[2 ** 33, 'range']],
  })),
  { target: 'SlabArena', arg: 'shared', kind: 'bool', optional: true, make: () => ({ quota: quota() }),
    call: (w, v) => new SlabArena({ quota: w['quota'] as never, slabSize: SLAB, shared: v as boolean }) },
  ...(['mapRun', 'tryMapRun'] as const).map((m): Row => ({
    target: `SlabArena.${m}`, arg: 'slabs', kind: 'int', make: arenaWorld,
    call: (w, v) => (w['arena'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[0, 'range'], [2 ** 20, 'range']],
  })),
  { target: 'SlabArena.unmap', arg: 'slab', kind: 'ptr', make: arenaWorld,
    call: (w, v) => (w['arena'] as { unmap(p: unknown): void }).unmap(v),
    extra: [[0, 'invalid'], [SLAB + 8, 'invalid'], [2 ** 32, 'invalid'], [1, 'invalid'], [2 ** 40, 'invalid']] },
  // The map methods take no owner: an extra argument is ignored, whatever it is.
  ...(['map', 'tryMap', 'mapRun', 'tryMapRun'] as const).map((m): Row => ({
    target: `SlabArena.${m}`, arg: 'extra', kind: 'custom', make: arenaWorld,
    call: (w, v) => {
      const a = w['arena'] as Record<string, (...args: unknown[]) => number> & { unmap(p: number): void };
      a.unmap(m.endsWith('Run') ? a[m]!(2, v) : a[m]!(v));
    },
    values: [[8n, 'ok'], ['8', 'ok'], [{}, 'ok'], [-1, 'ok'], [NaN, 'ok'], [4097, 'ok'], [2 ** 31, 'ok']],
  })),
  // ---- SlabCache ----
  { target: 'SlabCache', arg: 'arena', kind: 'object', make: () => ({}),
    call: (_w, v) => new SlabCache(v as never), extra: [[quota(), 'type']] },
  ...(['get', 'tryGet', 'realSize'] as const).map((m): Row => ({
    target: `SlabCache.${m}`, arg: 'size', kind: 'int', make: liveCache,
    call: (w, v) => (w['cache'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[2 ** 32 + 1, 'range']],
  })),
  { target: 'SlabCache.put', arg: 'ptr', kind: 'ptr', make: liveCache,
    call: (w, v) => (w['cache'] as { put(p: unknown): void }).put(v), extra: [[0, 'invalid'], [4, 'invalid'], [2 ** 32, 'invalid']] },
  // ---- Mempool ----
  { target: 'Mempool', arg: 'cache', kind: 'object', make: () => ({}),
    call: (_w, v) => new Mempool(v as never, 16), extra: [[slabArena(), 'type']] },
  { target: 'Mempool', arg: 'objsize', kind: 'int', make: cacheWorld,
    call: (w, v) => new Mempool(w['cache'] as never, v as number), extra: [[0, 'range'], [2 ** 32 + 1, 'range']] },
  { target: 'Mempool.free', arg: 'ptr', kind: 'ptr',
    make: withLive(() => { const w = cacheWorld(); w['pool'] = new Mempool(w['cache'] as never, 24); return w; }, 'pool', (p: { alloc(): number }) => p.alloc()),
    call: (w, v) => (w['pool'] as { free(p: unknown): void }).free(v), extra: [[0, 'invalid'], [2 ** 32, 'invalid']] },
  // ---- SmallAlloc ----
  { target: 'SmallAlloc', arg: 'cache', kind: 'object', make: () => ({}),
    call: (_w, v) => new SmallAlloc(v as never) },
  ...(['objsizeMin', 'granularity'] as const).map((o): Row => ({
    target: 'SmallAlloc', arg: o, kind: 'int', optional: true, make: cacheWorld,
    call: (w, v) => new SmallAlloc(w['cache'] as never, { [o]: v }),
    extra: o === 'granularity' ? [[0, 'range'], [3, 'range'], [6, 'range']] : [[0, 'range'], [2 ** 32 + 1, 'range']],
  })),
  { target: 'SmallAlloc', arg: 'allocFactor', kind: 'custom', optional: true, make: cacheWorld,
    call: (w, v) => new SmallAlloc(w['cache'] as never, { allocFactor: v as number }),
    values: [[undefined, 'ok'], [null, 'ok'], [1.5, 'ok'], [2, 'ok'], [NaN, 'range'], [-1, 'range'], [Infinity, 'range'],
      [1, 'range'], [2.0001, 'range'], [3, 'range'], [0.5, 'range'], ['1.05', 'type'], [1n, 'type'], [{}, 'type']] },
  ...(['alloc', 'tryAlloc'] as const).map((m): Row => ({
    target: `SmallAlloc.${m}`, arg: 'size', kind: 'int', make: smallWorld,
    call: (w, v) => (w['small'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[2 ** 32 + 1, 'range']],
  })),
  ...(['free', 'info'] as const).map((m): Row => ({
    target: `SmallAlloc.${m}`, arg: 'ptr', kind: 'ptr', make: smallWorld,
    call: (w, v) => (w['small'] as Record<string, (n: unknown) => unknown>)[m]!(v), extra: [[0, 'invalid'], [2 ** 32, 'invalid']],
  })),
  ...(['realloc', 'readString'] as const).map((m): Row => ({
    target: `SmallAlloc.${m}`, arg: 'ptr', kind: 'ptr', make: smallWorld,
    call: (w, v) => (w['small'] as Record<string, (p: unknown, n?: number) => unknown>)[m]!(v, 8),
    extra: [[2 ** 32, 'invalid'], [8, 'invalid']],
  })),
  ...(['realloc', 'calloc'] as const).map((m): Row => ({
    target: `SmallAlloc.${m}`, arg: 'size', kind: 'int', make: smallWorld,
    call: (w, v) => {
      const a = w['small'] as Record<string, (...x: unknown[]) => number>;
      return m === 'realloc' ? a['realloc']!(w['live'], v) : a['calloc']!(v);
    },
    extra: [[2 ** 32 + 1, 'range']],
  })),
  { target: 'SmallAlloc.allocAs', arg: 'type', kind: 'ctor', make: smallWorld,
    call: (w, v) => (w['small'] as { allocAs(t: unknown, n: number): unknown }).allocAs(v, 4) },
  { target: 'SmallAlloc.allocAs', arg: 'length', kind: 'int', make: smallWorld,
    call: (w, v) => (w['small'] as { allocAs(t: unknown, n: unknown): unknown }).allocAs(Float64Array, v),
    extra: [[2 ** 32, 'oom'], [2 ** 50, 'oom']] },
  { target: 'SmallAlloc.allocString', arg: 's', kind: 'string', make: smallWorld,
    call: (w, v) => (w['small'] as { allocString(s: unknown): number }).allocString(v) },
  { target: 'SmallAlloc.free', arg: 'size', kind: 'int', optional: true, make: smallWorld,
    // A wrong size for a live pointer must be refused too; an accepted default frees it.
    call: (w, v) => (w['small'] as { free(p: number, s?: unknown): void }).free(w['live'] as number, v) },
  // ---- Region ----
  { target: 'Region', arg: 'cache', kind: 'object', make: () => ({}),
    call: (_w, v) => new Region(v as never) },
  ...(['alloc', 'tryAlloc', 'reserve'] as const).map((m): Row => ({
    target: `Region.${m}`, arg: 'size', kind: 'int', make: regionWorld,
    call: (w, v) => (w['region'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[2 ** 32 + 1, 'range']],
  })),
  { target: 'Region.alignedAlloc', arg: 'size', kind: 'int', make: regionWorld,
    call: (w, v) => (w['region'] as { alignedAlloc(s: unknown, a: unknown): number }).alignedAlloc(v, 8), extra: [[2 ** 32 + 1, 'range']] },
  { target: 'Region.alignedAlloc', arg: 'align', kind: 'int', make: regionWorld,
    call: (w, v) => (w['region'] as { alignedAlloc(s: unknown, a: unknown): number }).alignedAlloc(8, v), extra: [[0, 'range'], [3, 'range'], [24, 'range']] },
  { target: 'Region.truncate', arg: 'used', kind: 'int', make: regionWorld,
    call: (w, v) => (w['region'] as { truncate(n: unknown): void }).truncate(v), extra: [[101, 'range']] },
  { target: 'Region.join', arg: 'size', kind: 'int', make: regionWorld,
    call: (w, v) => (w['region'] as { join(n: unknown): number }).join(v), extra: [[101, 'range']] },
  // ---- Ibuf / Obuf ----
  ...(['Ibuf', 'Obuf'] as const).flatMap((k): Row[] => [
    { target: k, arg: 'cache', kind: 'object', make: () => ({}),
      call: (_w, v) => new { Ibuf, Obuf }[k](v as never) },
    { target: k, arg: 'startCapacity', kind: 'int', optional: true, make: cacheWorld,
      call: (w, v) => new { Ibuf, Obuf }[k](w['cache'] as SlabCache, v as never), extra: [[0, 'range'], [2 ** 33, 'range']] },
    ...(['reserve', 'alloc'] as const).map((m): Row => ({
      target: `${k}.${m}`, arg: 'size', kind: 'int', make: () => bufWorld(k),
      call: (w, v) => (w['buf'] as Record<string, (n: unknown) => number>)[m]!(v), extra: [[2 ** 32 + 1, 'range']],
    })),
  ]),
  ...(['consume', 'discard'] as const).map((m): Row => ({
    target: `Ibuf.${m}`, arg: 'size', kind: 'int', make: () => bufWorld('Ibuf'),
    call: (w, v) => (w['buf'] as Record<string, (n: unknown) => void>)[m]!(v), extra: [[101, 'range']],
  })),
  { target: 'Obuf.dup', arg: 'bytes', kind: 'bytes', make: () => bufWorld('Obuf'),
    call: (w, v) => (w['buf'] as { dup(b: unknown): number }).dup(v) },
  { target: 'Obuf.rollbackTo', arg: 'svp', kind: 'object', make: () => bufWorld('Obuf'),
    call: (w, v) => (w['buf'] as { rollbackTo(s: unknown): void }).rollbackTo(v),
    extra: [[{ pos: -1, iovLen: 0, used: 0 }, 'range'], [{ pos: 0, iovLen: 0, used: 1e9 }, 'range'], [{ pos: 'a', iovLen: 0, used: 0 }, 'type']] },
  // Stale savepoints: 'reset' stands for one taken before a reset(), 'rolled' for one past a
  // point rolled back to since, 'foreign' for another obuf's of the same shape.
  { target: 'Obuf.rollbackTo', arg: 'svp', kind: 'custom',
    make: () => {
      const w = cacheWorld();
      const buf = new Obuf(w['cache'] as SlabCache, 4096);
      buf.alloc(3000);
      w['svpReset'] = buf.createSavepoint();
      buf.reset();
      buf.alloc(100);
      const mid = buf.createSavepoint();
      buf.alloc(4090);
      w['svpRolled'] = buf.createSavepoint();
      buf.alloc(10);
      buf.rollbackTo(mid);
      buf.alloc(5000);
      const other = new Obuf(w['cache'] as SlabCache, 4096);
      other.alloc(100);
      w['svpForeign'] = other.createSavepoint();
      w['buf'] = buf;
      return w;
    },
    call: (w, v) => (w['buf'] as { rollbackTo(s: unknown): void }).rollbackTo(
      w[`svp${String(v)[0]!.toUpperCase()}${String(v).slice(1)}`]),
    values: [['reset', 'range'], ['rolled', 'range'], ['foreign', 'range']] },
  // ---- LSRegion ----
  { target: 'LSRegion', arg: 'arena', kind: 'object', make: () => ({}),
    call: (_w, v) => new LSRegion(v as never) },
  { target: 'LSRegion.alloc', arg: 'size', kind: 'int', make: lsWorld,
    call: (w, v) => (w['ls'] as { alloc(s: unknown, id: unknown): number }).alloc(v, 10), extra: [[2 ** 32 + 1, 'range']] },
  { target: 'LSRegion.alloc', arg: 'id', kind: 'int', make: lsWorld,
    call: (w, v) => (w['ls'] as { alloc(s: unknown, id: unknown): number }).alloc(8, v), extra: [[4, 'range'], [0, 'range']] },
  { target: 'LSRegion.alignedAlloc', arg: 'align', kind: 'int', make: lsWorld,
    call: (w, v) => (w['ls'] as { alignedAlloc(s: unknown, a: unknown, id: unknown): number }).alignedAlloc(8, v, 10), extra: [[0, 'range'], [3, 'range']] },
  { target: 'LSRegion.alignedAlloc', arg: 'id', kind: 'int', make: lsWorld,
    call: (w, v) => (w['ls'] as { alignedAlloc(s: unknown, a: unknown, id: unknown): number }).alignedAlloc(8, 8, v), extra: [[4, 'range']] },
  { target: 'LSRegion.gc', arg: 'minId', kind: 'int', make: lsWorld,
    call: (w, v) => (w['ls'] as { gc(id: unknown): void }).gc(v) },
  // ---- setDebug ----
  { target: 'setDebug', arg: 'checkEvery', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => setDebug({ checkEvery: v as never }) },
  { target: 'setDebug', arg: 'enabled', kind: 'bool', optional: true, make: () => ({}),
    call: (_w, v) => setDebug({ enabled: v as never }) },
  { target: 'setDebug', arg: 'quarantine', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => setDebug({ quarantine: v as never }) },
  { target: 'setDebug', arg: 'quarantineBytes', kind: 'int', optional: true, make: () => ({}),
    call: (_w, v) => setDebug({ quarantineBytes: v as never }) },
];

function bump(): World {
  const arena = new BumpArena(4096);
  arena.alloc(100);
  return { arena };
}
function usedQuota(): World {
  const q = quota(1 << 20);
  q.use(3000);
  return { quota: q };
}
function arenaWorld(): World {
  const q = quota();
  const arena = slabArena(q);
  arena.map();
  const run = arena.mapRun(2);
  return { quota: q, arena, live: run };
}
function liveCache(): World {
  const w = cacheWorld();
  w['live'] = (w['cache'] as { get(n: number): number }).get(5000);
  return w;
}
function smallWorld(): World {
  const w = cacheWorld();
  const small = new SmallAlloc(w['cache'] as never);
  w['small'] = small;
  w['live'] = small.alloc(40);
  small.alloc(100_000);
  return w;
}
function regionWorld(): World {
  const w = cacheWorld();
  const region = new Region(w['cache'] as never);
  region.alloc(60);
  region.alloc(40);
  w['region'] = region;
  return w;
}
function bufWorld(k: 'Ibuf' | 'Obuf'): World {
  const w = cacheWorld();
  const buf = new { Ibuf, Obuf }[k](w['cache'] as SlabCache);
  buf.alloc(100);
  w['buf'] = buf;
  return w;
}
function lsWorld(): World {
  const q = quota();
  const arena = slabArena(q);
  const ls = new LSRegion(arena);
  ls.alloc(100, 5);
  return { quota: q, arena, ls };
}

/** Everything observable of every object in a world, as JSON. */
function snapshot(w: World): string {
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(w)) {
    if (typeof o !== 'object' || o === null) {
      out[k] = o;
      continue;
    }
    const x = o as Record<string, unknown>;
    const s: Record<string, unknown> = {};
    for (const f of ['stats', 'remaining', 'memoryUsage']) {
      if (typeof x[f] === 'function') s[f] = (x[f] as () => unknown).call(o);
    }
    for (const f of ['used', 'total', 'count', 'byteLength', 'capacity', 'rpos', 'wpos', 'size']) {
      if (f in x && typeof x[f] !== 'function') s[f] = x[f];
    }
    if (typeof x['check'] === 'function') (x['check'] as () => void).call(o);
    out[k] = s;
  }
  out['debug'] = getDebug();
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return v.name;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (v === undefined || v === null) return String(v);
  return Object.prototype.toString.call(v);
}

/**
 * Cases known to fail, reported to their owners: listed here they show as a todo instead of
 * failing the suite. Remove an entry when its fix lands (a fixed case simply passes).
 * Empty now: the bigint cases once listed here (a hot path that added `size` to a position
 * before any type test) are fixed.
 */
const KNOWN = new Set<string>([]);
const known: string[] = [];

let cases = 0;
const failures: string[] = [];

for (const row of rows) {
  const values = [...standard(row.kind, row.optional ?? false), ...(row.values ?? []), ...(row.extra ?? [])];
  test(`${row.target} refuses hostile values of ${row.arg} and changes nothing`, () => {
    const errs: string[] = [];
    for (const [v, want] of values) {
      cases++;
      const w = row.make();
      const before = snapshot(w);
      const what = `${row.target}(${row.arg} = ${show(v)})`;
      let err: unknown = null;
      try {
        row.call(w, v);
      } catch (e) {
        err = e;
      }
      if (want === 'ok') {
        if (err !== null) errs.push(`${what}: an optional argument's default must be accepted, got ${(err as Error).name}: ${(err as Error).message}`);
        continue;
      }
      if (err === null) {
        errs.push(`${what}: accepted, expected a ${EXPECTED[want]}`);
        continue;
      }
      const e = err as Error;
      const okClass = want === 'type' ? e instanceof TypeError
        : want === 'range' ? e instanceof RangeError && !(e instanceof OutOfMemoryError && !new RegExp(`\\b${row.arg}\\b`).test(e.message))
          : want === 'oom' ? e instanceof OutOfMemoryError
            : want === 'invalid' ? e instanceof InvalidPointerError
          : e instanceof RangeError || e instanceof InvalidPointerError;
      if (!okClass) errs.push(`${what}: expected ${EXPECTED[want]}, got ${e.name}: ${e.message}`);
      else if (!(e instanceof InvalidPointerError) && !new RegExp(`\\b${row.arg}\\b`).test(e.message)) {
        errs.push(`${what}: the message does not name ${row.arg}: ${e.message}`);
      }
      let after: string;
      try {
        after = snapshot(w);
      } catch (c) {
        errs.push(`${what}: check() fails afterwards: ${(c as Error).message}`);
        continue;
      }
      if (after !== before) errs.push(`${what}: state changed\n  before ${before}\n  after  ${after}`);
    }
    const open = errs.filter((e) => !KNOWN.has(e.slice(0, e.indexOf(':'))));
    known.push(...errs.filter((e) => KNOWN.has(e.slice(0, e.indexOf(':')))));
    failures.push(...open);
    assert.deepEqual(open, [], open.join('\n'));
  });
}

// A summary for people reading the output, not a test: every row asserts on its own.
after(() => console.log(`hostile input: ${cases} cases over ${rows.length} arguments, ${failures.length} refused wrongly, ${known.length} known`));

test('known hostile-input gaps are listed until fixed', { todo: KNOWN.size > 0 ? 'known gaps, see KNOWN' : false }, () => {
  for (const k of known) console.log(`known gap: ${k}`);
  assert.deepEqual(known, []);
});
