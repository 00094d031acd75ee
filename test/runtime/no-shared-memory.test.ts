/**
 * A context without `SharedArrayBuffer` (a browser page that is not cross-origin isolated),
 * as a child Node process that deletes the global before it loads the library: everything
 * that does not share memory works, on a resizable `ArrayBuffer`, and asking for shared memory
 * is a `TypeError` that names the caller and says the page must be cross-origin isolated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./no-shared-memory-child.js', import.meta.url));
const results = JSON.parse(execFileSync(process.execPath, [child], { encoding: 'utf8', timeout: 30_000 })) as Record<string, string>;

const works = [
  'Memory.create() grows a resizable ArrayBuffer',
  'createAllocator({ limit, shared: false }) allocates, frees, reads views and checks',
  'Quota, SlabArena, SlabCache, Mempool and the buffers with shared: false',
  'Arena and an unshared BumpArena',
  'defineLayout cursors over an unshared Memory',
];
for (const name of works) {
  test(`without SharedArrayBuffer: ${name}`, () => {
    assert.equal(results[name], 'ok');
  });
}

const refused: [string, string][] = [
  ['Memory.create({ shared: true })', 'Memory.create'],
  ['new Quota(limit)', 'Quota'],
  ['new SlabArena({ quota }) (shared by default)', 'SlabArena'],
  ['new BumpArena(capacity, { shared: true })', 'BumpArena'],
  ['createAllocator({ limit }) (shared by default)', 'createAllocator'],
];
for (const [name, where] of refused) {
  test(`without SharedArrayBuffer: ${name} is a TypeError naming ${where} and cross-origin isolation`, () => {
    const got = results[name] ?? 'no result';
    assert.match(got, new RegExp(`^TypeError: ${where}: opts\\.shared .*cross-origin isolated.*shared: false`));
  });
}
