/**
 * Many workers on one shared arena: alloc/free throughput with 1, 2, 4, 8 and 16 workers.
 *
 * Each worker does the same fixed work: rounds of `BATCHES` batches (shared-memory-objects:
 * fewer, see SMO_BATCHES), a batch being 1000 allocations of random sizes 16..256 then their
 * frees in a shuffled order (2000 operations).
 * A round starts for every worker at once at a shared barrier and ends when the last worker
 * finishes; throughput = all workers' operations / that time, best of `PASSES` x `ROUNDS`
 * rounds (`PASSES` rounds for counts above the core count), after a warm-up, so every worker
 * runs optimized code.
 *
 * Contenders:
 * - SmallAlloc: one per worker, all over ONE shared SlabArena (what this library offers).
 * - locked free list: ONE shared-memory segregated free-list allocator (state entirely in a
 *   SharedArrayBuffer) that every worker calls under one Atomics lock: what any single-threaded
 *   JS allocator (AssemblyScript's TLSF, `@thi.ng/malloc`) would need to be shared.
 *
 * - private free list: the same locked free list, but one per worker over its own buffer, so
 *   nothing is shared: how far the machine itself lets this workload scale (cores that are
 *   hyperthreads or share a busy host scale less than 2x whatever the allocator does).
 *
 * - shared-memory-objects: ONE `MemoryHeap` of `@daneren2005/shared-memory-objects` (the
 *   thread-safe fork of `@thi.ng/malloc`: a lock per 1 MiB buffer), created here and attached
 *   to by every worker; each worker allocates and frees through it. Its rounds are shorter
 *   (it is 100x slower and more; see SMO_BATCHES).
 *
 * Targets: 2 workers reach at least 1.8x one worker's throughput with SmallAlloc; the locked
 * baseline falls behind. Worker counts above `os.availableParallelism()` still run, flagged
 * with `*`: they measure oversubscription, not parallelism.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena } from '../src/index.js';
import { results, type Row } from './support/harness.js';
import { lockedFreeListBuffer } from './scaling-locked.js';
import { loadSharedMemoryObjects } from './support/shared-memory-objects.js';
import { SmoPeer } from './support/peers.js';
import type { ScalingParams } from './scaling-worker.js';

/** Worker counts (env SCALING_WORKERS, e.g. "1,2"). */
const COUNTS = (process.env['SCALING_WORKERS'] ?? '1,2,4,8,16').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1);
const BATCH = 1000;
/**
 * Batches per worker per round (env SCALING_BATCHES). A round must last long enough (about
 * 150 ms for one SmallAlloc worker) that the few milliseconds workers take to wake at the
 * barrier are noise: with 2,000 batches (~30 ms) that skew alone cost 10-25% at 2 workers.
 */
const BATCHES = Math.max(1, Number(process.env['SCALING_BATCHES'] ?? 10000) | 0);
/**
 * Batches per round for shared-memory-objects, shared out among the workers (env
 * SCALING_SMO_BATCHES; each worker does max(2, SMO_BATCHES / n)): its frees search a list of
 * every live block of their buffer, all workers' blocks together (microseconds per pair, and
 * more with more workers), so its rounds hold far fewer batches, and the same total work
 * whatever the number of workers, to stay between ~0.2 and ~3 s.
 */
const SMO_BATCHES = Math.max(1, Number(process.env['SCALING_SMO_BATCHES'] ?? 50) | 0);
/** Timed rounds per worker count in each pass (env SCALING_ROUNDS). */
const ROUNDS = Math.max(1, Number(process.env['SCALING_ROUNDS'] ?? 3) | 0);
/**
 * Passes over every (worker count, contender) pair (env SCALING_PASSES); the best round of
 * all passes counts. Spreading each pair's rounds over the whole run gives every pair the same
 * chance of a quiet moment on a machine shared with other jobs.
 */
const PASSES = Math.max(1, Number(process.env['SCALING_PASSES'] ?? 3) | 0);
const WARM = 50;
const SCRIPT = new URL('./scaling-worker.js', import.meta.url);

type Mode = ScalingParams['mode'];

/** Operations per second of `n` workers in `mode`, best of `rounds` rounds. */
async function measure(mode: Mode, n: number, rounds: number): Promise<number> {
  const sync = new Int32Array(new SharedArrayBuffer(16));
  const arena = mode === 'small' ? new SlabArena({ quota: new Quota(64 * 1024 * 1024 + n * 8 * 1024 * 1024) }) : null;
  const locked = mode === 'locked' ? lockedFreeListBuffer(16 * 1024 * 1024 + n * 300 * BATCH) : null;
  // 1 MiB buffers: 4, plus twice what the workers can hold live at once (at most 264 bytes a
  // block): a worker must never have to add one (see scaling-worker.ts).
  const smo = mode === 'smo' ? new SmoPeer(await loadSharedMemoryObjects(), { buffers: 4 + Math.ceil(n * 300 * BATCH / (1 << 20)) * 2 }) : null;
  const batches = mode === 'smo' ? Math.max(2, Math.round(SMO_BATCHES / n)) : BATCHES;
  const workers: Worker[] = [];
  let failure: Error | null = null;
  try {
    for (let i = 0; i < n; i++) {
      const data: ScalingParams = {
        mode, handle: arena?.handle() ?? null, locked, smo: smo?.heap.getSharedMemory() ?? null, sync: sync.buffer as SharedArrayBuffer,
        seed: 1000 + i, batch: BATCH, batches, rounds,
        // shared-memory-objects: its time is in its list searches, not in what V8 inlines.
        warmBatches: mode === 'smo' ? 2 : WARM, warmCalls: mode === 'smo' ? 2 : 1000, verifyBatches: mode === 'smo' ? 2 : 20,
      };
      const w = new Worker(SCRIPT, { workerData: data });
      w.on('error', (e) => { failure = e; });
      workers.push(w);
    }
    let best = 0;
    for (let r = 1; r <= rounds; r++) {
      // Wait (without blocking this thread: workers may still be starting) for all to be ready.
      while (Atomics.load(sync, 0) < n * r) {
        if (failure !== null) throw failure;
        await sleep(1);
      }
      const t0 = performance.now();
      Atomics.store(sync, 1, r);
      Atomics.notify(sync, 1);
      // Block until the last one is done: the time we measure.
      for (let d = Atomics.load(sync, 2); d < n * r; d = Atomics.load(sync, 2)) {
        Atomics.wait(sync, 2, d, 200);
        if (failure !== null) throw failure;
      }
      const ms = performance.now() - t0;
      best = Math.max(best, (n * batches * BATCH * 2) / (ms / 1000));
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function mops(x: number): string {
  return (x / 1e6).toFixed(x < 1e6 ? 3 : 1).padStart(7);
}

/** Runs the comparison and prints the table. */
export async function run(): Promise<void> {
  const cores = availableParallelism();
  console.log(`\nMany workers: alloc/free throughput on one shared arena (${BATCHES} batches of ${BATCH} random 16..256 allocations + frees per worker, best of ${PASSES} x ${ROUNDS} rounds, ${PASSES} rounds above the core count)`);
  console.log(`  shared-memory-objects: ${SMO_BATCHES} batches per round shared out among the workers (at least 2 each)`);
  console.log(`  os.availableParallelism() = ${cores}; rows marked * have more workers than cores`);
  const small = new Map<number, number>();
  const locked = new Map<number, number>();
  const priv = new Map<number, number>();
  const smo = new Map<number, number>();
  for (let pass = 0; pass < PASSES; pass++) {
    for (const n of COUNTS) {
      // Oversubscribed counts take long and measure the scheduler: one round per pass.
      const rounds = n > cores ? 1 : ROUNDS;
      small.set(n, Math.max(small.get(n) ?? 0, await measure('small', n, rounds)));
      locked.set(n, Math.max(locked.get(n) ?? 0, await measure('locked', n, rounds)));
      priv.set(n, Math.max(priv.get(n) ?? 0, await measure('private', n, rounds)));
      smo.set(n, Math.max(smo.get(n) ?? 0, await measure('smo', n, rounds)));
    }
  }
  const one = COUNTS[0]!;
  const cell = (m: Map<number, number>, n: number): string => `${mops(m.get(n)!)}  ${(m.get(n)! / m.get(one)!).toFixed(2)}x`.padEnd(22);
  console.log(`  ${'workers'.padEnd(9)} ${'SmallAlloc per worker'.padEnd(22)} ${'one locked, shared'.padEnd(22)} ` +
    `${'private per worker'.padEnd(22)} ${'shared-memory-objects'.padEnd(22)} SmallAlloc / locked   SmallAlloc / s-m-o`);
  const head = `Mops/s  vs ${one}`.padEnd(22);
  console.log(`  ${''.padEnd(9)} ${head} ${head} ${head} ${head}`);
  for (const n of COUNTS) {
    const flag = n > cores ? '*' : ' ';
    console.log(`  ${`${n}${flag}`.padEnd(9)} ${cell(small, n)} ${cell(locked, n)} ${cell(priv, n)} ${cell(smo, n)} ` +
      `${`${(small.get(n)! / locked.get(n)!).toFixed(2)}x`.padEnd(21)} ${(small.get(n)! / smo.get(n)!).toFixed(0)}x`);
  }
  // Recorded for the run's summary: time per operation with 2 workers over time with 1, so a
  // speedup of 1.8x is a ratio of at most 1/1.8.
  const rows: Row[] = [];
  const row = (name: string, ops: number, vs: string | null, base: number | null, target: number | null): void => {
    const ratio = base === null ? null : base / ops;
    rows.push({ name, ns: 1e9 / ops, vs, ratio, target, met: target === null || ratio === null ? null : ratio <= target });
  };
  if (!small.has(1) || !small.has(2)) return;
  row('SmallAlloc, 1 worker', small.get(1)!, null, null, null);
  row('SmallAlloc, 2 workers', small.get(2)!, 'SmallAlloc, 1 worker', small.get(1)!, +(1 / 1.8).toFixed(3));
  row('locked free list, 2 workers', locked.get(2)!, null, null, null);
  row('SmallAlloc, 2 workers (vs locked)', small.get(2)!, 'locked free list, 2 workers', locked.get(2)!, 1);
  row('shared-memory-objects, 2 workers', smo.get(2)!, null, null, null);
  results.set('Many workers: scaling', rows);
}
