/**
 * A seeded random generator for the tests and the benchmarks (development only, not part of the
 * package). The seed comes from the `SEED` environment variable when it is set (to replay a
 * failure), otherwise from the clock; it is always printed.
 *
 *     const rng = seeded('mempool random ops');   // prints "mempool random ops: SEED=1234"
 */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T;
  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[];
}

/** mulberry32: small, fast, and good enough for test sequences. */
export function rngFromSeed(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
  };
  return rng;
}

/** A generator seeded from `SEED` or the clock; prints `label: SEED=n` so a run can be replayed. */
export function seeded(label: string): Rng {
  const fromEnv = process.env['SEED'];
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
  console.log(`${label}: SEED=${seed}`);
  return rngFromSeed(seed);
}
