// Worker for slab-arena-stress.test.ts: maps and unmaps random runs of a shared SlabArena,
// fills every slab it holds with a stamp of its own and verifies the stamp before it unmaps,
// so a slab handed to two workers at once, or taken back while held, shows as a bad stamp.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, type SlabArenaHandle } from '../../../src/index.js';
import { rngFromSeed } from '../../../dev/rng.js';

export interface StressParams {
  handle: SlabArenaHandle;
  /** 1-based; the high byte of every stamp this worker writes. */
  id: number;
  workers: number;
  seed: number;
  /** Steps to run; -1 runs until terminated. */
  steps: number;
  /** Wall-clock cap in ms. */
  ms: number;
  maxRun: number;
  maxLive: number;
  /** Int32 words: [0] workers ready, [1 + id] steps done by worker id. */
  sync: SharedArrayBuffer;
}

export interface StressReport {
  id: number;
  maps: number;
  runs: number;
  failed: number;
  unmaps: number;
  bad: string[];
}

const p = workerData as StressParams;
const a = SlabArena.attach(p.handle);
const rng = rngFromSeed(p.seed);
const S = a.slabSize;
const sync = new Int32Array(p.sync);
const live: { ptr: number; n: number; stamp: number }[] = [];
const report: StressReport = { id: p.id, maps: 0, runs: 0, failed: 0, unmaps: 0, bad: [] };
let counter = 0;

function verify(s: { ptr: number; n: number; stamp: number }, when: string): void {
  const u32 = a.memory.u32;
  const from = s.ptr >>> 2;
  const to = (s.ptr + s.n * S) >>> 2;
  for (let i = from; i < to; i++) {
    if (u32[i] !== s.stamp) {
      if (report.bad.length < 10) {
        report.bad.push(`worker ${p.id} ${when}: word ${i * 4 - s.ptr} of the ${s.n}-slab run at ${s.ptr} is ${u32[i]}, stamped ${s.stamp}`);
      }
      return;
    }
  }
}

// Start together, so the workers overlap.
Atomics.add(sync, 0, 1);
for (let ready = Atomics.load(sync, 0); ready < p.workers; ready = Atomics.load(sync, 0)) Atomics.wait(sync, 0, ready, 20);

// The time cap bounds a run on a loaded machine; a worker that got no map in by then (starved of
// CPU, or of quota while the others held it) goes on, up to four times the cap, until it has one.
const start = Date.now();
const end = start + p.ms;
const hardEnd = start + 4 * p.ms;
const running = (): boolean => Date.now() < (report.maps === 0 ? hardEnd : end);
for (let step = 0; (p.steps < 0 || step < p.steps || report.maps === 0) && running(); step++) {
  if (live.length > 0 && (live.length >= p.maxLive || rng.chance(0.45))) {
    const i = rng.int(0, live.length - 1);
    const s = live[i]!;
    live[i] = live[live.length - 1]!;
    live.pop();
    verify(s, 'before unmap');
    a.unmap(s.ptr);
    report.unmaps++;
  } else {
    const n = rng.chance(0.4) ? 1 : rng.int(2, p.maxRun);
    const ptr = n === 1 ? a.tryMap() : a.tryMapRun(n);
    if (ptr === 0) {
      report.failed++;
    } else {
      if (ptr % S !== 0 && report.bad.length < 10) report.bad.push(`worker ${p.id}: ${ptr} is not aligned to a slab`);
      const stamp = ((p.id << 24) | (++counter & 0xffffff)) >>> 0;
      a.memory.u32.fill(stamp, ptr >>> 2, (ptr + n * S) >>> 2);
      live.push({ ptr, n, stamp });
      report.maps++;
      if (n > 1) report.runs++;
    }
  }
  Atomics.add(sync, 1 + p.id, 1);
}
for (const s of live) {
  verify(s, 'at the end');
  a.unmap(s.ptr);
  report.unmaps++;
}
parentPort!.postMessage(report);
