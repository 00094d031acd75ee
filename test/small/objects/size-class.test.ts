import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SizeClasses } from '../../../src/small/objects/size-class.js';

/**
 * The class sizes written out the slow way: the first 2^n classes step by granularity, then
 * each run of 2^n classes steps by twice the step of the run before; the last is capped.
 */
function referenceSizes(min: number, granularity: number, effectiveBits: number, max: number): number[] {
  const m = Math.ceil(min / granularity) * granularity;
  const sizes: number[] = [];
  const n = 2 ** effectiveBits;
  for (let c = 0; ; c++) {
    let size = c < n ? m + c * granularity : sizes[c - 1]! + granularity * 2 ** (Math.floor(c / n) - 1);
    if (size >= max) size = max;
    sizes.push(size);
    if (size === max) return sizes;
  }
}

function checkAgainstReference(sc: SizeClasses, min: number, granularity: number): void {
  const ref = referenceSizes(min, granularity, sc.effectiveBits, sc.objsizeMax);
  assert.equal(sc.count, ref.length, 'class count');
  for (let c = 0; c < ref.length; c++) assert.equal(sc.sizeOf(c), ref[c], `sizeOf(${c})`);
  // Every size up to objsizeMax: the smallest class at least that big.
  let c = 0;
  for (let size = 0; size <= sc.objsizeMax; size++) {
    while (ref[c]! < size) c++;
    const got = sc.classOf(size);
    if (got !== c) assert.fail(`classOf(${size}) = ${got}, expected ${c} (size ${ref[c]})`);
  }
}

test('SizeClasses with the defaults gives actualFactor 2^(1/16) and 192 classes up to 262136', () => {
  const sc = new SizeClasses(16, 8, 1.05, 262136);
  assert.equal(sc.effectiveBits, 4);
  assert.ok(Math.abs(sc.actualFactor - 1.0443) < 1e-4, `actualFactor ${sc.actualFactor}`);
  assert.equal(sc.count, 192);
  assert.equal(sc.sizeOf(0), 16);
  assert.equal(sc.sizeOf(1), 24);
  assert.equal(sc.sizeOf(15), 136);
  assert.equal(sc.sizeOf(16), 144);
  assert.equal(sc.sizeOf(31), 264);
  assert.equal(sc.sizeOf(32), 280);
  assert.equal(sc.sizeOf(191), 262136);
});

test('SizeClasses.classOf agrees with a slow reference for every size up to objsizeMax (defaults)', () => {
  checkAgainstReference(new SizeClasses(16, 8, 1.05, 262136), 16, 8);
});

test('SizeClasses.classOf agrees with the reference for other parameters', () => {
  const table: [number, number, number, number][] = [
    // objsizeMin, granularity, allocFactor, objsizeMax
    [8, 8, 1.05, 70_000],
    [16, 16, 1.1, 65_536],
    [32, 4, 2, 50_000],
    [1, 1, 1.5, 20_000],
    [24, 8, 1.01, 100_000],
    [100, 32, 1.3, 65_000],
  ];
  for (const [min, g, f, max] of table) {
    const sc = new SizeClasses(min, g, f, max);
    checkAgainstReference(sc, min, g);
    // Sizes grow strictly and are multiples of granularity (objsizeMax is rounded down to it).
    for (let c = 1; c < sc.count; c++) {
      assert.ok(sc.sizeOf(c) > sc.sizeOf(c - 1), `class ${c} grows`);
      assert.equal(sc.sizeOf(c) % g, 0, `class ${c} is a multiple of ${g}`);
    }
  }
});

test('SizeClasses picks the power-of-two root closest to the factor asked for', () => {
  const table: [number, number][] = [[2, 0], [1.5, 1], [1.2, 2], [1.1, 3], [1.05, 4], [1.03, 5], [1.01, 6]];
  for (const [factor, bits] of table) {
    const sc = new SizeClasses(16, 8, factor, 65_536);
    assert.equal(sc.effectiveBits, bits, `allocFactor ${factor}`);
    assert.equal(sc.actualFactor, 2 ** (1 / 2 ** bits));
  }
});
