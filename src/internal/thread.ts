/**
 * This thread's id, without importing a Node built-in at the top level (the allocators load in
 * a browser too): Node's `worker_threads.threadId` where Node is there (0 on the main thread),
 * else 0.
 */
interface NodeProcess {
  getBuiltinModule?(id: string): { threadId?: number } | undefined;
}

const nodeProcess = (globalThis as { process?: NodeProcess }).process;

/** The id `worker_threads` gives this thread (0 outside Node, and on Node's main thread). */
export const currentThreadId: number = nodeProcess?.getBuiltinModule?.('node:worker_threads')?.threadId ?? 0;
