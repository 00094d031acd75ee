/**
 * Debug mode across the library: with `setDebug({ enabled: true })`, allocators created
 * afterwards hand out memory filled with FRESH_BYTE, fill what is freed with FREED_BYTE,
 * refuse interior pointers, and run their own check() every `checkEvery` operations. The
 * previous setting is restored after each test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidPointerError } from '../../src/errors.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, setDebug } from '../../src/internal/debug.js';
import {
  Arena, BumpArena, Ibuf, LSRegion, Mempool, need, Obuf, Quota, Region, SlabArena, SlabCache, SmallAlloc, unless,
  type MemoryLike,
} from '../support/lib.js';

const SLAB = 1 << 16;

/** An allocator as the debug tests drive it. */
interface Subject {
  memory: MemoryLike;
  /** Object whose check() debug mode must call periodically (none: not claimed). */
  checked?: { check(): void };
  alloc(i: number): [ptr: number, size: number];
  /** Frees one allocation (undefined: frees only all at once via freeAll). */
  free?(ptr: number, size: number): void;
  freeAll?(): void;
  /** Frees an interior pointer of a live allocation: must throw InvalidPointerError. */
  interior?(ptr: number, size: number): void;
}

function small() {
  const quota = new (need(Quota, 'Quota'))(64 * SLAB);
  const arena = new (need(SlabArena, 'SlabArena'))({ quota, slabSize: SLAB });
  return { quota, arena };
}
function cache() {
  return new (need(SlabCache, 'SlabCache'))(small().arena);
}

const subjects: [string, string[], () => Subject][] = [
  ['Arena', ['Arena'], () => {
    const a = new (need(Arena, 'Arena'))();
    return { memory: a.memory, alloc: (i) => [a.allocate(8 + (i % 50)), 8 + (i % 50)], freeAll: () => a.reset() };
  }],
  ['BumpArena', ['BumpArena'], () => {
    const a = new (need(BumpArena, 'BumpArena'))(1 << 16);
    return { memory: a.memory, alloc: (i) => [a.alloc(8 + (i % 50)), 8 + (i % 50)], freeAll: () => a.reset() };
  }],
  ['SlabCache', ['SlabCache', 'SlabArena', 'Quota'], () => {
    const c = cache();
    return {
      memory: c.arena.memory, checked: c, alloc: (i) => [c.get(100 + i * 97 % 9000), c.realSize(100 + i * 97 % 9000)],
      free: (p) => c.put(p), interior: (p) => c.put(p + 16),
    };
  }],
  ['Mempool', ['Mempool', 'SlabCache', 'SlabArena', 'Quota'], () => {
    const c = cache();
    const m = new (need(Mempool, 'Mempool'))(c, 40);
    return { memory: c.arena.memory, checked: m, alloc: () => [m.alloc(), 40], free: (p) => m.free(p), interior: (p) => m.free(p + 8) };
  }],
  ['SmallAlloc', ['SmallAlloc', 'SlabCache', 'SlabArena', 'Quota'], () => {
    const c = cache();
    const s = new (need(SmallAlloc, 'SmallAlloc'))(c);
    return {
      // Its periodic checks are its pools' own (each Mempool checks itself), not SmallAlloc.check().
      memory: c.arena.memory, alloc: (i) => [s.alloc(16 + (i * 37) % 3000), 16 + (i * 37) % 3000],
      free: (p) => s.free(p), interior: (p) => s.free(p + 8),
    };
  }],
  ['Region', ['Region', 'SlabCache', 'SlabArena', 'Quota'], () => {
    const r = new (need(Region, 'Region'))(cache());
    return { memory: (r as unknown as { memory: MemoryLike }).memory, checked: r as never,
      alloc: (i) => [r.alloc(8 + (i % 300)), 8 + (i % 300)], freeAll: () => r.reset() };
  }],
  ['LSRegion', ['LSRegion', 'SlabArena', 'Quota'], () => {
    const { arena } = small();
    const l = new (need(LSRegion, 'LSRegion'))(arena);
    let id = 0;
    return { memory: arena.memory, checked: l as never, alloc: (i) => [l.alloc(8 + (i % 300), ++id), 8 + (i % 300)], freeAll: () => l.gc(id) };
  }],
  ['Ibuf', ['Ibuf', 'SlabCache', 'SlabArena', 'Quota'], () => {
    const c = cache();
    const b = new (need(Ibuf, 'Ibuf'))(c);
    return { memory: c.arena.memory, checked: b as never, alloc: (i) => [b.alloc(8 + (i % 100)), 8 + (i % 100)] };
  }],
  ['Obuf', ['Obuf', 'SlabCache', 'SlabArena', 'Quota'], () => {
    const c = cache();
    const b = new (need(Obuf, 'Obuf'))(c);
    return { memory: c.arena.memory, checked: b as never, alloc: (i) => [b.alloc(8 + (i % 100)), 8 + (i % 100)] };
  }],
];

function withDebug(opts: { enabled: boolean; checkEvery?: number }, fn: () => void): void {
  const saved = getDebug();
  setDebug(opts);
  try {
    fn();
  } finally {
    setDebug(saved);
  }
}

/** The first byte of `[from, to)` that is not `b`, or -1. */
function firstNot(u8: Uint8Array, from: number, to: number, b: number): number {
  for (let i = from; i < to; i++) if (u8[i] !== b) return i;
  return -1;
}

for (const [name, needs, make] of subjects) {
  const skip = unless(...needs);
  test(`${name} in debug mode hands out FRESH_BYTE memory and poisons what it frees with FREED_BYTE`, { skip }, () => {
    withDebug({ enabled: true, checkEvery: 0 }, () => {
      const s = make();
      const live: [number, number][] = [];
      for (let i = 0; i < 40; i++) {
        const [p, size] = s.alloc(i);
        const bad = firstNot(s.memory.u8, p, p + size, FRESH_BYTE);
        assert.equal(bad, -1, `allocation ${i} at ${p}: byte ${bad - p} is ${s.memory.u8[bad]}, not FRESH_BYTE`);
        s.memory.u8.fill(0x11, p, p + size);
        live.push([p, size]);
      }
      if (s.free !== undefined) {
        for (const [p, size] of live.splice(0, 20)) {
          s.free(p, size);
          // The first 8 bytes of a freed block may hold the free list's links.
          const bad = firstNot(s.memory.u8, p + 8, p + size, FREED_BYTE);
          assert.equal(bad, -1, `freed ${p}: byte ${bad - p} is ${s.memory.u8[bad]}, not FREED_BYTE`);
        }
      }
      if (s.freeAll !== undefined) {
        s.freeAll();
        for (const [p, size] of live) {
          const bad = firstNot(s.memory.u8, p, p + size, FREED_BYTE);
          const fresh = firstNot(s.memory.u8, p, p + size, FRESH_BYTE);
          // Freed all at once: poisoned as freed, or (a bump arena) made fresh for reuse.
          assert.ok(bad === -1 || fresh === -1, `after freeing all, ${p} still holds caller data at ${Math.max(bad, fresh) - p}`);
        }
      }
    });
  });

  if (['SlabCache', 'Mempool', 'SmallAlloc'].includes(name)) {
    test(`${name} in debug mode refuses an interior pointer and changes nothing`, { skip }, () => {
      withDebug({ enabled: true, checkEvery: 0 }, () => {
        const s = make();
        const [p, size] = s.alloc(3);
        s.memory.u8.fill(0x22, p, p + size);
        assert.throws(() => s.interior!(p, size), InvalidPointerError);
        assert.equal(firstNot(s.memory.u8, p, p + size, 0x22), -1, 'the allocation is untouched');
        s.free!(p, size);
        assert.throws(() => s.free!(p, size), InvalidPointerError, 'and a double free is caught');
      });
    });
  }

  test(`${name} in debug mode runs check() periodically`, { skip }, () => {
    withDebug({ enabled: true, checkEvery: 4 }, () => {
      const s = make();
      if (s.checked === undefined || typeof s.checked.check !== 'function') return;
      let calls = 0;
      const orig = s.checked.check.bind(s.checked);
      s.checked.check = () => {
        calls++;
        orig();
      };
      for (let i = 0; i < 40; i++) s.alloc(i);
      assert.ok(calls >= 5, `check() ran ${calls} times in 40 allocations with checkEvery 4`);
    });
  });
}

test('debug mode is off again after the tests, and allocators made then do not poison', { skip: unless('BumpArena') }, () => {
  assert.equal(getDebug().enabled, false);
  const a = new (need(BumpArena, 'BumpArena'))(64);
  const p = a.alloc(16);
  assert.equal(firstNot(a.memory.u8, p, p + 16, 0), -1, 'plain zeroed memory');
});
