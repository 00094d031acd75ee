/**
 * The cost of freeing memory another worker allocated, against freeing one's own.
 *
 * Two workers over one shared SlabArena, each with its own SmallAlloc, take turns (see
 * cross-free-worker.ts): the round's owner allocates N objects of random sizes
 * 16..256; the other worker frees them all through its own SmallAlloc (a cross-worker free:
 * an `Atomics.or` into the slab's remote-free bitmap and a flag, nothing else); the owner then
 * takes them in, either all at once with `stats()` or on its allocation path while it
 * allocates N again; finally the owner frees N objects of its own (a same-worker free) and
 * allocates N once more. Every free goes in the same shuffled order. Each figure is the
 * median, over the timed rounds and both workers, of nanoseconds per object. Two sizes:
 * N = 1,000 (everything stays in the CPU caches) and N = 100,000 (about 14 MB: every free
 * is a cache miss, which costs the same whoever frees).
 *
 * Target: a cross-worker free costs at most 3x a same-worker free.
 *
 * The same turns with the thread-safe peer, `@daneren2005/shared-memory-objects` (its
 * `MemoryHeap`, the fork of `@thi.ng/malloc` with a lock per 1 MiB buffer): both workers
 * attach to one heap; a free from either worker is the same call, and there is nothing to take
 * in. Its table follows SmallAlloc's, each row beside SmallAlloc's figure for the same step. It
 * costs microseconds per object, so it runs fewer rounds (`SMO_ROUNDS_SMALL`, `SMO_ROUNDS`).
 */
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena } from '../src/index.js';
import { print, results, type Row } from './support/harness.js';
import { loadSharedMemoryObjects } from './support/shared-memory-objects.js';
import { SmoPeer } from './support/peers.js';
import type { CrossParams, CrossReport } from './cross-free-worker.js';

/** Timed rounds for the large set (env CROSS_ROUNDS), after WARM untimed ones; a multiple of 4. */
const ROUNDS = Math.max(4, Number(process.env['CROSS_ROUNDS'] ?? 16) & ~3);
const WARM = 8;
/**
 * shared-memory-objects: timed rounds for N = 1,000, and for the large set (env
 * CROSS_SMO_ROUNDS), where a round takes it about 30 s (a free searches a list of ~7,000 used
 * blocks: ~0.09 ms), after one warm-up round.
 */
const SMO_ROUNDS_SMALL = 100;
const SMO_ROUNDS = Math.max(2, Number(process.env['CROSS_SMO_ROUNDS'] ?? 2) | 0);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs the two workers in `mode` with `n` objects per round; returns their reports. */
async function runWorkers(mode: CrossParams['mode'], n: number, rounds: number, warmRounds: number): Promise<CrossReport[]> {
  const arena = mode === 'small' ? new SlabArena({ quota: new Quota(512 * 1024 * 1024) }) : null;
  // 1 MiB buffers: 4, plus four times N of the largest blocks (264 bytes): the heap must
  // never need a buffer it cannot share (see cross-free-worker.ts).
  const smo = mode === 'smo' ? new SmoPeer(await loadSharedMemoryObjects(), { buffers: 4 + Math.ceil((4 * 264 * n) / (1 << 20)) }) : null;
  const ptrs = new SharedArrayBuffer(4 * n);
  const sync = new SharedArrayBuffer(8);
  const workers = ([0, 1] as const).map((id) => {
    const data: CrossParams = {
      id, mode, handle: arena?.handle() ?? null, smo: smo?.heap.getSharedMemory() ?? null, ptrs, sync, n, rounds, warmRounds, seed: 77 + id,
    };
    return new Worker(new URL('./cross-free-worker.js', import.meta.url), { workerData: data });
  });
  let reports: CrossReport[];
  try {
    reports = await Promise.all(workers.map((w) => new Promise<CrossReport>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`cross-free worker exited with ${code}`)));
    })));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return reports;
}

/** Runs the two workers with `n` objects per round and prints the table; returns its rows. */
async function measure(n: number, rounds: number, note: string): Promise<Row[]> {
  const reports = await runWorkers('small', n, rounds, WARM);
  const all = (k: keyof CrossReport): number => median(reports.flatMap((r) => r[k]));
  const local = all('localFree');
  const allocLocal = all('allocAfterLocal');
  const rows: Row[] = [];
  const row = (name: string, ns: number, vs: string | null, base: number | null, target: number | null): void => {
    const ratio = base === null ? null : ns / base;
    rows.push({ name, ns, vs, ratio, target, met: target === null || ratio === null ? null : ratio <= target });
  };
  const LOCAL = 'same-worker free';
  const ALLOC = 'alloc after same-worker frees';
  row(LOCAL, local, null, null, null);
  row('cross-worker free', all('remoteFree'), LOCAL, local, 3);
  row('owner takes them in: stats()', all('takeInStats'), LOCAL, local, null);
  row('  stats() with nothing to take in', all('idleStats'), LOCAL, local, null);
  row(ALLOC, allocLocal, null, null, null);
  row('alloc after stats() took them in', all('allocAfterTakeIn'), ALLOC, allocLocal, null);
  row('alloc taking them in on the way', all('allocTakingIn'), ALLOC, allocLocal, null);
  const title = `Many workers: cross-worker free, N = ${n.toLocaleString('en')} objects of 16..256 bytes per round ` +
    `(${note}); ns per object, median of ${rounds} rounds x 2 workers`;
  print(title, rows);
  results.set(title, rows);
  return rows;
}

/**
 * The same turns on one shared-memory-objects heap; prints its table, each row compared with
 * SmallAlloc's row for the same step (`small`).
 */
async function measureSmo(n: number, rounds: number, warmRounds: number, note: string, small: readonly Row[]): Promise<void> {
  const reports = await runWorkers('smo', n, rounds, warmRounds);
  const all = (k: keyof CrossReport): number => median(reports.flatMap((r) => r[k]));
  const smallNs = (name: string): number => small.find((r) => r.name === name)!.ns;
  const rows: Row[] = [];
  const row = (name: string, ns: number, vs: string): void => {
    const base = smallNs(vs);
    rows.push({ name, ns, vs: `SmallAlloc ${vs}`, ratio: ns / base, target: null, met: null });
  };
  row('same-worker free', all('localFree'), 'same-worker free');
  row('cross-worker free', all('remoteFree'), 'cross-worker free');
  row('alloc after same-worker frees', all('allocAfterLocal'), 'alloc after same-worker frees');
  row('alloc after cross-worker frees', all('allocAfterRemote'), 'alloc taking them in on the way');
  const title = `Many workers: cross-worker free, @daneren2005/shared-memory-objects MemoryHeap, N = ${n.toLocaleString('en')} ` +
    `(${note}); ns per object, median of ${rounds} rounds x 2 workers`;
  print(title, rows);
  results.set(title, rows);
}

/** Both sizes of the experiment: in cache, and a working set well beyond it. */
export async function run(): Promise<void> {
  const inCache = await measure(1000, 25 * ROUNDS, 'fits the caches');
  const beyond = await measure(100_000, ROUNDS, '~14 MB, beyond the caches');
  await measureSmo(1000, SMO_ROUNDS_SMALL, 8, 'fits the caches', inCache);
  await measureSmo(100_000, SMO_ROUNDS, 1, '~14 MB, beyond the caches', beyond);
}
