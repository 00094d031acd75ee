/**
 * Models of the stack and buffer allocators: Region (a byte stream with savepoints), Ibuf (a
 * byte queue), Obuf (an append-only byte string with savepoints, stale ones refused) and
 * LSRegion (allocations tagged with non-decreasing ids, collected by id). Each model holds the exact bytes the
 * structure must hold and compares them after every command. Region and LSRegion free
 * nothing one by one, so (as in a bump arena) two zero-size allocations may share a pointer.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import {
  Ibuf, LSRegion, Obuf, OutOfMemoryError, Quota, Region, SlabArena, SlabCache, type Memory, type ObufSavepoint,
} from '../../../src/index.js';
import { assertDisjoint, command, expectThrow, sizeArb, stamp, verifyAll, type Block, type ModelSpec, type Real } from '../../support/model.js';

const SLAB = 1 << 16;

function makeArena(quotaSlabs: number): SlabArena {
  const quota = new Quota(quotaSlabs * SLAB);
  return new SlabArena({ quota, slabSize: SLAB });
}
function makeCache(quotaSlabs: number): SlabCache {
  return new SlabCache(makeArena(quotaSlabs));
}
/** `n` bytes derived from `seed`. */
function bytesOf(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
function oom<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OutOfMemoryError) return null;
    throw e;
  }
}

// ---- Region ----

interface RBlock extends Block {
  /** Offset of its first byte in the region's stream (`used` before it). */
  at: number;
  bytes: Uint8Array;
}
interface RM {
  used: number;
  readonly blocks: RBlock[];
  tag: number;
}
interface RR extends Real {
  region: Region;
  cache: SlabCache;
  memory: Memory;
}
function regionPush(m: RM, r: RR, p: number, size: number, at: number): void {
  const tag = ++m.tag;
  const bytes = bytesOf(tag, size);
  r.memory.u8.set(bytes, p);
  m.blocks.push({ ptr: p, size, tag, at, bytes });
}
/** The last `n` bytes of the stream, or null when padding (unknown bytes) lies among them. */
function regionTail(m: RM, n: number): Uint8Array | null {
  const out = new Uint8Array(n);
  let end = m.used;
  let k = n;
  for (let i = m.blocks.length - 1; k > 0 && i >= 0; i--) {
    const b = m.blocks[i]!;
    if (b.at + b.size !== end) return null;
    const take = Math.min(k, b.size);
    out.set(b.bytes.subarray(b.size - take), k - take);
    k -= take;
    end = b.at;
  }
  return k === 0 ? out : null;
}
const regionSpec: ModelSpec<RM, RR, number> = {
  name: 'Region',
  quickRuns: 30,
  maxCommands: 50,
  params: fc.constantFrom(4, 64),
  setup(quotaSlabs) {
    const cache = makeCache(quotaSlabs);
    const region = new Region(cache);
    const model: RM = { used: 0, blocks: [], tag: 0 };
    const real: RR = {
      region,
      cache,
      memory: cache.arena.memory,
      check() {
        region.check();
        assert.equal(region.used, model.used, 'used');
        assert.equal(cache.used, region.total, 'total is what the region holds from its cache');
        const u8 = cache.arena.memory.u8;
        for (const b of model.blocks) {
          for (let i = 0; i < b.size; i++) if (u8[b.ptr + i] !== b.bytes[i]) assert.fail(`region block at ${b.ptr} byte ${i} overwritten`);
        }
      },
      dispose() {
        region.free();
        assert.equal(cache.used, 0, 'free() gives every slab back');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.tuple(fc.oneof(sizeArb(5000), fc.integer({ min: 100_000, max: 300_000 })), fc.boolean()), (m: RM, r: RR, [size, t]) => {
      const p = oom(() => (t ? r.region.tryAlloc(size) : r.region.alloc(size)));
      if (p === null || p === 0) return assert.equal(r.region.used, m.used, 'a failed alloc changes nothing');
      assert.equal(r.region.used, m.used + size, `alloc(${size}) adds exactly its size`);
      assertDisjoint(m.blocks, p, size, 'allocation', true);
      regionPush(m, r, p, size, m.used);
      m.used += size;
    }),
    command('alignedAlloc', fc.tuple(sizeArb(3000), fc.constantFrom(1, 2, 8, 64, 4096)), (m: RM, r: RR, [size, align]) => {
      const p = oom(() => r.region.alignedAlloc(size, align));
      if (p === null) return assert.equal(r.region.used, m.used, 'a failed alloc changes nothing');
      assert.equal(p % align, 0, `alignedAlloc(${size}, ${align}) = ${p}`);
      const grew = r.region.used - m.used;
      assert.ok(grew >= size && grew < size + align, `used grew by ${grew}`);
      assertDisjoint(m.blocks, p, size, 'allocation', true);
      regionPush(m, r, p, size, r.region.used - size);
      m.used = r.region.used;
    }),
    command('reserveThenAlloc', fc.tuple(sizeArb(5000), fc.nat()), (m: RM, r: RR, [size, k]) => {
      const p = oom(() => r.region.reserve(size));
      if (p === null) return assert.equal(r.region.used, m.used);
      assert.equal(r.region.used, m.used, 'reserve counts nothing as used');
      const n = size === 0 ? 0 : k % (size + 1);
      assert.equal(r.region.alloc(n), p, `alloc(${n}) after reserve(${size}) returns the reserved room`);
      regionPush(m, r, p, n, m.used);
      m.used += n;
    }),
    command('truncate', fc.nat(), (m: RM, r: RR, k) => {
      const sp = k % (m.used + 1);
      r.region.truncate(sp);
      m.used = sp;
      for (let i = m.blocks.length - 1; i >= 0; i--) {
        const b = m.blocks[i]!;
        if (b.at >= sp) m.blocks.splice(i, 1);
        else if (b.at + b.size > sp) {
          b.size = sp - b.at;
          b.bytes = b.bytes.subarray(0, b.size);
        }
      }
    }),
    command('join', fc.nat(), (m: RM, r: RR, k) => {
      const n = k % (m.used + 1);
      const want = regionTail(m, n);
      if (want === null) return;
      const p = oom(() => r.region.join(n));
      if (p === null) return assert.equal(r.region.used, m.used);
      const got = r.memory.u8.subarray(p, p + n);
      assert.deepEqual(Buffer.from(got), Buffer.from(want), `join(${n}) holds the last ${n} bytes in order`);
      const grew = r.region.used - m.used;
      assert.ok(grew === 0 || grew === n, `join(${n}) grew used by ${grew}`);
      if (grew === n) {
        const tag = ++m.tag;
        m.blocks.push({ ptr: p, size: n, tag, at: m.used, bytes: want });
        m.used += n;
      }
    }),
    command('truncatePastUsed', fc.integer({ min: 1, max: 100 }), (m: RM, r: RR, d) => {
      expectThrow(() => r.region.truncate(m.used + d), RangeError, 'truncate past used');
    }),
    command('reset', fc.constant(null), (m: RM, r: RR) => {
      r.region.reset();
      m.used = 0;
      m.blocks.length = 0;
    }),
  ],
};

// ---- Ibuf ----

interface IM {
  /** The unread bytes. */
  data: number[];
  tag: number;
}
interface IR extends Real {
  buf: Ibuf;
  memory: Memory;
}
const ibufSpec: ModelSpec<IM, IR, number | undefined> = {
  name: 'Ibuf',
  quickRuns: 30,
  maxCommands: 50,
  params: fc.constantFrom(undefined, 1, 100, 5000),
  setup(start) {
    const cache = makeCache(64);
    const buf = new Ibuf(cache, start);
    const model: IM = { data: [], tag: 0 };
    const real: IR = {
      buf,
      memory: cache.arena.memory,
      check() {
        buf.check();
        assert.equal(buf.used, model.data.length, 'used');
        assert.equal(buf.wpos - buf.rpos, model.data.length, 'wpos - rpos');
        assert.ok(buf.capacity >= buf.used, 'capacity >= used');
        assert.deepEqual([...buf.view()], model.data, 'view() is the unread bytes');
      },
      dispose() {
        buf.destroy();
        assert.equal(cache.used, 0, 'destroy gives the slab back');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.oneof(sizeArb(5000), fc.integer({ min: 50_000, max: 150_000 })), (m: IM, r: IR, size) => {
      const p = oom(() => r.buf.alloc(size));
      if (p === null) return;
      assert.equal(r.buf.wpos, p + size, 'alloc moves wpos past the bytes');
      const bytes = bytesOf(++m.tag, size);
      r.memory.u8.set(bytes, p);
      for (const b of bytes) m.data.push(b);
    }),
    command('reserve', sizeArb(20000), (m: IM, r: IR, size) => {
      const p = oom(() => r.buf.reserve(size));
      if (p === null) return;
      assert.equal(p, r.buf.wpos, 'reserve returns wpos');
      assert.ok(r.buf.capacity >= m.data.length + size, 'room for what was asked');
    }),
    command('consume', fc.nat(), (m: IM, r: IR, k) => {
      const n = k % (m.data.length + 1);
      r.buf.consume(n);
      m.data.splice(0, n);
    }),
    command('discard', fc.nat(), (m: IM, r: IR, k) => {
      const n = k % (m.data.length + 1);
      r.buf.discard(n);
      m.data.length -= n;
    }),
    command('consumeTooMuch', fc.integer({ min: 1, max: 10 }), (m: IM, r: IR, d) => {
      expectThrow(() => r.buf.consume(m.data.length + d), RangeError, 'consume past wpos');
      expectThrow(() => r.buf.discard(m.data.length + d), RangeError, 'discard past rpos');
    }),
    command('reset', fc.constant(null), (m: IM, r: IR) => {
      r.buf.reset();
      m.data.length = 0;
    }),
  ],
};

// ---- Obuf ----

interface OM {
  data: number[];
  readonly svps: { svp: ObufSavepoint; size: number }[];
  /** Savepoints made stale by a reset or by a rollback to a smaller size: refused for good. */
  readonly stale: ObufSavepoint[];
  tag: number;
}
interface OR extends Real {
  buf: Obuf;
  memory: Memory;
}
const obufSpec: ModelSpec<OM, OR, number | undefined> = {
  name: 'Obuf',
  quickRuns: 30,
  maxCommands: 50,
  params: fc.constantFrom(undefined, 16, 1000),
  setup(start) {
    const cache = makeCache(64);
    const buf = new Obuf(cache, start);
    const model: OM = { data: [], svps: [], stale: [], tag: 0 };
    const real: OR = {
      buf,
      memory: cache.arena.memory,
      check() {
        buf.check();
        assert.equal(buf.size, model.data.length, 'size');
        const all: number[] = [];
        for (const v of buf.toBuffers()) for (const b of v) all.push(b);
        assert.deepEqual(all, model.data, 'toBuffers() holds every byte written, in order');
      },
      dispose() {
        buf.destroy();
        assert.equal(cache.used, 0, 'destroy gives the buffers back');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', sizeArb(8000), (m: OM, r: OR, size) => {
      const p = oom(() => r.buf.alloc(size));
      if (p === null) return;
      const bytes = bytesOf(++m.tag, size);
      r.memory.u8.set(bytes, p);
      for (const b of bytes) m.data.push(b);
    }),
    command('dup', sizeArb(8000), (m: OM, r: OR, size) => {
      const bytes = bytesOf(++m.tag, size);
      const n = oom(() => r.buf.dup(bytes));
      if (n === null) return;
      assert.equal(n, size, 'dup returns the bytes written');
      for (const b of bytes) m.data.push(b);
    }),
    command('reserve', sizeArb(8000), (m: OM, r: OR, size) => {
      oom(() => r.buf.reserve(size));
      assert.equal(r.buf.size, m.data.length, 'reserve writes nothing');
    }),
    command('createSavepoint', fc.constant(null), (m: OM, r: OR) => {
      m.svps.push({ svp: r.buf.createSavepoint(), size: m.data.length });
    }),
    command('rollbackTo', fc.nat(), (m: OM, r: OR, i) => {
      // Savepoints are valid while the data they mark is there: use the newest still valid.
      const k = i % m.svps.length;
      const s = m.svps[k]!;
      r.buf.rollbackTo(s.svp);
      m.data.length = s.size;
      // Those past it marked bytes now gone (one of the same size marks the same bytes, but
      // maybe in another buffer of the chain: the model uses it no more).
      for (const later of m.svps.splice(k + 1)) if (later.size > s.size) m.stale.push(later.svp);
    }, (m) => m.svps.length > 0),
    command('rollbackToStale', fc.nat(), (m: OM, r: OR, i) => {
      const svp = m.stale[i % m.stale.length]!;
      expectThrow(() => r.buf.rollbackTo(svp), RangeError, 'rollbackTo a stale savepoint');
      // check() then verifies that nothing changed.
    }, (m) => m.stale.length > 0),
    command('reset', fc.constant(null), (m: OM, r: OR) => {
      r.buf.reset();
      m.data.length = 0;
      for (const s of m.svps.splice(0)) m.stale.push(s.svp);
    }),
  ],
};

// ---- LSRegion ----

interface LBlock extends Block {
  id: number;
}
interface LM {
  id: number;
  /** Allocations not yet collectable (id > the last gc's minId) and older ones maybe alive. */
  readonly live: LBlock[];
  tag: number;
}
interface LR extends Real {
  ls: LSRegion;
  arena: SlabArena;
}
const lsSpec: ModelSpec<LM, LR, number> = {
  name: 'LSRegion',
  quickRuns: 30,
  maxCommands: 50,
  params: fc.constantFrom(4, 64),
  setup(quotaSlabs) {
    const arena = makeArena(quotaSlabs);
    const ls = new LSRegion(arena);
    const model: LM = { id: 0, live: [], tag: 0 };
    const real: LR = {
      ls,
      arena,
      check() {
        ls.check();
        assert.ok(ls.used >= model.live.reduce((n, b) => n + b.size, 0), 'used covers every live allocation');
        assert.ok(ls.total >= ls.used, 'total >= used');
        assert.ok(arena.used >= ls.total - SLAB, 'what it holds comes from the arena');
        verifyAll(arena.memory.u8, model.live);
      },
      dispose() {
        ls.destroy();
        assert.equal(arena.used, 0, 'destroy gives every slab back');
      },
    };
    return { model, real };
  },
  commands: [
    command('alloc', fc.tuple(fc.oneof(sizeArb(5000), fc.integer({ min: 60_000, max: 200_000 })), fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 1, 8, 64)),
      (m: LM, r: LR, [size, step, align]) => {
        const id = m.id + step;
        const p = oom(() => (align === 0 ? r.ls.alloc(size, id) : r.ls.alignedAlloc(size, align, id)));
        if (p === null) return;
        if (align !== 0) assert.equal(p % align, 0, 'aligned');
        assertDisjoint(m.live, p, size, 'allocation', true);
        m.id = id;
        const tag = ++m.tag;
        stamp(r.arena.memory.u8, p, size, tag);
        m.live.push({ ptr: p, size, tag, id });
      }),
    command('allocOlderId', fc.integer({ min: 1, max: 5 }), (m: LM, r: LR, d) => {
      expectThrow(() => r.ls.alloc(8, m.id - d), RangeError, 'an id below the last one');
    }, (m) => m.id > 0),
    command('gc', fc.nat(), (m: LM, r: LR, k) => {
      const minId = k % (m.id + 2);
      r.ls.gc(minId);
      // Allocations with ids <= minId may be gone; the rest must be intact (checked by verifyAll).
      for (let i = m.live.length - 1; i >= 0; i--) if (m.live[i]!.id <= minId) m.live.splice(i, 1);
      if (minId >= m.id) assert.equal(r.ls.used, 0, 'gc of every id frees everything');
    }),
  ],
};

export const bufferSpecs = [regionSpec, ibufSpec, obufSpec, lsSpec];
