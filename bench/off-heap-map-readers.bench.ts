/**
 * Readers of one OffHeapMap in 1 and 2 workers: lookups per second, each batch of 1000 under
 * its own arena read view (`arena.openReadView()`), while the main thread waits.
 *
 * The map holds 1,000,000 u32 keys; each worker looks up the same number of present keys, in
 * an order of its own, in rounds that start together at a barrier; a round's time is the
 * slowest worker's; throughput = all workers' lookups / that time, the best of ROUNDS rounds.
 * Beside it, each worker looking the same keys up in a plain table of its own, as many slots as
 * the map's (no sharing, no views): how far the machine lets this memory-bound workload scale
 * (hyperthreads or a busy host scale less than 2x).
 *
 * Target: 2 readers at least 1.8x one reader's lookups per second.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { OffHeapMap, Quota, SlabArena, SlabCache, SmallAlloc } from '../src/index.js';
import { seeded } from '../dev/rng.js';
import type { ReaderParams } from './off-heap-map-readers-worker.js';

const N = 1_000_000;
const LOOKUPS = 1 << 18;
const BATCHES = 400;
const ROUNDS = 8;

/** Lookups per second of `workers` readers in `mode`: the best round. */
async function throughput(mode: ReaderParams['mode'], workers: number, base: Omit<ReaderParams, 'mode' | 'keys' | 'sync'>, orders: Uint32Array[]): Promise<number> {
  const sync = new Int32Array(new SharedArrayBuffer(12));
  const ws = orders.slice(0, workers).map((keys) => new Worker(new URL('./off-heap-map-readers-worker.js', import.meta.url), {
    workerData: { ...base, mode, keys, sync: sync.buffer } satisfies ReaderParams,
  }));
  const done = ws.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  let best = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    while (Atomics.load(sync, 0) < r * workers) await new Promise((resolve) => setTimeout(resolve, 1));
    const t0 = performance.now();
    Atomics.store(sync, 1, r);
    Atomics.notify(sync, 1);
    while (Atomics.load(sync, 2) < r * workers) Atomics.wait(sync, 2, Atomics.load(sync, 2), 1000);
    const ms = performance.now() - t0;
    best = Math.max(best, (workers * BATCHES * 1000) / (ms / 1000));
  }
  await Promise.all(done);
  return best;
}

/** Runs the readers' scaling group. */
export async function run(): Promise<void> {
  const rng = seeded('off-heap map readers bench');
  const arena = new SlabArena({ quota: new Quota(1024 * 1024 * 1024) });
  const map = new OffHeapMap<number>(new SmallAlloc(new SlabCache(arena)), { keys: 'u32' });
  const keys = new Set<number>();
  while (keys.size < N) keys.add(rng.int(0, 2 ** 32 - 1));
  const all = Uint32Array.from(keys);
  all.forEach((k, i) => map.set(k, i));
  const orders = [0, 1].map(() => Uint32Array.from({ length: LOOKUPS }, () => all[rng.int(0, N - 1)]!));
  const base = { arena: arena.handle(), map: map.handle(), all, batches: BATCHES, rounds: ROUNDS };
  console.log(`\nOffHeapMap, 1,000,000 u32 keys: readers in workers, each batch of 1000 gets under its own read view (${availableParallelism()} cores)`);
  console.log('  case                                     lookups/s   2 workers / 1');
  for (const mode of ['map', 'private'] as const) {
    const one = await throughput(mode, 1, base, orders);
    const two = await throughput(mode, 2, base, orders);
    const name = mode === 'map' ? 'OffHeapMap.get, views' : 'a table of its own (the machine)';
    const ratio = two / one;
    const verdict = mode === 'map' ? `   target >= 1.8x: ${ratio >= 1.8 ? 'met' : 'MISSED'}` : '';
    console.log(`  ${`${name}, 1 worker`.padEnd(40)} ${(one / 1e6).toFixed(2).padStart(8)} M`);
    console.log(`  ${`${name}, 2 workers`.padEnd(40)} ${(two / 1e6).toFixed(2).padStart(8)} M   ${ratio.toFixed(2)}x${verdict}`);
  }
}
