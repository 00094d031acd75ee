/**
 * `@daneren2005/shared-memory-objects` (0.0.4) for the benchmarks: "a fork of @thi.ng/malloc
 * made thread-safe with locks", loaded and typed here.
 *
 * The package ships only its TypeScript sources (`"main": "./src/main.ts"`), written for Vite:
 * extensionless relative imports, `import.meta.env.MODE`, and a lock that tests
 * `'WorkerGlobalScope' in self` (`self` does not exist in Node, so the first contended lock
 * would throw a ReferenceError). Node cannot load it as published (Node 20 does not strip
 * types; Node 22+ refuses to strip them under node_modules), so {@link loadSharedMemoryObjects}
 * transpiles it with the `typescript` package, as the TLSF peer compiles AssemblyScript, into
 * `node_modules/.cache/binalloc-bench/` (where its one dependency, `pretty-bytes`, resolves),
 * changing only what Node needs:
 * - `.js` appended to relative imports;
 * - `import.meta.env.MODE` replaced by `"production"`, as Vite's production build does;
 * - `'WorkerGlobalScope' in self` replaced by "not the main thread": true exactly where it is
 *   true in a browser, so a worker waits on a held lock with `Atomics.wait` and the main
 *   thread spins, as the package intends.
 * Nothing of the package's logic is changed, and nothing generated is committed. The peer
 * class over it, `SmoPeer`, is in peers.ts.
 *
 * The API used (read from its sources):
 * - `new MemoryHeap({ bufferSize, initialBuffers })`: a heap of `MemoryBuffer`s, each one
 *   `SharedArrayBuffer` of at most 1 MiB (pointers hold 12 bits of buffer index, 20 of byte
 *   offset). Each buffer is the @thi.ng/malloc `MemPool` algorithm (first fit over a free list
 *   sorted by address; `free` searches the list of used blocks) with every state word read and
 *   written with `Atomics`, behind one lock per buffer; the heap turns off splitting and
 *   merging of free blocks (unsafe, its comment says, while another thread may still touch a
 *   freed block).
 * - `heap.allocUI32(count)`: `count` zeroed 32-bit words from the first buffer with room (it
 *   tries them in order), as an `AllocatedMemory` object whose `.pointer` is the packed
 *   pointer. When no buffer has room it adds one, but only the calling thread learns of it
 *   (the README: allocation is thread-safe only while no buffer must be added).
 * - Free by pointer, as the package's own structures do: `getPointer(p)` gives
 *   `{ bufferPosition, bufferByteOffset }`, then `heap.buffers[bufferPosition].free(offset)`.
 * - Another worker attaches with `new MemoryHeap(heap.getSharedMemory())` (the buffers'
 *   `SharedArrayBuffer`s, posted to it).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One buffer of the heap (the package's `MemoryBuffer`): the methods the benchmarks call. */
export interface SmoMemoryBuffer {
  readonly buf: SharedArrayBuffer;
  malloc(bytes: number): number;
  free(ptr: number): boolean;
  stats(): { free: { count: number; size: number }; used: { count: number; size: number }; top: number; available: number; total: number };
}

/** The package's `AllocatedMemory`: one allocation. */
export interface SmoAllocatedMemory {
  readonly pointer: number;
  readonly bufferPosition: number;
  readonly bufferByteOffset: number;
  data: Uint32Array;
  free(): void;
}

/** What a second thread needs to attach: the buffers of the heap. */
export interface SmoHeapMemory {
  buffers: SharedArrayBuffer[];
}

/** The package's `MemoryHeap`. */
export interface SmoMemoryHeap {
  buffers: SmoMemoryBuffer[];
  readonly isClone: boolean;
  readonly bufferSize: number;
  allocUI32(count: number): SmoAllocatedMemory;
  getSharedMemory(): SmoHeapMemory;
  readonly currentUsed: number;
  readonly totalAllocated: number;
}

/** The heap's largest buffer (1 MiB): pointers keep 20 bits of byte offset. */
export const SMO_BUFFER_BYTES = 1 << 20;

/** The parts of the package's module the benchmarks use. */
export interface SmoModule {
  MemoryHeap: new (config?: { bufferSize?: number; initialBuffers?: number } | SmoHeapMemory) => SmoMemoryHeap;
  getPointer(pointer: number): { bufferPosition: number; bufferByteOffset: number };
  createPointer(bufferPosition: number, bufferByteOffset: number): number;
  MAX_BYTE_OFFSET_LENGTH: number;
}

/** The package's name and the version these benchmarks were written against. */
export const SMO_PACKAGE = '@daneren2005/shared-memory-objects';
export const SMO_VERSION = '0.0.4';

/** Bumped when the rewriting below changes, so a stale cache is rebuilt. */
const PORT_REVISION = 1;

/** The rewrites that let Node load one source file (see the module comment). */
function port(code: string, file: string): string {
  let out = code.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+?)\2/g, (m, pre: string, q: string, spec: string) =>
    /\.[cm]?js$/.test(spec) ? m : `${pre}${q}${spec}.js${q}`);
  out = out.replace(/import\.meta\.env\.MODE/g, '"production"');
  if (out.includes("'WorkerGlobalScope' in self")) {
    out = out.replace(/'WorkerGlobalScope' in self/g, '!__smoIsMainThread');
    out = `import { isMainThread as __smoIsMainThread } from 'node:worker_threads';\n${out}`;
  }
  if (/\bimport\.meta\.env\b|\bin self\b/.test(out)) throw new Error(`${SMO_PACKAGE}: ${file} still needs Vite or a browser after porting`);
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * Transpiles the package into the cache (once: later calls, and other threads, find it there)
 * and returns the URL of its entry module.
 */
async function portedEntry(): Promise<string> {
  const require = createRequire(import.meta.url);
  // Its "exports" name only "." (./src/main.ts): package.json is found from there.
  let pkgDir = dirname(require.resolve(SMO_PACKAGE));
  while (!existsSync(join(pkgDir, 'package.json'))) pkgDir = dirname(pkgDir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== SMO_VERSION) throw new Error(`${SMO_PACKAGE}: expected version ${SMO_VERSION}, found ${pkg.version}`);
  // node_modules/.cache/... : inside node_modules, so `pretty-bytes` resolves from there.
  const nodeModules = dirname(dirname(pkgDir));
  const outDir = join(nodeModules, '.cache', 'binalloc-bench', `shared-memory-objects-${pkg.version}-r${PORT_REVISION}`);
  const entry = join(outDir, 'main.js');
  if (!existsSync(entry)) {
    const { default: ts } = await import('typescript');
    const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
    const srcDir = join(pkgDir, 'src');
    for (const file of walk(srcDir)) {
      const rel = relative(srcDir, file);
      if (rel.endsWith('.d.ts')) continue;
      let js: string;
      let outRel: string;
      if (rel.endsWith('.ts')) {
        js = ts.transpileModule(readFileSync(file, 'utf8'), {
          fileName: rel,
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, useDefineForClassFields: false },
        }).outputText;
        outRel = rel.slice(0, -3) + '.js';
      } else if (rel.endsWith('.js')) {
        js = readFileSync(file, 'utf8');
        outRel = rel;
      } else {
        continue;
      }
      const target = join(tmp, outRel);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, port(js, rel));
    }
    writeFileSync(join(tmp, 'package.json'), '{ "type": "module" }\n');
    try {
      renameSync(tmp, outDir);
    } catch (e) {
      // Another process got there first: use its copy.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(entry)) throw e;
    }
  }
  return pathToFileURL(entry).href;
}

let loaded: Promise<SmoModule> | null = null;

/** The package, ported to Node and loaded (see the module comment). */
export function loadSharedMemoryObjects(): Promise<SmoModule> {
  loaded ??= portedEntry().then(async (url) => (await import(url)) as SmoModule);
  return loaded;
}
