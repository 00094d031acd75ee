/**
 * OffHeapMap against a JS `Map` (the targets are ratios to it) and against a floor: a bare
 * open-addressing table over a shared `Uint32Array`, with no lock, no atomics and no torn-read
 * protection (what any shared index costs at the least).
 *
 * - 1,000,000 u32 keys (random, distinct): get of a key present, get of a key absent, set of a
 *   key present (a new value), and a set of a new key followed by its delete (the pair, since a
 *   map of fixed size must lose what it gains); 1000 operations a call, keys drawn in advance.
 * - 100,000 keys of 16 characters: get of a key present.
 * - Index memory per entry: the table's (and keys') bytes per entry against the JS heap a Map
 *   of the same keys takes (measured with the collector run before and after).
 *
 * Every case runs its own copy of its loop (a `new Function`), so none pays for another's type
 * feedback.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { OffHeapMap, Quota, SlabArena, SlabCache, SmallAlloc } from '../src/index.js';
import { seeded } from '../dev/rng.js';
import { compare } from './support/harness.js';

const N = 1_000_000;
const STRINGS = 100_000;
const BATCH = 1000;
const MB = 1024 * 1024;

/** The floor: linear probing over a Uint32Array of [key + 1, value] pairs (0: empty). */
class BareTable {
  readonly t: Uint32Array;
  readonly mask: number;
  constructor(capacity: number) {
    this.t = new Uint32Array(new SharedArrayBuffer(8 * capacity));
    this.mask = capacity - 1;
  }
  get(k: number): number | undefined {
    const t = this.t;
    for (let i = hash(k) & this.mask; ; i = (i + 1) & this.mask) {
      const x = t[2 * i]!;
      if (x === 0) return undefined;
      if (x === k + 1) return t[2 * i + 1];
    }
  }
  set(k: number, v: number): void {
    const t = this.t;
    let i = hash(k) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const x = t[2 * i]!;
      if (x === 0 || x === k + 1) break;
    }
    t[2 * i] = k + 1;
    t[2 * i + 1] = v;
  }
}

function hash(k: number): number {
  let h = Math.imul(k ^ (k >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A loop of its own for each case (see the module comment). */
function loop(body: string): (m: unknown, keys: ArrayLike<unknown>, base: number) => number {
  return new Function('m', 'keys', 'base', `let s = 0; for (let i = 0; i < ${BATCH}; i++) { const k = keys[base + i]; ${body} } return s;`) as never;
}

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Runs the OffHeapMap groups. */
export async function run(): Promise<void> {
  const rng = seeded('off-heap map bench');
  const all = new Set<number>();
  while (all.size < 2 * N) all.add(rng.int(0, 2 ** 32 - 2));
  const keys = Uint32Array.from(all);
  const present = keys.subarray(0, N);
  const absent = keys.subarray(N);
  const alloc = new SmallAlloc(new SlabCache(new SlabArena({ quota: new Quota(1024 * MB) })));
  const off = new OffHeapMap<number>(alloc, { keys: 'u32' });
  const map = new Map<number, number>();
  const bare = new BareTable(2 ** 21);
  for (let i = 0; i < N; i++) {
    off.set(present[i]!, i);
    map.set(present[i]!, i);
    bare.set(present[i]!, i);
  }
  // Probe orders: random picks among the present and the absent keys.
  const hits = Uint32Array.from({ length: 64 * BATCH }, () => present[rng.int(0, N - 1)]!);
  const misses = Uint32Array.from({ length: 64 * BATCH }, () => absent[rng.int(0, N - 1)]!);
  let round = 0;
  const base = (): number => (round = (round + 1) & 63) * BATCH;
  const get = 'const v = m.get(k); if (v !== undefined) s ^= v;';
  const cases = (what: string, ks: Uint32Array, body: string, target: number) => {
    const [fm, ff, fb] = [loop(body), loop(body), loop(body)];
    return [
      { name: `Map ${what}`, ops: BATCH, fn: () => fm(map, ks, base()) },
      { name: `OffHeapMap ${what}`, ops: BATCH, fn: () => ff(off, ks, base()), vs: `Map ${what}`, target },
      { name: `bare table ${what} (the floor)`, ops: BATCH, fn: () => fb(bare, ks, base()), vs: `Map ${what}` },
    ];
  };
  await compare('OffHeapMap, 1,000,000 u32 keys: get of a key present (ns per get)', cases('get hit', hits, get, 0.5));
  await compare('OffHeapMap, 1,000,000 u32 keys: get of a key absent (ns per get)', cases('get miss', misses, get, 0.5));
  await compare('OffHeapMap, 1,000,000 u32 keys: set of a key present (ns per set)', cases('set present', hits, 'm.set(k, i);', 0.5));
  // A new key and its delete: the bare table has no delete, so no floor here.
  const [pm, pf] = [loop('m.set(k, i); m.delete(k);'), loop('m.set(k, i); m.delete(k);')];
  await compare('OffHeapMap, 1,000,000 u32 keys: set of a new key, then its delete (ns per pair)', [
    { name: 'Map set new + delete', ops: BATCH, fn: () => pm(map, misses, base()) },
    { name: 'OffHeapMap set new + delete', ops: BATCH, fn: () => pf(off, misses, base()), vs: 'Map set new + delete', target: 1.0 },
  ]);

  const strs = Array.from({ length: STRINGS }, (_, i) => `key-${String(i).padStart(6, '0')}-${rng.int(100000, 999999)}`.slice(0, 16));
  const offS = new OffHeapMap<string>(alloc, { keys: 'string' });
  const mapS = new Map<string, number>();
  strs.forEach((s, i) => {
    offS.set(s, i);
    mapS.set(s, i);
  });
  const strHits = Array.from({ length: 64 * BATCH }, () => strs[rng.int(0, STRINGS - 1)]!);
  const [sm, sf] = [loop(get), loop(get)];
  await compare('OffHeapMap, 100,000 keys of 16 characters: get of a key present (ns per get)', [
    { name: 'Map get (string)', ops: BATCH, fn: () => sm(mapS, strHits, base()) },
    { name: 'OffHeapMap get (string)', ops: BATCH, fn: () => sf(offS, strHits, base()), vs: 'Map get (string)', target: 1.0 },
  ]);

  // Index memory per entry.
  const gc = gcFunction();
  gc();
  const before = process.memoryUsage().heapUsed;
  const fresh = new Map<number, number>();
  for (let i = 0; i < N; i++) fresh.set(present[i]!, i);
  gc();
  const mapBytes = (process.memoryUsage().heapUsed - before) / N;
  const st = off.stats();
  console.log('OffHeapMap, 1,000,000 u32 keys: index bytes per entry');
  console.log(`  Map (JS heap)            ${mapBytes.toFixed(1)}`);
  console.log(`  OffHeapMap (table)       ${st.bytesPerEntry.toFixed(1)}   ${(st.bytesPerEntry / mapBytes).toFixed(2)}x Map   target <= 0.33x: ${st.bytesPerEntry / mapBytes <= 1 / 3 ? 'met' : 'MISSED'}`);
  console.log(`  (load ${st.load.toFixed(2)}, capacity ${st.capacity}; the heap the OffHeapMap object itself takes is a few hundred bytes)`);
  if (fresh.size !== N || off.size !== N) throw new Error('the maps lost keys');
}
