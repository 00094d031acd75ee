import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { OffHeapMap, OutOfMemoryError, Quota, SlabArena, SlabCache, SmallAlloc, type OffHeapMapHandle } from '../src/index.js';
import { seeded } from '../dev/rng.js';

const MB = 1024 * 1024;

function small(limit = 256 * MB): SmallAlloc {
  return new SmallAlloc(new SlabCache(new SlabArena({ quota: new Quota(limit) })));
}

/** Keys a model test draws: few enough to collide often, with hostile strings among them. */
const STRINGS = ['', 'a', 'é', 'naïve', '日本語', '😀', 'a\u0000b', 'x'.repeat(300), '\ud800', 'ab', 'ba', 'Aa', 'BB'];

/** A string key as the map keeps it: a lone surrogate reads back as U+FFFD. */
function asKept(k: number | string): number | string {
  return typeof k === 'string' ? new TextDecoder().decode(new TextEncoder().encode(k)) : k;
}

function randomKey(rng: ReturnType<typeof seeded>, strings: boolean, space: number): number | string {
  if (!strings) return rng.chance(0.05) ? rng.pick([0, 1, 2 ** 32 - 1, 2 ** 31, 2 ** 32 - 2]) : rng.int(0, space);
  if (rng.chance(0.1)) return asKept(rng.pick(STRINGS));
  return `k${rng.int(0, space)}`;
}

for (const keys of ['u32', 'string'] as const) {
  test(`OffHeapMap (${keys} keys) behaves like a Map over random commands: growth, shrink, clear, iteration during writes; check() after every step`, () => {
    const rng = seeded(`off-heap map model ${keys}`);
    const alloc = small();
    const map = new OffHeapMap<number | string>(alloc, { keys });
    const model = new Map<number | string, number>();
    const strings = keys === 'string';
    let space = 50;
    for (let step = 0; step < 6000; step++) {
      // Phases: small key spaces collide and delete often; a large one grows the table.
      if (step % 1000 === 0) space = rng.pick([20, 200, 3000]);
      const r = rng.next();
      const key = randomKey(rng, strings, space);
      if (r < 0.45) {
        const value = rng.chance(0.05) ? rng.pick([0, 2 ** 32 - 1]) : rng.int(0, 2 ** 32 - 1);
        assert.equal(map.set(key, value), map);
        model.set(key, value);
      } else if (r < 0.7) {
        assert.equal(map.delete(key), model.delete(key), `step ${step}: delete ${JSON.stringify(key)}`);
      } else if (r < 0.9) {
        assert.equal(map.get(key), model.get(key), `step ${step}: get ${JSON.stringify(key)}`);
        assert.equal(map.has(key), model.has(key));
      } else if (r < 0.902) {
        map.clear();
        model.clear();
      } else if (r < 0.92) {
        // Iteration while writing: every key there from start to end and never changed is
        // seen once with its value; no untouched key is seen twice; whatever is seen was its
        // key's value at some moment.
        const before = new Map(model);
        const touched = new Set<number | string>();
        const heldAt = new Map<number | string, Set<number>>();
        for (const [k, v] of model) heldAt.set(k, new Set([v]));
        const seen = new Set<number | string>();
        for (const [k, v] of map) {
          // Twice only if deleted and set again meanwhile (a JS Map visits such a key again too).
          assert.ok(!seen.has(k) || touched.has(k), `step ${step}: ${JSON.stringify(k)} iterated twice`);
          seen.add(k);
          assert.ok(heldAt.get(k)?.has(v), `step ${step}: ${JSON.stringify(k)} -> ${v} was never its value`);
          if (rng.chance(0.3)) {
            const k2 = randomKey(rng, strings, space);
            touched.add(k2);
            if (rng.chance(0.5)) {
              const v2 = rng.int(0, 1000);
              map.set(k2, v2);
              model.set(k2, v2);
              if (!heldAt.has(k2)) heldAt.set(k2, new Set());
              heldAt.get(k2)!.add(v2);
            } else {
              map.delete(k2);
              model.delete(k2);
            }
          }
        }
        for (const [k, v] of before) {
          if (!touched.has(k)) assert.ok(seen.has(k), `step ${step}: ${JSON.stringify(k)} -> ${v}, untouched, was not iterated`);
        }
      } else {
        assert.equal(map.size, model.size);
      }
      map.check();
    }
    assert.deepEqual(new Map([...map.entries()]), model);
    assert.deepEqual(new Set(map.keys()), new Set(model.keys()));
    assert.deepEqual([...map.values()].sort(), [...model.values()].sort());
    const st = map.stats();
    assert.equal(st.size, model.size);
    assert.ok(st.capacity >= 16 && st.load <= 0.75);
    map.clear();
    map.check();
    alloc.check();
  });
}

test('OffHeapMap grows to 200,000 keys and shrinks back as they go, and its memory is reused', () => {
  const alloc = small();
  const map = new OffHeapMap<number>(alloc, { keys: 'u32' });
  for (let i = 0; i < 200_000; i++) map.set(i * 7919, i);
  assert.equal(map.size, 200_000);
  const grown = map.stats();
  assert.ok(grown.capacity >= 262_144, `capacity ${grown.capacity}`);
  assert.ok(grown.bytesPerEntry <= 24 * 1.5, `${grown.bytesPerEntry} bytes an entry`);
  for (let i = 0; i < 200_000; i++) assert.equal(map.get(i * 7919), i);
  for (let i = 0; i < 199_990; i++) assert.ok(map.delete(i * 7919));
  map.check();
  const shrunk = map.stats();
  assert.ok(shrunk.capacity <= 16 * 10 && shrunk.capacity >= 16, `it shrank with its keys: capacity ${shrunk.capacity}`);
  const used = alloc.stats().used;
  assert.ok(used < 4096, `what the map holds now: ${used} bytes`);
  alloc.check();
});

test('OffHeapMap refuses bad keys and values with TypeError/RangeError naming them, and changes nothing', () => {
  const alloc = small();
  const nums = new OffHeapMap<number>(alloc, { keys: 'u32' });
  const strs = new OffHeapMap<string>(alloc, { keys: 'string' });
  nums.set(5, 50);
  strs.set('five', 50);
  const bad: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [() => nums.set(-1, 1), RangeError, /key/],
    [() => nums.set(2 ** 32, 1), RangeError, /key/],
    [() => nums.set(1.5, 1), RangeError, /key/],
    [() => nums.set(NaN, 1), RangeError, /key/],
    [() => nums.set('1' as unknown as number, 1), TypeError, /key/],
    [() => nums.get({} as unknown as number), TypeError, /key/],
    [() => nums.set(1, -1), RangeError, /value/],
    [() => nums.set(1, 2 ** 32), RangeError, /value/],
    [() => nums.set(1, 0.5), RangeError, /value/],
    [() => nums.set(1, '1' as unknown as number), TypeError, /value/],
    [() => strs.set(1 as unknown as string, 1), TypeError, /key/],
    [() => strs.delete(null as unknown as string), TypeError, /key/],
    [() => strs.set('x', NaN), RangeError, /value/],
    [() => new OffHeapMap(alloc, { keys: 'u64' as 'u32' }), TypeError, /keys/],
    [() => new OffHeapMap({} as SmallAlloc, { keys: 'u32' }), TypeError, /alloc/],
  ];
  const before = alloc.stats().used;
  for (const [f, type, msg] of bad) assert.throws(f, (e: unknown) => e instanceof type && msg.test((e as Error).message));
  assert.equal(alloc.stats().used, before, 'no memory taken');
  assert.deepEqual([...nums], [[5, 50]]);
  assert.deepEqual([...strs], [['five', 50]]);
  nums.check();
  strs.check();
});

test('OffHeapMap.set that cannot get memory throws OutOfMemoryError and changes nothing', () => {
  const alloc = small(8 * MB);
  const map = new OffHeapMap<string>(alloc, { keys: 'string' });
  let i = 0;
  let failed: unknown = null;
  for (; i < 1_000_000; i++) {
    const snapshot = map.size;
    try {
      map.set(`key number ${i} `.repeat(8), i);
    } catch (e) {
      failed = e;
      assert.equal(map.size, snapshot);
      break;
    }
  }
  assert.ok(failed instanceof OutOfMemoryError, `failed with ${String(failed)} after ${i} keys`);
  map.check();
  assert.equal(map.get(`key number ${i - 1} `.repeat(8)), i - 1);
  assert.equal(map.has(`key number ${i} `.repeat(8)), false);
  map.clear();
  map.set('after', 1);
  assert.equal(map.get('after'), 1, 'memory freed by clear() is memory it can use again');
  alloc.check();
});

test('OffHeapMap.attach refuses a corrupt handle and another arena\'s allocator; a good one sees the same map', () => {
  const alloc = small();
  const map = new OffHeapMap<string>(alloc, { keys: 'string' });
  map.set('a', 1);
  const h = map.handle();
  const other = small();
  const cases: [unknown, unknown, typeof TypeError | typeof RangeError][] = [
    [null, alloc, TypeError],
    [{ ...h, kind: 'Map' }, alloc, TypeError],
    [{ ...h, keys: 'u64' }, alloc, TypeError],
    [{ ...h, header: h.header + 4 }, alloc, RangeError],
    [{ ...h, header: -8 }, alloc, RangeError],
    [{ ...h, header: 1.5 }, alloc, RangeError],
    [{ ...h, id: h.id ^ 2 }, alloc, RangeError],
    [{ ...h, keys: 'u32' }, alloc, RangeError],
    [h, other, RangeError],
    [h, {}, TypeError],
  ];
  for (const [handle, a, type] of cases) {
    assert.throws(() => OffHeapMap.attach(handle as OffHeapMapHandle, a as SmallAlloc), type, JSON.stringify(handle));
  }
  const again = OffHeapMap.attach<string>(structuredClone(h), alloc);
  assert.equal(again.get('a'), 1);
  again.set('b', 2);
  assert.equal(map.get('b'), 2);
  map.check();
});

test('OffHeapMap string keys are their UTF-8: a lone surrogate is U+FFFD, as TextEncoder writes it', () => {
  const map = new OffHeapMap<string>(small(), { keys: 'string' });
  map.set('\ud800', 1);
  assert.equal(map.get('\ufffd'), 1);
  assert.equal(map.get('\ud800'), 1);
  map.set('a\udc00b', 2);
  assert.deepEqual([...map.keys()].sort(), ['a\ufffdb', '\ufffd']);
  assert.ok(map.delete('\ud800'));
  map.check();
});

test('OffHeapMap prints one line', () => {
  const map = new OffHeapMap<number>(small(), { keys: 'u32' });
  map.set(1, 2);
  assert.equal(String(map), 'OffHeapMap(u32) { size: 1, capacity: 16 }');
  assert.equal(inspect(map), 'OffHeapMap(u32) { size: 1, capacity: 16 }');
});
