/**
 * Worker for the fault tests: attaches to a shared BumpArena, SlabArena or Quota and
 * allocates in a tight loop until it is terminated, logging every completed operation in a
 * shared log so that the main thread can account for every byte afterwards.
 *
 * Log layout (Int32Array over a SharedArrayBuffer): [0] entries written (Atomics.add), then
 * entries of 3 words: worker id, value (pointer or bytes), size (or +1/-1 for map/unmap).
 * Maps are logged after they happen, unmaps before (so the log never shows a slab mapped
 * twice). An operation between its log entry and its effect when the worker is killed is the
 * only thing the main thread cannot see: at most one per worker, and the tests allow for it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  BumpArena, Quota, SlabArena, type BumpArenaHandle, type QuotaHandle, type SlabArenaHandle,
} from '../../src/index.js';

interface Data {
  kind: 'BumpArena' | 'SlabArena' | 'Quota';
  /** The handle of a structure of `kind`. */
  handle: BumpArenaHandle | SlabArenaHandle | QuotaHandle;
  log: SharedArrayBuffer;
  id: number;
}
const { kind, handle, log: logBuffer, id } = workerData as Data;
const log = new Int32Array(logBuffer);
const capacity = (log.length - 1) / 3;

function record(value: number, size: number): boolean {
  const i = Atomics.add(log, 0, 1);
  if (i >= capacity) return false;
  log[1 + 3 * i] = id;
  log[2 + 3 * i] = value;
  Atomics.store(log, 3 + 3 * i, size);
  return true;
}

let rnd = id * 7919 + 1;
const next = (n: number): number => {
  rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
  return (rnd >>> 8) % n;
};

parentPort!.postMessage('ready');
if (kind === 'BumpArena') {
  const arena = BumpArena.attach(handle as BumpArenaHandle);
  const u8 = arena.memory.u8;
  for (;;) {
    const size = 1 + next(64);
    const p = arena.tryAlloc(size, 8);
    if (p === 0) break;
    u8.fill(id, p, p + size);
    if (!record(p, size)) break;
  }
} else if (kind === 'SlabArena') {
  const arena = SlabArena.attach(handle as SlabArenaHandle);
  const mine: number[] = [];
  for (;;) {
    if (mine.length > 0 && next(3) === 0) {
      const p = mine.splice(next(mine.length), 1)[0]!;
      // Logged before the unmap: once unmapped another worker may map it and log that first.
      if (!record(p, -1)) break;
      arena.unmap(p);
    } else {
      const p = arena.tryMap();
      if (p === 0) {
        if (mine.length === 0) break;
        continue;
      }
      arena.memory.u8[p] = id;
      mine.push(p);
      if (!record(p, 1)) break;
    }
  }
} else {
  const quota = Quota.attach(handle as QuotaHandle);
  const mine: number[] = [];
  for (;;) {
    const got = quota.tryUse(1 + next(3000));
    if (got >= 0) {
      mine.push(got);
      if (!record(got, 1)) break;
    }
    if (got < 0 || next(2) === 0) {
      if (mine.length === 0) continue;
      const back = mine.splice(next(mine.length), 1)[0]!;
      quota.release(back);
      if (!record(back, -1)) break;
    }
  }
}
parentPort!.postMessage('done');
// Stay alive until terminated, as a worker killed mid-loop would be.
setInterval(() => {}, 1000);
