/**
 * Mempool (fixed-size objects) against the floor of a fixed-size pool and against the peers.
 *
 * - pairs: `alloc()` then `free(ptr)`, 1000 per iteration: the fast path alone. The floor is a
 *   bare intrusive free list over an `Int32Array` (no checks, no slabs, no bitmap). Its old
 *   target (at most 2.5x that floor) is retired: the pair is faster than native Tarantool's
 *   (0.72-0.76x; native empties its only slab every pair; BENCHMARKS.md, "Against native"). A checked free list (the same plus a bit per object, so that double and
 *   foreign frees are refused) shows what the contract's checks cost alone; a checked byte
 *   free list (a byte of state per object) what the cheapest such check costs.
 * - batch: 1000 allocations, then their frees in a shuffled order, so the free list is walked
 *   out of address order as a real program does. Target: Mempool at most 1.3x the bare list.
 *
 * Every allocator runs its own copy of each loop (`specialize`), so none pays for another's
 * type feedback. All get the same size (64 bytes) and the same free order.
 */
import { Mempool } from '../src/small/objects/mempool.js';
import { Quota } from '../src/small/slabs/quota.js';
import { SlabArena } from '../src/small/slabs/slab-arena.js';
import { SlabCache } from '../src/small/slabs/slab-cache.js';
import { seeded } from '../dev/rng.js';
import { compare, type Case } from './support/harness.js';
import {
  BareFreeList, CheckedByteFreeList, CheckedFreeList, GcPeer, ThingPeer, TlsfPeer, batchLoop, pairsLoop, specialize, verifyChecksFrees, verifyPeer,
  type ObjectAllocator,
} from './support/peers.js';

const OBJSIZE = 64;
const BATCH = 1000;
/** Distinct shuffled free orders the batch cycles through, so no one order is learned. */
const ROUNDS = 8;

interface Contender {
  name: string;
  make: () => ObjectAllocator | Promise<ObjectAllocator>;
  /** Refuses double and interior frees (checked after the timing). */
  checksFrees?: boolean;
}

function contenders(): Contender[] {
  return [
    { name: 'bare free list', make: () => new BareFreeList(OBJSIZE, 4 * BATCH) },
    { name: 'checked free list', make: () => new CheckedFreeList(OBJSIZE, 4 * BATCH), checksFrees: true },
    { name: 'checked byte free list', make: () => new CheckedByteFreeList(OBJSIZE, 4 * BATCH), checksFrees: true },
    {
      name: 'Mempool',
      make: () => {
        const arena = new SlabArena({ quota: new Quota(64 * 1024 * 1024) });
        return new Mempool(new SlabCache(arena), OBJSIZE);
      },
      checksFrees: true,
    },
    { name: 'AssemblyScript TLSF', make: () => TlsfPeer.create() },
    { name: '@thi.ng/malloc', make: () => new ThingPeer(16 * 1024 * 1024) },
    { name: 'new Uint8Array', make: () => new GcPeer() },
  ];
}

/** Runs the Mempool groups. */
export async function run(): Promise<void> {
  const rng = seeded('mempool bench');
  const sizes = new Int32Array(BATCH * ROUNDS).fill(OBJSIZE);
  const order = new Int32Array(BATCH * ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    const perm = Array.from({ length: BATCH }, (_, i) => i);
    rng.shuffle(perm);
    order.set(perm, r * BATCH);
  }

  const pairCases: Case[] = [];
  const batchCases: Case[] = [];
  const verify: Array<() => void> = [];
  for (const c of contenders()) {
    const forPairs = await c.make();
    const forBatch = await c.make();
    verify.push(() => verifyPeer(c.name, forPairs, OBJSIZE));
    if (c.checksFrees === true) verify.push(() => verifyChecksFrees(c.name, forPairs, OBJSIZE));
    const pairs = specialize(pairsLoop);
    const batch = specialize(batchLoop);
    const ptrs = new Uint32Array(BATCH);
    let round = 0;
    const vs = c.name === 'bare free list' ? undefined : 'bare free list';
    pairCases.push({
      name: `${c.name} alloc+free`,
      ops: BATCH,
      fn: () => pairs(forPairs, BATCH, OBJSIZE),
      ...(vs === undefined ? {} : { vs: `${vs} alloc+free` }),
    });
    batchCases.push({
      name: `${c.name} 1000 allocs, shuffled frees`,
      ops: BATCH,
      fn: () => batch(forBatch, sizes, order, ptrs, (round = (round + 1) & (ROUNDS - 1)) * BATCH, BATCH),
      ...(vs === undefined ? {} : { vs: `${vs} 1000 allocs, shuffled frees` }),
      ...(c.name === 'Mempool' ? { target: 1.3 } : {}),
    });
  }
  await compare(`Mempool: alloc()+free() of ${OBJSIZE} bytes (ns per pair)`, pairCases);
  await compare(`Mempool: ${BATCH} allocs of ${OBJSIZE} bytes, then frees in shuffled order (ns per pair)`, batchCases);
  // After the timing, not before: see verifyPeer.
  for (const v of verify) v();
}
