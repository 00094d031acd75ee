/**
 * The README's snippets are programs that run as written: every ```ts block is one, imports
 * 'binalloc', type-checks under the project's strict settings against the published types
 * (dist/index.d.ts), and runs with `node` (the snippets use no TypeScript-only syntax); what it
 * prints is compared where the snippet says so in a `// ` comment after console.log.
 *
 * The snippets are written, as they are, into a fresh folder under build/, where 'binalloc'
 * resolves to this package's dist/ through its own `exports` (a package's self-reference), as
 * it resolves in a project that installed it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const all = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const blocks = all.filter((code) => code.includes("from 'binalloc'"));
mkdirSync(join(root, 'build'), { recursive: true });
const dir = mkdtempSync(join(root, 'build', 'readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the README has runnable snippets, and every ```ts block is one', () => {
  assert.ok(blocks.length >= 3, `${blocks.length} snippets import 'binalloc'`);
  assert.equal(blocks.length, all.length, "a ```ts block that does not import 'binalloc' is a fragment: make it a program");
});

test('the README states what a failed allocation may change: no live allocation, used byte or quota byte, while total may drop', () => {
  const text = readFileSync(join(root, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const failure = /\*\*Failure\.\*\*(.*?)(?= - \*\*)/.exec(text)?.[1] ?? '';
  assert.match(failure, /no live allocation, no used byte and no quota byte/, 'the Failure paragraph names what never changes');
  assert.match(failure, /`total` may drop/, 'and says that total may drop');
});

test('the README snippets type-check as written (strict, against dist/index.d.ts)', { timeout: 60_000 }, () => {
  const files = blocks.map((code, i) => {
    const file = join(dir, `snippet-${i + 1}.ts`);
    writeFileSync(file, code);
    return file;
  });
  // The project's own settings (tsconfig.base.json: strict, NodeNext), nothing emitted.
  const base = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.base.json'), { noEmit: true }, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  });
  assert.ok(base, 'tsconfig.base.json parses');
  const program = ts.createProgram(files, { ...base.options, noEmit: true });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.slice(dir.length + 1)}:${line + 1}: ${text}\n    ${d.file.text.split('\n')[line]}`;
  });
  assert.deepEqual(problems, [], 'tsc errors in the README snippets');
});

blocks.forEach((code, i) => {
  const first = code.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import')) ?? '';
  test(`README snippet ${i + 1} runs as written (${first.trim().slice(0, 50)})`, () => {
    const file = join(dir, `snippet-${i + 1}.mjs`);
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
    // `console.log(...); // expected` in the snippet: the line printed must be the comment.
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.*)$/gm)].map((m) => m[1]!.trim());
    assert.deepEqual(out.trim().split('\n').filter((l) => l !== ''), expected, 'what the snippet prints');
  });
});
