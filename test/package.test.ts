/**
 * The package as a user gets it. What a fresh clone has (package.json, the tsconfigs, src/,
 * README.md, LICENSE; no dist/) is copied to a temporary folder and packed there with
 * `npm pack`, whose `prepack` builds dist/; the tarball is installed into a fresh consumer
 * project, where the README's one-minute start runs as written, and a CommonJS file
 * `require`s the package (Node's require of an ES module, on from Node 20.19).
 *
 * Packing in a copy leaves this checkout's dist/, which other tests import, untouched. No
 * network: the package has no dependencies, and the install runs `--offline`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** npm with an environment of its own: nothing inherited from the `npm test` running us. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
  env['npm_config_update_notifier'] = 'false';
  env['npm_config_fund'] = 'false';
  env['npm_config_audit'] = 'false';
  const { stdout } = await exec('npm', args, { cwd, env, timeout: 90_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
  return stdout;
}

async function node(file: string, cwd: string): Promise<string> {
  const { stdout } = await exec(process.execPath, [file], { cwd, timeout: 20_000, killSignal: 'SIGKILL' });
  return stdout;
}

/** Every path under `dir`, relative, with '/' separators. */
function walk(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) => {
    const rel = base === '' ? e.name : `${base}/${e.name}`;
    return e.isDirectory() ? walk(dir, rel) : [rel];
  });
}

test('npm pack builds dist, and the installed tarball runs the README and require()', { timeout: 180_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'binalloc-package-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  // A fresh clone, as far as packing goes: no dist/, the dev dependencies installed.
  const clone = join(tmp, 'clone');
  mkdirSync(clone);
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.base.json', 'README.md', 'LICENSE', 'src']) {
    cpSync(join(root, f), join(clone, f), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const out = join(tmp, 'out');
  mkdirSync(out);
  const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', out], clone)) as
    { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path).sort();

  assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), `built by prepack: ${files.join(', ')}`);
  for (const f of ['LICENSE', 'README.md', 'package.json']) assert.ok(files.includes(f), `ships ${f}`);
  const stray = files.filter((f) => !/^dist\/.*\.(js|d\.ts)$/.test(f) && !['LICENSE', 'README.md', 'package.json'].includes(f));
  assert.deepEqual(stray, [], 'only dist/*.js and *.d.ts beside LICENSE, README.md, package.json (no maps, no src)');
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    assert.doesNotMatch(readFileSync(join(clone, f), 'utf8'), /sourceMappingURL/, `${f} points at no source map`);
  }

  // A consumer project: the tarball installed as a dependency, offline.
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await npm(['install', '--offline', '--no-package-lock', join(out, packed[0]!.filename)], app);
  const installed = join(app, 'node_modules/binalloc');
  assert.ok(existsSync(join(installed, 'dist/index.js')), 'installed with its dist');
  assert.deepEqual(walk(installed).sort(), files, 'the installed package is the tarball');

  // The README's one-minute start, as written.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((c) => c.includes("from 'binalloc'"));
  assert.ok(start !== undefined, "the README has a ```ts block that imports 'binalloc'");
  writeFileSync(join(app, 'start.js'), start);
  const expected = [...start.matchAll(/console\.log\(.*\);\s*\/\/\s*(.*)$/gm)].map((m) => m[1]!.trim());
  const printed = (await node('start.js', app)).trim().split('\n').filter((l) => l !== '');
  assert.deepEqual(printed, expected, 'what the one-minute start prints');

  // CommonJS: require() of the package, from a .cjs file.
  writeFileSync(join(app, 'use.cjs'), [
    "const { createAllocator, Arena, OutOfMemoryError } = require('binalloc');",
    'const alloc = createAllocator({ limit: 16 << 20 });',
    'const p = alloc.alloc(100);',
    'alloc.free(p);',
    "console.log(typeof Arena, typeof OutOfMemoryError, p > 0, alloc.stats().used);",
  ].join('\n'));
  assert.equal((await node('use.cjs', app)).trim(), 'function function true 0', 'require(\'binalloc\') works');
});
