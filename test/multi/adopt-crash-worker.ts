// Worker for adopt-crash.test.ts. Every role attaches the shared arena and makes its own
// SlabCache and SmallAlloc; every error is posted back as { error }.
//
// 'fill'      (D): allocates stamped objects of mixed sizes, a few large ones among them, until
//                  the arena holds `target` bytes of slabs; maps a few slabs and a run straight
//                  from the arena (as an LSRegion does); posts the objects ({ items, small,
//                  large }) and exits, leaving everything live.
// 'adopter'   (A): posts { ready }; on { cmd: 'adopt', id } raises flag[0] to 1, adopts, sets it
//                  to 2 and posts { adopted }; then waits to be terminated.
// 'survivor'  (S): posts { ready }; then answers commands:
//                  { cmd: 'adopt', ids, barrier? }  adopts each id in turn (after the barrier,
//                                                  if one is given) -> { adopted: [...] }
//                  { cmd: 'free', items, from, to } verifies and frees items [from, to), then
//                                                  frees the first few again, each of which
//                                                  must be refused -> { freed }
//                  { cmd: 'finish' }               check(), stats(), destroy everything
//                                                  -> { count, used }
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidPointerError, SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { barrier, stampAt, stampError, tagOf } from './support.js';

export interface AdoptCrashParams {
  role: 'fill' | 'adopter' | 'survivor';
  handle: SlabArenaHandle;
  seed: number;
  /** fill: bytes of slabs to fill the arena with. */
  target?: number;
  /** adopter: [0] 0 before adopt, 1 inside it, 2 after it. */
  flag?: SharedArrayBuffer;
}

/** Int32 words per item: ptr, size, tag. */
export const ITEM = 3;

/** What 'fill' posts. */
export interface FillReport {
  /** ITEM words per live allocation. */
  items: SharedArrayBuffer;
  /** Live allocations of the size classes, and of the large path. */
  small: number;
  large: number;
}

/** What SmallAlloc.adopt returned. */
export interface Adoption {
  slabs: number;
  objects: number;
  large: number;
}

const P = workerData as AdoptCrashParams;
const arena = SlabArena.attach(P.handle);
const cache = new SlabCache(arena);
const alloc = new SmallAlloc(cache);
const port = parentPort!;

function fill(): void {
  const rng = rngFromSeed(P.seed);
  const out: number[] = [];
  let large = 0;
  const bigOnes = rng.int(2, 4);
  const target = P.target!;
  let seq = 0;
  while (arena.used < target) {
    const big = large < bigOnes && rng.chance(0.001);
    const size = big ? rng.int(alloc.objsizeMax + 1, 3 * arena.slabSize)
      : rng.chance(0.05) ? rng.int(600, alloc.objsizeMax) : rng.int(0, 600);
    const ptr = alloc.tryAlloc(size);
    if (ptr === 0) break;
    if (big) large++;
    const tag = tagOf(3, seq++);
    stampAt(arena.memory.dv, arena.memory.u8, ptr, size, tag);
    out.push(ptr, size, tag | 0);
  }
  while (large < bigOnes) {
    const size = rng.int(alloc.objsizeMax + 1, 3 * arena.slabSize);
    const ptr = alloc.alloc(size);
    large++;
    const tag = tagOf(3, seq++);
    stampAt(arena.memory.dv, arena.memory.u8, ptr, size, tag);
    out.push(ptr, size, tag | 0);
  }
  // Direct maps: adopting D must unmap them, even when its first adopter is killed.
  for (let i = rng.int(1, 4); i > 0; i--) arena.map();
  arena.mapRun(2);
  const items = new Int32Array(new SharedArrayBuffer(4 * out.length));
  items.set(out);
  const rep: FillReport = { items: items.buffer as SharedArrayBuffer, small: out.length / ITEM - large, large };
  port.postMessage(rep);
  // Returns: the worker exits with every allocation live.
}

function adopter(): void {
  const flag = new Int32Array(P.flag!);
  port.on('message', (m: { cmd: string; id: number }) => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const t0 = performance.now();
    const adopted: Adoption = alloc.adopt(m.id);
    const ms = performance.now() - t0;
    Atomics.store(flag, 0, 2);
    Atomics.notify(flag, 0);
    port.postMessage({ adopted, ms });
  });
  port.postMessage({ ready: true });
}

interface SurvivorCmd {
  cmd: 'adopt' | 'free' | 'finish';
  ids?: number[];
  barrier?: SharedArrayBuffer;
  items?: SharedArrayBuffer;
  from?: number;
  to?: number;
}

function survivor(): void {
  port.on('message', (m: SurvivorCmd) => {
    try {
      if (m.cmd === 'adopt') {
        if (m.barrier !== undefined && !barrier(new Int32Array(m.barrier), 0, 2, 5000)) throw new Error('the other survivor never came');
        const adopted: Adoption[] = m.ids!.map((id) => alloc.adopt(id));
        port.postMessage({ adopted });
      } else if (m.cmd === 'free') {
        const items = new Int32Array(m.items!);
        let freed = 0;
        for (let i = m.from!; i < m.to!; i++) {
          const ptr = items[i * ITEM]! >>> 0;
          const size = items[i * ITEM + 1]!;
          const tag = items[i * ITEM + 2]! >>> 0;
          const bad = stampError(arena.memory.dv, arena.memory.u8, ptr, size, tag);
          if (bad !== null) throw new Error(`before its free: ${bad}`);
          alloc.free(ptr);
          freed++;
        }
        for (let i = m.from!; i < Math.min(m.to!, m.from! + 8); i++) {
          const ptr = items[i * ITEM]! >>> 0;
          try {
            alloc.free(ptr);
          } catch (e) {
            if (e instanceof InvalidPointerError) continue;
            throw e;
          }
          throw new Error(`a second free of ${ptr} was accepted`);
        }
        port.postMessage({ freed });
      } else {
        alloc.check();
        const st = alloc.stats();
        alloc.destroy();
        cache.check();
        cache.destroy();
        port.postMessage({ count: st.count, used: st.used });
        port.close();
      }
    } catch (e) {
      port.postMessage({ error: (e as Error).stack ?? String(e) });
    }
  });
  port.postMessage({ ready: true });
}

try {
  if (P.role === 'fill') fill();
  else if (P.role === 'adopter') adopter();
  else survivor();
} catch (e) {
  port.postMessage({ error: (e as Error).stack ?? String(e) });
}
