/**
 * The README's snippets run as written: every ```ts block that imports 'binalloc' is run with
 * the import pointed at this build (the snippets use no TypeScript-only syntax), and what it
 * prints is compared where the snippet says so in a `// ` comment after console.log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const entry = pathToFileURL(join(root, 'build/src/index.js')).href;
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1]!)
  .filter((code) => code.includes("from 'binalloc'"));

test('the README has runnable snippets', () => {
  assert.ok(blocks.length >= 2, `${blocks.length} snippets import 'binalloc'`);
});

blocks.forEach((code, i) => {
  const first = code.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import')) ?? '';
  test(`README snippet ${i + 1} runs as written (${first.trim().slice(0, 50)})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'binalloc-readme-'));
    const file = join(dir, `snippet-${i + 1}.mjs`);
    writeFileSync(file, code.replaceAll("from 'binalloc'", `from '${entry}'`));
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
    // `console.log(...); // expected` in the snippet: the line printed must be the comment.
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.*)$/gm)].map((m) => m[1]!.trim());
    assert.deepEqual(out.trim().split('\n').filter((l) => l !== ''), expected, 'what the snippet prints');
  });
});
