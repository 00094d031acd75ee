/**
 * The benchmark harness: a thin layer over mitata's `measure` that runs a group of cases in this
 * process, in several interleaved rounds, keeps each case's best per-call median, turns it into
 * nanoseconds per operation, and prints each case
 * as a ratio to its named baseline, with the target it must meet if it has one:
 *
 *     Arena
 *       case                           ns/op   vs baseline
 *       bump loop                       1.10   (baseline)
 *       Arena.allocate(16..64)          1.42   1.29x bump loop   target <= 1.5x: met
 *
 * Each case's `fn` should do many operations per call (`ops`, e.g. 1000 allocations then a
 * reset) so that the timer's overhead and the call into `fn` do not dominate; the baseline and
 * the case it is compared with must do the same work apart from the thing being measured.
 *
 * Usage in a `bench/<name>.bench.ts`:
 *
 *     export async function run(): Promise<void> {
 *       await compare('Arena', [
 *         { name: 'bump loop', ops: 1000, fn: () => bumpLoop(sizes) },
 *         { name: 'Arena.allocate(16..64)', ops: 1000, fn: () => ..., vs: 'bump loop', target: 1.5 },
 *       ]);
 *     }
 */
import { do_not_optimize, measure } from 'mitata';

/** Rounds per comparison (env `BENCH_ROUNDS`, default 5). */
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 5) | 0);
/** CPU time mitata spends on one case in one round: 150 ms. */
const ROUND_NS = 150e6;

/** One measured case. */
export interface Case {
  /** The row's label, unique within its group. */
  name: string;
  /** One iteration: `ops` operations. Return a value derived from the work (it is kept alive). */
  fn: () => unknown;
  /** Operations per call of `fn`; the table shows time per operation. Default 1. */
  ops?: number;
  /** The name of the case this one is compared with; omitted for a baseline. */
  vs?: string;
  /** The largest acceptable ratio to `vs`, printed as met / MISSED. */
  target?: number;
}

/** One row of a finished comparison, as printed. */
export interface Row {
  name: string;
  /** Nanoseconds per operation: the best round's median time of a call, divided by `ops`. */
  ns: number;
  vs: string | null;
  /** `ns / ns(vs)`, or null for a baseline. */
  ratio: number | null;
  target: number | null;
  /** Whether the ratio is within the target; null when there is no target. */
  met: boolean | null;
}

/** Whether mitata's timing loop has been driven past inlining (see settleMitata). */
let settled = false;

/**
 * Runs mitata's timing loop over a few throwaway functions, once per process. mitata compiles
 * that loop with `new AsyncFunction` from the same source for every measurement, and V8 hands
 * back one cached copy, type feedback included; while its call of the measured function had
 * seen only one function, V8 inlined that function into it, and the first case of a run was
 * timed faster than the same code timed later (the bare free list: 1.2 ns a pair first, 1.4 ns
 * last). After this, every case is called the same way.
 */
async function settleMitata(): Promise<void> {
  if (settled) return;
  settled = true;
  for (const fn of [() => 1, () => 2, () => 3]) await measure(fn, { min_cpu_time: 1e6 });
}

/** Every row measured in this process, by group title, for a summary at the end of a run. */
export const results = new Map<string, Row[]>();

/**
 * Measures `cases` (in `ROUNDS` interleaved rounds), prints the table, and returns its rows.
 * Throws if a `vs` names no case of the group.
 */
export async function compare(title: string, cases: readonly Case[]): Promise<Row[]> {
  const names = new Set(cases.map((c) => c.name));
  for (const c of cases) {
    if (c.vs !== undefined && !names.has(c.vs)) throw new Error(`compare(${title}): ${c.name} is compared with unknown case ${c.vs}`);
  }
  await settleMitata();
  // Rounds of every case in turn, keeping each case's best median: a burst of another process
  // then spoils one round of one case instead of the whole comparison.
  const best = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const fn = c.fn;
      const stats = await measure(() => do_not_optimize(fn()), { min_cpu_time: ROUND_NS });
      const prev = best.get(c.name);
      if (prev === undefined || stats.p50 < prev) best.set(c.name, stats.p50);
    }
  }
  const avg = best;
  const perOp = (c: Case): number => avg.get(c.name)! / (c.ops ?? 1);
  const byName = new Map(cases.map((c) => [c.name, c]));
  const rows: Row[] = cases.map((c) => {
    const ns = perOp(c);
    const base = c.vs === undefined ? null : perOp(byName.get(c.vs)!);
    const ratio = base === null ? null : ns / base;
    const target = c.target ?? null;
    return { name: c.name, ns, vs: c.vs ?? null, ratio, target, met: target === null || ratio === null ? null : ratio <= target };
  });
  print(title, rows);
  results.set(title, rows);
  return rows;
}

/** Prints `rows` as an aligned table under `title`. */
export function print(title: string, rows: readonly Row[]): void {
  const width = Math.max(4, ...rows.map((r) => r.name.length));
  const lines = [``, title, `  ${'case'.padEnd(width)}  ${'ns/op'.padStart(8)}   vs baseline`];
  for (const r of rows) {
    let vs = '(baseline)';
    if (r.ratio !== null) vs = `${r.ratio.toFixed(2)}x ${r.vs}`;
    if (r.target !== null) vs += `   target <= ${r.target}x: ${r.met ? 'met' : 'MISSED'}`;
    lines.push(`  ${r.name.padEnd(width)}  ${formatNs(r.ns).padStart(8)}   ${vs}`);
  }
  console.log(lines.join('\n'));
}

/** Nanoseconds with a precision that suits their size. */
export function formatNs(ns: number): string {
  if (ns < 10) return ns.toFixed(2);
  if (ns < 1000) return ns.toFixed(1);
  return ns.toFixed(0);
}

/** One line describing where the numbers come from, printed once per run. */
export function environment(): string {
  return `node ${process.version}, ${process.arch}, ${process.platform}`;
}
