/**
 * Nothing handed out twice under adoption: two mixer workers allocate and cross-free stamped
 * objects through a shared table while, round after round, a victim worker doing the same is
 * killed at a random moment and an attacher worker attaches the arena, works and exits; this
 * thread adopts both (adoptOnExit), then allocates and frees in the adopted slabs itself.
 * A shared claim bit per 8 bytes catches an address handed out while live; a stamp checked at
 * every free catches bytes written by whoever got them twice. At the end every object still in
 * the table is freed and nothing may remain: no claim, no live object in any allocator beyond
 * the ones a victim was given and never published, and the arena passes check().
 * Seeded (SEED), rounds from ROUNDS (default 20); every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import { Claims, nextMessage, SLOT } from './support.js';
import { StampedTable, STOP } from './stamped-table.js';
import type { StressParams, StressReport } from './adopt-stress-worker.js';

const KB = 1024;
const MB = 1024 * KB;
const SLOTS = 8192;
const SCRIPT = new URL('./adopt-stress-worker.js', import.meta.url);
const WAIT = 20_000;

test('objects cross-freed while victims are killed and adopted and attachers come and go are never handed out twice, and nothing is lost', { timeout: 180_000 }, async () => {
  const rng = seeded('adopt stress');
  const rounds = Number(process.env['ROUNDS'] ?? 20);
  const arena = new SlabArena({ quota: new Quota(512 * MB), slabSize: 256 * KB });
  const table = new Int32Array(new SharedArrayBuffer(4 * SLOT * SLOTS));
  const claims = new Claims(arena.maximum);
  const sync = new Int32Array(new SharedArrayBuffer(16));
  const alloc = new SmallAlloc(new SlabCache(arena));
  const mine = new StampedTable(table, claims, arena.memory, alloc, rng, 0);
  const spawn = (role: StressParams['role'], id: number, steps = 0): Worker => new Worker(SCRIPT, {
    workerData: {
      role, id, steps, handle: arena.handle(), table: table.buffer as SharedArrayBuffer, claims: claims.buffer,
      sync: sync.buffer as SharedArrayBuffer, seed: (rng.int(0, 2 ** 31)) >>> 0,
    } satisfies StressParams,
  });
  const mixers = [spawn('mixer', 1), spawn('mixer', 2)];
  const errors: string[] = [];
  for (const m of mixers) m.on('message', (r: Partial<StressReport>) => { if (typeof r.error === 'string') errors.push(r.error); });
  try {
    await Promise.all(mixers.map((m, i) => nextMessage(m, `mixer ${i + 1}`, WAIT, (x) => x['ready'] === true)));
    let adoptedObjects = 0;
    for (let r = 0; r < rounds; r++) {
      const victim = spawn('victim', 3 + (r & 63));
      const attacher = spawn('attacher', 67 + (r & 63), rng.int(500, 4000));
      const adoptions = [alloc.adoptOnExit(victim), alloc.adoptOnExit(attacher)];
      // Listening from the start: a message nobody listens for is lost.
      const attached = nextMessage<StressReport>(attacher, `attacher ${r}`, WAIT, (x) => typeof x['steps'] === 'number');
      await nextMessage(victim, `victim ${r}`, WAIT, (x) => x['ready'] === true);
      await sleep(rng.int(5, 60));
      await victim.terminate();
      const report = await attached;
      assert.equal(report.error, null);
      attacher.postMessage('exit');
      for (const a of await Promise.all(adoptions)) adoptedObjects += a.objects + a.large;
      // This thread works in the adopted slabs, frees into everyone's, and checks itself.
      for (let i = 0; i < 2000; i++) mine.step();
      alloc.check();
      assert.deepEqual(errors, [], `round ${r}`);
    }
    Atomics.store(sync, STOP, 1);
    await Promise.all(mixers.map((m, i) => nextMessage(m, `mixer ${i + 1}`, WAIT, (x) => x['stopped'] === true)));
    const unknown = mine.drain();
    for (const m of mixers) m.postMessage('finish');
    const finals = await Promise.all(mixers.map((m, i) => nextMessage<StressReport>(m, `mixer ${i + 1}`, WAIT, (x) => typeof x['live'] === 'number')));
    console.log(`adopt stress: ${rounds} rounds, ${adoptedObjects} objects adopted, mixers took ${finals.map((f) => f.steps).join(' and ')} steps; ${unknown} slots a victim was killed filling or emptying`);
    assert.deepEqual(errors, []);
    assert.equal(claims.count(), 0, 'no address still claimed');
    alloc.check();
    const live = alloc.stats().count + finals[0]!.live + finals[1]!.live;
    assert.ok(unknown <= rounds, 'a kill leaves at most one slot in flight');
    assert.ok(live <= unknown, `live after the drain: ${live}, at most the ${unknown} objects a victim was killed allocating or freeing`);
    arena.check();
  } finally {
    await Promise.all(mixers.map((m) => m.terminate()));
  }
});
