/**
 * Attach safety: for every structure that can be shared (Quota, SlabArena, BumpArena),
 * `attach()` of anything but a live handle of its own kind and layout version fails with a
 * clear TypeError: never a silently working object over garbage. A good handle survives
 * structured cloning (what postMessage does) and attaches to the same state.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { HEADER_BYTES, writeHeader } from '../../src/internal/header.js';
import {
  BumpArena, InvalidPointerError, Mempool, Quota, SlabArena, SlabCache, type BumpArenaHandle, type QuotaHandle, type SlabArenaHandle,
} from '../../src/index.js';
import { withBuffer } from '../support/paged.js';
import { seeded } from '../../dev/rng.js';
import { Vw } from '../../src/small/slabs/arena-layout.js';

interface Shareable {
  handle(): unknown;
}
interface Subject {
  name: string;
  make(): Shareable;
  /** Attaches whatever it is given: most handles here are hostile, typed as handles only to be passed. */
  attach(h: unknown): Shareable;
  /** Reads a fact of the state through an object, to compare an attached one with its origin. */
  probe(x: Shareable): unknown;
  /** Changes the state through one object, so the other can be seen to follow. */
  poke(x: Shareable): void;
}

const SLAB = 1 << 16;

const subjects: Subject[] = [
  {
    name: 'Quota',
    make: () => new Quota(1 << 20, { shared: true }),
    attach: (h) => Quota.attach(h as QuotaHandle),
    probe: (x) => [(x as Quota).used, (x as Quota).total],
    poke: (x) => void (x as Quota).use(5000),
  },
  {
    name: 'SlabArena',
    make: () => new SlabArena({ quota: new Quota(8 * SLAB), slabSize: SLAB, shared: true }),
    attach: (h) => SlabArena.attach(h as SlabArenaHandle),
    probe: (x) => {
      const a = x as SlabArena;
      return [a.used, a.slabSize, a.maximum, a.quota.used];
    },
    poke: (x) => void (x as SlabArena).map(),
  },
  {
    name: 'BumpArena',
    make: () => new BumpArena(4096, { shared: true }),
    attach: (h) => BumpArena.attach(h as BumpArenaHandle),
    probe: (x) => {
      const a = x as BumpArena;
      return [a.remaining(), a.capacity];
    },
    poke: (x) => void (x as BumpArena).alloc(100),
  },
];

/** A copy of `sab` (same growability), `len` bytes of it, optionally edited. */
function copyOf(sab: SharedArrayBuffer, len = sab.byteLength, edit?: (i32: Int32Array, u8: Uint8Array) => void): SharedArrayBuffer {
  const out = sab.growable
    ? new SharedArrayBuffer(len, { maxByteLength: Math.max(len, Math.min(sab.maxByteLength, len === sab.byteLength ? sab.maxByteLength : len)) })
    : new SharedArrayBuffer(len);
  new Uint8Array(out).set(new Uint8Array(sab, 0, Math.min(len, sab.byteLength)));
  if (edit !== undefined) edit(new Int32Array(out, 0, len >>> 2), new Uint8Array(out));
  return out;
}


function assertRefused(s: Subject, h: unknown, why: RegExp | null, what: string): void {
  assert.throws(() => s.attach(h), (e: unknown) => {
    assert.ok(e instanceof TypeError, `${s.name}.attach(${what}): expected a TypeError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    // A SlabArena handle carries its quota's: a bad one is refused by Quota.attach, named so.
    assert.match(e.message, new RegExp(`(${s.name}|Quota)\\.attach`), `${what}: the message names ${s.name}.attach`);
    if (why !== null) assert.match(e.message, why, `${what}: the message says why`);
    return true;
  }, `${s.name}.attach(${what}) must throw`);
}

let cases = 0;
for (const s of subjects) {
  test(`${s.name}.attach of a cloned handle sees and changes the same state`, () => {
    const a = s.make();
    const b = s.attach(structuredClone(a.handle()));
    assert.deepEqual(s.probe(b), s.probe(a));
    s.poke(b);
    assert.deepEqual(s.probe(a), s.probe(b));
    s.poke(a);
    assert.deepEqual(s.probe(b), s.probe(a));
  });

  test(`${s.name}.attach refuses what is not a handle of its own with a clear TypeError`, () => {
    const a = s.make();
    const h = a.handle() as { buffer: SharedArrayBuffer };
    const buf = h.buffer;
    assert.ok(buf instanceof SharedArrayBuffer, 'a handle carries its state in a SharedArrayBuffer');
    const before = JSON.stringify(s.probe(a));
    const kindVersion = new Int32Array(buf, 0, 4)[1]!;
    const declared = new Int32Array(buf, 0, 4)[2]!;
    const table: [string, unknown, RegExp | null][] = [
      ['undefined', undefined, null],
      ['null', null, null],
      ['a number', 42, null],
      ['a string', 'handle', null],
      ['an empty object', {}, null],
      ['a handle whose buffer is an ArrayBuffer', withBuffer(h, new ArrayBuffer(buf.byteLength)), /SharedArrayBuffer/],
      ['a handle whose buffer is a typed array', withBuffer(h, new Int32Array(buf)), /SharedArrayBuffer/],
      ['a zeroed buffer of the same size (not ours)', withBuffer(h, new SharedArrayBuffer(buf.byteLength)), /not one of this library's|magic/],
      ['a buffer of random bytes', withBuffer(h, copyOf(buf, buf.byteLength, (_i, u8) => {
        for (let i = 0; i < u8.length; i++) u8[i] = (i * 2654435761) >>> 24;
      })), null],
      ['a buffer too short for a header', withBuffer(h, new SharedArrayBuffer(8)), /truncated/],
      ['a buffer cut right after its header', withBuffer(h, copyOf(buf, HEADER_BYTES)), /truncated/],
      ['a buffer cut short of its state', withBuffer(h, copyOf(buf, Math.max(HEADER_BYTES, (declared >>> 1) & ~7))), /truncated/],
      ['a header with a corrupt magic', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[0] = i32[0]! ^ 1; })), /magic|not one of/],
      ['a header with a corrupt length', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[2] = i32[2]! ^ 0x40; })), /corrupt/],
      ['a header with a corrupt check word', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[3] = i32[3]! + 1; })), /corrupt/],
      ['a header with a corrupt kind/version (check word kept)', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => { i32[1] = i32[1]! ^ 0x10000; })), /corrupt/],
      ['a buffer of another layout version', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (kindVersion >>> 16) as never, (kindVersion & 0xffff) + 1, declared);
      })), /version/],
      ['a buffer of layout version 0', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (kindVersion >>> 16) as never, 0, declared);
      })), /version/],
      ['a buffer of another kind of structure', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        writeHeader(i32, (((kindVersion >>> 16) % 3) + 1) as never, kindVersion & 0xffff, declared);
      })), /kind/],
    ];
    for (const other of subjects) {
      if (other === s) continue;
      table.push([`a handle of a ${other.name}`, other.make().handle(), /kind|truncated/]);
    }
    if (s.name === 'SlabArena') {
      table.push(['a handle without its quota', { buffer: buf }, /quota/]);
      table.push(['a handle whose quota is not a Quota handle', { ...h, quota: { buffer: new SharedArrayBuffer(64) } }, /Quota/]);
    }
    if (s.name === 'BumpArena' || s.name === 'SlabArena') {
      // Control words right after the header, all ones: no valid state reads like that.
      table.push(['a buffer whose state words are garbage', withBuffer(h, copyOf(buf, buf.byteLength, (i32) => {
        for (let i = 4; i < 8; i++) i32[i] = -1;
      })), /corrupt/]);
    }
    for (const [what, handle, why] of table) {
      assertRefused(s, handle, why, what);
      cases++;
    }
    assert.equal(JSON.stringify(s.probe(a)), before, 'the original is untouched');
  });
}

// A summary for people reading the output, not a test: every case above asserts on its own.
after(() => console.log(`attach: ${cases} refused handles tried`));

// ---- SlabArena.attach validates the whole control state; Quota.attach its words ----

/** An arena at a quiet moment with every kind of slab: a run, singles, a free hole, a cache's slab. */
function busyArena(): { arena: SlabArena; run: number; single: number; hole: number; cached: number; owner: number } {
  const arena = new SlabArena({ quota: new Quota(16 * SLAB), slabSize: SLAB, maximum: 32 * SLAB });
  const run = arena.mapRun(3);
  const hole = arena.map();
  const single = arena.map();
  const owner = arena.registerOwner(7);
  const cached = arena.mapFor(owner, 1);
  arena.pageMap[cached / 4096] = 1;
  arena.pageTags[2 * (run / 4096)] = 5;
  arena.unmap(hole);
  arena.check();
  return { arena, run, single, hole, cached, owner };
}

/** A copy of `arena`'s handle with its buffer edited through views laid over the copy like the arena's own. */
function corrupted(arena: SlabArena, edit: (v: { i32: Int32Array; info: Int32Array; owner: Int32Array; pageMap: Uint8Array; pageTags: Int32Array }) => void): unknown {
  const h = arena.handle();
  const buf = copyOf(h.buffer);
  const at = <T extends Int32Array | Uint8Array>(src: T, C: new (b: SharedArrayBuffer, o: number, l: number) => T): T => new C(buf, src.byteOffset, src.length);
  edit({
    i32: new Int32Array(buf, 0, Vw.SLOTS + 4096),
    info: at(arena.slabInfo, Int32Array), owner: at(arena.slabOwner, Int32Array),
    pageMap: at(arena.pageMap, Uint8Array), pageTags: at(arena.pageTags, Int32Array),
  });
  return withBuffer(h, buf);
}

const slabArena = subjects.find((s) => s.name === 'SlabArena')!;
// Int32 words of the control state (see the layout in slab-arena.ts).
const W_CARVED = 7;
const W_USED = 8;
const W_HINT = 12;
const REGISTRY_WORD = 16;

test('SlabArena.attach refuses a control state that breaks an invariant, naming what is wrong', () => {
  const { arena, run, single, hole, cached, owner } = busyArena();
  const S = SLAB;
  const idx = (p: number): number => p / S;
  const carved = arena.carvedEnd();
  const table: [string, Parameters<typeof corrupted>[1], RegExp][] = [
    ['a run whose start says free', (v) => { v.info[idx(run)] = 0; }, /inside a run|free slab/],
    ['a run whose inner slab points at another start', (v) => { v.info[idx(run) + 2] = -1; }, /inside the run/],
    ['a run passing the carved end', (v) => { v.info[idx(single)] = 40; }, /no state|carved end/],
    ['a free slab with an owner', (v) => { v.owner[idx(hole)] = owner; }, /free slab .* owner/],
    ['a free slab with a page-map byte', (v) => { v.pageMap[hole / 4096 + 3] = 2; }, /free slab .* page/],
    ['a free slab with a page tag', (v) => { v.pageTags[2 * (hole / 4096) + 1] = 9; }, /free slab .* page/],
    ['used that disagrees with the mapped slabs', (v) => { v.i32[W_USED] = v.i32[W_USED]! + 1; }, /used counts/],
    ['a free hint above a free slab', (v) => { v.i32[W_HINT] = idx(hole) + 1; }, /hint/],
    ['a slab in use past the carved end', (v) => { v.info[carved + 1] = 1; }, /past the carved end/],
    ['an owner past the carved end', (v) => { v.owner[carved] = owner; }, /past the carved end/],
    ['page tags of a never-carved slab', (v) => { v.pageTags[2 * (carved * S / 4096) + 7] = 1; }, /past the carved end/],
    ['a page-map byte of a control slab', (v) => { v.pageMap[0] = 1; }, /control slab/],
    ['a carved end past the last slab', (v) => { v.i32[W_CARVED] = 40; }, /carved end/],
    ['info that is no state', (v) => { v.info[idx(single)] = 123_456; }, /no state/],
    ['an owner word that is no owner id', (v) => { v.owner[idx(cached)] = 3; }, /no owner id/],
    ['a registry entry holding another entry\'s id', (v) => { v.i32[REGISTRY_WORD + 2] = 4096 + 2; }, /owner entry 1/],
    ['a registry entry being adopted by no one', (v) => { v.i32[REGISTRY_WORD] = 3; }, /owner entry 1/],
    ['a registry entry with a reserved word set', (v) => { v.i32[REGISTRY_WORD + 4 * 9 + 3] = 1; }, /owner entry 10/],
    ['the views\' highest entry past the registry', (v) => { v.i32[Vw.HIGH] = 5000; }, /highest entry is 5000/],
    ['a view slot above the highest views entry', (v) => { v.i32[Vw.SLOTS + 5] = 7; }, /view slot 6 .* above/],
    ['a view slot of an entry that holds no views', (v) => { v.i32[Vw.HIGH] = 3; v.i32[Vw.SLOTS + 1] = 7; }, /view slot 2 .* not a live views entry/],
  ];
  for (const [what, edit, why] of table) {
    assertRefused(slabArena, corrupted(arena, edit), why, what);
    assertRefused(slabArena, corrupted(arena, edit), /corrupt control state/, what);
    cases++;
  }
  arena.check();
  const b = SlabArena.attach(arena.handle());
  assert.equal(b.used, arena.used, 'the untouched state still attaches');
});

test('SlabArena.attach refuses random control tables (seeded)', () => {
  const rng = seeded('attach random control tables');
  const { arena } = busyArena();
  const tables = ['words', 'registry', 'info', 'owner', 'page map', 'page tags'] as const;
  for (let trial = 0; trial < 60; trial++) {
    const which = tables[trial % tables.length]!;
    const handle = corrupted(arena, (v) => {
      // Pages of slabs in use hold whatever the layers above write: only never-carved ones are checked.
      const firstFreePage = arena.carvedEnd() * (SLAB / 4096);
      const target: Int32Array | Uint8Array = which === 'words' ? v.i32.subarray(4, 16)
        : which === 'registry' ? v.i32.subarray(REGISTRY_WORD, REGISTRY_WORD + 4 * 4096)
          : which === 'info' ? v.info : which === 'owner' ? v.owner
            : which === 'page map' ? v.pageMap.subarray(firstFreePage) : v.pageTags.subarray(2 * firstFreePage);
      // A random stretch of the table, at least 8 entries (16 owner words: a random word may
      // read as an owner id), random bits in every one.
      const len = rng.int(which === 'owner' ? 16 : 8, Math.min(256, target.length));
      const from = rng.int(0, target.length - len);
      for (let i = from; i < from + len; i++) {
        target[i] = target instanceof Uint8Array ? 1 + rng.int(0, 254) : (rng.int(0, 0xffff) << 16 | rng.int(0, 0xffff)) | 1;
      }
    });
    assertRefused(slabArena, handle, /corrupt|truncated/, `random ${which} (trial ${trial})`);
    cases++;
  }
});

test('Quota.attach refuses used above the limit and a broken identity word; SlabArena.attach refuses it too', () => {
  const q = new Quota(8 * SLAB);
  q.use(3 * SLAB);
  const h = q.handle();
  const over = copyOf(h.buffer);
  const word = new BigUint64Array(over, HEADER_BYTES, 1);
  word[0] = (4n << 32n) | 5n; // limit 4 units, used 5
  const noId = copyOf(h.buffer, h.buffer.byteLength, (i32) => { i32[7] = 0; });
  const wideId = copyOf(h.buffer, h.buffer.byteLength, (i32) => { i32[7] = 2 ** 21; });
  const quota = subjects.find((s) => s.name === 'Quota')!;
  assertRefused(quota, { buffer: over }, /Quota\.attach: corrupt state \(5 units used above the limit of 4 units\)/, 'used > limit');
  assertRefused(quota, { buffer: noId }, /identity/, 'identity 0');
  assertRefused(quota, { buffer: wideId }, /identity/, 'identity too wide');
  const arena = new SlabArena({ quota: q, slabSize: SLAB, maximum: 16 * SLAB });
  const ah = arena.handle();
  assertRefused(slabArena, { buffer: ah.buffer, quota: { buffer: over } }, /Quota\.attach/, 'an arena with a quota used above its limit');
  assert.equal(Quota.attach(h).used, 3 * SLAB, 'the good quota still attaches');
  cases += 4;
});

test('SlabArena.attach refuses another arena\'s quota handle', () => {
  const a = new SlabArena({ quota: new Quota(8 * SLAB), slabSize: SLAB, maximum: 16 * SLAB });
  const b = new SlabArena({ quota: new Quota(8 * SLAB), slabSize: SLAB, maximum: 16 * SLAB });
  const shared = new Quota(8 * SLAB);
  const c = new SlabArena({ quota: shared, slabSize: SLAB, maximum: 16 * SLAB });
  assertRefused(slabArena, { buffer: a.handle().buffer, quota: b.handle().quota }, /not this arena's quota/, 'a valid arena with another arena\'s quota');
  assertRefused(slabArena, { buffer: a.handle().buffer, quota: shared.handle() }, /not this arena's quota/, 'a valid arena with an unrelated quota');
  const again = SlabArena.attach({ ...c.handle(), quota: shared.handle() });
  assert.equal(again.quota.total, shared.total, 'its own quota, from its own handle, attaches');
  cases += 2;
});

test('a valid SlabArena handle attaches in a worker, which is refused a corrupt one', async () => {
  const { arena, run } = busyArena();
  const bad = corrupted(arena, (v) => { v.info[run / SLAB] = 0; });
  const stamp = 0x5eed1234;
  const w = new Worker(new URL('../small/slabs/slab-arena-attach-worker.js', import.meta.url), {
    workerData: { good: arena.handle(), bad, stamp },
  });
  try {
    const r = await new Promise<{ ptr: number; refused: string; used: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.match(r.refused, /^TypeError: SlabArena\.attach: corrupt control state/);
    assert.equal(r.used, arena.used);
    const u32 = arena.memory.u32;
    for (let i = r.ptr >>> 2; i < (r.ptr + SLAB) >>> 2; i++) if (u32[i] !== stamp) assert.fail(`word ${i * 4} of the worker's slab`);
    arena.unmap(r.ptr);
    arena.check();
  } finally {
    await w.terminate();
  }
});

// ---- Corrupt ownership and accounting: refused on attach, found by check(), and the real ----
// ---- owner still gives back everything it can                                          ----

/** Two caches (threads 7 and 8) each holding one slab, adjacent: `a` then `b`. */
function twoOwners(): { arena: SlabArena; a: SlabCache; b: SlabCache; pa: number; pb: number } {
  const arena = new SlabArena({ quota: new Quota(16 * SLAB), slabSize: SLAB, maximum: 32 * SLAB });
  const a = new SlabCache(arena, 7);
  const b = new SlabCache(arena, 8);
  const pa = a.get(4096);
  const pb = b.get(4096);
  assert.equal(pb, pa + SLAB, 'the two caches hold adjacent slabs');
  arena.check();
  return { arena, a, b, pa, pb };
}

/** `arena.check()` throws, naming what `why` matches. */
function assertCheckFinds(arena: SlabArena, why: RegExp, what: string): void {
  assert.throws(() => arena.check(), (e: unknown) => e instanceof Error && /SlabArena\.check/.test(e.message) && why.test(e.message), `check() finds ${what}`);
}

test('a run spanning two owners is refused on attach and found by check(); its owners\' slabs stay theirs', () => {
  const { arena, a, b, pa, pb } = twoOwners();
  const edit = (info: Int32Array): void => {
    info[pa / SLAB] = 2;
    info[pb / SLAB] = -1;
  };
  assertRefused(slabArena, corrupted(arena, (v) => edit(v.info)), /run at slab .* owner/, 'a run whose slabs have two owners');
  // The adversary writes the live state itself: check() must find it.
  edit(arena.slabInfo);
  assertCheckFinds(arena, /run at slab .* owner/, 'a run spanning two owners');
  arena.slabInfo[pa / SLAB] = 1;
  arena.slabInfo[pb / SLAB] = 1;
  arena.check();
  a.destroy();
  assert.equal(arena.used, SLAB, 'b\'s slab is still b\'s');
  assert.equal(arena.mapRun(2) === pa, false, 'b\'s slab is not handed out again');
  b.put(pb);
  b.destroy();
  cases += 2;
});

test('a carved end raised over slabs the quota never paid for is refused on attach and found by check()', () => {
  const quota = new Quota(4 * SLAB);
  const arena = new SlabArena({ quota, slabSize: SLAB, maximum: 64 * SLAB });
  const first = arena.map();
  const c = arena.ctrlSlabs;
  const edit = (i32: Int32Array, info: Int32Array): void => {
    i32[W_CARVED] = c + 24;
    info.fill(0, c + 1, c + 24);
  };
  assertRefused(slabArena, corrupted(arena, (v) => edit(v.i32, v.info)), /quota/, 'a carved end above the quota charged');
  edit(arena.ctl, arena.slabInfo);
  assertCheckFinds(arena, /quota .* carved/, 'carved slabs the quota never paid for');
  // Mended, the same arena attaches, and it hands out what the quota paid for and no more.
  arena.ctl[W_CARVED] = c + 1;
  arena.slabInfo.fill(-0x80000000, c + 1, c + 24);
  arena.check();
  const b = SlabArena.attach(arena.handle());
  let n = 1;
  while (b.tryMap() !== 0) n++;
  assert.equal(n, 4, 'a quota of 4 slabs gives 4 slabs');
  assert.equal(quota.used, 4 * SLAB);
  assert.notEqual(first, 0);
  cases += 2;
});

test('a slab owner that no registered cache holds is refused on attach and found by check(); destroy() still returns the rest', () => {
  for (const how of ['owner word of an unregistered id', 'registry entry FREE under a live cache'] as const) {
    const arena = new SlabArena({ quota: new Quota(16 * SLAB), slabSize: SLAB, maximum: 32 * SLAB });
    const cache = new SlabCache(arena, 7);
    const pool = new Mempool(cache, 64);
    for (let i = 0; i < 3000; i++) pool.alloc();
    assert.equal(arena.used, 3 * SLAB, `${how}: the pool holds 3 slabs`);
    const victim = arena.ctrlSlabs; // the pool's first slab
    const entry = REGISTRY_WORD + 4 * ((cache.ownerId - 1) & 4095);
    const edit = (i32: Int32Array, owner: Int32Array): void => {
      if (how === 'registry entry FREE under a live cache') i32[entry] = 0;
      else owner[victim] = 5 + 4096; // entry 5, first generation: never registered
    };
    assertRefused(slabArena, corrupted(arena, (v) => edit(v.i32, v.owner)), /owner .* (no|not a) (live|registered)/, how);
    edit(new Int32Array(arena.memory.buffer, 0, 16 + 4 * 4096), arena.slabOwner);
    assertCheckFinds(arena, /owner .* (no|not a) (live|registered)/, how);
    // The real owner's destroy() does not stop at the slab it can no longer put: every other
    // slab comes back, and the error names the one that did not.
    if (how === 'owner word of an unregistered id') {
      assert.throws(() => pool.destroy(), InvalidPointerError);
      assert.equal(pool.total, 0, `${how}: the pool holds nothing after destroy()`);
      assert.equal(cache.used, SLAB, `${how}: the pool gave its cache every slab but the stolen one`);
      cache.destroy();
      assert.equal(arena.used, SLAB, `${how}: every slab but the stolen one is back`);
    } else {
      pool.destroy();
      cache.destroy();
      assert.equal(arena.used, 0, `${how}: every slab is back`);
    }
    cases += 2;
  }
});
