/**
 * Models of the per-worker allocators over a SlabCache: SlabCache itself (buddy blocks and
 * large runs), Mempool (fixed-size objects) and SmallAlloc (size classes, large allocations,
 * read views). Each tracks what is live and what it holds; counters are checked against Σ of
 * the live blocks; double frees and interior pointers must throw InvalidPointerError and
 * change nothing; a failure to allocate (a small quota) changes nothing.
 *
 * SmallAlloc's read views: a block freed while views are open keeps its contents and is not
 * handed out again until every view open at the moment of the free has closed.
 *
 * SmallAlloc's adoption: a worker that has exited (its objects allocated with other size
 * classes, some freed by this worker before the adoption) is adopted; every object it left
 * live joins this allocator's, keeps its bytes and is freed with the size it was asked with.
 *
 * SmallAlloc's typed arrays: `allocAs` hands out a view that starts at its allocation's first
 * byte (under every granularity and objsizeMin); `free` takes back any typed array that starts
 * there, and refuses, changing nothing, one that starts anywhere inside (a `subarray`, a view
 * built at an offset).
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import {
  InvalidPointerError, Mempool, OutOfMemoryError, Quota, Region, SlabArena, SlabCache, SmallAlloc, type ReadView,
} from '../../../src/index.js';
import type { TypedArray } from '../../../src/internal/typed.js';
import { assertDisjoint, command, expectThrow, sizeArb, stamp, verifyAll, verifyStamp, type Block, type ModelSpec, type Real } from '../../support/model.js';

/** The element types allocAs is run with, 1 to 8 bytes. */
const TYPES = [Uint8Array, Int16Array, Float32Array, Int32Array, Float64Array, BigInt64Array] as const;

const SLAB = 1 << 16;

function makeCache(quotaSlabs: number): SlabCache {
  const quota = new Quota(quotaSlabs * SLAB);
  const arena = new SlabArena({ quota, slabSize: SLAB });
  return new SlabCache(arena);
}

/** Runs an allocation that may run out; returns 0 after checking that a failure changed nothing. */
function attempt(alloc: () => number, counters: () => string, what: string): number {
  const before = counters();
  try {
    const p = alloc();
    if (p === 0) assert.equal(counters(), before, `${what}: a failed allocation changes nothing`);
    return p;
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    assert.equal(counters(), before, `${what}: a failed allocation changes nothing`);
    return 0;
  }
}

// ---- SlabCache ----

interface CM {
  readonly live: (Block & { real: number })[];
  tag: number;
}
interface CR extends Real {
  cache: SlabCache;
}
const cacheSpec: ModelSpec<CM, CR, number> = {
  name: 'SlabCache',
  quickRuns: 30,
  maxCommands: 40,
  params: fc.constantFrom(2, 4, 16),
  setup(quotaSlabs) {
    const cache = makeCache(quotaSlabs);
    const model: CM = { live: [], tag: 0 };
    const real: CR = {
      cache,
      check() {
        cache.check();
        assert.equal(cache.used, model.live.reduce((n, b) => n + b.real, 0), 'used is Σ realSize of the live blocks');
        assert.ok(cache.total >= cache.used, 'total >= used');
        assert.ok(cache.arena.quota.used >= cache.arena.used, 'the quota covers the arena');
        verifyAll(cache.arena.memory.u8, model.live);
      },
    };
    return { model, real };
  },
  commands: [
    command('get', fc.tuple(fc.oneof(sizeArb(SLAB), fc.integer({ min: SLAB, max: 3 * SLAB })), fc.boolean()), (m: CM, r: CR, [size, t]) => {
      const c = r.cache;
      const real = c.realSize(size);
      assert.ok(real >= size && real >= c.order0Size, `realSize(${size}) = ${real}`);
      if (size <= SLAB) assert.equal(real & (real - 1), 0, 'a power of two up to a slab');
      else assert.equal(real % SLAB, 0, 'whole slabs above a slab');
      const p = attempt(() => (t ? c.tryGet(size) : c.get(size)), () => JSON.stringify(c.stats()), `get(${size})`);
      if (p === 0) return;
      assert.equal(p % Math.min(real, SLAB), 0, `get(${size}) = ${p} is aligned to its size`);
      assertDisjoint(m.live, p, real);
      const tag = ++m.tag;
      stamp(c.arena.memory.u8, p, real, tag);
      m.live.push({ ptr: p, size: real, real, tag });
    }),
    command('put', fc.nat(), (m: CM, r: CR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      r.cache.put(b!.ptr);
    }, (m) => m.live.length > 0),
    command('putTwice', fc.nat(), (m: CM, r: CR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      r.cache.put(b!.ptr);
      const before = JSON.stringify(r.cache.stats());
      expectThrow(() => r.cache.put(b!.ptr), InvalidPointerError, 'a second put');
      assert.equal(JSON.stringify(r.cache.stats()), before, 'a refused put changes nothing');
    }, (m) => m.live.length > 0),
    command('putInterior', fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4095 })), (m: CM, r: CR, [i, off]) => {
      const b = m.live[i % m.live.length]!;
      expectThrow(() => r.cache.put(b.ptr + (off % b.size)), InvalidPointerError, 'put of an interior pointer');
    }, (m) => m.live.length > 0),
  ],
};

// ---- Mempool ----

interface PM {
  readonly objsize: number;
  readonly live: Block[];
  tag: number;
}
interface PR extends Real {
  pool: Mempool;
  cache: SlabCache;
}
const poolSpec: ModelSpec<PM, PR, { objsize: number; quotaSlabs: number }> = {
  name: 'Mempool',
  quickRuns: 30,
  maxCommands: 60,
  params: fc.record({ objsize: fc.constantFrom(1, 8, 24, 40, 64, 100, 256, 1000, 4096, 20000), quotaSlabs: fc.constantFrom(2, 8) }),
  setup({ objsize, quotaSlabs }) {
    const cache = makeCache(quotaSlabs);
    const pool = new Mempool(cache, objsize);
    assert.equal(pool.objsize, objsize);
    const model: PM = { objsize, live: [], tag: 0 };
    const real: PR = {
      pool,
      cache,
      check() {
        pool.check();
        assert.equal(pool.count, model.live.length, 'count');
        assert.equal(pool.used, model.live.length * objsize, 'used == count * objsize');
        assert.ok(pool.total >= pool.used && cache.used >= pool.total, 'used <= total <= what the cache handed out');
        verifyAll(cache.arena.memory.u8, model.live);
      },
      dispose() {
        pool.destroy();
        assert.equal(cache.used, 0, 'destroy gives every slab back to the cache');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.boolean(), (m: PM, r: PR, t) => {
      const p = attempt(() => (t ? r.pool.tryAlloc() : r.pool.alloc()), () => JSON.stringify(r.pool.stats()), 'alloc');
      if (p === 0) return;
      if ((m.objsize & (m.objsize - 1)) === 0) assert.equal(p % m.objsize, 0, 'a power-of-two object is aligned to its size');
      assertDisjoint(m.live, p, m.objsize);
      const tag = ++m.tag;
      stamp(r.cache.arena.memory.u8, p, m.objsize, tag);
      m.live.push({ ptr: p, size: m.objsize, tag });
    }),
    command('free', fc.nat(), (m: PM, r: PR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      r.pool.free(b!.ptr);
    }, (m) => m.live.length > 0),
    command('freeTwice', fc.nat(), (m: PM, r: PR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      r.pool.free(b!.ptr);
      const before = JSON.stringify(r.pool.stats());
      expectThrow(() => r.pool.free(b!.ptr), InvalidPointerError, 'a double free');
      assert.equal(JSON.stringify(r.pool.stats()), before, 'a refused free changes nothing');
    }, (m) => m.live.length > 0),
    command('freeForeign', fc.integer({ min: 1, max: 1 << 20 }), (m: PM, r: PR, p) => {
      if (m.live.some((b) => b.ptr === p)) return;
      const before = JSON.stringify(r.pool.stats());
      expectThrow(() => r.pool.free(p), InvalidPointerError, `free(${p}) of a pointer never handed out`);
      assert.equal(JSON.stringify(r.pool.stats()), before, 'a refused free changes nothing');
    }),
  ],
};

// ---- SmallAlloc ----

interface Held extends Block {
  /** Views that were open when it was freed and are not closed yet. */
  views: Set<number>;
}
interface SM {
  objsizeMax: number;
  /** `view`: allocAs's typed array over the block, when it came from allocAs. */
  readonly live: (Block & { real: number; large: boolean; view?: TypedArray })[];
  /** Freed while views were open: contents kept, not reused. */
  readonly held: Held[];
  readonly views: Map<number, ReadView>;
  nextView: number;
  tag: number;
}
interface SR extends Real {
  small: SmallAlloc;
  cache: SlabCache;
}
function release(m: SM, id: number): void {
  for (const h of m.held) h.views.delete(id);
  for (let i = m.held.length - 1; i >= 0; i--) if (m.held[i]!.views.size === 0) m.held.splice(i, 1);
}
/** Made-up thread ids of the exited workers adoptExited stands in for. */
let nextDeadThread = 1_000_000;
const smallSpec: ModelSpec<SM, SR, { quotaSlabs: number; factor: number; classes: readonly [number, number] }> = {
  name: 'SmallAlloc',
  quickRuns: 30,
  maxCommands: 60,
  params: fc.record({
    quotaSlabs: fc.constantFrom(4, 32),
    factor: fc.constantFrom(1.05, 1.3, 2),
    // [objsizeMin, granularity]: the defaults, and classes whose objects are only 4-aligned.
    classes: fc.constantFrom([16, 8] as const, [4, 4] as const, [5, 1] as const, [16, 4] as const),
  }),
  setup({ quotaSlabs, factor, classes: [objsizeMin, granularity] }) {
    const cache = makeCache(quotaSlabs);
    const small = new SmallAlloc(cache, { allocFactor: factor, objsizeMin, granularity });
    const model: SM = { objsizeMax: small.objsizeMax, live: [], held: [], views: new Map(), nextView: 1, tag: 0 };
    const real: SR = {
      small,
      cache,
      check() {
        small.check();
        const st = small.stats();
        assert.equal(st.used, model.live.reduce((n, b) => n + (b.large ? b.size : b.real), 0),
          'used: class objects at their class size, large ones as asked');
        assert.ok(st.total >= st.used, 'total >= used');
        const u8 = cache.arena.memory.u8;
        verifyAll(u8, model.live);
        verifyAll(u8, model.held, 'memory freed under an open read view');
      },
      dispose() {
        for (const v of model.views.values()) v.close();
        small.destroy();
        assert.equal(cache.used, 0, 'destroy gives everything back to the cache');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.tuple(fc.oneof(sizeArb(20000), fc.integer({ min: 20000, max: 200000 })), fc.boolean()), (m: SM, r: SR, [size, t]) => {
      const s = r.small;
      const p = attempt(() => (t ? s.tryAlloc(size) : s.alloc(size)), () => JSON.stringify(s.stats().used), `alloc(${size})`);
      if (p === 0) return;
      const info = s.info(p);
      assert.ok(info.realSize >= size, `info(${p}).realSize ${info.realSize} >= ${size}`);
      assert.equal(info.isLarge, size > m.objsizeMax, `isLarge for ${size} (objsizeMax ${m.objsizeMax})`);
      assertDisjoint(m.live, p, size);
      assertDisjoint(m.held, p, size, 'an allocation over memory a read view still sees');
      const tag = ++m.tag;
      stamp(r.cache.arena.memory.u8, p, size, tag);
      m.live.push({ ptr: p, size, real: info.realSize, large: info.isLarge, tag });
    }),
    command('free', fc.tuple(fc.nat(), fc.boolean()), (m: SM, r: SR, [i, withSize]) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      // allocAs may have taken a larger class than its bytes ask for: its views go without a size.
      if (withSize && b!.view === undefined) r.small.free(b!.ptr, b!.size);
      else r.small.free(b!.ptr);
      if (m.views.size > 0) m.held.push({ ptr: b!.ptr, size: b!.size, tag: b!.tag, views: new Set(m.views.keys()) });
    }, (m) => m.live.length > 0),
    command('freeTwice', fc.nat(), (m: SM, r: SR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      r.small.free(b!.ptr);
      if (m.views.size > 0) m.held.push({ ptr: b!.ptr, size: b!.size, tag: b!.tag, views: new Set(m.views.keys()) });
      expectThrow(() => r.small.free(b!.ptr), InvalidPointerError, 'a double free');
      expectThrow(() => r.small.info(b!.ptr), InvalidPointerError, 'info of a freed pointer');
    }, (m) => m.live.length > 0),
    command('realloc', fc.tuple(fc.nat(), fc.oneof(sizeArb(20000), fc.integer({ min: 20000, max: 200000 }))), (m: SM, r: SR, [i, size]) => {
      const s = r.small;
      const k = i % m.live.length;
      const b = m.live[k]!;
      const u8 = (): Uint8Array => r.cache.arena.memory.u8;
      const keep = Math.min(b.size, size);
      const bytes = u8().slice(b.ptr, b.ptr + keep);
      const q = attempt(() => s.realloc(b.ptr, size), () => JSON.stringify(s.stats().used), `realloc(${b.ptr}, ${size})`);
      if (q === 0) {
        verifyStamp(u8(), b.ptr, b.size, b.tag, 'the allocation a failed realloc kept');
        return;
      }
      assert.deepEqual(u8().slice(q, q + keep), bytes, `realloc(${b.ptr}, ${size}) keeps the first ${keep} bytes`);
      m.live.splice(k, 1);
      if (q !== b.ptr) {
        if (m.views.size > 0) m.held.push({ ptr: b.ptr, size: b.size, tag: b.tag, views: new Set(m.views.keys()) });
        expectThrow(() => s.info(b.ptr), InvalidPointerError, 'a moved allocation\'s old pointer');
      }
      const info = s.info(q);
      assert.ok(info.realSize >= size, `info(${q}).realSize ${info.realSize} >= ${size}`);
      assertDisjoint(m.live, q, size);
      const tag = ++m.tag;
      stamp(u8(), q, size, tag);
      m.live.push({ ptr: q, size, real: info.realSize, large: info.isLarge, tag });
    }, (m) => m.live.length > 0),
    command('calloc', sizeArb(5000), (m: SM, r: SR, size) => {
      const s = r.small;
      const p = attempt(() => s.calloc(size), () => JSON.stringify(s.stats().used), `calloc(${size})`);
      if (p === 0) return;
      const u8 = r.cache.arena.memory.u8;
      assert.ok(u8.subarray(p, p + size).every((x) => x === 0), `calloc(${size}) is zeroed`);
      assertDisjoint(m.live, p, size);
      const info = s.info(p);
      const tag = ++m.tag;
      stamp(u8, p, size, tag);
      m.live.push({ ptr: p, size, real: info.realSize, large: info.isLarge, tag });
    }),
    command('allocAs', fc.tuple(fc.nat(TYPES.length - 1), fc.oneof(sizeArb(700), fc.integer({ min: 2500, max: 30000 }))), (m: SM, r: SR, [t, n]) => {
      const s = r.small;
      const T = TYPES[t]!;
      const made: TypedArray[] = [];
      attempt(() => made.push(s.allocAs(T as never, n) as TypedArray), () => JSON.stringify(s.stats().used), `allocAs(${T.name}, ${n})`);
      const view = made[0];
      if (view === undefined) return;
      const p = view.byteOffset;
      assert.equal(view.buffer, r.cache.arena.memory.buffer, 'a view of the memory');
      assert.equal(view.length, n);
      assert.equal(p % T.BYTES_PER_ELEMENT, 0, `allocAs(${T.name}, ${n}) at ${p} is aligned`);
      const info = s.info(p);
      assert.ok(info.realSize >= view.byteLength, `allocAs(${T.name}, ${n}) starts at a live allocation's first byte, of ${info.realSize} >= ${view.byteLength} bytes`);
      assertDisjoint(m.live, p, view.byteLength);
      assertDisjoint(m.held, p, view.byteLength, 'an allocation over memory a read view still sees');
      const tag = ++m.tag;
      stamp(r.cache.arena.memory.u8, p, view.byteLength, tag);
      m.live.push({ ptr: p, size: view.byteLength, real: info.realSize, large: info.isLarge, tag, view });
    }),
    command('freeView', fc.nat(), (m: SM, r: SR, i) => {
      const [b] = m.live.splice(i % m.live.length, 1);
      // allocAs's own view, or one built by hand at the allocation's first byte.
      r.small.free(b!.view ?? new Uint8Array(r.cache.arena.memory.buffer, b!.ptr, b!.size));
      if (m.views.size > 0) m.held.push({ ptr: b!.ptr, size: b!.size, tag: b!.tag, views: new Set(m.views.keys()) });
    }, (m) => m.live.length > 0),
    command('freeInteriorView', fc.tuple(fc.nat(), fc.nat(), fc.boolean()), (m: SM, r: SR, [i, k, sub]) => {
      const s = r.small;
      const b = m.live[i % m.live.length]!;
      const v = b.view;
      // A subarray of an allocAs view from its second element on, or a byte view anywhere inside.
      const view = sub && v !== undefined && v.length > 1
        ? v.subarray(1 + (k % (v.length - 1)))
        : new Uint8Array(r.cache.arena.memory.buffer, b.ptr + 1 + (k % (b.real - 1)), 1);
      const before = JSON.stringify([s.stats().used, s.stats().count]);
      expectThrow(() => s.free(view), InvalidPointerError, `free of a view ${view.byteOffset - b.ptr} bytes into the allocation at ${b.ptr}`);
      assert.equal(JSON.stringify([s.stats().used, s.stats().count]), before, 'a refused free changes nothing');
      assert.equal(s.info(b.ptr).realSize, b.real, 'the allocation is still live');
    }, (m) => m.live.length > 0),
    command('adoptExited', fc.tuple(
      fc.array(fc.oneof(sizeArb(3000), fc.integer({ min: 20000, max: 100000 })), { minLength: 1, maxLength: 12 }),
      fc.constantFrom([16, 8, 1.05] as const, [16, 16, 2] as const, [8, 4, 1.3] as const),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.boolean(),
    ), (m: SM, r: SR, [sizes, [objsizeMin, granularity, allocFactor], frees, buffers]) => {
      // A worker that has exited, stood in for by a cache registered for a made-up thread id,
      // whose SmallAlloc has size classes of its own; some of its objects were already freed
      // here (remote frees not taken in), and a Region held blocks of its cache.
      const s = r.small;
      const dead = nextDeadThread++;
      const deadCache = new SlabCache(r.cache.arena, dead);
      const victim = new SmallAlloc(deadCache, { objsizeMin, granularity, allocFactor });
      const u8 = (): Uint8Array => r.cache.arena.memory.u8;
      const left: (Block & { asked: number })[] = [];
      for (const size of sizes) {
        const p = victim.tryAlloc(size);
        if (p === 0) break;
        assertDisjoint(m.live, p, size, 'another worker\'s allocation over a live one');
        assertDisjoint(m.held, p, size, 'another worker\'s allocation over memory a read view still sees');
        const tag = ++m.tag;
        stamp(u8(), p, size, tag);
        left.push({ ptr: p, size, tag, asked: size });
      }
      for (const i of frees) {
        if (left.length === 0) break;
        const [b] = left.splice(i % left.length, 1);
        s.free(b!.ptr);
      }
      if (buffers) {
        const region = new Region(deadCache);
        region.tryAlloc(5000);
      }
      const res = s.adopt(dead);
      assert.equal(res.objects + res.large, left.length, 'every object the dead worker left live is adopted');
      for (const b of left) {
        const info = s.info(b.ptr);
        verifyStamp(u8(), b.ptr, b.size, b.tag, 'an adopted object keeps its bytes');
        m.live.push({ ptr: b.ptr, size: b.asked, real: info.realSize, large: info.isLarge, tag: b.tag });
      }
      assert.deepEqual(s.adopt(dead), { slabs: 0, objects: 0, large: 0 }, 'a worker is adopted once');
    }),
    command('openReadView', fc.constant(null), (m: SM, r: SR) => {
      m.views.set(m.nextView++, r.small.openReadView());
    }, (m) => m.views.size < 4),
    command('closeReadView', fc.tuple(fc.nat(), fc.boolean()), (m: SM, _r: SR, [i, twice]) => {
      const id = [...m.views.keys()][i % m.views.size]!;
      const v = m.views.get(id)!;
      v.close();
      if (twice) v.close();
      m.views.delete(id);
      release(m, id);
    }, (m) => m.views.size > 0),
  ],
};

export const objectSpecs = [cacheSpec, poolSpec, smallSpec];
