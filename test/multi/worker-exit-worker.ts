// Worker for worker-exit.test.ts, two roles over one shared table of allocations.
//
// 'victim': allocates and frees at random through its own SmallAlloc, forever, publishing each
// allocation in the table; the test terminates it at a random moment.
// 'freer': until told to stop, takes published allocations out of the table and frees them
// through its own SmallAlloc: frees into the victim's slabs, before and after its death.
//
// Table slot (4 Int32 words): state, ptr, size, tag. The state moves by Atomics:
//   EMPTY -> ALLOCATING (victim; ptr is 0 until alloc returns, then set before the claim and
//   the stamp) -> LIVE (stamped, claimed)
//   LIVE -> VICTIM_FREEING -> EMPTY   or   LIVE -> FREER_FREEING -> EMPTY
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { Claims, EMPTY, ALLOCATING, LIVE, VICTIM_FREEING, FREER_FREEING, SLOT, stampAt, stampError, tagOf } from './support.js';


export interface ExitParams {
  role: 'victim' | 'freer';
  handle: SlabArenaHandle;
  table: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  /**
   * [0] victim's operations so far, [1] stop the freer, [2] freer's frees so far,
   * [3] 0 while the freer frees odd slots only; then the freer's total of frees at which it
   * stops freeing (set once the victim's slabs have been adopted).
   */
  sync: SharedArrayBuffer;
  seed: number;
  /** Chance that a victim allocation takes the large path. */
  largeChance: number;
}

export interface FreerReport {
  frees: number;
  ownAllocs: number;
  countAtEnd: number;
  error: string | null;
}

const P = workerData as ExitParams;
const arena = SlabArena.attach(P.handle);
const cache = new SlabCache(arena);
const alloc = new SmallAlloc(cache);
const table = new Int32Array(P.table);
const slots = table.length / SLOT;
const claims = new Claims(0, P.claims);
const sync = new Int32Array(P.sync);
const rng = rngFromSeed(P.seed);
const memory = arena.memory;
let u8 = memory.u8;
let dv = memory.dv;

function views(end: number): void {
  if (end > u8.length) {
    u8 = memory.u8;
    dv = memory.dv;
  }
}

/** Verifies, unclaims and frees the allocation in slot `i`, which this worker has taken. */
function freeSlot(i: number): void {
  const ptr = table[i * SLOT + 1]! >>> 0;
  const size = table[i * SLOT + 2]!;
  const tag = table[i * SLOT + 3]! >>> 0;
  views(ptr + size);
  const bad = stampError(dv, u8, ptr, size, tag);
  if (bad !== null) throw new Error(`${P.role}: before free: ${bad}`);
  if (!claims.release(ptr)) throw new Error(`${P.role}: ${ptr} was not claimed`);
  alloc.free(ptr);
  Atomics.store(table, i * SLOT, EMPTY);
}

function victim(): never {
  let seq = 0;
  let cursor = 0;
  for (let ops = 1; ; ops++) {
    if (rng.chance(0.6)) {
      // Find an empty slot near the cursor; a full table turns this step into a free.
      let i = -1;
      for (let k = 0; k < 64; k++) {
        const j = (cursor + k) % slots;
        if (Atomics.load(table, j * SLOT) === EMPTY) {
          i = j;
          break;
        }
      }
      cursor = (cursor + 1) % slots;
      if (i >= 0) {
        const size = rng.chance(P.largeChance) ? rng.int(alloc.objsizeMax + 1, 2 * arena.slabSize) : rng.int(0, 600);
        table[i * SLOT + 1] = 0;
        Atomics.store(table, i * SLOT, ALLOCATING);
        const ptr = alloc.tryAlloc(size);
        table[i * SLOT + 1] = ptr | 0;
        if (ptr === 0) {
          Atomics.store(table, i * SLOT, EMPTY);
        } else {
          if (!claims.claim(ptr)) throw new Error(`victim: ${ptr} handed out while live`);
          const tag = tagOf(1, seq++);
          views(ptr + size);
          stampAt(dv, u8, ptr, size, tag);
          table[i * SLOT + 2] = size;
          table[i * SLOT + 3] = tag | 0;
          Atomics.store(table, i * SLOT, LIVE);
        }
      }
    } else {
      const i = rng.int(0, slots - 1);
      if (Atomics.compareExchange(table, i * SLOT, LIVE, VICTIM_FREEING) === LIVE) freeSlot(i);
    }
    if ((ops & 63) === 0) Atomics.store(sync, 0, ops);
  }
}

function freer(): void {
  const rep: FreerReport = { frees: 0, ownAllocs: 0, countAtEnd: -1, error: null };
  try {
    const mine: number[] = [];
    while (Atomics.load(sync, 1) === 0) {
      // Until the victim's slabs are adopted, odd slots only: the even ones stay for later;
      // then any slot, up to the number of frees the test asked for.
      const limit = Atomics.load(sync, 3);
      if (limit !== 0 && rep.frees >= limit) {
        Atomics.wait(sync, 1, 0, 1);
        continue;
      }
      const i = limit === 0 ? rng.int(0, (slots >> 1) - 1) * 2 + 1 : rng.int(0, slots - 1);
      if (Atomics.compareExchange(table, i * SLOT, LIVE, FREER_FREEING) === LIVE) {
        freeSlot(i);
        Atomics.store(sync, 2, ++rep.frees);
      } else if (rng.chance(0.1)) {
        // Some allocations of its own, so this worker's allocator is not just a free path.
        if (mine.length < 100) {
          mine.push(alloc.alloc(rng.int(1, 300)));
          rep.ownAllocs++;
        } else alloc.free(mine.pop()!);
      }
    }
    for (const p of mine) alloc.free(p);
    alloc.check();
    rep.countAtEnd = alloc.stats().count;
    alloc.destroy();
    cache.destroy();
  } catch (e) {
    rep.error = (e as Error).stack ?? String(e);
  }
  parentPort!.postMessage(rep);
}

if (P.role === 'victim') victim();
else freer();
