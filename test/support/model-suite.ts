/**
 * Registers two node:tests per model spec, one with debug mode off and one with it on (debug
 * mode must change nothing a program sees): `npm test` runs each for its fixed, quick number
 * of runs (`MODEL_RUNS=n` overrides it) and prints runs and commands executed.
 */
import { test } from 'node:test';
import { runSpec, type AnySpec } from './model.js';

export function modelTests(specs: readonly AnySpec[]): void {
  const override = Number(process.env['MODEL_RUNS'] ?? '');
  const runs = Number.isInteger(override) && override > 0 ? { numRuns: override } : {};
  for (const spec of specs) {
    for (const debug of [false, true]) {
      const mode = debug ? ' in debug mode' : '';
      test(`${spec.name} behaves like its model over random command sequences${mode}`, () => {
        const r = runSpec(spec, { ...runs, debug });
        console.log(`model ${r.name}: ${r.runs} runs, ${r.commands} commands`);
      });
    }
  }
}
