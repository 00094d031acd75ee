import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { InvalidPointerError, Mempool, Quota, SlabArena, SlabCache, SmallAlloc } from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { VIEWS_BYTE, Vw } from '../../../src/small/slabs/arena-layout.js';
import { MB, stamp, verifyStamp } from '../objects/mempool-support.js';

/** An arena with a SmallAlloc and a Mempool of 48-byte objects over one cache. */
function setup(): { arena: SlabArena; alloc: SmallAlloc; pool: Mempool; u8: () => Uint8Array; checkAll: () => void } {
  const arena = new SlabArena({ quota: new Quota(128 * MB) });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const pool = new Mempool(cache, 48);
  const checkAll = (): void => {
    alloc.check();
    pool.check();
    cache.check();
    arena.check();
  };
  return { arena, alloc, pool, u8: () => arena.memory.u8, checkAll };
}

test('arena.openReadView holds a SmallAlloc free, a Mempool free and a large free until it closes', () => {
  const { arena, alloc, pool, u8, checkAll } = setup();
  const big = alloc.objsizeMax + 100;
  const a = alloc.alloc(64);
  const l = alloc.alloc(big);
  const m = pool.alloc();
  stamp(u8(), a, 64, 1);
  stamp(u8(), l, big, 2);
  stamp(u8(), m, 48, 3);
  const v = arena.openReadView();
  alloc.free(a);
  alloc.free(l);
  pool.free(m);
  assert.throws(() => alloc.free(a), InvalidPointerError, 'a free under a view is still a free');
  assert.throws(() => pool.free(m), InvalidPointerError);
  const st = alloc.stats();
  assert.equal(st.deferred, 2);
  assert.equal(st.deferredBytes, 64 + alloc.cache.pagesSize(big));
  assert.equal(st.views, 0, 'the arena\'s view is not the allocator\'s');
  assert.equal(pool.stats().deferred, 1);
  assert.equal(pool.stats().deferredBytes, 48);
  assert.equal(arena.heldForViews, st.deferredBytes + 48);
  checkAll();
  // Churn: nothing held is handed out, and its bytes stay as they were.
  const seen = new Set<number>();
  for (let round = 0; round < 3; round++) {
    const fromAlloc: number[] = [alloc.alloc(big)];
    const fromPool: number[] = [];
    for (let i = 0; i < 300; i++) {
      fromAlloc.push(alloc.alloc(64));
      fromPool.push(pool.alloc());
    }
    for (const p of fromAlloc) seen.add(p);
    for (const p of fromPool) seen.add(p);
    for (const p of fromAlloc) alloc.free(p);
    for (const p of fromPool) pool.free(p);
    checkAll();
  }
  assert.ok(!seen.has(a) && !seen.has(l) && !seen.has(m), 'held memory is not handed out');
  verifyStamp(u8(), a, 64, 1);
  verifyStamp(u8(), l, big, 2);
  verifyStamp(u8(), m, 48, 3);
  v.close();
  v.close(); // idempotent
  assert.equal(alloc.stats().deferred, 0, 'stats() after the close releases the SmallAlloc\'s frees');
  assert.equal(pool.stats().deferred, 0, 'and the Mempool\'s');
  assert.equal(arena.heldForViews, 0);
  checkAll();
});

test('arena views overlap: closing the older releases what only it saw; using closes; a nested view holds', () => {
  const { arena, alloc, checkAll } = setup();
  const [a, b, c, d] = [alloc.alloc(32), alloc.alloc(32), alloc.alloc(32), alloc.alloc(32)];
  // A free is checked against the views when its batch settles (here: stats()); a view opened
  // between the free and that check holds it too (see the next test).
  const v1 = arena.openReadView();
  alloc.free(a); // seen by v1 only
  alloc.stats();
  const v2 = arena.openReadView();
  alloc.free(b); // seen by v1 and v2
  alloc.stats();
  v1.close();
  assert.equal(alloc.stats().deferred, 1, 'a went back once v1 closed; b waits for v2');
  assert.throws(() => alloc.info(a), InvalidPointerError);
  {
    using v3 = arena.openReadView();
    alloc.free(c); // seen by v2 and v3
    alloc.stats();
    void v3;
  }
  assert.equal(alloc.stats().deferred, 2, 'using closed v3, but v2 still sees b and c');
  // A view opened and closed with no frees in between pins nothing.
  arena.openReadView().close();
  const v4 = arena.openReadView();
  v2.close();
  alloc.free(d); // seen by v4
  assert.equal(alloc.stats().deferred, 1, 'b and c went with v2; d waits for v4');
  checkAll();
  v4[Symbol.dispose]();
  v4.close();
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(arena.heldForViews, 0);
  checkAll();
});

test('a free is checked when its batch settles: a view opened before that holds it too, conservatively', () => {
  const { arena, alloc, checkAll } = setup();
  const a = alloc.alloc(32);
  alloc.alloc(32); // kept: a's free does not empty the slab (which would settle it at once)
  const v1 = arena.openReadView();
  alloc.free(a); // retired: not yet checked
  const v2 = arena.openReadView();
  v1.close();
  assert.equal(alloc.stats().deferred, 1, 'settled while v2 is open: v2 holds it');
  v2.close();
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(arena.heldForViews, 0);
  checkAll();
});

test('after the last arena view closes, held frees are reused before any new memory, and stats() releases them all', () => {
  const { arena, alloc, pool, checkAll } = setup();
  const ptrs: number[] = [];
  const objs: number[] = [];
  for (let i = 0; i < 2000; i++) ptrs.push(alloc.alloc(100));
  for (let i = 0; i < 500; i++) objs.push(pool.alloc());
  const v = arena.openReadView();
  for (const p of ptrs) alloc.free(p);
  for (const p of objs) pool.free(p);
  // Settled under the view (stats() settles; so would the allocators' own slow paths).
  const held = alloc.stats().deferredBytes;
  assert.ok(held >= 2000 * 100);
  assert.equal(arena.heldForViews, held + pool.stats().deferredBytes);
  assert.equal(pool.stats().deferredBytes, 500 * 48);
  const allocTotal = alloc.stats().total;
  const poolTotal = pool.total;
  v.close();
  alloc.stats();
  assert.equal(arena.heldForViews, 500 * 48, 'stats() released all 2000 of the SmallAlloc\'s frees at once');
  // The Mempool releases before it takes new memory: allocating what was freed takes none.
  for (let i = 0; i < 500; i++) objs[i] = pool.alloc();
  assert.equal(pool.total, poolTotal, 'the Mempool reused its held slots, it took no new slab');
  assert.equal(arena.heldForViews, 0, 'the Mempool\'s went at its allocation slow path');
  for (let i = 0; i < 2000; i++) ptrs[i] = alloc.alloc(100);
  assert.ok(alloc.stats().total <= allocTotal, 'the SmallAlloc needed no more memory than it held under the view');
  assert.equal(pool.stats().deferred, 0);
  checkAll();
});

test('frees from another cache under an arena view are held when the owner takes them in', () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const owner = new SmallAlloc(new SlabCache(arena));
  const other = new SmallAlloc(new SlabCache(arena));
  const ptrs: number[] = [];
  for (let i = 0; i < 100; i++) {
    const p = owner.alloc(200);
    stamp(arena.memory.u8, p, 200, i + 1);
    ptrs.push(p);
  }
  const v = arena.openReadView();
  for (const p of ptrs) other.free(p); // remote: the owner takes them in
  assert.equal(owner.stats().deferred, 100);
  const got = new Set<number>();
  for (let i = 0; i < 500; i++) got.add(owner.alloc(200));
  for (const p of ptrs) assert.ok(!got.has(p), 'a remote free held for the view is not reused');
  ptrs.forEach((p, i) => verifyStamp(arena.memory.u8, p, 200, i + 1));
  owner.check();
  v.close();
  assert.equal(owner.stats().deferred, 0);
  for (const p of got) owner.free(p);
  owner.check();
  assert.equal(arena.heldForViews, 0);
});

test('arena views from three slots: random frees, views, closes and settles; check() after every step; nothing held is reused', () => {
  const rng = seeded('arena views random');
  const { arena, alloc, pool, u8, checkAll } = setup();
  // Each SlabArena object over the buffer has a views slot of its own, as each worker has: two
  // more attached here stand for other workers' readers.
  const openers = [arena, SlabArena.attach(arena.handle()), SlabArena.attach(arena.handle())];
  const live = new Map<number, [size: number, tag: number, inPool: boolean]>();
  /** Freed while a view was open: pointer -> the views open then (their ids). */
  const held = new Map<number, [size: number, tag: number, views: Set<number>]>();
  const views = new Map<number, ReturnType<SlabArena['openReadView']>>();
  let nextView = 1;
  let tag = 1;
  for (let step = 0; step < 3000; step++) {
    const r = rng.next();
    if (r < 0.4) {
      const inPool = rng.chance(0.3);
      const size = inPool ? 48 : rng.chance(0.02) ? alloc.objsizeMax + rng.int(1, 5000) : rng.int(1, 300);
      const p = inPool ? pool.alloc() : alloc.alloc(size);
      assert.ok(!held.has(p), `step ${step}: ${p} was handed out while a view that saw its free is open`);
      stamp(u8(), p, size, tag);
      live.set(p, [size, tag++, inPool]);
    } else if (r < 0.8 && live.size > 0) {
      const keys = [...live.keys()];
      const p = keys[rng.int(0, keys.length - 1)]!;
      const [size, t, inPool] = live.get(p)!;
      live.delete(p);
      if (inPool) pool.free(p);
      else alloc.free(p);
      if (views.size > 0) held.set(p, [size, t, new Set(views.keys())]);
    } else if (r < 0.85) {
      views.set(nextView++, openers[rng.int(0, openers.length - 1)]!.openReadView());
    } else if (r < 0.9) {
      // Settles the retired slots now (else the allocators' slow paths do, later).
      if (rng.chance(0.5)) alloc.stats();
      else pool.stats();
    } else if (views.size > 0) {
      const keys = [...views.keys()];
      const id = keys[rng.int(0, keys.length - 1)]!;
      views.get(id)!.close();
      views.delete(id);
      for (const [p, [, , seenBy]] of held) {
        seenBy.delete(id);
        if (seenBy.size === 0) held.delete(p);
      }
    }
    for (const [p, [size, t]] of held) verifyStamp(u8(), p, size, t);
    checkAll();
    for (const o of openers) o.check();
  }
  for (const v of views.values()) v.close();
  for (const [p, [, , inPool]] of live) (inPool ? pool.free(p) : alloc.free(p));
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(pool.stats().deferred, 0);
  assert.equal(arena.heldForViews, 0);
  checkAll();
});

test('a SmallAlloc view and an arena view together: each holds what it saw', () => {
  const { arena, alloc, checkAll } = setup();
  const a = alloc.alloc(16);
  const b = alloc.alloc(16);
  const local = alloc.openReadView();
  const shared = arena.openReadView();
  alloc.free(a);
  local.close();
  assert.equal(alloc.stats().deferred, 1, 'the arena view still holds a');
  shared.close();
  const local2 = alloc.openReadView();
  alloc.free(b);
  assert.equal(alloc.stats().deferred, 1, 'the SmallAlloc view holds b');
  local2.close();
  assert.equal(alloc.stats().deferred, 0);
  assert.equal(arena.heldForViews, 0);
  checkAll();
});

test('the views words lie where the layout puts them', () => {
  assert.equal(Vw.EPOCH * 4, VIEWS_BYTE);
  assert.equal(Vw.SLOTS, Vw.EPOCH + 4);
});

/** The engine's gc(), as `--expose-gc` gives it, without the flag on the command line. */
function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Opens an arena view and lets go of it without closing it. */
function openAndDrop(arena: SlabArena): void {
  arena.openReadView();
}

test('an arena view dropped without close() stops holding frees once the GC has collected it: alone, after views that closed, and beside one still open', async () => {
  const gc = gcFunction();
  const { arena, alloc, checkAll } = setup();
  const collect = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const held = (): number => alloc.stats().deferred;
  // Alone (its anchor is new), then after a view that closed (it reuses that view's anchor).
  for (const round of ['first', 'after a closed view']) {
    if (round !== 'first') arena.openReadView().close();
    const ptrs = Array.from({ length: 100 }, () => alloc.alloc(64));
    openAndDrop(arena);
    for (const p of ptrs) alloc.free(p);
    assert.equal(held(), 100, `${round}: the dropped view holds the frees back`);
    await collect();
    assert.equal(held(), 0, `${round}: released once the view was collected`);
    checkAll();
  }
  // Dropped while another view is open: the kept one still holds what it saw.
  const kept = arena.openReadView();
  const ptrs = Array.from({ length: 100 }, () => alloc.alloc(64));
  openAndDrop(arena);
  for (const p of ptrs) alloc.free(p);
  await collect();
  assert.equal(held(), 100, 'the view kept open holds the frees');
  kept.close();
  assert.equal(held(), 0, 'and lets them go when it closes');
  assert.ok(arena.viewsCollected >= 3, `viewsCollected ${arena.viewsCollected}`);
  checkAll();
});
