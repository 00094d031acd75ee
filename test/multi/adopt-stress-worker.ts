// Worker for adopt-stress.test.ts. Every role attaches the shared arena (its handle arrives in
// workerData), makes its own SlabCache and SmallAlloc, and fills and empties the shared
// StampedTable (stamped-table.ts) through them.
//
// 'mixer'    until sync[STOP] is set: random steps; posts { stopped }. Then, on a message,
//            takes in the frees made into its slabs and reports how many objects are live.
// 'victim'   random steps forever: the test terminates it at a random moment and adopts it.
// 'attacher' attaches while the others run, takes `steps` steps, checks its allocator and
//            exits holding what it still has live (adopted on its exit too).
// Every role runs its allocator's check() every 1024 steps, and posts the first error it meets.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { Claims } from './support.js';
import { StampedTable, STOP } from './stamped-table.js';

export interface StressParams {
  role: 'mixer' | 'victim' | 'attacher';
  /** 0..127, for the tags. */
  id: number;
  handle: SlabArenaHandle;
  table: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  seed: number;
  /** attacher: steps before it exits. */
  steps: number;
}

export interface StressReport {
  steps: number;
  /** Objects of this worker's allocator still live at the end. */
  live: number;
  error: string | null;
}

const P = workerData as StressParams;
const arena = SlabArena.attach(P.handle);
const alloc = new SmallAlloc(new SlabCache(arena));
const table = new StampedTable(new Int32Array(P.table), new Claims(0, P.claims), arena.memory, alloc, rngFromSeed(P.seed), P.id);
const sync = new Int32Array(P.sync);
const port = parentPort!;
let steps = 0;

function report(error: string | null): void {
  port.postMessage({ steps, live: error === null ? alloc.stats().count : -1, error } satisfies StressReport);
}

try {
  if (P.role === 'attacher') {
    for (; steps < P.steps; steps++) table.step();
    alloc.check();
    report(null);
    // Exit (holding what is left) once the test has the report: a message and an exit that
    // arrive together may be seen in either order.
    port.once('message', () => port.close());
  } else {
    port.postMessage({ ready: true });
    while (P.role === 'victim' || Atomics.load(sync, STOP) === 0) {
      table.step();
      if ((++steps & 1023) === 0) alloc.check();
    }
    port.postMessage({ stopped: true });
    port.once('message', () => {
      alloc.check();
      report(null);
    });
  }
} catch (e) {
  report(`${P.role} ${P.id}: ${String((e as Error).stack ?? e)}`);
}
