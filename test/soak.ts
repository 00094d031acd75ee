/**
 * `npm run soak`: every model-based test for much longer than `npm test` runs it, with debug
 * mode off and on.
 *
 * The time budget (env `SOAK_SECONDS`, default 60) is split evenly among the allocators and
 * the two modes; each runs as many random command sequences as fit. Prints, per allocator,
 * the seed (replay with `SEED=n`), and how many runs and commands it executed. Exits non-zero
 * on the first failure, with fast-check's shrunk counterexample.
 */
import { runSpec } from './support/model.js';
import { allSpecs } from './trust/specs/index.js';

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
