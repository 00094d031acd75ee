/**
 * Baselines every benchmark can run in its own process, so that ratios compare like with like:
 *
 * - `bumpLoop`: a bare bump allocator over an `ArrayBuffer`: its offset kept in the buffer (as
 *   an allocator's state must live somewhere other than a register), moved up with the one
 *   bounds check a real one needs, restarting at the end as a reset would.
 * - `bumpLoopLocal`: the absolute floor: the same with the offset in a local variable, which no
 *   allocator object can match (shown for scale, not as a target).
 * - `bumpDownLoop`: the same, moved downward with an alignment mask, as `BumpArena` does.
 * - `casLoop`: the floor of a shared bump allocator: the downward, aligned bump done with
 *   `Atomics.load` + `Atomics.compareExchange` on a `Uint32Array` over a `SharedArrayBuffer`.
 * - `typedArrays`: `new Uint8Array(n)` per allocation: what JS does without an allocator.
 * - `plainObjects`: a plain JS object per record, kept alive in an array.
 *
 * Each takes the batch of sizes (or a count) and does one operation per entry; its result is a
 * sum of what it produced, so the work cannot be optimized away.
 */
export const BUMP_BYTES = 1 << 20;
const bumpBuffer = new ArrayBuffer(BUMP_BYTES);
const bumpState = new Uint32Array(bumpBuffer, 0, 2);
const casState = new Uint32Array(new SharedArrayBuffer(8));
const FLOOR = 32;

/** Sizes in [lo, hi] from a fixed generator (the same batch for every case of a run). */
export function sizeBatch(count: number, lo: number, hi: number, seed = 42): Uint32Array {
  const sizes = new Uint32Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    sizes[i] = lo + (x % (hi - lo + 1));
  }
  return sizes;
}

/** Bumps an offset kept in the ArrayBuffer up, one size at a time; restarts at the end. */
export function bumpLoop(sizes: Uint32Array): number {
  const state = bumpState;
  state[0] = 8;
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    let p = state[0]!;
    if (p + size > BUMP_BYTES) p = 8;
    state[0] = p + size;
    sink += p;
  }
  return sink;
}

/** The same bump with the offset in a local: no allocator object can do better. */
export function bumpLoopLocal(sizes: Uint32Array): number {
  let top = 8;
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (top + size > BUMP_BYTES) top = 8;
    sink += top;
    top += size;
  }
  bumpState[0] = top;
  return sink;
}

/** Bumps an offset kept in the buffer downward, aligned to `align`, as BumpArena does unshared. */
export function bumpDownLoop(sizes: Uint32Array, align: number): number {
  const state = bumpState;
  state[1] = BUMP_BYTES;
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    let p = state[1]! - sizes[i]!;
    p -= p & (align - 1);
    if (p < FLOOR) p = BUMP_BYTES - sizes[i]! - ((BUMP_BYTES - sizes[i]!) & (align - 1));
    state[1] = p;
    sink += p;
  }
  return sink;
}

/** The same bump done with a compare-exchange loop on a SharedArrayBuffer. */
export function casLoop(sizes: Uint32Array, align: number): number {
  const state = casState;
  Atomics.store(state, 0, BUMP_BYTES);
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    let end = Atomics.load(state, 0);
    for (;;) {
      let p = end - size;
      p -= p & (align - 1);
      if (p < FLOOR) p = 0; // never reached with the batches used here; keeps the branch
      const seen = Atomics.compareExchange(state, 0, end, p);
      if (seen === end) {
        sink += p;
        break;
      }
      end = seen;
    }
  }
  return sink;
}

/** `new Uint8Array(size)` per entry. */
export function typedArrays(sizes: Uint32Array, keep: Uint8Array[]): number {
  let sink = 0;
  for (let i = 0; i < sizes.length; i++) {
    const a = new Uint8Array(sizes[i]!);
    keep[i] = a;
    sink += a.length;
  }
  return sink;
}

/** A record of three numbers as a plain object per entry, kept alive in `keep`. */
export function plainObjects(count: number, keep: { a: number; b: number; c: number }[]): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const o = { a: i, b: i * 0.5, c: i + 1 };
    keep[i] = o;
    sink += o.a;
  }
  return sink;
}
