// Worker for small-alloc-workers.test.ts. Roles:
// - 'owner': allocates (and stamps) on request, reports its stats;
// - 'freer': verifies stamps and frees what it is sent, through its own SmallAlloc;
// - 'looper': allocates and frees forever, publishing some objects it never frees, until the
//   test terminates it mid-operation.
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidPointerError, SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../../src/index.js';
import { rngFromSeed } from '../../../dev/rng.js';
import { stamp, verifyStamp } from './mempool-support.js';

const { handle, role, seed } = workerData as { handle: SlabArenaHandle; role: string; seed: number };
const arena = SlabArena.attach(handle);
const alloc = new SmallAlloc(new SlabCache(arena));
const rng = rngFromSeed(seed);
const port = parentPort!;

/** [ptr, size, tag] */
type Item = [number, number, number];

function size(): number {
  return rng.chance(0.01) ? rng.int(alloc.objsizeMax + 1, 600_000) : rng.int(0, 2000);
}

if (role === 'looper') {
  const scratch: Item[] = [];
  let published: Item[] = [];
  let tag = 1;
  let ops = 0;
  for (;;) {
    if (scratch.length > 0 && rng.chance(0.45)) {
      const i = rng.int(0, scratch.length - 1);
      const [p, n, t] = scratch[i]!;
      verifyStamp(arena.memory.u8, p, n, t);
      alloc.free(p);
      scratch[i] = scratch[scratch.length - 1]!;
      scratch.pop();
    } else {
      const n = size();
      const p = alloc.tryAlloc(n);
      if (p !== 0) {
        stamp(arena.memory.u8, p, n, tag);
        (rng.chance(0.2) ? published : scratch).push([p, n, tag++]);
      }
    }
    if (++ops % 3000 === 0) {
      port.postMessage({ published });
      published = [];
    }
  }
} else {
  port.on('message', (msg: { cmd: string; n?: number; items?: Item[] }) => {
    try {
      if (msg.cmd === 'alloc') {
        const items: Item[] = [];
        for (let i = 0; i < msg.n!; i++) {
          const n = size();
          const p = alloc.alloc(n);
          stamp(arena.memory.u8, p, n, seed + i);
          items.push([p, n, seed + i]);
        }
        alloc.check();
        port.postMessage({ items, stats: alloc.stats() });
      } else if (msg.cmd === 'free') {
        let doubles = 0;
        for (const [p, n, t] of msg.items!) {
          verifyStamp(arena.memory.u8, p, n, t);
          alloc.free(p);
        }
        for (const [p] of msg.items!.slice(0, 20)) {
          try {
            alloc.free(p);
          } catch (e) {
            if (e instanceof InvalidPointerError) doubles++;
          }
        }
        alloc.check();
        port.postMessage({ doubles, stats: alloc.stats() });
      } else if (msg.cmd === 'stats') {
        alloc.check();
        port.postMessage({ stats: alloc.stats() });
      }
    } catch (e) {
      port.postMessage({ error: String((e as Error).stack ?? e) });
    }
  });
  port.postMessage({ ready: true });
}
