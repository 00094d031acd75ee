import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { InvalidPointerError, Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import { seeded, type Rng } from '../../dev/rng.js';
import { ALLOCATING, Claims, EMPTY, FREER_FREEING, LIVE, SLOT, VICTIM_FREEING, stampError } from './support.js';
import type { ExitParams, FreerReport } from './worker-exit-worker.js';

const KB = 1024;
const MB = 1024 * KB;
const SLOTS = 4096;
const SCRIPT = new URL('./worker-exit-worker.js', import.meta.url);

/** Resolves once `words[at] >= n`; rejects after `ms` or when `failed()` names an error. */
async function until(words: Int32Array, at: number, n: number, ms: number, failed: () => Error | null): Promise<void> {
  const deadline = Date.now() + ms;
  while (Atomics.load(words, at) < n) {
    const e = failed();
    if (e !== null) throw e;
    if (Date.now() > deadline) throw new Error(`timed out waiting for word ${at} to reach ${n}`);
    await sleep(2);
  }
}

/** True when `alloc` says `ptr` is live; false when it says it is not. */
function isLive(alloc: SmallAlloc, ptr: number): boolean {
  try {
    alloc.info(ptr);
    return true;
  } catch (e) {
    if (e instanceof InvalidPointerError) return false;
    throw e;
  }
}

/**
 * One round: a victim worker allocates and frees, a freer worker frees the victim's
 * allocations; the victim is terminated at a random moment, this thread adopts its slabs
 * while the freer goes on freeing into them, then frees everything left, reuses the adopted
 * slabs, and gives everything back.
 */
async function round(rng: Rng, r: number): Promise<void> {
  const quota = new Quota(64 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const table = new Int32Array(new SharedArrayBuffer(4 * SLOT * SLOTS));
  const claims = new Claims(arena.maximum);
  const sync = new Int32Array(new SharedArrayBuffer(16));
  const base = {
    handle: arena.handle(), table: table.buffer as SharedArrayBuffer, claims: claims.buffer,
    sync: sync.buffer as SharedArrayBuffer, largeChance: 0.01,
  };
  const victimData: ExitParams = { role: 'victim', seed: (rng.seed + 101 * r) >>> 0, ...base };
  const freerData: ExitParams = { role: 'freer', seed: (rng.seed + 101 * r + 1) >>> 0, ...base };
  const victim = new Worker(SCRIPT, { workerData: victimData });
  const freer = new Worker(SCRIPT, { workerData: freerData });
  let error: Error | null = null;
  victim.on('error', (e) => { error = e; });
  freer.on('error', (e) => { error = e; });
  const report = new Promise<FreerReport>((resolve) => freer.once('message', resolve));
  try {
    const victimId = victim.threadId;
    const killAt = rng.int(500, 20_000);
    await until(sync, 0, killAt, 8000, () => error);
    await until(sync, 2, 16, 8000, () => error);
    await victim.terminate();
    assert.equal(error, null);

    // Adopt while the freer keeps freeing into the dead worker's slabs.
    const cache = new SlabCache(arena);
    const alloc = new SmallAlloc(cache);
    const before = Atomics.load(sync, 2);
    const adoption = alloc.adopt(victimId);
    assert.ok(adoption.slabs > 0, `round ${r}: the victim's slabs were adopted (${JSON.stringify(adoption)})`);
    assert.deepEqual(alloc.adopt(victimId), { slabs: 0, objects: 0, large: 0 }, 'a worker is adopted once');
    alloc.check();
    let liveAtAdoption = 0;
    for (let i = 0; i < SLOTS; i++) if (Atomics.load(table, i * SLOT) === LIVE) liveAtAdoption++;
    // Let the freer take about half of what is left (it was freeing odd slots meanwhile), into
    // slabs that are now ours.
    const target = Atomics.load(sync, 2) + Math.ceil(liveAtAdoption / 2);
    Atomics.store(sync, 3, target);
    await until(sync, 2, target, 8000, () => error);
    Atomics.store(sync, 1, 1);
    const freed = await report;
    assert.equal(freed.error, null);
    assert.equal(freed.countAtEnd, 0, 'the freer\'s own allocator ends empty');

    // Free what is left: this thread now owns it.
    let unknown = 0;
    let ownFrees = 0;
    const u8 = arena.memory.u8;
    const dv = arena.memory.dv;
    for (let i = 0; i < SLOTS; i++) {
      const state = table[i * SLOT]!;
      const ptr = table[i * SLOT + 1]! >>> 0;
      const size = table[i * SLOT + 2]!;
      const tag = table[i * SLOT + 3]! >>> 0;
      if (state === EMPTY) continue;
      assert.notEqual(state, FREER_FREEING, 'the freer finished every free it started');
      if (state === LIVE) {
        ownFrees++;
        const bad = stampError(dv, u8, ptr, size, tag);
        assert.equal(bad, null, `round ${r}: a live allocation of the dead worker is intact`);
        assert.ok(claims.release(ptr));
        alloc.free(ptr);
        continue;
      }
      // The victim died between two steps of an allocation or a free: its memory decides.
      assert.ok(state === ALLOCATING || state === VICTIM_FREEING, `state ${state}`);
      if (ptr === 0) {
        unknown++;
        continue;
      }
      claims.release(ptr);
      if (isLive(alloc, ptr)) alloc.free(ptr);
    }
    assert.ok(unknown <= 1, 'the victim was inside at most one allocation');
    assert.ok(freed.frees - before + ownFrees >= liveAtAdoption, 'every allocation live at adoption was freed');
    if (liveAtAdoption >= 4) assert.ok(ownFrees > 0, 'this thread freed some of the dead worker\'s allocations');
    if (process.env['STRESS_VERBOSE']) {
      console.log(JSON.stringify({ r, killAt, adoption, liveAtAdoption, byFreer: freed.frees - before, ownFrees, unknown }));
    }
    alloc.check();
    const st = alloc.stats();
    assert.ok(st.count <= unknown, `round ${r}: ${st.count} allocations left, ${unknown} unknown`);
    assert.equal(claims.count(), 0, 'no address is still marked live');

    // Reuse: every free slot of every adopted slab is handed out without a new slab.
    const used0 = arena.used;
    const quota0 = quota.used;
    const total0 = st.total;
    const mine: number[] = [];
    for (const c of st.classes) {
      const room = c.slabs * c.objectsPerSlab - c.count;
      for (let k = 0; k < room; k++) {
        const p = alloc.alloc(c.objsize);
        assert.ok(claims.claim(p), `round ${r}: ${p} handed out while live`);
        mine.push(p);
      }
    }
    assert.ok(mine.length > 0, 'the adopted slabs had room');
    assert.equal(arena.used, used0, 'filling the adopted slabs maps no new slab');
    assert.equal(quota.used, quota0);
    assert.equal(alloc.stats().total, total0);
    for (const p of mine) {
      claims.release(p);
      alloc.free(p);
    }
    alloc.check();
    alloc.destroy();
    cache.destroy();
    assert.equal(arena.used, 0, `round ${r}: every slab went back to the arena`);
  } finally {
    Atomics.store(sync, 1, 1);
    await Promise.all([victim.terminate(), freer.terminate()]);
  }
}

test('a worker terminated while it allocates leaks no slab: a live thread adopts them while another worker frees into them, frees what the dead one allocated, and reuses them', { timeout: 30_000 }, async () => {
  const rng = seeded('worker exit');
  for (let r = 0; r < 3; r++) await round(rng, r);
});
