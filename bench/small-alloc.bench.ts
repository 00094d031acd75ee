/**
 * SmallAlloc (size classes over mempools) against the allocators a JS user has today:
 * AssemblyScript's TLSF compiled to wasm, `@thi.ng/malloc`'s MemPool, the thread-safe fork of
 * it in `@daneren2005/shared-memory-objects` (its `MemoryHeap`: one lock per 1 MiB buffer, see
 * support/shared-memory-objects.ts), and `new Uint8Array`.
 *
 * Workloads, identical for every allocator (one seeded generator makes every sequence):
 * - (a) pairs: `alloc(64)` then `free`, 1000 per iteration.
 * - (b) batch: 1000 allocations of random sizes 16..256, then their frees in a shuffled order;
 *   one iteration is the whole 1000 + 1000 (eight different rounds, cycled).
 * - (c) churn: 100,000 live objects of random sizes 8..1024; each step frees a random one and
 *   allocates a new one in its place. Set up once, warmed up, then timed in batches of steps.
 * Times are ns per alloc+free pair (per step in (c)). TLSF is the baseline of each table;
 * targets: (b) SmallAlloc at most 0.5x TLSF (0.4x was retired: see BENCHMARKS.md, "Against
 * native") and at most 0.02x `@thi.ng/malloc`; (c) at most 0.5x
 * TLSF (the same on Node 20 and Node 24). Table (a) also
 * shows two JS -> wasm calls that do nothing: the part of TLSF's time that is the crossing.
 *
 * Then the memory overhead: 1,000,000 live objects of uniform random size 16..1024, slab bytes
 * held / bytes requested (target <= 1.10), with TLSF's footprint beside it, and the same after
 * a million churn steps.
 *
 * Every allocator runs its own copy of each loop (`specialize`), so none pays for another's
 * type feedback. `free` is called without a size everywhere (TLSF and MemPool take none).
 */
import { Quota } from '../src/small/slabs/quota.js';
import { SlabArena } from '../src/small/slabs/slab-arena.js';
import { SlabCache } from '../src/small/slabs/slab-cache.js';
import { SmallAlloc } from '../src/small/objects/small-alloc.js';
import { seeded, type Rng } from '../dev/rng.js';
import { compare, results, type Case, type Row } from './support/harness.js';
import {
  GcPeer, SmoPeer, ThingPeer, TlsfPeer, WasmCallFloor, batchLoop, churnLoop, drainLoop, fillLoop, pairsLoop, specialize, verifyPeer,
  type ObjectAllocator,
} from './support/peers.js';

const PAIR_SIZE = 64;
const BATCH = 1000;
const ROUNDS = 8;
const LIVE = 100_000;
/** Steps in the precomputed churn sequence (a power of two; runs cycle through it). */
const STEPS = 1 << 20;
/** Churn steps before timing starts, so every allocator is past its fill-up phase. */
const WARM_STEPS = 100_000;
const CHURN_BATCH = 1000;
const OVERHEAD_LIVE = 1_000_000;

const TLSF = 'AssemblyScript TLSF';
const SMALL = 'SmallAlloc';
const THING = '@thi.ng/malloc';
const SMO = 'shared-memory-objects';
const GC = 'new Uint8Array';

interface Contender {
  name: string;
  make: () => ObjectAllocator | Promise<ObjectAllocator>;
  /**
   * `@thi.ng/malloc` and shared-memory-objects need O(blocks) per step under churn: fewer
   * steps keep the run short.
   */
  churnScale: number;
}

/** A SmallAlloc with the library's defaults over a fresh quota, arena and cache. */
function smallAlloc(limit: number): { alloc: SmallAlloc; arena: SlabArena } {
  const arena = new SlabArena({ quota: new Quota(limit) });
  return { alloc: new SmallAlloc(new SlabCache(arena)), arena };
}

function contenders(): Contender[] {
  return [
    { name: TLSF, make: () => TlsfPeer.create(), churnScale: 1 },
    { name: SMALL, make: () => smallAlloc(512 * 1024 * 1024).alloc, churnScale: 1 },
    { name: THING, make: () => new ThingPeer(256 * 1024 * 1024), churnScale: 0.02 },
    // One 1 MiB buffer to start with; the heap adds more (on this, the main thread) as needed.
    // Not more to start with: a heap made with several then grown overwrites one (see SmoPeer).
    { name: SMO, make: () => SmoPeer.create(1), churnScale: 0.02 },
    { name: GC, make: () => new GcPeer(), churnScale: 1 },
  ];
}

function randomSizes(rng: Rng, count: number, lo: number, hi: number): Int32Array {
  const sizes = new Int32Array(count);
  for (let i = 0; i < count; i++) sizes[i] = rng.int(lo, hi);
  return sizes;
}

/** A row comparing two measured rows of a table (the harness compares each row with one). */
function derived(rows: readonly Row[], name: string, vs: string, target: number): Row {
  const a = rows.find((r) => r.name === name)!;
  const b = rows.find((r) => r.name === vs)!;
  const ratio = a.ns / b.ns;
  return { name, ns: a.ns, vs, ratio, target, met: ratio <= target };
}

/** Runs the SmallAlloc groups and the memory-overhead measurement. */
export async function run(): Promise<void> {
  const rng = seeded('small-alloc bench');
  const batchSizes = randomSizes(rng, BATCH * ROUNDS, 16, 256);
  const batchOrder = new Int32Array(BATCH * ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    const perm = Array.from({ length: BATCH }, (_, i) => i);
    rng.shuffle(perm);
    batchOrder.set(perm, r * BATCH);
  }
  const liveSizes = randomSizes(rng, LIVE, 8, 1024);
  const victims = randomSizes(rng, STEPS, 0, LIVE - 1);
  const churnSizes = randomSizes(rng, STEPS, 8, 1024);

  // (a) and (b)
  const pairCases: Case[] = [];
  const batchCases: Case[] = [];
  const verify: Array<() => void> = [];
  for (const c of contenders()) {
    const forPairs = await c.make();
    const forBatch = await c.make();
    verify.push(() => verifyPeer(c.name, forPairs, PAIR_SIZE));
    const pairs = specialize(pairsLoop);
    const batch = specialize(batchLoop);
    const ptrs = new Uint32Array(BATCH);
    let round = 0;
    const vs = c.name === TLSF ? {} : { vs: `${TLSF} (a)` };
    pairCases.push({ name: `${c.name} (a)`, ops: BATCH, fn: () => pairs(forPairs, BATCH, PAIR_SIZE), ...vs });
    batchCases.push({
      name: `${c.name} (b)`,
      ops: BATCH,
      fn: () => batch(forBatch, batchSizes, batchOrder, ptrs, (round = (round + 1) & (ROUNDS - 1)) * BATCH, BATCH),
      ...(c.name === TLSF ? {} : { vs: `${TLSF} (b)` }),
      ...(c.name === SMALL ? { target: 0.5 } : {}),
    });
  }
  const floor = await WasmCallFloor.create();
  const floorPairs = specialize(pairsLoop);
  pairCases.push({ name: 'two JS -> wasm calls, no work (a)', ops: BATCH, fn: () => floorPairs(floor, BATCH, PAIR_SIZE), vs: `${TLSF} (a)` });
  await compare(`SmallAlloc (a): alloc(${PAIR_SIZE}) + free (ns per pair)`, pairCases);
  const batchTitle = `SmallAlloc (b): ${BATCH} allocs of 16..256 bytes, then shuffled frees (ns per pair)`;
  const batchRows = await compare(batchTitle, batchCases);
  const extra = derived(batchRows, `${SMALL} (b)`, `${THING} (b)`, 0.02);
  console.log(`  ${extra.name} vs ${extra.vs}: ${extra.ratio!.toFixed(4)}x   target <= ${extra.target}x: ${extra.met ? 'met' : 'MISSED'}`);
  results.set(`${batchTitle} (vs ${THING})`, [extra]);
  const smallB = batchRows.find((r) => r.name === `${SMALL} (b)`)!;
  const smoB = batchRows.find((r) => r.name === `${SMO} (b)`)!;
  console.log(`  ${smallB.name} vs ${smoB.name} (thread-safe): ${(smallB.ns / smoB.ns).toFixed(4)}x`);
  // After the timing, not before: see verifyPeer.
  for (const v of verify) v();

  // (c)
  const churnCases: Case[] = [];
  for (const c of contenders()) {
    const a = await c.make();
    const fill = specialize(fillLoop);
    const churn = specialize(churnLoop);
    const ptrs = new Uint32Array(LIVE);
    fill(a, liveSizes, ptrs);
    const warm = Math.max(1, Math.round(WARM_STEPS * c.churnScale));
    churn(a, ptrs, victims, churnSizes, 0, warm);
    const n = Math.max(1, Math.round(CHURN_BATCH * c.churnScale));
    let start = warm;
    churnCases.push({
      name: `${c.name} (c)`,
      ops: n,
      fn: () => {
        const sum = churn(a, ptrs, victims, churnSizes, start, n);
        start = (start + n) & (STEPS - 1);
        return sum;
      },
      ...(c.name === TLSF ? {} : { vs: `${TLSF} (c)` }),
      ...(c.name === SMALL ? { target: 0.5 } : {}),
    });
  }
  await compare(`SmallAlloc (c): ${LIVE.toLocaleString('en')} live objects of 8..1024 bytes, free one + alloc one (ns per step)`, churnCases);

  // Memory: the same live set and the same churn sequence for SmallAlloc and TLSF.
  const fillSizes = randomSizes(rng, OVERHEAD_LIVE, 16, 1024);
  const churnSlots = randomSizes(rng, OVERHEAD_LIVE, 0, OVERHEAD_LIVE - 1);
  const churnNewSizes = randomSizes(rng, OVERHEAD_LIVE, 16, 1024);
  console.log(`\nMemory held for ${OVERHEAD_LIVE.toLocaleString('en')} live objects of 16..1024 bytes (bytes held / bytes requested)`);
  const { alloc, arena } = smallAlloc(2 * 1024 * 1024 * 1024);
  overhead(SMALL, alloc, fillSizes, churnSlots, churnNewSizes, () => {
    const total = alloc.stats().total;
    const ratio = arena.used / total;
    return `SmallAlloc total ${mib(total)}, arena used ${mib(arena.used)} (${ratio === 1 ? 'the same' : `${ratio.toFixed(3)}x total`})`;
  }, () => arena.used, 1.1);
  alloc.check();
  alloc.destroy();
  const tlsf = await TlsfPeer.create();
  overhead(TLSF, tlsf, fillSizes, churnSlots, churnNewSizes, () => `wasm memory committed ${mib(tlsf.committed)} (grows by doubling)`, null, null);
}

/**
 * Fills `a` with `fillSizes`, then runs one churn step per entry of `slots` (free that slot,
 * allocate `newSizes[k]` there), printing bytes held / bytes requested after each phase.
 * `held` is the allocator's own figure; when null, the footprint is the highest byte in use
 * above the lowest pointer seen (what a heap that grows upward must keep).
 */
function overhead(
  name: string, a: ObjectAllocator, fillSizes: Int32Array, slots: Int32Array, newSizes: Int32Array,
  detail: () => string, held: (() => number) | null, target: number | null,
): void {
  const sizes = fillSizes.slice();
  const ptrs = new Uint32Array(sizes.length);
  specialize(fillLoop)(a, sizes, ptrs);
  let requested = 0;
  for (let i = 0; i < sizes.length; i++) requested += sizes[i]!;
  const report = (when: string): void => {
    let bytes: number;
    if (held !== null) {
      bytes = held();
    } else {
      let lo = Infinity;
      let hi = 0;
      for (let i = 0; i < ptrs.length; i++) {
        lo = Math.min(lo, ptrs[i]!);
        hi = Math.max(hi, ptrs[i]! + sizes[i]!);
      }
      bytes = hi - lo;
    }
    const ratio = bytes / requested;
    const verdict = target === null ? '' : `   target <= ${target.toFixed(2)}x: ${ratio <= target ? 'met' : 'MISSED'}`;
    console.log(`  ${name}, ${when}: requested ${mib(requested)}, held ${mib(bytes)} = ${ratio.toFixed(3)}x; ${detail()}${verdict}`);
    if (target !== null) {
      results.set(`${name} memory ${when}`, [{ name: `${name} memory ${when}`, ns: 0, vs: 'bytes requested', ratio, target, met: ratio <= target }]);
    }
  };
  report('filled');
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k]!;
    a.free(ptrs[slot]!);
    const p = a.alloc(newSizes[k]!);
    if (p === 0) throw new Error(`${name}: out of memory while churning`);
    ptrs[slot] = p;
    requested += newSizes[k]! - sizes[slot]!;
    sizes[slot] = newSizes[k]!;
  }
  report(`after ${slots.length.toLocaleString('en')} churn steps`);
  specialize(drainLoop)(a, ptrs);
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
