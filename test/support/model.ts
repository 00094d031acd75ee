/**
 * Model-based testing helpers shared by `test/trust/model.test.ts` and `test/soak.ts`.
 *
 * A model spec pairs an allocator (the "real" side) with a plain reference model: what is
 * live, what each live allocation must contain, what the counters must read. fast-check
 * generates random command sequences, runs them against both, and shrinks a failure to a
 * minimal sequence. Every command ends with the real side's `check()`.
 *
 * Replay: each run prints `model <name>: SEED=n`; `SEED=n npm test` replays it (fast-check
 * also prints the shrunk `path` of a failure, and `MODEL_PATH=...` replays just that).
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { getDebug, setDebug } from '../../src/debug.js';
import { seeded } from '../../dev/rng.js';

/** What a command runs against: the allocator(s) under test, with their invariant walker. */
export interface Real {
  /** Runs every invariant walker the structure has; throws when one is broken. */
  check(): void;
  /** Releases what setup created (optional). */
  dispose?(): void;
}

/** How many runs and commands were executed, per spec and in all. */
export const tally = { runs: 0, commands: 0 };

class FnCommand<M extends object, R extends Real, A> implements fc.Command<M, R> {
  constructor(
    private readonly label: string,
    private readonly args: A,
    private readonly apply: (m: M, r: R, a: A) => void,
    private readonly pre: ((m: Readonly<M>, a: A) => boolean) | undefined,
  ) {}

  check(m: Readonly<M>): boolean {
    return this.pre === undefined || this.pre(m, this.args);
  }

  run(m: M, r: R): void {
    tally.commands++;
    this.apply(m, r, this.args);
    r.check();
  }

  toString(): string {
    return `${this.label}(${fc.stringify(this.args)})`;
  }
}

/**
 * A command: `label(args)` generated from `args`, run by `apply` when `pre` holds. A command
 * that picks a live allocation takes an index (`fc.nat()`) and uses it modulo the live count,
 * so shrinking keeps the sequence valid.
 */
export function command<M extends object, R extends Real, A>(
  label: string,
  args: fc.Arbitrary<A>,
  apply: (m: M, r: R, a: A) => void,
  pre?: (m: Readonly<M>, a: A) => boolean,
): fc.Arbitrary<fc.Command<M, R>> {
  return args.map((a) => new FnCommand<M, R, A>(label, a, apply, pre) as fc.Command<M, R>);
}

/** A model spec: one allocator, its reference model and its commands. */
export interface ModelSpec<M extends object, R extends Real, P = undefined> {
  readonly name: string;
  /** Printed with the seed (default: `name`). */
  readonly label?: string;
  /** Runs that `npm test` executes (kept small: the suite runs on 2 cores). */
  readonly quickRuns: number;
  /** Longest command sequence. */
  readonly maxCommands: number;
  /** Parameters of one run (sizes, limits...), generated and shrunk with the commands. */
  readonly params?: fc.Arbitrary<P>;
  setup(params: P): { model: M; real: R };
  readonly commands: fc.Arbitrary<fc.Command<M, R>>[];
}

/** Result of {@link runSpec}. */
export interface SpecResult {
  name: string;
  seed: number;
  runs: number;
  commands: number;
}

/**
 * `gc()` when node runs with `--expose-gc` (`npm run soak` does). A long run creates a few
 * hundred thousand buffers a minute (every run of a spec makes its own memory), and V8 frees a
 * buffer's reserved address space only when it collects it: before it did, a soak of the Memory
 * specs reached the kernel's limit of 65,530 mappings, and Node 20 crashed (a segmentation fault;
 * Node 24 a fatal out-of-memory).
 */
const collectGarbage = (globalThis as { gc?: () => void }).gc;
const GC_EVERY_RUNS = 2048;

/**
 * Runs a spec: `numRuns` sequences, or as many as fit in `timeLimitMs` when that is given.
 * With `debug`, every allocator is created in debug mode (poisoning, interior-pointer checks,
 * periodic check()), which must change nothing the model sees; its seed is drawn apart.
 * Throws fast-check's report (seed, counterexample, shrunk path) on failure.
 */
export function runSpec<M extends object, R extends Real, P>(
  spec: ModelSpec<M, R, P>,
  opts: { numRuns?: number; timeLimitMs?: number; debug?: boolean } = {},
): SpecResult {
  const suffix = opts.debug === true ? ' (debug)' : '';
  const before = getDebug();
  if (opts.debug === true) setDebug({ enabled: true, checkEvery: 64 });
  try {
    return runSpecNow(spec, opts, suffix);
  } finally {
    setDebug(before);
  }
}

function runSpecNow<M extends object, R extends Real, P>(
  spec: ModelSpec<M, R, P>,
  opts: { numRuns?: number; timeLimitMs?: number },
  suffix: string,
): SpecResult {
  const seed = seeded(`model ${spec.label ?? spec.name}${suffix}`).seed;
  const before = { ...tally };
  const params = spec.params ?? (fc.constant(undefined) as fc.Arbitrary<P>);
  const cmdsArb = fc.commands(spec.commands, { maxCommands: spec.maxCommands, size: 'max' });
  const property = fc.property(params, cmdsArb, (p, cmds) => {
    tally.runs++;
    if (collectGarbage !== undefined && tally.runs % GC_EVERY_RUNS === 0) collectGarbage();
    const s = spec.setup(p);
    try {
      fc.modelRun(() => s, cmds);
    } finally {
      s.real.dispose?.();
    }
  });
  const path = process.env['MODEL_PATH'];
  fc.assert(property, {
    seed,
    includeErrorInReport: true,
    numRuns: opts.timeLimitMs !== undefined ? 1_000_000_000 : (opts.numRuns ?? spec.quickRuns),
    ...(opts.timeLimitMs !== undefined ? { interruptAfterTimeLimit: opts.timeLimitMs, markInterruptAsFailure: false } : {}),
    ...(path !== undefined && path !== '' ? { path, endOnFailure: true } : {}),
  });
  return { name: spec.name + suffix, seed, runs: tally.runs - before.runs, commands: tally.commands - before.commands };
}

// ---- stamped memory ------------------------------------------------------------------------

/** Byte `i` of an allocation stamped with `tag`. Never 0 for small i, so zeroed memory fails. */
function stampByte(tag: number, i: number): number {
  return ((tag * 131 + i * 7 + 1) & 0xff) || 0x5a;
}

/** The offsets of an allocation that a stamp covers: all of a small one, ends and samples of a big one. */
function* stampOffsets(size: number): Generator<number> {
  if (size <= 256) {
    for (let i = 0; i < size; i++) yield i;
    return;
  }
  for (let i = 0; i < 64; i++) yield i;
  for (let k = 1; k < 16; k++) yield Math.floor((size * k) / 16);
  for (let i = size - 64; i < size; i++) yield i;
}

/** Writes the stamp `tag` over `[ptr, ptr+size)` of `u8`. */
export function stamp(u8: Uint8Array, ptr: number, size: number, tag: number): void {
  for (const i of stampOffsets(size)) u8[ptr + i] = stampByte(tag, i);
}

/** Asserts that `[ptr, ptr+size)` of `u8` still carries the stamp `tag`. */
export function verifyStamp(u8: Uint8Array, ptr: number, size: number, tag: number, what = 'allocation'): void {
  for (const i of stampOffsets(size)) {
    const want = stampByte(tag, i);
    if (u8[ptr + i] !== want) {
      assert.fail(`${what} at ${ptr} (size ${size}, tag ${tag}) byte ${i} is ${u8[ptr + i]}, expected ${want}: overwritten`);
    }
  }
}

/** A live allocation in a model. */
export interface Block {
  ptr: number;
  size: number;
  tag: number;
}

/**
 * Asserts `[ptr, ptr+size)` overlaps none of `live`. A zero size occupies one byte (malloc(0)
 * pointers are distinct) unless `zeroIsEmpty` (bump arenas, which free nothing one by one).
 */
export function assertDisjoint(live: Iterable<Block>, ptr: number, size: number, what = 'allocation', zeroIsEmpty = false): void {
  const min = zeroIsEmpty ? 0 : 1;
  const end = ptr + Math.max(size, min);
  for (const b of live) {
    const bend = b.ptr + Math.max(b.size, min);
    if (ptr < bend && b.ptr < end) {
      assert.fail(`${what} [${ptr}, ${ptr + size}) overlaps live [${b.ptr}, ${b.ptr + b.size})`);
    }
  }
}

/** Verifies every block's stamp. */
export function verifyAll(u8: Uint8Array, live: Iterable<Block>, what = 'allocation'): void {
  for (const b of live) verifyStamp(u8, b.ptr, b.size, b.tag, what);
}

/** A size biased toward small values but reaching `max`. */
export function sizeArb(max: number, min = 0): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min, max: Math.min(max, Math.max(min, 64)) }) },
    { weight: 3, arbitrary: fc.integer({ min, max: Math.min(max, Math.max(min, 4096)) }) },
    { weight: 1, arbitrary: fc.integer({ min, max }) },
  );
}

/** Runs `fn`, expecting it to throw an instance of `cls`; returns the error. */
export function expectThrow<E extends Error>(fn: () => unknown, cls: abstract new (...a: never[]) => E, what: string): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    assert.fail(`${what}: expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  assert.fail(`${what}: expected ${cls.name}, nothing was thrown`);
}

/** A spec of any model, for lists of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = ModelSpec<any, any, any>;
