/**
 * Runs the compiled test suite (build/test/**\/*.test.js, `node:test` files) on Bun or on Deno
 * (development only, not part of the package). After `npm run build:all`:
 *
 *     node build/dev/run-tests-on.js bun      # or deno; --concurrency 2, --timeout 240 (seconds a file)
 *
 * Both come from the devDependencies `bun` and `deno` (node_modules/.bin); a runtime that is
 * not installed is an error, never a pass.
 *
 * How each runs a file, one process a file (two at a time by default, as `npm test` runs Node):
 * - Bun: `bun test --timeout <ms> ./file`. Bun runs `node:test` files only inside its own test
 *   runner (`bun file.js` refuses: "Cannot use test outside of the test runner"); subtests
 *   (`t.test`) run and fail their test, though its count shows top-level tests only. Tests
 *   left out are filtered with `-t` (a JavaScript pattern: `^(?!name|...)`), and Bun's
 *   "filtered out" count must match the list.
 * - Deno: `deno test -A` of dev/deno-leave-out.js, which imports the file. Deno runs
 *   `node:test` files only under `deno test` (`deno run` of one runs none of its tests, and
 *   exits 0); its `--filter` has no look-around, so dev/deno-leave-out marks the tests left
 *   out as ignored instead.
 * A file passes when its process exits 0 and ran at least one test; a file that runs past the
 * timeout is killed and fails.
 *
 * What is left out on each runtime, and why, is listed below (LEAVE_OUT): a whole file, or
 * tests of a file by name prefix. Each reason was observed here, not guessed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Runtime = 'bun' | 'deno';

interface LeaveOut {
  /** Why: the API or the behaviour of the runtime that the test relies on. */
  why: string;
  /** Name prefixes of the tests left out; absent: the whole file. */
  tests?: string[];
}

// A child process of `node` with Node's own flags: `--input-type=module -e`. Deno runs
// `process.execPath` (deno) and translates Node's flags, but evaluates the code as a script,
// where `await import(...)` is a SyntaxError.
const NODE_CHILD_FLAGS = "runs `node --input-type=module -e` in a child process (Node's CLI)";
// Deno 2.9: after worker.terminate() resolves and 'exit' is emitted, the worker's JavaScript
// still runs (a worker looping on Atomics.add still counts seconds later; on Node and Bun it
// has stopped). A worker that is terminated and then adopted (adopt/adoptOnExit) still
// allocates and frees, so these tests see slabs and objects owned twice. No library can
// adopt a worker that has not stopped: on Deno a worker must end on its own before it is
// adopted (see the README, Runtimes).
const DENO_TERMINATE = "Deno's worker.terminate() and 'exit' come while the worker still runs, and the test adopts a terminated worker";
// A test that terminates a busy worker and at once checks or adopts what it held fails now and
// then on Deno; each one listed with this reason was seen failing here.

const LEAVE_OUT: Record<Runtime, Record<string, LeaveOut>> = {
  bun: {
    'examples.test.js': {
      // record-store measures GC: v8.setFlagsFromString('--expose-gc') and vm's gc (V8 only;
      // Bun runs on JavaScriptCore), "ReferenceError: gc is not defined".
      why: 'examples/record-store.ts calls gc() through v8.setFlagsFromString and node:vm (V8 only; Bun is JavaScriptCore)',
      tests: ['examples/record-store.ts runs to the end'],
    },
    'small/nothing-lost.test.js': {
      why: 'calls gc() through v8.setFlagsFromString and node:vm (V8 only): "gc is not defined" on Bun',
      tests: ['a read view dropped without close() stops holding back frees once the GC has collected it'],
    },
    'small/slabs/arena-views.test.js': {
      why: 'calls gc() through v8.setFlagsFromString and node:vm (V8 only): "gc is not defined" on Bun',
      tests: ['an arena view dropped without close() stops holding frees once the GC has collected it'],
    },
    'runtime/no-code-generation.test.js': {
      // Bun honours --disallow-code-generation-from-strings (the first test passes) but has no
      // `--test` runner flag.
      why: 'runs `node --disallow-code-generation-from-strings --test` in a child process (Node\'s test runner CLI)',
      tests: ['defineLayout and its cursors pass the layout tests under'],
    },
  },
  deno: {
    'memory.test.js': {
      why: NODE_CHILD_FLAGS,
      tests: ['Memory.create unshared falls back to a resizable ArrayBuffer where SharedArrayBuffer is missing'],
    },
    'strings.test.js': {
      why: NODE_CHILD_FLAGS,
      tests: ['where TextDecoder refuses shared memory, readStringAt decodes a copy'],
    },
    'runtime/no-code-generation.test.js': {
      why: 'runs `node --disallow-code-generation-from-strings --test` in a child process (Node\'s test runner CLI)',
      tests: ['defineLayout and its cursors pass the layout tests under'],
    },
    'multi/adopt-crash.test.js': { why: DENO_TERMINATE },
    'multi/worker-exit.test.js': { why: DENO_TERMINATE },
    'multi/adopt-stress.test.js': {
      // Also: a worker's parentPort has no close() on Deno ("port.close is not a function").
      why: `${DENO_TERMINATE}; and a worker's parentPort has no close()`,
    },
    'trust/faults.test.js': {
      why: DENO_TERMINATE,
      tests: ['a worker terminated while mapping from a shared SlabArena leaves it consistent'],
    },
    'small/slabs/slab-arena-stress.test.js': {
      // Failed once in three full runs: "SlabArena.check: slab 6 says it is inside a run (-2) but follows no run start".
      why: `${DENO_TERMINATE} (or checks it)`,
      tests: ['a worker terminated while it maps and unmaps corrupts nothing'],
    },
    'small/slabs/slab-cache.test.js': {
      // Failed 3 times in 10 runs: "SlabCache.check: page 318 inside the free block at ... has page byte 1".
      why: DENO_TERMINATE,
      tests: ['SlabCache.adopt takes over the slabs of a worker terminated while it allocates'],
    },
    'small/objects/small-alloc-workers.test.js': {
      // Also: Deno keeps worker.threadId after 'exit' (Node and Bun set it to -1), so adopt(worker)
      // is refused as "a Worker that is running" instead of "has exited".
      why: `${DENO_TERMINATE}; and Deno keeps worker.threadId after 'exit' (Node and Bun set -1)`,
      tests: [
        // Failed once in two runs: "SmallAlloc.check: slab ... is not a block of order 4 in the page map".
        "SmallAlloc.adopt takes over a terminated worker's memory",
        'a running worker cannot be adopted by mistake; adoptOnExit adopts it once it has exited',
      ],
    },
  },
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const testRoot = join(root, 'build/test');

function usage(message: string): never {
  console.error(`${message}\nusage: node build/dev/run-tests-on.js bun|deno [--concurrency n] [--timeout seconds] [file ...]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const runtime = args.shift();
if (runtime !== 'bun' && runtime !== 'deno') usage(`run-tests-on: which runtime? got ${runtime ?? 'nothing'}`);
let concurrency = 2;
let timeoutS = 240;
const only: string[] = [];
while (args.length > 0) {
  const a = args.shift()!;
  if (a === '--concurrency') concurrency = Number(args.shift());
  else if (a === '--timeout') timeoutS = Number(args.shift());
  else only.push(relative(testRoot, resolve(a)));
}
if (!(concurrency >= 1) || !(timeoutS > 0)) usage('run-tests-on: --concurrency and --timeout take positive numbers');

const bin = join(root, 'node_modules/.bin', runtime);
if (!existsSync(bin)) {
  console.error(`run-tests-on: ${runtime} is not installed (${relative(root, bin)} is missing): run npm ci, ` +
    `which installs it as a devDependency with its platform binary`);
  process.exit(1);
}
if (!existsSync(testRoot)) {
  console.error('run-tests-on: build/test is missing: run npm run build:all first');
  process.exit(1);
}

function findTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? findTests(p) : e.name.endsWith('.test.js') ? [relative(testRoot, p)] : [];
  });
}
const files = (only.length > 0 ? only : findTests(testRoot)).sort();
const leaveOut = LEAVE_OUT[runtime];
for (const f of Object.keys(leaveOut)) {
  if (!existsSync(join(testRoot, f))) {
    console.error(`run-tests-on: LEAVE_OUT.${runtime} names ${f}, which is not in build/test: update the list`);
    process.exit(1);
  }
}

interface Result {
  file: string;
  ok: boolean;
  passed: number;
  failed: number;
  skipped: number;
  /** Tests left out by name (the runtime's own count of them). */
  leftOut: number;
  seconds: number;
  problem?: string;
  output: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const number = (output: string, re: RegExp): number => Number(re.exec(output)?.[1] ?? 0);

function command(file: string, tests: string[] | undefined): { cmd: string; argv: string[]; env: NodeJS.ProcessEnv } {
  const path = join(testRoot, file);
  // Neither runs under Node's test runner: a child of `node --test` inherits NODE_TEST_CONTEXT.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env['NODE_TEST_CONTEXT'];
  if (runtime === 'bun') {
    const filter = tests === undefined ? [] : ['-t', `^(?!${tests.map(escape).join('|')})`];
    return { cmd: bin, argv: ['test', '--timeout', String(timeoutS * 1000), ...filter, `./${relative(root, path)}`], env };
  }
  env['LEAVE_OUT_FILE'] = pathToFileURL(path).href;
  env['LEAVE_OUT_TESTS'] = JSON.stringify(tests ?? []);
  return { cmd: bin, argv: ['test', '-A', '--no-check', join(root, 'build/dev/deno-leave-out.js')], env };
}

function runFile(file: string): Promise<Result> {
  const tests = leaveOut[file]?.tests;
  const { cmd, argv, env } = command(file, tests);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      // Bun: " 12 pass", " 1 fail", " 2 skip", " 1 filtered out"; Deno: "ok | 12 passed | 1 failed | 2 ignored".
      const text = output.replace(/\x1b\[[0-9;]*m/g, '');
      const r: Result = runtime === 'bun'
        ? { file, ok: false, passed: number(text, /^\s*(\d+) pass$/m), failed: number(text, /^\s*(\d+) fail$/m),
            skipped: number(text, /^\s*(\d+) skip$/m) + number(text, /^\s*(\d+) todo$/m),
            leftOut: number(text, /^\s*(\d+) filtered out$/m), seconds, output: text }
        : { file, ok: false, passed: number(text, /^(?:ok|FAILED) \| (\d+) passed/m),
            failed: number(text, /^(?:ok|FAILED) \|.*?\| (\d+) failed/m),
            skipped: 0, leftOut: (text.match(/^left out: /gm) ?? []).length, seconds, output: text };
      if (runtime === 'deno') r.skipped = number(text, /^(?:ok|FAILED) \|.*?\| (\d+) ignored/m) - r.leftOut;
      if (timedOut) r.problem = `killed after ${timeoutS} s`;
      else if (code !== 0) r.problem = `exit ${code ?? signal}`;
      else if (r.passed === 0 && r.skipped === 0) r.problem = 'no test ran';
      else if (tests !== undefined && r.leftOut !== tests.length) {
        r.problem = `${r.leftOut} tests left out by name, the list names ${tests.length}: update LEAVE_OUT`;
      }
      r.ok = r.problem === undefined;
      if (!r.ok && r.failed === 0) r.failed = 1;
      done(r);
    });
  });
}

const version = await new Promise<string>((done) => {
  const child = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.on('close', () => done(out.replace(/^deno /, '').split(/\s/)[0]!));
});
console.log(`== the suite on ${runtime} ${version}: ${files.length} files, ${concurrency} at a time`);

const queue = files.filter((f) => leaveOut[f] === undefined || leaveOut[f].tests !== undefined);
const results: Result[] = [];
const started = Date.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    const r = await runFile(f);
    results.push(r);
    const counts = `${r.passed} passed${r.skipped > 0 ? `, ${r.skipped} skipped` : ''}${r.leftOut > 0 ? `, ${r.leftOut} left out` : ''}`;
    console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.file} (${counts}, ${r.seconds.toFixed(1)} s)${r.problem === undefined ? '' : `: ${r.problem}`}`);
    if (!r.ok) console.log(r.output.replace(/^/gm, '    | '));
  }
}));

const sum = (k: 'passed' | 'failed' | 'skipped' | 'leftOut') => results.reduce((n, r) => n + r[k], 0);
const failedFiles = results.filter((r) => !r.ok);
console.log(`\n== ${runtime} ${version}: ${results.length} files run in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
  `${sum('passed')} tests passed, ${sum('failed')} failed, ${sum('skipped')} skipped by the tests themselves, ` +
  `${sum('leftOut')} left out by name, ${files.filter((f) => leaveOut[f] !== undefined && leaveOut[f].tests === undefined).length} files left out`);
console.log('Left out on this runtime, and why:');
for (const f of files) {
  const l = leaveOut[f];
  if (l === undefined) continue;
  if (l.tests === undefined) console.log(`  ${f} (the whole file): ${l.why}`);
  else for (const t of l.tests) console.log(`  ${f}: "${t}...": ${l.why}`);
}
for (const r of results) if (r.skipped > 0) console.log(`  ${r.file}: ${r.skipped} skipped by the file itself (its own skip condition; run it alone to see why)`);
if (failedFiles.length > 0) {
  console.log(`FAILED on ${runtime}: ${failedFiles.map((r) => r.file).join(', ')}`);
  process.exitCode = 1;
}
