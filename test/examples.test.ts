/**
 * The examples are programs a user copies: each imports the package by its name ('binalloc',
 * which Node resolves to dist/ through the package's own `exports`), and each runs to the end.
 * Worker files (`*-worker.ts`) and helpers another example imports are not run on their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const sources = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.ts')).sort();
/** A file another example names (`'./x.js'`: a helper it imports or a worker it starts) is no program. */
const named = (f: string) => sources.some((g) => g !== f &&
  readFileSync(join(root, 'examples', g), 'utf8').includes(`'./${f.replace(/\.ts$/, '.js')}'`));
const programs = sources.filter((f) => !/worker\.ts$/.test(f) && !named(f));
/** Seconds one example may run; each is a short tour. */
const LIMIT_S = 60;
/** Arguments that keep an example short here (the main job's default is a million records). */
const ARGS: Record<string, string[]> = { 'record-store.ts': ['--records', '20000', '--workers', '1'] };

test('every example imports the package by name, never ../src', () => {
  const bad = sources.filter((f) => /from\s+['"]\.\.\/src/.test(readFileSync(join(root, 'examples', f), 'utf8')));
  assert.deepEqual(bad, [], "these examples import ../src: import 'binalloc' instead");
  assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/index.js is built (npm run build)');
});

for (const f of programs) {
  const js = join(root, 'build/examples', f.replace(/\.ts$/, '.js'));
  test(`examples/${f} runs to the end`, { timeout: (LIMIT_S + 10) * 1000 }, async () => {
    // In a folder of its own: what an example writes (a report) lands there, not in the repo.
    const cwd = mkdtempSync(join(tmpdir(), 'binalloc-example-'));
    try {
      const { stdout } = await run(process.execPath, [js, ...(ARGS[f] ?? [])], {
        cwd, timeout: LIMIT_S * 1000, killSignal: 'SIGKILL', maxBuffer: 16 << 20,
      });
      assert.ok(stdout.trim().length > 0, 'it prints what it did');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
}
