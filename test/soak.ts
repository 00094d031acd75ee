/**
 * `npm run soak`: every model-based test for much longer than `npm test` runs it, with debug
 * mode off and on.
 *
 * The time budget (env `SOAK_SECONDS`, default 60) is split evenly among the allocators and
 * the two modes; each runs as many random command sequences as fit. Prints, per allocator,
 * the seed (replay with `SEED=n`), and how many runs and commands it executed. Exits non-zero
 * on the first failure, with fast-check's shrunk counterexample.
 *
 * Then the readers' race of the arena read views (test/multi/arena-views-race.ts), until
 * reader workers have made at least 10 million reads (env `SOAK_VIEW_READS`): every one
 * verified, 0 torn or reused allowed.
 */
import { runSpec } from './support/model.js';
import { allSpecs } from './trust/specs/index.js';
import { seeded } from '../dev/rng.js';
import { race } from './multi/arena-views-race.js';

const seconds = Number(process.env['SOAK_SECONDS'] ?? 60);
if (!(seconds > 0)) throw new RangeError(`SOAK_SECONDS must be a positive number, got ${process.env['SOAK_SECONDS']}`);
const each = (seconds * 1000) / Math.max(1, 2 * allSpecs.length);

let runs = 0;
let commands = 0;
const started = Date.now();
for (const debug of [false, true]) {
  for (const spec of allSpecs) {
    const r = runSpec(spec, { timeLimitMs: each, debug });
    runs += r.runs;
    commands += r.commands;
    console.log(`soak ${r.name.padEnd(28)} ${String(r.runs).padStart(8)} runs ${String(r.commands).padStart(10)} commands  (SEED=${r.seed})`);
  }
}
console.log(`soak total: ${allSpecs.length} specs, ${runs} runs, ${commands} commands in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const wantReads = Number(process.env['SOAK_VIEW_READS'] ?? 10_000_000);
const rng = seeded('soak arena views race');
let reads = 0;
let updates = 0;
for (let round = 0; reads < wantReads; round++) {
  const r = await race(true, (rng.seed + round) >>> 0, 5000);
  const bad = r.reports.reduce((n, x) => n + x.bad, 0);
  reads += r.reports.reduce((n, x) => n + x.reads, 0);
  updates += r.updates;
  if (bad > 0) {
    console.error(`soak arena views: ${bad} torn or reused reads (first: ${r.reports.find((x) => x.firstProblem)?.firstProblem})`);
    process.exit(1);
  }
  r.alloc.check();
  if (r.alloc.stats().deferred !== 0 || r.arena.heldForViews !== 0) {
    console.error('soak arena views: held frees did not drain after the readers left');
    process.exit(1);
  }
}
console.log(`soak arena views: ${reads} reads under views by 2 workers, ${updates} copy-on-write updates, 0 torn or reused`);
