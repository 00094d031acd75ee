import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { InvalidPointerError, Mempool, Quota, SlabArena, SlabCache, SmallAlloc, type SmallStats } from '../../../src/index.js';
import { seeded } from '../../../dev/rng.js';
import { MB, verifyStamp } from './mempool-support.js';

type Item = [number, number, number];
interface Reply {
  ready?: boolean;
  items?: Item[];
  stats?: SmallStats;
  doubles?: number;
  error?: string;
  published?: Item[];
}

const TIMEOUT = 20_000;

function spawn(arena: SlabArena, role: string, seed: number): Worker {
  return new Worker(new URL('./small-alloc-worker.js', import.meta.url), {
    workerData: { handle: arena.handle(), role, seed },
  });
}

/** The next message of `w`, or a rejection after TIMEOUT or on a worker error. */
function next(w: Worker): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error('worker did not answer in time'));
    }, TIMEOUT);
    const onMessage = (m: Reply): void => {
      cleanup();
      if (m.error !== undefined) reject(new Error(`worker: ${m.error}`));
      else resolve(m);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
    };
    w.on('message', onMessage);
    w.on('error', onError);
  });
}

async function ask(w: Worker, msg: object): Promise<Reply> {
  const reply = next(w);
  w.postMessage(msg);
  return reply;
}

test('SmallAlloc: worker B frees what worker A allocated, and A reuses the memory', { timeout: 60_000 }, async () => {
  const rng = seeded('smallalloc two workers');
  const arena = new SlabArena({ quota: new Quota(128 * MB) });
  const a = spawn(arena, 'owner', rng.int(1, 1e6));
  const b = spawn(arena, 'freer', rng.int(1, 1e6));
  try {
    const readyA = next(a);
    const readyB = next(b);
    await readyA;
    await readyB;
    let firstCarved = 0;
    let firstTotal = 0;
    for (let round = 0; round < 4; round++) {
      const got = await ask(a, { cmd: 'alloc', n: 3000 });
      const items = got.items!;
      assert.equal(got.stats!.count, items.length, 'A counts what it handed out');
      // The main thread can read what A wrote: one buffer for all.
      for (const [p, n, t] of items.slice(0, 100)) verifyStamp(arena.memory.u8, p, n, t);
      // Reuse: emptied slabs went back to A's cache, which hands them out again, so the arena
      // carves (and the quota charges) hardly anything after the first round.
      if (round === 0) firstCarved = arena.carved;
      else assert.ok(arena.carved <= firstCarved * 2, `round ${round}: the arena carved ${arena.carved} bytes, ${firstCarved} after round 0`);
      const freed = await ask(b, { cmd: 'free', items });
      assert.equal(freed.doubles, 20, 'a second free from B is caught');
      assert.equal(freed.stats!.count, 0, 'B owns none of it');
      const after = await ask(a, { cmd: 'stats' });
      assert.equal(after.stats!.count, 0, 'the remote frees reached A\'s counters');
      assert.equal(after.stats!.used, 0);
      // Slabs held for the classes; large allocations (1% of the requests, up to 600 KB each)
      // come and go with the round's random sizes and are all given back after each round.
      const classTotal = got.stats!.total - got.stats!.large.total;
      if (round === 0) firstTotal = classTotal;
      else {
        assert.ok(classTotal <= firstTotal * 1.5, `A's memory stays bounded (${classTotal} vs ${firstTotal} bytes of class slabs)`);
      }
    }
  } finally {
    await a.terminate();
    await b.terminate();
  }
});

test('SmallAlloc.adopt takes over a terminated worker\'s memory: objects stay valid and can be freed', { timeout: 60_000 }, async () => {
  const rng = seeded('smallalloc adopt');
  const arena = new SlabArena({ quota: new Quota(128 * MB) });
  const w = spawn(arena, 'looper', rng.int(1, 1e6));
  const threadId = w.threadId;
  const published: Item[] = [];
  try {
    for (let i = 0; i < 3; i++) published.push(...(await next(w)).published!);
  } finally {
    await w.terminate();
  }
  assert.ok(published.length > 100, `${published.length} objects published`);
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const res = alloc.adopt(threadId);
  assert.ok(res.slabs > 0 && res.objects >= published.length - res.large, `adopted ${JSON.stringify(res)}`);
  alloc.check();
  const before = alloc.stats();
  assert.equal(before.count, res.objects + res.large);
  for (const [p, n, t] of published) {
    verifyStamp(arena.memory.u8, p, n, t);
    assert.equal(alloc.info(p).isLarge, n > alloc.objsizeMax);
  }
  for (const [p] of published) alloc.free(p);
  assert.throws(() => alloc.free(published[0]![0]), InvalidPointerError, 'double free of an adopted object is caught');
  alloc.check();
  assert.equal(alloc.stats().count, before.count - published.length);
  // The adopted slabs have room: allocations of adopted sizes reuse them before growing.
  const heldBefore = cache.total;
  const reused = new Set(published.map(([p]) => p));
  let hits = 0;
  for (const [, n] of published) if (reused.has(alloc.alloc(n))) hits++;
  assert.ok(hits > 0, 'memory of the dead worker is reused');
  assert.ok(cache.total <= heldBefore + 8 * MB, 'reuse before growth');
  alloc.check();
  // A second adopt of the same worker finds nothing.
  assert.deepEqual(alloc.adopt(threadId), { slabs: 0, objects: 0, large: 0 });
});

test('a running worker cannot be adopted by mistake; adoptOnExit adopts it once it has exited', { timeout: 60_000 }, async () => {
  const rng = seeded('smallalloc adoptOnExit');
  const arena = new SlabArena({ quota: new Quota(128 * MB) });
  const cache = new SlabCache(arena);
  const alloc = new SmallAlloc(cache);
  const w = spawn(arena, 'looper', rng.int(1, 1e6));
  const adopted = alloc.adoptOnExit(w);
  const published: Item[] = [];
  try {
    for (let i = 0; i < 2; i++) published.push(...(await next(w)).published!);
    // This thread's allocator and cache (the arena's counters move with the running worker).
    const before = JSON.stringify([alloc.stats(), cache.stats()]);
    assert.throws(() => alloc.adopt(w.threadId), /RangeError: SmallAlloc\.adopt: threadId .*still running/, 'the id of a watched worker that runs');
    assert.throws(() => cache.adopt(w.threadId), RangeError, 'at every level');
    assert.throws(() => new Mempool(cache, 64).adopt(w.threadId), RangeError, 'at every level');
    assert.throws(() => alloc.adopt(w as unknown as number), /RangeError: SmallAlloc\.adopt: threadId .*a Worker that is running/, 'a Worker object');
    assert.equal(JSON.stringify([alloc.stats(), cache.stats()]), before, 'nothing changed');
  } finally {
    await w.terminate();
  }
  const res = await adopted;
  assert.ok(res.objects + res.large >= published.length, `adopted on exit: ${JSON.stringify(res)}`);
  alloc.check();
  for (const [p, n, t] of published) verifyStamp(arena.memory.u8, p, n, t);
  for (const [p, n] of published) alloc.free(p, n);
  alloc.check();
  assert.throws(() => alloc.adopt(w as unknown as number), /has exited and no longer tells its id/, 'an exited Worker object');
  assert.throws(() => alloc.adoptOnExit(w), RangeError, 'too late to watch');
  assert.throws(() => alloc.adoptOnExit({} as never), TypeError, 'not a worker');
});
