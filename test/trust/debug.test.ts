/**
 * Debug mode across the library: with `setDebug({ enabled: true })`, allocators created
 * afterwards hand out memory filled with FRESH_BYTE, fill what is freed with FREED_BYTE,
 * refuse interior pointers, and run their own check() every `checkEvery` operations. The
 * previous setting is restored after each test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Arena, BumpArena, formatStats, FREED_BYTE, FRESH_BYTE, getDebug, Ibuf, InvalidPointerError, LSRegion, Mempool, Obuf, Quota, Region,
  setDebug, SlabArena, SlabCache, SmallAlloc, type Memory,
} from '../../src/index.js';

const SLAB = 1 << 16;

/** An allocator as the debug tests drive it. */
interface Subject {
  memory: Memory;
  /**
   * The object whose check() debug mode calls every checkEvery operations, spied on below.
   * None for Arena and BumpArena (tested at the end of this file by breaking their state) and
   * SmallAlloc (in test/small/objects/small-alloc.test.ts, the same way).
   */
  checked?: { check(): void };
  alloc(i: number): [ptr: number, size: number];
  /** Frees one allocation (undefined: frees only all at once via freeAll). */
  free?(ptr: number, size: number): void;
  freeAll?(): void;
  /** Frees an interior pointer of a live allocation: must throw InvalidPointerError. */
  interior?(ptr: number, size: number): void;
}

function small() {
  const quota = new Quota(64 * SLAB);
  const arena = new SlabArena({ quota, slabSize: SLAB });
  return { quota, arena };
}
function cache() {
  return new SlabCache(small().arena);
}

const subjects: [string, () => Subject][] = [
  ['Arena', () => {
    const a = new Arena();
    return { memory: a.memory, alloc: (i) => [a.allocate(8 + (i % 50)), 8 + (i % 50)], freeAll: () => a.reset() };
  }],
  ['BumpArena', () => {
    const a = new BumpArena(1 << 16);
    return { memory: a.memory, alloc: (i) => [a.alloc(8 + (i % 50)), 8 + (i % 50)], freeAll: () => a.reset() };
  }],
  ['SlabCache', () => {
    const c = cache();
    return {
      memory: c.arena.memory, checked: c, alloc: (i) => [c.get(100 + i * 97 % 9000), c.realSize(100 + i * 97 % 9000)],
      free: (p) => c.put(p), interior: (p) => c.put(p + 16),
    };
  }],
  ['Mempool', () => {
    const c = cache();
    const m = new Mempool(c, 40);
    return { memory: c.arena.memory, checked: m, alloc: () => [m.alloc(), 40], free: (p) => m.free(p), interior: (p) => m.free(p + 8) };
  }],
  ['SmallAlloc', () => {
    const c = cache();
    const s = new SmallAlloc(c);
    return {
      memory: c.arena.memory, alloc: (i) => [s.alloc(16 + (i * 37) % 3000), 16 + (i * 37) % 3000],
      free: (p) => s.free(p), interior: (p) => s.free(p + 8),
    };
  }],
  ['Region', () => {
    const r = new Region(cache());
    return { memory: r.memory, checked: r,
      alloc: (i) => [r.alloc(8 + (i % 300)), 8 + (i % 300)], freeAll: () => r.reset() };
  }],
  ['LSRegion', () => {
    const { arena } = small();
    const l = new LSRegion(arena);
    let id = 0;
    return { memory: arena.memory, checked: l, alloc: (i) => [l.alloc(8 + (i % 300), ++id), 8 + (i % 300)], freeAll: () => l.gc(id) };
  }],
  ['Ibuf', () => {
    const c = cache();
    const b = new Ibuf(c);
    return { memory: c.arena.memory, checked: b, alloc: (i) => [b.alloc(8 + (i % 100)), 8 + (i % 100)] };
  }],
  ['Obuf', () => {
    const c = cache();
    const b = new Obuf(c);
    return { memory: c.arena.memory, checked: b, alloc: (i) => [b.alloc(8 + (i % 100)), 8 + (i % 100)] };
  }],
];

function withDebug(opts: Parameters<typeof setDebug>[0], fn: () => void): void {
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

for (const [name, make] of subjects) {
  test(`${name} in debug mode hands out FRESH_BYTE memory and poisons what it frees with FREED_BYTE`, () => {
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
    test(`${name} in debug mode refuses an interior pointer and changes nothing`, () => {
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

  if (!['Arena', 'BumpArena', 'SmallAlloc'].includes(name)) test(`${name} in debug mode runs check() periodically`, () => {
    withDebug({ enabled: true, checkEvery: 4 }, () => {
      const s = make();
      assert.ok(s.checked !== undefined, `${name} names the object debug mode checks`);
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

// Debug mode never changes what a program sees: it poisons only memory no one holds. The
// bytes of live allocations, and bytes written into room given by `reserve` and then
// allocated, read back as written.

// Not Ibuf: its unread bytes move as it grows (its pointers do not survive by contract); the
// reserve test below covers what it holds.
for (const [name, make] of subjects.filter(([n]) => n !== 'Ibuf')) {
  test(`${name} in debug mode never writes into memory it has handed out and not taken back`, () => {
    withDebug({ enabled: true, checkEvery: 7 }, () => {
      const s = make();
      const live: [number, number, number][] = [];
      for (let i = 0; i < 200; i++) {
        const [p, size] = s.alloc(i);
        const v = 1 + (i % 250);
        s.memory.u8.fill(v, p, p + size);
        live.push([p, size, v]);
        if (s.free !== undefined && i % 3 === 2) {
          const [q, n] = live.splice(i % live.length, 1)[0]!;
          s.free(q, n);
        }
      }
      for (const [p, size, v] of live) {
        const bad = firstNot(s.memory.u8, p, p + size, v);
        assert.equal(bad, -1, `live allocation at ${p} (${size} bytes): byte ${bad - p} is ${s.memory.u8[bad]}, not ${v}`);
      }
    });
  });
}

/** An allocator with `reserve(n)` then `alloc(k <= n)`, as the debug tests drive it. */
interface Reserving {
  memory: Memory;
  reserve(size: number): number;
  alloc(size: number): number;
}
const reserving: [string, () => Reserving][] = [
  ['Region', () => {
    const r = new Region(cache());
    return { memory: r.memory, reserve: (n) => r.reserve(n), alloc: (n) => r.alloc(n) };
  }],
  ['Ibuf', () => {
    const c = cache();
    const b = new Ibuf(c);
    return { memory: c.arena.memory, reserve: (n) => b.reserve(n), alloc: (n) => b.alloc(n) };
  }],
  ['Obuf', () => {
    const c = cache();
    const b = new Obuf(c);
    return { memory: c.arena.memory, reserve: (n) => b.reserve(n), alloc: (n) => b.alloc(n) };
  }],
];

for (const [name, make] of reserving) {
  test(`${name} in debug mode keeps the bytes written into reserved room when it is allocated`, () => {
    withDebug({ enabled: true, checkEvery: 1 }, () => {
      const s = make();
      s.alloc(10);
      // Room in the current slab, room that needs a new one, and room allocated in two parts.
      for (const [n, parts] of [[100, 1], [3000, 1], [200_000, 1], [1000, 2], [64, 4]] as const) {
        const p = s.reserve(n);
        s.memory.u8.fill(0x3c, p, p + n);
        let at = p;
        for (let k = 0; k < parts; k++) {
          const part = n / parts;
          assert.equal(s.alloc(part), at, `alloc(${part}) after reserve(${n}) returns the reserved room`);
          at += part;
        }
        const bad = firstNot(s.memory.u8, p, p + n, 0x3c);
        assert.equal(bad, -1, `reserve(${n}), write, alloc: byte ${bad - p} reads ${s.memory.u8[bad]}, not what was written`);
      }
    });
  });
}

test('Region in debug mode keeps reserved bytes under an aligned alloc of them, and poisons them once truncated', () => {
  withDebug({ enabled: true, checkEvery: 1 }, () => {
    const r = new Region(cache());
    const memory = r.memory;
    r.alloc(3);
    const svp = r.used;
    const p = r.reserve(256);
    const u8 = memory.u8; // taken once the memory holds the slab
    u8.fill(0x5a, p, p + 256);
    const q = r.alignedAlloc(64, 16);
    assert.ok(q >= p && q + 64 <= p + 256, 'the aligned allocation lies in the reserved room');
    assert.equal(firstNot(u8, q, q + 64, 0x5a), -1, 'what was written is what the allocation holds');
    r.truncate(svp);
    assert.equal(firstNot(u8, q, q + 64, FREED_BYTE), -1, 'truncated: poisoned');
    // The reservation ended with the truncate: fresh memory handed out now is poisoned fresh.
    const f = r.alloc(64);
    assert.equal(firstNot(u8, f, f + 64, FRESH_BYTE), -1, 'a fresh allocation reads FRESH_BYTE');
  });
});

test('debug mode is off again after the tests, and allocators made then do not poison', () => {
  assert.equal(getDebug().enabled, false);
  const a = new BumpArena(64);
  const p = a.alloc(16);
  assert.equal(firstNot(a.memory.u8, p, p + 16, 0), -1, 'plain zeroed memory');
});

test('Arena and BumpArena in debug mode run their check() every checkEvery operations, as every allocator does', () => {
  const saved = getDebug();
  setDebug({ enabled: true, checkEvery: 4 });
  try {
    const arena = new Arena();
    arena.allocate(8);
    // Broken state only check() sees: the arena's usage below its blocks' bookkeeping.
    (arena as unknown as { usage: number }).usage = -1;
    assert.throws(() => { for (let i = 0; i < 8; i++) arena.allocate(8); }, /Arena\.check: usage below the bookkeeping/);
    const bump = new BumpArena(1024);
    bump.alloc(8);
    // The stored capacity word in the header is what check() compares.
    const words = new Uint32Array(bump.memory.buffer, 0, 8);
    const at = words.findIndex((w) => w === bump.capacity);
    words[at] = 7;
    assert.throws(() => { for (let i = 0; i < 8; i++) bump.tryAlloc(8); }, /BumpArena\.check: stored capacity/);
  } finally {
    setDebug(saved);
  }
});

// ---- the quarantine: a double free after the slot would have been handed out again ----
//
// In release mode a free of a slot that is free now is caught; once the slot is handed out
// again, a second free of the old pointer looks like the new owner's free. Debug mode holds
// freed slots back from reuse for a bounded window, so such a double free is caught there.

/** An allocator of one size, as the quarantine tests drive it. */
interface Quarantining {
  memory: Memory;
  alloc(): number;
  tryAlloc(): number;
  free(ptr: number): void;
  stats(): { used: number; total: number; quarantined: number };
  check(): void;
  /**
   * Allocations that, in release mode, surely hand a just-freed slot out again: a class
   * object's or a Mempool's free retires the slot, and it is settled (free again) when the
   * search of its slab runs out, so within a slab's slots (64 KiB / 40 bytes, about 1,640).
   */
  reuseWithin: number;
}

const quarantining: [string, (c: SlabCache) => Quarantining][] = [
  ['SmallAlloc (class objects)', (c) => {
    const s = new SmallAlloc(c);
    return { memory: c.arena.memory, alloc: () => s.alloc(40), tryAlloc: () => s.tryAlloc(40), free: (p) => s.free(p),
      stats: () => s.stats(), check: () => s.check(), reuseWithin: 2048 };
  }],
  ['SmallAlloc (large allocations)', (c) => {
    const s = new SmallAlloc(c);
    const size = s.objsizeMax + 1000;
    return { memory: c.arena.memory, alloc: () => s.alloc(size), tryAlloc: () => s.tryAlloc(size), free: (p) => s.free(p),
      stats: () => s.stats(), check: () => s.check(), reuseWithin: 1 };
  }],
  ['Mempool', (c) => {
    const m = new Mempool(c, 40);
    return { memory: c.arena.memory, alloc: () => m.alloc(), tryAlloc: () => m.tryAlloc(), free: (p) => m.free(p),
      stats: () => m.stats(), check: () => m.check(), reuseWithin: 2048 };
  }],
];

for (const [name, make] of quarantining) {
  test(`${name}: without debug mode the next allocation reuses a freed slot (what the quarantine guards)`, () => {
    withDebug({ enabled: false }, () => {
      const s = make(new SlabCache(small().arena));
      s.alloc();
      const a = s.alloc();
      s.free(a);
      const again: number[] = [];
      for (let i = 0; i < s.reuseWithin; i++) again.push(s.alloc());
      assert.ok(again.includes(a), `release mode hands ${a} out again within ${s.reuseWithin} allocations`);
    });
  });

  test(`${name} in debug mode catches a double free made after the slot would have been reused, and changes nothing`, () => {
    withDebug({ enabled: true, checkEvery: 16 }, () => {
      const s = make(new SlabCache(small().arena));
      s.alloc();
      const a = s.alloc();
      s.free(a);
      // Far more allocations than release mode needs to hand `a` out again.
      const later: number[] = [];
      for (let i = 0; i < s.reuseWithin + 5; i++) {
        const p = s.alloc();
        assert.notEqual(p, a, `the freed ${a} was handed out again after ${i} allocations`);
        s.memory.u8.fill(0x5c, p, p + 8);
        later.push(p);
      }
      const before = JSON.stringify(s.stats());
      assert.throws(() => s.free(a), InvalidPointerError, 'the second free of a quarantined slot');
      assert.equal(JSON.stringify(s.stats()), before, 'nothing changed');
      for (const p of later) assert.equal(firstNot(s.memory.u8, p, p + 8, 0x5c), -1, `live ${p} untouched`);
      s.check();
    });
  });
}

test('Mempool in debug mode: the quarantine is bounded in count; after that many more frees the oldest slot is reused', () => {
  withDebug({ enabled: true, checkEvery: 1, quarantine: 8 }, () => {
    const c = new SlabCache(small().arena);
    const m = new Mempool(c, 40);
    const a = m.alloc();
    const others: number[] = [];
    for (let i = 0; i < 8; i++) others.push(m.alloc());
    m.free(a);
    for (const p of others.slice(0, 7)) m.free(p);
    assert.equal(m.stats().quarantined, 8, 'a and 7 more are held');
    assert.throws(() => m.free(a), InvalidPointerError, 'still caught within the window');
    m.free(others[7]!);
    assert.equal(m.stats().quarantined, 8, 'the window holds 8');
    let found = false;
    for (let i = 0; i < m.stats().objectsPerSlab && !found; i++) found = m.alloc() === a;
    assert.ok(found, `${a} is handed out again once it left the window`);
    m.check();
  });
});

test('SmallAlloc in debug mode: the quarantine is bounded in bytes too', () => {
  withDebug({ enabled: true, checkEvery: 1, quarantine: 1000, quarantineBytes: 400 }, () => {
    const c = new SlabCache(small().arena);
    const s = new SmallAlloc(c);
    const ptrs: number[] = [];
    for (let i = 0; i < 30; i++) ptrs.push(s.alloc(40));
    for (const p of ptrs) s.free(p);
    const st = s.stats();
    assert.ok(st.quarantined >= 1 && st.quarantined * 40 <= 400, `${st.quarantined} objects of 40 bytes held within 400 bytes`);
    assert.equal(st.count, 0);
    s.check();
  });
});

test('SmallAlloc in debug mode: stats() counts quarantined frees apart from those held for read views', () => {
  withDebug({ enabled: true, checkEvery: 1 }, () => {
    const c = new SlabCache(small().arena);
    const s = new SmallAlloc(c);
    const a = s.alloc(40);
    const b = s.alloc(40);
    s.free(a);
    assert.equal(s.stats().quarantined, 1);
    const v = s.openReadView();
    s.free(b);
    const st = s.stats();
    assert.equal(st.deferred, 2, 'both are held back');
    assert.equal(st.quarantined, 1, 'one of them only by the quarantine; a view sees the other');
    v.close();
    assert.equal(s.stats().quarantined, 2);
    assert.match(formatStats(s), /of them quarantined\s+2/);
    assert.throws(() => s.free(b), InvalidPointerError);
    s.check();
  });
});

/** Fills `s` until it fails, frees everything; returns how many fit. */
function fillAndFree(tryAlloc: () => number, free: (p: number) => void): number {
  const ptrs: number[] = [];
  for (let p; (p = tryAlloc()) !== 0;) ptrs.push(p);
  for (const p of ptrs) free(p);
  return ptrs.length;
}

for (const enabled of [false, true]) {
  const mode = enabled ? 'in debug mode' : 'in release mode';
  test(`SmallAlloc ${mode}: memory freed (and quarantined) is given back before an allocation fails`, () => {
    withDebug({ enabled, checkEvery: 0 }, () => {
      const arena = new SlabArena({ quota: new Quota(8 * SLAB), slabSize: SLAB });
      const s = new SmallAlloc(new SlabCache(arena));
      const n = fillAndFree(() => s.tryAlloc(1000), (p) => s.free(p));
      assert.ok(n > 100 && n < 1024, `${n} objects filled the quota, within the default window`);
      assert.equal(s.stats().quarantined, enabled ? n : 0, 'every free is held in debug mode');
      // Another class, then a large allocation, then the same class again: all need that memory.
      assert.ok(fillAndFree(() => s.tryAlloc(3000), (p) => s.free(p)) > n / 4, 'another class gets the memory');
      const big = s.alloc(4 * SLAB);
      s.free(big);
      assert.equal(fillAndFree(() => s.tryAlloc(1000), (p) => s.free(p)), n, 'the same class fits as many again');
      s.check();
    });
  });

  test(`Mempool ${mode}: memory freed (and quarantined) is reused before an allocation fails`, () => {
    withDebug({ enabled, checkEvery: 0 }, () => {
      const arena = new SlabArena({ quota: new Quota(8 * SLAB), slabSize: SLAB });
      const m = new Mempool(new SlabCache(arena), 1000);
      const n = fillAndFree(() => m.tryAlloc(), (p) => m.free(p));
      assert.ok(n > 100 && n < 1024, `${n} objects filled the quota, within the default window`);
      assert.equal(m.stats().quarantined, enabled ? n : 0, 'every free is held in debug mode');
      assert.equal(fillAndFree(() => m.tryAlloc(), (p) => m.free(p)), n, 'as many fit again');
      assert.ok(m.alloc() !== 0);
      m.check();
    });
  });
}
