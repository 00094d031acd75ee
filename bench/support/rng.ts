/**
 * The benchmarks' seeded generator: mulberry32, the same generator and the same `SEED` rule as
 * the tests' own, so a seed gives the same sequence in both. The benchmarks keep their own
 * copy because they import nothing from the tests.
 *
 *     const rng = seeded('mempool bench');   // prints "mempool bench: SEED=1234"
 */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[];
}

/** mulberry32 from `seed`. */
export function rngFromSeed(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
  };
}

/** A generator seeded from `SEED` or the clock; prints `label: SEED=n` so a run can be replayed. */
export function seeded(label: string): Rng {
  const fromEnv = process.env['SEED'];
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
  console.log(`${label}: SEED=${seed}`);
  return rngFromSeed(seed);
}
