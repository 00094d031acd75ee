/**
 * adopt() is crash-safe (API.md, Adoption): a worker D fills a SmallAlloc and exits; a survivor
 * A adopts D's slabs and is terminated at a random moment, before, during or after its
 * adopt(); a later adopt of both ids recovers every slab, every object D left is freed exactly
 * once, and the arena ends with nothing handed out. Two survivors that adopt the same id at
 * once share D's slabs between them without overlap.
 *
 * Seeded: the seed is printed; `ADOPT_SEED=n` replays a run (the kill moments follow the seed;
 * where exactly a kill lands inside adopt() still depends on the machine). Every wait is bounded,
 * so a hang fails the test. `ADOPT_VERBOSE=1` prints every round.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena } from '../../src/index.js';
import { rngFromSeed, type Rng } from '../../dev/rng.js';
import type { AdoptCrashParams, Adoption, FillReport } from './adopt-crash-worker.js';
import { nextMessage } from './support.js';

const KB = 1024;
const MB = 1024 * KB;
const SCRIPT = new URL('./adopt-crash-worker.js', import.meta.url);
/** The longest any one answer of a worker may take. */
const WAIT = 10_000;
const ROUNDS = 40;
/** Int32 words per item of D's list (ptr, size, tag), as in the worker. */
const ITEM = 3;

function seedOf(label: string): Rng {
  const env = process.env['ADOPT_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
  console.log(`${label}: ADOPT_SEED=${seed}`);
  return rngFromSeed(seed);
}

/** A shared arena of 64 KiB slabs; D fills half of its quota. */
function newArena(): SlabArena {
  return new SlabArena({ quota: new Quota(12 * MB), slabSize: 64 * KB });
}

function spawn(arena: SlabArena, role: AdoptCrashParams['role'], seed: number, extra: Partial<AdoptCrashParams> = {}): Worker {
  const data: AdoptCrashParams = { role, handle: arena.handle(), seed, ...extra };
  return new Worker(SCRIPT, { workerData: data });
}

/** The next message of `w`; rejects on { error }, a worker error, an exit, or after WAIT ms. */
function next<T>(w: Worker, what: string): Promise<T> {
  return nextMessage<T>(w, what, WAIT);
}

async function ask<T>(w: Worker, msg: object, what: string): Promise<T> {
  const reply = next<T>(w, what);
  w.postMessage(msg);
  return reply;
}

/** Resolves when `w` has exited (rejects after WAIT ms). */
function exited(w: Worker, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: did not exit within ${WAIT} ms`)), WAIT);
    w.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** D: a worker that fills `arena` with live objects and exits. Returns its id and its objects. */
async function filledAndGone(arena: SlabArena, seed: number): Promise<{ id: number; fill: FillReport; count: number }> {
  const d = spawn(arena, 'fill', seed, { target: 6 * MB });
  const id = d.threadId;
  const gone = exited(d, 'D');
  try {
    const fill = await next<FillReport>(d, 'D filling');
    await gone;
    return { id, fill, count: fill.items.byteLength / 4 / ITEM };
  } finally {
    await d.terminate();
  }
}

/** Adoptions summed. */
function sum(list: Adoption[]): { objects: number; large: number } {
  return list.reduce((a, b) => ({ objects: a.objects + b.objects, large: a.large + b.large }), { objects: 0, large: 0 });
}

/** Busy-waits `us` microseconds (a kill between two timer ticks). */
function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

type Moment = 'before' | 'during' | 'after';

/**
 * One round: D fills and exits; A adopts D and is terminated at `moment` (for 'during', `us`
 * microseconds after it entered adopt); S adopts D and A, frees all D allocated, destroys
 * its allocators. Returns where the kill landed and, when A finished, how long its adopt took.
 */
async function round(rng: Rng, r: number, moment: Moment, us: number): Promise<{ landed: number; ms: number }> {
  const arena = newArena();
  const flagWords = new Int32Array(new SharedArrayBuffer(4));
  const a = spawn(arena, 'adopter', rng.int(1, 2 ** 30), { flag: flagWords.buffer as SharedArrayBuffer });
  const s = spawn(arena, 'survivor', rng.int(1, 2 ** 30));
  const aId = a.threadId;
  try {
    const aReady = next(a, 'A starting');
    const sReady = next(s, 'S starting');
    const d = await filledAndGone(arena, rng.int(1, 2 ** 30));
    await aReady;
    await sReady;

    // A adopts D and is killed.
    let ms = -1;
    if (moment === 'after') {
      ms = (await ask<{ ms: number }>(a, { cmd: 'adopt', id: d.id }, 'A adopting')).ms;
    } else {
      a.postMessage({ cmd: 'adopt', id: d.id });
      if (moment === 'during') {
        // Block this thread until A is inside adopt(), then kill it `us` microseconds later.
        assert.notEqual(Atomics.wait(flagWords, 0, 0, WAIT), 'timed-out', 'A never entered adopt()');
        spin(us);
      }
    }
    await a.terminate();
    const landed = Atomics.load(flagWords, 0);

    // S recovers both, in either order, and frees every object D left exactly once.
    const ids = rng.chance(0.5) ? [d.id, aId] : [aId, d.id];
    const { adopted } = await ask<{ adopted: Adoption[] }>(s, { cmd: 'adopt', ids }, 'S adopting');
    const got = sum(adopted);
    assert.deepEqual(got, { objects: d.fill.small, large: d.fill.large },
      `round ${r} (kill ${moment} ${us} us, landed ${landed}): S adopted every object D left, once`);
    const { freed } = await ask<{ freed: number }>(s, { cmd: 'free', items: d.fill.items, from: 0, to: d.count }, 'S freeing');
    assert.equal(freed, d.count);
    const sGone = exited(s, 'S');
    const end = await ask<{ count: number; used: number }>(s, { cmd: 'finish' }, 'S finishing');
    assert.deepEqual(end, { count: 0, used: 0 }, `round ${r}: nothing D allocated is left`);
    await sGone;
    assert.equal(arena.used, 0, `round ${r} (kill ${moment} ${us} us, landed ${landed}): every slab went back to the arena`);
    arena.check();
    if (process.env['ADOPT_VERBOSE']) console.log(JSON.stringify({ r, moment, us, landed, ms, objects: d.count, adopted }));
    return { landed, ms };
  } finally {
    await Promise.all([a.terminate(), s.terminate()]);
  }
}

test('a survivor killed before, during or after adopt() of an exited worker loses nothing: a later adopt of both ids recovers every slab and every object is freed exactly once', { timeout: 90_000 }, async () => {
  const rng = seedOf('adopt crash');
  // Round 0 lets A finish, to learn how long an adopt takes; later kills land within that time,
  // two in three of them in its first quarter, where the dead worker's slabs change hands.
  const first = await round(rng, 0, 'after', 0);
  const span = Math.max(200, Math.round(first.ms * 1000 * 1.2));
  const landed = [0, 0, 0];
  for (let r = 1; r < ROUNDS; r++) {
    const p = rng.next();
    const moment: Moment = p < 0.1 ? 'before' : p < 0.2 ? 'after' : 'during';
    const us = moment !== 'during' ? 0 : rng.chance(2 / 3) ? rng.int(0, Math.round(span / 5)) : rng.int(0, span);
    landed[(await round(rng, r, moment, us)).landed]!++;
  }
  console.log(`adopt crash: an adopt takes ${first.ms.toFixed(2)} ms; kills landed before ${landed[0]}, during ${landed[1]}, after ${landed[2]} adopt()`);
});

test('two survivors adopting the same exited worker at once get disjoint slabs: every object is adopted once and freed once', { timeout: 60_000 }, async () => {
  const rng = seedOf('adopt twins');
  for (let r = 0; r < 4; r++) {
    const arena = newArena();
    const t1 = spawn(arena, 'survivor', rng.int(1, 2 ** 30));
    const t2 = spawn(arena, 'survivor', rng.int(1, 2 ** 30));
    try {
      const ready = Promise.all([next(t1, 'T1 starting'), next(t2, 'T2 starting')]);
      const d = await filledAndGone(arena, rng.int(1, 2 ** 30));
      await ready;
      const start = new SharedArrayBuffer(4);
      const [a1, a2] = await Promise.all([
        ask<{ adopted: Adoption[] }>(t1, { cmd: 'adopt', ids: [d.id], barrier: start }, 'T1 adopting'),
        ask<{ adopted: Adoption[] }>(t2, { cmd: 'adopt', ids: [d.id], barrier: start }, 'T2 adopting'),
      ]);
      assert.deepEqual(sum([...a1.adopted, ...a2.adopted]), { objects: d.fill.small, large: d.fill.large },
        `round ${r}: D's objects were adopted once between the two (${JSON.stringify([a1.adopted, a2.adopted])})`);
      // Each frees half, whoever adopted it: a free reaches the owner.
      const half = rng.int(0, d.count);
      const [f1, f2] = await Promise.all([
        ask<{ freed: number }>(t1, { cmd: 'free', items: d.fill.items, from: 0, to: half }, 'T1 freeing'),
        ask<{ freed: number }>(t2, { cmd: 'free', items: d.fill.items, from: half, to: d.count }, 'T2 freeing'),
      ]);
      assert.equal(f1.freed + f2.freed, d.count);
      const gone = Promise.all([exited(t1, 'T1'), exited(t2, 'T2')]);
      const ends = await Promise.all([ask(t1, { cmd: 'finish' }, 'T1 finishing'), ask(t2, { cmd: 'finish' }, 'T2 finishing')]);
      assert.deepEqual(ends, [{ count: 0, used: 0 }, { count: 0, used: 0 }], `round ${r}: neither survivor holds a live object`);
      await gone;
      assert.equal(arena.used, 0, `round ${r}: every slab went back to the arena`);
      arena.check();
    } finally {
      await Promise.all([t1.terminate(), t2.terminate()]);
    }
  }
});
