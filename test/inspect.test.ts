import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  Arena, BumpArena, createAllocator, Ibuf, LSRegion, Mempool, Obuf, OffHeapMap, Region,
} from '../src/index.js';

test('String(x) and console.log(x) print the same one line for every public object, Memory included, starting with its class', () => {
  const alloc = createAllocator({ limit: 16 * 1024 * 1024 });
  alloc.alloc(10);
  assert.match(String(alloc), /^SmallAlloc \{ used: 16 B, .*count: 1,/);
  const cache = alloc.cache;
  const objects: [string, object][] = [
    ['SmallAlloc', alloc], ['Memory', alloc.memory], ['SlabCache', cache], ['SlabArena', cache.arena],
    ['Quota', cache.arena.quota], ['Mempool', new Mempool(cache, 8)], ['Region', new Region(cache)],
    ['Ibuf', new Ibuf(cache)], ['Obuf', new Obuf(cache)], ['LSRegion', new LSRegion(cache.arena)],
    ['Arena', new Arena()], ['BumpArena', new BumpArena(1024)], ['OffHeapMap', new OffHeapMap(alloc, { keys: 'u32' })],
  ];
  for (const [name, x] of objects) {
    for (const text of [String(x), inspect(x), `${x as { toString(): string }}`]) {
      assert.ok(text.startsWith(`${name} {`) || text.startsWith(`${name}(`), `${name}: ${text}`);
      assert.ok(!text.includes('\n'), `${name} prints one line: ${text}`);
    }
    assert.equal(String(x), inspect(x));
  }
});
