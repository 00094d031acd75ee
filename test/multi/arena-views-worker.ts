// Worker for arena-views.test.ts. Roles:
// - 'reader': until the stop word is set, looks records up in the shared table and verifies
//   each one (its index and checksum), in batches, each batch under an arena read view or,
//   with `views` false, under none; reports its reads and the bad ones.
// - 'holder': opens an arena read view, says so, and waits (it is terminated with it open).
// - 'freer': allocates and stamps objects and a large allocation, sends their pointers, frees
//   them all when told, says so, and waits (it is terminated with its frees held).
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { RECORD_WORDS, recordProblem } from './arena-views-records.js';

/** What the test sends each worker. */
export interface ViewsParams {
  role: 'reader' | 'holder' | 'freer';
  handle: SlabArenaHandle;
  /** Int32 words: one record pointer per record index. */
  table: SharedArrayBuffer;
  /** Int32 word 0: set to 1 to stop the readers. */
  control: SharedArrayBuffer;
  views: boolean;
  seed: number;
}

/** A reader's report. */
export interface ReaderReport {
  reads: number;
  bad: number;
  firstProblem: string | null;
}

const P = workerData as ViewsParams;
const arena = SlabArena.attach(P.handle);
const port = parentPort!;

if (P.role === 'freer') {
  const alloc = new SmallAlloc(new SlabCache(arena));
  const ptrs: number[] = [alloc.alloc(alloc.objsizeMax + 1)];
  for (let i = 0; i < 200; i++) ptrs.push(alloc.alloc(96));
  for (const p of ptrs) arena.memory.u8.fill(0x5a, p, p + 96);
  port.once('message', () => {
    for (const p of ptrs) alloc.free(p);
    port.postMessage('freed');
  });
  port.postMessage(ptrs);
} else if (P.role === 'holder') {
  arena.openReadView();
  port.postMessage('open');
  // Wait to be terminated, with the view open.
  Atomics.wait(new Int32Array(P.control), 1, 0, 60_000);
} else {
  const table = new Int32Array(P.table);
  const control = new Int32Array(P.control);
  const rng = rngFromSeed(P.seed);
  const words = new Int32Array(RECORD_WORDS);
  let reads = 0;
  let bad = 0;
  let firstProblem: string | null = null;
  port.postMessage('ready');
  while (Atomics.load(control, 0) === 0) {
    const view = P.views ? arena.openReadView() : null;
    for (let k = 0; k < 16; k++) {
      const i = rng.int(0, table.length - 1);
      const p = Atomics.load(table, i);
      if (p === 0) continue;
      // A length-tracking view: the buffer may have grown since the last batch.
      const mem = new Int32Array(arena.memory.buffer, p, RECORD_WORDS);
      for (let j = 0; j < RECORD_WORDS; j++) words[j] = mem[j]!;
      reads++;
      const problem = recordProblem(words, i);
      if (problem !== null) {
        bad++;
        firstProblem ??= `record ${i} at ${p}: ${problem}`;
      }
    }
    view?.close();
  }
  const report: ReaderReport = { reads, bad, firstProblem };
  port.postMessage(report);
}
