import { test } from 'node:test';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import type { ViewsParams } from './arena-views-worker.js';
import { MB, race, SCRIPT, shared } from './arena-views-race.js';

test('readers in 2 workers under arena views never read a freed and reused record, while a writer frees old versions', async (t) => {
  const rng = seeded('arena views readers');
  const { reports, alloc, arena, updates } = await race(true, rng.seed, 1500);
  const reads = reports.reduce((n, r) => n + r.reads, 0);
  const bad = reports.reduce((n, r) => n + r.bad, 0);
  t.diagnostic(`${reads} reads, ${updates} updates`);
  assert.ok(reads > 10_000 && updates > 10_000, `the race ran (${reads} reads, ${updates} updates)`);
  assert.equal(bad, 0, `0 torn or reused reads of ${reads} (first: ${reports.find((r) => r.firstProblem)?.firstProblem})`);
  alloc.check();
  assert.equal(alloc.stats().deferred, 0, 'with the readers gone, every held free goes back');
  assert.equal(arena.heldForViews, 0);
  arena.check();
});

test('the same readers without views do read reused records (the test above can fail)', async (t) => {
  const rng = seeded('arena views readers, no views');
  let bad = 0;
  let reads = 0;
  // Bounded: a few rounds at most, until a reader catches a reuse.
  for (let round = 0; round < 5 && bad === 0; round++) {
    const r = await race(false, (rng.seed + 7 * round) >>> 0, 1000);
    bad += r.reports.reduce((n, x) => n + x.bad, 0);
    reads += r.reports.reduce((n, x) => n + x.reads, 0);
  }
  t.diagnostic(`without views: ${bad} bad of ${reads} reads`);
  assert.ok(bad > 0, `without views, some of ${reads} reads saw a reused record`);
});

test('a reader terminated with an arena view open blocks reuse until its id is adopted, then held memory drains to 0', async () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const alloc = new SmallAlloc(new SlabCache(arena));
  const ptrs: number[] = [];
  for (let i = 0; i < 100; i++) ptrs.push(alloc.alloc(128));
  const big = alloc.alloc(alloc.objsizeMax + 1);
  const control = shared(2);
  const params: ViewsParams = {
    role: 'holder', handle: arena.handle(), table: new SharedArrayBuffer(4),
    control: control.buffer as SharedArrayBuffer, views: true, seed: 0,
  };
  const holder = new Worker(SCRIPT, { workerData: params });
  const id = holder.threadId;
  try {
    const [m] = await once(holder, 'message');
    assert.equal(m, 'open');
    for (const p of ptrs) alloc.free(p);
    alloc.free(big);
    await holder.terminate();
    // Its view is still counted: nothing freed under it is reused.
    const got = new Set<number>();
    for (let i = 0; i < 300; i++) got.add(alloc.alloc(128));
    for (const p of ptrs) assert.ok(!got.has(p));
    assert.equal(alloc.stats().deferred, 101);
    assert.ok(arena.heldForViews > 0);
    alloc.adopt(id);
    assert.equal(alloc.stats().deferred, 0, 'adoption closed the dead reader\'s view');
    assert.equal(arena.heldForViews, 0);
    for (const p of got) alloc.free(p);
    alloc.check();
    arena.check();
  } finally {
    await holder.terminate();
  }
});

test('a writer that exits with frees held for an arena view: adoption keeps them held until the view closes', async () => {
  const arena = new SlabArena({ quota: new Quota(64 * MB) });
  const alloc = new SmallAlloc(new SlabCache(arena));
  const params: ViewsParams = {
    role: 'freer', handle: arena.handle(), table: new SharedArrayBuffer(4),
    control: new SharedArrayBuffer(8), views: true, seed: 0,
  };
  const freer = new Worker(SCRIPT, { workerData: params });
  const id = freer.threadId;
  try {
    const [ptrs] = await once(freer, 'message') as [number[]];
    const view = arena.openReadView();
    freer.postMessage('free');
    assert.equal((await once(freer, 'message'))[0], 'freed');
    await freer.terminate();
    const held = arena.heldForViews;
    assert.ok(held > 200 * 96, `the dead writer held its frees (${held} bytes)`);
    alloc.adopt(id);
    assert.equal(alloc.stats().deferred, ptrs.length, 'adopted, and still held for the open view');
    assert.equal(arena.heldForViews, held);
    const got = new Set<number>();
    for (let i = 0; i < 400; i++) got.add(alloc.alloc(96));
    got.add(alloc.alloc(alloc.objsizeMax + 1));
    for (const p of ptrs) {
      assert.ok(!got.has(p), `${p}, freed under the view, was handed out again`);
      assert.ok(arena.memory.u8.subarray(p, p + 96).every((b) => b === 0x5a), `${p} kept its bytes`);
    }
    alloc.check();
    view.close();
    assert.equal(alloc.stats().deferred, 0);
    assert.equal(arena.heldForViews, 0);
    for (const p of got) alloc.free(p);
    alloc.check();
    arena.check();
  } finally {
    await freer.terminate();
  }
});
