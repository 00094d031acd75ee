/**
 * The published types where users compile them: the `.d.ts` files that `npm run build` makes
 * are built into a temporary folder, installed there as the package, and a small consumer
 * program is compiled against them with `tsc --strict`, `lib: ["es2022", "dom"]`, no
 * `@types/node` and no `skipLibCheck`, by TypeScript 6.0 (`typescript`) and 5.9
 * (`typescript-5.9`); then once more with the disposable lib, where the consumer writes
 * `using view = alloc.openReadView()`. The consumer also holds the calls that must not
 * compile (`// @ts-expect-error`): `formatStats` of something it cannot format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const CONSUMER = `
import {
  Arena, BumpArena, createAllocator, defineLayout, formatStats, heapMap, Ibuf, LSRegion, Memory,
  Mempool, Obuf, OutOfMemoryError, Quota, Region, SlabArena, SlabCache, SmallAlloc, type ReadView,
} from 'binalloc';

const alloc: SmallAlloc = createAllocator({ limit: 1 << 24, shared: false });
const p: number = alloc.alloc(100);
const view: ReadView = alloc.openReadView();
alloc.free(p);
view[Symbol.dispose]();
const cache: SlabCache = alloc.cache;
const arena: SlabArena = cache.arena;
const quota: Quota = arena.quota;
const pool = new Mempool(cache, 32);
const texts: string[] = [
  formatStats(alloc), formatStats(pool), formatStats(cache), formatStats(arena), formatStats(quota),
  formatStats(new Region(cache)), formatStats(new Ibuf(cache)), formatStats(new Obuf(cache)),
  formatStats(new LSRegion(arena)), formatStats(new Arena()), formatStats(new BumpArena(64)),
];
// @ts-expect-error formatStats takes only the allocators it can format
formatStats({});
// @ts-expect-error a Memory is not an allocator
formatStats(Memory.create());
const Point = defineLayout({ x: 'f64', id: 'u32', name: { string: 8 } });
const c = Point.cursor(Memory.wrap(new ArrayBuffer(64)), 8);
c.x = 1.5; c.id = 2; c.name = 'p';
const n: number = c.x + c.id;
const s: string = c.name;
const e: RangeError = new OutOfMemoryError(1);
const map: unknown = heapMap;
export { texts, n, s, e, map };
`;

const USING = `
import { createAllocator } from 'binalloc';
export function read(): number {
  const alloc = createAllocator({ limit: 1 << 24, shared: false });
  using view = alloc.openReadView();
  return view === null ? 0 : 1;
}
`;

function tsconfig(lib: string[], files: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, lib, types: [], skipLibCheck: false,
      target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
    },
    files,
  });
}

test('the .d.ts files compile with tsc --strict under lib es2022 + dom, without @types/node or skipLibCheck, on TypeScript 6.0 and 5.9', { timeout: 180_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'binalloc-types-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  // The package as installed: its package.json and the declarations the build makes.
  const pkg = join(tmp, 'node_modules', 'binalloc');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  await exec(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'),
    '--outDir', join(pkg, 'dist'), '--emitDeclarationOnly'], { cwd: root, timeout: 120_000 });
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(tmp, 'consumer.ts'), CONSUMER);
  writeFileSync(join(tmp, 'using.ts'), USING);
  const configs: [string, string][] = [
    ['tsconfig.dom.json', tsconfig(['es2022', 'dom'], ['consumer.ts'])],
    ['tsconfig.disposable.json', tsconfig(['es2022', 'esnext.disposable', 'dom'], ['consumer.ts', 'using.ts'])],
  ];
  for (const [name, text] of configs) writeFileSync(join(tmp, name), text);
  for (const compiler of ['typescript', 'typescript-5.9']) {
    const tsc = join(root, 'node_modules', compiler, 'bin', 'tsc');
    const { stdout: version } = await exec(process.execPath, [tsc, '--version'], { cwd: tmp });
    for (const [name] of configs) {
      await t.test(`${version.trim()}, ${name}`, async () => {
        const r = await exec(process.execPath, [tsc, '-p', name], { cwd: tmp, timeout: 120_000 })
          .then(() => '', (err: { stdout?: string; message: string }) => err.stdout || err.message);
        assert.equal(r, '', `tsc reported:\n${r}`);
      });
    }
  }
});
