/**
 * The readers' race of the arena views tests, shared by `npm test` (bounded) and `npm run
 * soak` (10 million reads or more): a writer replaces records copy-on-write while reader
 * workers look them up and verify each one.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Quota, SlabArena, SlabCache, SmallAlloc } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import { RECORD_BYTES, writeRecord } from './arena-views-records.js';
import type { ReaderReport, ViewsParams } from './arena-views-worker.js';

export const MB = 1024 * 1024;
/** The worker script of every role. */
export const SCRIPT = new URL('./arena-views-worker.js', import.meta.url);
const RECORDS = 64;
/** Reader workers. */
export const READERS = 2;

/** A shared Int32Array of `n` words. */
export function shared(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/**
 * A writer (this thread) replaces records copy-on-write as fast as it can for about `ms`
 * milliseconds: a new version allocated and written whole, its pointer published, the old
 * version freed; READERS workers look records up meanwhile, under arena views or not. Returns
 * the readers' reports and the writer's allocator.
 */
export async function race(views: boolean, seed: number, ms: number): Promise<{ reports: ReaderReport[]; alloc: SmallAlloc; arena: SlabArena; updates: number }> {
  const arena = new SlabArena({ quota: new Quota(256 * MB) });
  const alloc = new SmallAlloc(new SlabCache(arena));
  const table = shared(RECORDS);
  const control = shared(2);
  const version = new Int32Array(RECORDS);
  const words = (): Int32Array => new Int32Array(arena.memory.buffer);
  for (let i = 0; i < RECORDS; i++) {
    const p = alloc.alloc(RECORD_BYTES);
    writeRecord(words(), p >>> 2, i, 0);
    Atomics.store(table, i, p);
  }
  const workers: Worker[] = [];
  const reports: Promise<ReaderReport>[] = [];
  try {
    for (let r = 0; r < READERS; r++) {
      const params: ViewsParams = {
        role: 'reader', handle: arena.handle(), table: table.buffer as SharedArrayBuffer,
        control: control.buffer as SharedArrayBuffer, views, seed: (seed + r) >>> 0,
      };
      const w = new Worker(SCRIPT, { workerData: params });
      workers.push(w);
      const ready = once(w, 'message');
      reports.push(ready.then(() => once(w, 'message')).then(([m]) => m as ReaderReport));
      await ready;
    }
    let updates = 0;
    const rng = seeded(`arena views writer (views ${views})`);
    const end = Date.now() + ms;
    let w32 = words();
    while (Date.now() < end) {
      for (let k = 0; k < 256; k++) {
        const i = rng.int(0, RECORDS - 1);
        const p = alloc.alloc(RECORD_BYTES);
        if (p + RECORD_BYTES > w32.length * 4) w32 = words();
        writeRecord(w32, p >>> 2, i, ++version[i]!);
        const old = Atomics.exchange(table, i, p);
        alloc.free(old);
        updates++;
      }
    }
    Atomics.store(control, 0, 1);
    return { reports: await Promise.all(reports), alloc, arena, updates };
  } finally {
    Atomics.store(control, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

