// Worker for slab-arena.test.ts: maps, unmaps and stamps slabs, uses and releases the quota, and
// (the setter) moves the limit, checking after every step that used <= limit in one atomic read.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, type SlabArenaHandle } from '../../../src/index.js';
import { rngFromSeed } from '../../../dev/rng.js';

const { handle, id, seed, setter, ms } = workerData as { handle: SlabArenaHandle; id: number; seed: number; setter: boolean; ms: number };
const a = SlabArena.attach(handle);
const word = new BigUint64Array(handle.quota.buffer, 16, 1);
const rng = rngFromSeed(seed);
const S = a.slabSize;
const live: { p: number; n: number; stamp: number }[] = [];
const bad: string[] = [];
let charged = 0;
let maps = 0;
let stamp = id << 20;
const end = Date.now() + ms;

function invariant(where: string): void {
  const v = Atomics.load(word, 0);
  if ((v & 0xffffffffn) > v >> 32n && bad.length < 10) bad.push(`${where}: used ${v & 0xffffffffn} > limit ${v >> 32n} units`);
}

function verify(s: { p: number; n: number; stamp: number }): void {
  const u32 = a.memory.u32;
  const first = u32[s.p >>> 2];
  const last = u32[((s.p + s.n * S) >>> 2) - 1];
  if ((first !== s.stamp || last !== s.stamp) && bad.length < 10) bad.push(`slab ${s.p} stamp ${s.stamp} became ${first}/${last}`);
}

while (Date.now() < end) {
  const r = rng.next();
  if (setter && r < 0.05) {
    try {
      a.quota.set(rng.int(4, 32) * S);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  } else if (r < 0.25) {
    if (charged > 0 && rng.chance(0.5)) {
      a.quota.release(charged);
      charged = 0;
    } else if (a.quota.tryUse(4096) > 0) charged += 4096;
  } else if (live.length > 0 && r < 0.6) {
    const s = live.splice(rng.int(0, live.length - 1), 1)[0]!;
    verify(s);
    a.unmap(s.p);
  } else {
    const n = rng.chance(0.7) ? 1 : rng.int(2, 3);
    const p = n === 1 ? a.tryMap() : a.tryMapRun(n);
    if (p !== 0) {
      maps++;
      const u32 = a.memory.u32;
      stamp++;
      u32[p >>> 2] = stamp;
      u32[((p + n * S) >>> 2) - 1] = stamp;
      live.push({ p, n, stamp });
    }
  }
  invariant('step');
}
for (const s of live) {
  verify(s);
  a.unmap(s.p);
}
if (charged > 0) a.quota.release(charged);
if (setter) a.quota.set(1 << 30);
parentPort!.postMessage({ maps, bad });
