/**
 * The entry point: every public name is exported, as what it is, and nothing else leaks out.
 * The other tests import these names directly, so a missing one fails them to compile; this
 * one reads the module as a program does, by name at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as entry from '../src/index.js';

const classes = [
  'Memory', 'Arena', 'BumpArena', 'Quota', 'SlabArena', 'SlabCache', 'Mempool', 'SmallAlloc',
  'Region', 'Ibuf', 'Obuf', 'LSRegion', 'OffHeapMap',
];
const errors = ['OutOfMemoryError', 'QuotaExceededError', 'InvalidPointerError'];
const functions = ['setDebug', 'getDebug', 'createAllocator', 'defineLayout', 'formatStats', 'heapMap'];
const constants = ['MAX_BYTE_LENGTH', 'FRESH_BYTE', 'FREED_BYTE', 'REGION_SLAB_CAP', 'OBUF_IOV_MAX'];

const exported = entry as unknown as Record<string, unknown>;

test('the entry point exports every public class, error, function and constant as what it is', () => {
  const wrong: string[] = [];
  for (const name of [...classes, ...errors]) {
    const v = exported[name];
    if (typeof v !== 'function' || typeof v.prototype !== 'object') wrong.push(`${name} is not a class`);
  }
  for (const name of errors) {
    const v = exported[name] as (new () => unknown) | undefined;
    if (typeof v === 'function' && !(v.prototype instanceof Error)) wrong.push(`${name} is not an Error`);
  }
  // OutOfMemoryError covers every way of running out: a QuotaExceededError is one.
  assert.ok(entry.QuotaExceededError.prototype instanceof entry.OutOfMemoryError, 'QuotaExceededError extends OutOfMemoryError');
  for (const name of functions) if (typeof exported[name] !== 'function') wrong.push(`${name} is not a function`);
  for (const name of constants) if (!Number.isInteger(exported[name])) wrong.push(`${name} is not an integer`);
  assert.deepEqual(wrong, []);
});

test('the entry point exports nothing but the public names', () => {
  const known = new Set([...classes, ...errors, ...functions, ...constants]);
  const extra = Object.keys(entry).filter((k) => !known.has(k));
  assert.deepEqual(extra, [], 'a new public name is listed here; anything else stays internal');
});
