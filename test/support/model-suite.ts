/**
 * Registers one node:test per model spec: `npm test` runs each for its fixed, quick number of
 * runs (`MODEL_RUNS=n` overrides it) and prints runs and commands executed.
 */
import { test } from 'node:test';
import { runSpec, type AnySpec } from './model.js';

export function modelTests(specs: readonly AnySpec[]): void {
  const override = Number(process.env['MODEL_RUNS'] ?? '');
  for (const spec of specs) {
    test(`${spec.name} behaves like its model over random command sequences`, { skip: spec.skip }, () => {
      const r = runSpec(spec, Number.isInteger(override) && override > 0 ? { numRuns: override } : {});
      console.log(`model ${r.name}: ${r.runs} runs, ${r.commands} commands`);
    });
  }
}
