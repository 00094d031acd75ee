// Worker for shared-arena.test.ts: random allocations and frees through its own SmallAlloc over
// the shared SlabArena; some of its allocations go to other workers (one ring per pair), which
// verify and free them; it frees what others send it, through its SmallAlloc or a Mempool.
// Every allocation is stamped, claimed in the shared bitmap, and verified before it is freed.
// Reports its counters at the end.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Mempool, SlabArena, SlabCache, SmallAlloc, setDebug, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { Claims, Ring, barrier, stampAt, stampError, tagOf } from './support.js';

export interface StressParams {
  handle: SlabArenaHandle;
  id: number;
  workers: number;
  seed: number;
  ops: number;
  /** Stop starting new operations after this many ms. */
  budgetMs: number;
  /** Ring buffers: rings[from * workers + to] (null on the diagonal). */
  rings: (SharedArrayBuffer | null)[];
  ringCapacity: number;
  claims: SharedArrayBuffer;
  /** [0] workers done producing, [1] workers done freeing, [2] workers done checking. */
  sync: SharedArrayBuffer;
  debug: boolean;
  /** Steps at the start after each of which check() runs; later every `checkEvery` steps. */
  checkAllFirst: number;
  checkEvery: number;
  liveMax: number;
}

export interface StressReport {
  id: number;
  threadId: number;
  ops: number;
  allocs: number;
  frees: number;
  sent: number;
  received: number;
  refused: number;
  checks: number;
  large: number;
  usedAtEnd: number;
  countAtEnd: number;
  totalAtEnd: number;
}

const P = workerData as StressParams;
if (P.debug) setDebug({ enabled: true, checkEvery: 4096 });
const arena = SlabArena.attach(P.handle);
const cache = new SlabCache(arena);
const alloc = new SmallAlloc(cache);
// Frees of other workers' memory go through either allocator: both accept them.
const pool = new Mempool(cache, 48);
const claims = new Claims(0, P.claims);
const sync = new Int32Array(P.sync);
const W = P.workers;
const outRings: (Ring | null)[] = [];
const inRings: Ring[] = [];
for (let j = 0; j < W; j++) {
  const o = P.rings[P.id * W + j];
  outRings.push(o ? new Ring(P.ringCapacity, 3, o) : null);
  const i = P.rings[j * W + P.id];
  if (i) inRings.push(new Ring(P.ringCapacity, 3, i));
}
const rng = rngFromSeed(P.seed);
const memory = arena.memory;
let u8 = memory.u8;
let dv = memory.dv;

// Live allocations of this worker: parallel arrays, swap-remove.
const livePtr: number[] = [];
const liveSize: number[] = [];
const liveTag: number[] = [];
let seq = 0;
const rep: StressReport = {
  id: P.id, threadId, ops: 0, allocs: 0, frees: 0, sent: 0, received: 0, refused: 0, checks: 0, large: 0,
  usedAtEnd: -1, countAtEnd: -1, totalAtEnd: -1,
};

function fail(msg: string): never {
  throw new Error(`worker ${P.id}: ${msg}`);
}

function views(end: number): void {
  if (end > u8.length) {
    u8 = memory.u8;
    dv = memory.dv;
  }
}

function randomSize(): number {
  const r = rng.next();
  if (r < 0.7) return rng.int(0, 128);
  if (r < 0.9) return rng.int(129, 1024);
  if (r < 0.995) return rng.int(1025, alloc.objsizeMax);
  rep.large++;
  return rng.int(alloc.objsizeMax + 1, 3 * arena.slabSize);
}

/** Verifies, unclaims and frees one allocation (ours, or through `via` another worker's). */
function release(ptr: number, size: number, tag: number, via: SmallAlloc | Mempool = alloc): void {
  views(ptr + size);
  const bad = stampError(dv, u8, ptr, size, tag);
  if (bad !== null) fail(`before free: ${bad} (overwritten: handed out twice?)`);
  if (!claims.release(ptr)) fail(`${ptr} was not claimed when freed`);
  via.free(ptr);
  rep.frees++;
}

function dropLive(i: number): void {
  const last = livePtr.length - 1;
  livePtr[i] = livePtr[last]!;
  liveSize[i] = liveSize[last]!;
  liveTag[i] = liveTag[last]!;
  livePtr.pop();
  liveSize.pop();
  liveTag.pop();
}

function freeLocal(i: number): void {
  release(livePtr[i]!, liveSize[i]!, liveTag[i]!);
  dropLive(i);
}

function allocOne(): void {
  const size = randomSize();
  const ptr = alloc.tryAlloc(size);
  if (ptr === 0) {
    rep.refused++;
    if (livePtr.length > 0) freeLocal(rng.int(0, livePtr.length - 1));
    return;
  }
  if (ptr % 8 !== 0) fail(`alloc(${size}) returned ${ptr}, not 8-aligned`);
  if (!claims.claim(ptr)) fail(`alloc(${size}) returned ${ptr}, which is live (handed out twice)`);
  const tag = tagOf(P.id, seq++);
  views(ptr + size);
  stampAt(dv, u8, ptr, size, tag);
  livePtr.push(ptr);
  liveSize.push(size);
  liveTag.push(tag);
  rep.allocs++;
}

function send(i: number): void {
  let to = rng.int(0, W - 2);
  if (to >= P.id) to++;
  const ring = outRings[to]!;
  const at = ring.reserve();
  if (at < 0) {
    freeLocal(i);
    return;
  }
  ring.words[at] = livePtr[i]! | 0;
  ring.words[at + 1] = liveSize[i]!;
  ring.words[at + 2] = liveTag[i]! | 0;
  ring.publish();
  dropLive(i);
  rep.sent++;
}

/** Frees up to `max` records from each ring into this worker; returns how many. */
function drain(max: number): number {
  let n = 0;
  for (const ring of inRings) {
    for (let k = 0; k < max; k++) {
      const at = ring.peek();
      if (at < 0) break;
      const w = ring.words;
      release(w[at]! >>> 0, w[at + 1]!, w[at + 2]! >>> 0, (rep.received & 1) === 0 ? alloc : pool);
      ring.take();
      rep.received++;
      n++;
    }
  }
  return n;
}

function verifyAllLive(): void {
  for (let i = 0; i < livePtr.length; i++) {
    views(livePtr[i]! + liveSize[i]!);
    const bad = stampError(dv, u8, livePtr[i]!, liveSize[i]!, liveTag[i]!);
    if (bad !== null) fail(`live: ${bad}`);
  }
}

function check(): void {
  alloc.check();
  pool.check();
  rep.checks++;
}

// ---- phase 1: random operations ----
const deadline = Date.now() + P.budgetMs;
for (let step = 0; step < P.ops; step++) {
  if ((step & 255) === 0 && Date.now() > deadline) break;
  drain(4);
  const r = rng.next();
  if (livePtr.length === 0 || (r < 0.55 && livePtr.length < P.liveMax)) allocOne();
  else if (r < 0.85) freeLocal(rng.int(0, livePtr.length - 1));
  else send(rng.int(0, livePtr.length - 1));
  rep.ops++;
  if (step < P.checkAllFirst || step % P.checkEvery === 0) check();
  if (step % 4096 === 0) verifyAllLive();
}

// ---- phase 2: stop sending; free what others send until every worker has stopped ----
Atomics.add(sync, 0, 1);
for (;;) {
  const allStopped = Atomics.load(sync, 0) === W;
  if (drain(1 << 20) === 0 && allStopped) break;
  if (!allStopped) Atomics.wait(sync, 0, Atomics.load(sync, 0), 1);
}
verifyAllLive();
while (livePtr.length > 0) freeLocal(livePtr.length - 1);
if (!barrier(sync, 1, W, 20_000)) fail('timed out waiting for the others to free everything');

// ---- phase 3: everything is freed; take the remote frees in and check ----
check();
const st = alloc.stats();
rep.usedAtEnd = st.used;
rep.countAtEnd = st.count;
rep.totalAtEnd = st.total;
cache.check();
if (!barrier(sync, 2, W, 20_000)) fail('timed out waiting for the others to check');
// Nobody frees into our slabs any more: give everything back.
pool.destroy();
alloc.destroy();
cache.destroy();
parentPort!.postMessage(rep);
