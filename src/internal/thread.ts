/**
 * Threads: this thread's id, and the ids of workers this thread has seen running, so that
 * adoption (taking over the memory of a worker that has exited) refuses a worker that is
 * still alive wherever the library can know it.
 *
 * Memory source: a Set on this thread's JS heap, one entry per worker watched and not yet exited.
 *
 * Thread-safety: all of it is this thread's own; nothing is shared.
 *
 * Failure: `adoptableThread` throws `TypeError`/`RangeError` naming the argument; `adoptWhenExited`
 * throws `TypeError` for something that is not a worker and `RangeError` for one that has
 * already exited (its id is gone). Neither changes anything when it throws.
 *
 * What the library can know (API.md, Adoption): the calling thread's own id; the ids of
 * workers passed to `adoptOnExit` until they emit `'exit'`; a `Worker` object, whose
 * `threadId` is -1 once it has exited. Of any other id it cannot tell whether its worker
 * still runs: adopting one is the caller's promise that it has exited.
 */
import { checkInt, describe } from './checks.js';

/**
 * Structural type of Node's `Worker` (and the like): what adoption needs of it.
 * @category The small family
 */
export interface ExitingWorker {
  /** The worker's thread id while it runs; -1 once it has exited. */
  readonly threadId: number;
  /** Node's EventEmitter `once`: `'exit'` is emitted once the worker's thread has stopped. */
  once(event: 'exit', listener: (exitCode: number) => void): unknown;
}

interface NodeProcess {
  getBuiltinModule?(id: string): { threadId?: number } | undefined;
}

const nodeProcess = (globalThis as { process?: NodeProcess }).process;

/**
 * This thread's id, without importing a Node built-in at the top level (the allocators load in
 * a browser too): Node's `worker_threads.threadId` where Node is there (0 on the main thread),
 * else 0.
 */
export const currentThreadId: number = nodeProcess?.getBuiltinModule?.('node:worker_threads')?.threadId ?? 0;

/** Ids of workers seen running (adoptWhenExited) that have not emitted 'exit' yet. */
const running = new Set<number>();

function isWorkerLike(x: unknown): x is ExitingWorker {
  return typeof x === 'object' && x !== null && typeof (x as ExitingWorker).threadId === 'number' &&
    typeof (x as ExitingWorker).once === 'function';
}

/**
 * `threadId` when it may be adopted: an integer id that is neither this thread's own nor that
 * of a worker seen running. A worker object is refused too, with the way that works (its id
 * is -1 after exit, and while it runs it must not be adopted).
 * @throws TypeError if `threadId` is not a number; RangeError for a bad or a live id.
 */
export function adoptableThread(where: string, threadId: unknown): number {
  if (isWorkerLike(threadId)) {
    const state = threadId.threadId === -1 ? 'has exited and no longer tells its id' : `is running (thread ${threadId.threadId})`;
    throw new RangeError(`${where}: threadId must be the id of a worker that has exited, got a Worker that ${state}; use adoptOnExit(worker) while it runs`);
  }
  const id = checkInt(where, 'threadId', threadId, 0, 2 ** 31 - 1);
  if (id === currentThreadId) {
    throw new RangeError(`${where}: threadId must be the id of a worker that has exited, got ${id}, the calling thread's own`);
  }
  if (running.has(id)) {
    throw new RangeError(`${where}: threadId must be the id of a worker that has exited, got ${id}, a worker still running (watched by adoptOnExit)`);
  }
  return id;
}

/**
 * Watches `worker` (running now): its id counts as alive until it emits `'exit'`, when
 * `adopt(id)` runs; the promise settles with what it returns or throws.
 * @throws TypeError if `worker` is not a worker; RangeError if it has exited already, or is this thread.
 */
export function adoptWhenExited<R>(where: string, worker: unknown, adopt: (threadId: number) => R): Promise<R> {
  if (!isWorkerLike(worker)) {
    throw new TypeError(`${where}: worker must be a Worker (with threadId and once('exit')), got ${describe(worker)}`);
  }
  const id = worker.threadId;
  if (id === -1) {
    throw new RangeError(`${where}: worker must be running, got a Worker that has exited (its id is gone): call adoptOnExit right after new Worker()`);
  }
  if (id === currentThreadId) {
    throw new RangeError(`${where}: worker must be another thread, got this thread's own (${id})`);
  }
  // Watched twice (two allocators adopt it) is fine: its first 'exit' listener forgets it.
  running.add(id);
  return new Promise<R>((resolve, reject) => {
    worker.once('exit', () => {
      running.delete(id);
      try {
        resolve(adopt(id));
      } catch (e) {
        reject(e);
      }
    });
  });
}
