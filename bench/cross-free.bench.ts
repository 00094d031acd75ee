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
 */
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena } from '../src/index.js';
import { print, results, type Row } from './support/harness.js';
import type { CrossParams, CrossReport } from './cross-free-worker.js';

/** Timed rounds for the large set (env CROSS_ROUNDS), after WARM untimed ones; a multiple of 4. */
const ROUNDS = Math.max(4, Number(process.env['CROSS_ROUNDS'] ?? 16) & ~3);
const WARM = 8;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs the two workers with `n` objects per round and prints the table. */
async function measure(n: number, rounds: number, note: string): Promise<void> {
  const arena = new SlabArena({ quota: new Quota(512 * 1024 * 1024) });
  const ptrs = new SharedArrayBuffer(4 * n);
  const sync = new SharedArrayBuffer(8);
  const workers = ([0, 1] as const).map((id) => {
    const data: CrossParams = { id, handle: arena.handle(), ptrs, sync, n, rounds, warmRounds: WARM, seed: 77 + id };
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
}

/** Both sizes of the experiment: in cache, and a working set well beyond it. */
export async function run(): Promise<void> {
  await measure(1000, 25 * ROUNDS, 'fits the caches');
  await measure(100_000, ROUNDS, '~14 MB, beyond the caches');
}
