/**
 * The generated API reference (`npm run docs`, TypeDoc) builds with no warning (every public
 * name documented, no broken link) and groups the API by tier instead of one flat list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

test('the API reference builds without a warning and groups the API by tier', { timeout: 120_000 }, () => {
  const out = mkdtempSync(join(root, 'build', 'docs-'));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--treatWarningsAsErrors', '--out', out], { cwd: root, stdio: 'pipe' });
    const index = readFileSync(join(out, 'modules.html'), 'utf8');
    for (const tier of ['memory', 'arenas', 'the-small-family', 'buffers', 'records', 'output', 'errors-and-debug']) {
      assert.match(index, new RegExp(`id="${tier}"`), `a section for ${tier}`);
    }
    assert.doesNotMatch(index, /id="other"/, 'every public name has its tier');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
