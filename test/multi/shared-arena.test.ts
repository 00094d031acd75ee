import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Quota, SlabArena } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import { Claims, Ring, runWorkers, stressWorkers } from './support.js';
import type { StressParams, StressReport } from './shared-arena-worker.js';

const KB = 1024;
const MB = 1024 * KB;
const RING = 256;

interface Setup {
  label: string;
  workers: number;
  quota: number;
  ops: number;
  liveMax: number;
  budgetMs: number;
}

/**
 * Runs `workers` stress workers on one fresh shared arena (64 KiB slabs, so slabs change
 * hands often) and checks what holds once they are all done.
 */
async function stress(s: Setup): Promise<{ reports: StressReport[]; arena: SlabArena; quota: Quota }> {
  const rng = seeded(s.label);
  const quota = new Quota(s.quota);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const claims = new Claims(arena.maximum);
  const sync = new SharedArrayBuffer(16);
  const W = s.workers;
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let i = 0; i < W * W; i++) rings.push(i % (W + 1) === 0 ? null : new Ring(RING, 3).buffer);
  const params: StressParams[] = [];
  for (let id = 0; id < W; id++) {
    params.push({
      handle: arena.handle(), id, workers: W, seed: (rng.seed + 7919 * (id + 1)) >>> 0, ops: s.ops, budgetMs: s.budgetMs,
      rings, ringCapacity: RING, claims: claims.buffer, sync, debug: id === 1,
      checkAllFirst: 200, checkEvery: 97, liveMax: s.liveMax,
    });
  }
  const reports = await runWorkers<StressReport>(new URL('./shared-arena-worker.js', import.meta.url), params, 25_000);
  if (process.env.STRESS_VERBOSE) console.log(JSON.stringify(reports));
  for (const r of reports) {
    assert.equal(r.countAtEnd, 0, `worker ${r.id}: every allocation was freed and taken in`);
    assert.equal(r.usedAtEnd, 0, `worker ${r.id}: used is 0 once everything is freed`);
  }
  const sent = reports.reduce((a, r) => a + r.sent, 0);
  const received = reports.reduce((a, r) => a + r.received, 0);
  assert.equal(received, sent, 'every allocation sent to another worker was freed there');
  assert.equal(claims.count(), 0, 'no address is still marked live');
  assert.equal(arena.used, 0, 'every slab went back to the arena');
  assert.ok(quota.used <= quota.total);
  return { reports, arena, quota };
}

test('workers allocating and freeing at random on one shared arena, and freeing each other\'s memory, never hand out an address twice and end with nothing used', { timeout: 30_000 }, async () => {
  const workers = stressWorkers(availableParallelism());
  const { reports } = await stress({
    label: 'shared arena stress', workers, quota: 64 * MB, ops: 60_000, liveMax: 2000, budgetMs: 5000,
  });
  const ops = reports.reduce((a, r) => a + r.ops, 0);
  const sent = reports.reduce((a, r) => a + r.sent, 0);
  const large = reports.reduce((a, r) => a + r.large, 0);
  assert.ok(ops >= workers * 1000, `${ops} operations ran`);
  assert.ok(sent > ops / 50, `${sent} allocations crossed workers`);
  assert.ok(large > 0, 'some allocations took the large path');
  for (const r of reports) assert.ok(r.checks > 0, `worker ${r.id} ran check()`);
});

test('workers running a small shared quota out fail cleanly, lose nothing, and free everything', { timeout: 30_000 }, async () => {
  const { reports, quota } = await stress({
    label: 'shared arena stress, tight quota', workers: 3, quota: 3 * MB, ops: 15_000, liveMax: 3000, budgetMs: 3000,
  });
  const refused = reports.reduce((a, r) => a + r.refused, 0);
  assert.ok(refused > 0, 'some allocations were refused by the quota');
  assert.ok(quota.used <= 3 * MB);
});
