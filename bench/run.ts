/**
 * Runs the benchmarks: every `bench/*.bench.ts` module's `run()`, or only those named on the
 * command line (`npm run bench -- arena bump-arena`), in this one process, in name order.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { environment, results } from './support/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here).filter((f) => f.endsWith('.bench.js')).map((f) => f.slice(0, -'.bench.js'.length)).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; there are: ${all.join(', ')}`);
  process.exit(2);
}
const chosen = wanted.length > 0 ? wanted : all;
console.log(`benchmarks: ${chosen.join(', ')} (${environment()})`);
for (const name of chosen) {
  const mod = (await import(pathToFileURL(`${here}/${name}.bench.js`).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') {
    console.error(`${name}.bench.js exports no run()`);
    process.exitCode = 1;
    continue;
  }
  await mod.run();
}
const missed = [...results.values()].flat().filter((r) => r.met === false);
if (missed.length > 0) {
  console.log(`\ntargets missed: ${missed.map((r) => `${r.name} ${r.ratio!.toFixed(2)}x ${r.vs} (target ${r.target}x)`).join('; ')}`);
}
