/**
 * The generated API reference (`npm run docs`, TypeDoc) builds with no warning (every public
 * name documented, no broken link), groups the API by tier instead of one flat list, carries
 * the record layout's diagram and alignment rules, and points to no source file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
    // Its text, without the highlighter's tags.
    const layout = readFileSync(join(out, 'functions', 'defineLayout.html'), 'utf8').replace(/<[^>]*>/g, '');
    assert.match(layout, /size 40, align 8/, 'the record layout diagram is in the docs');
    assert.match(layout, /Alignment: u8, i8, bool/, 'and the alignment rules');
    // The API pages point to nothing the docs do not contain: no source file, no module comment.
    for (const dir of ['classes', 'functions', 'interfaces', 'types', 'variables']) {
      for (const f of readdirSync(join(out, dir))) {
        const page = readFileSync(join(out, dir, f), 'utf8');
        assert.doesNotMatch(page, /\b[\w-]+\.ts\b|module comment|\(see the module\)/, `${dir}/${f} points to a source file or module comment`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
