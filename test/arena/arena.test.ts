import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../../src/arena/arena.js';
import { Memory } from '../../src/memory.js';
import { OutOfMemoryError } from '../../src/errors.js';
import { FREED_BYTE, FRESH_BYTE, getDebug, setDebug } from '../../src/debug.js';
import { seeded } from '../../dev/rng.js';

/** LevelDB's util/random.h: Park-Miller, seed in [1, 2^31 - 2]; exact in doubles. */
class LevelDbRandom {
  private seed: number;
  constructor(s: number) {
    this.seed = s & 0x7fffffff;
    if (this.seed === 0 || this.seed === 2147483647) this.seed = 1;
  }
  next(): number {
    const M = 2147483647;
    const product = this.seed * 16807; // < 2^46: exact
    this.seed = Math.floor(product / 2147483648) + (product % 2147483648);
    if (this.seed > M) this.seed -= M;
    return this.seed;
  }
  uniform(n: number): number {
    return this.next() % n;
  }
  oneIn(n: number): boolean {
    return this.next() % n === 0;
  }
}

/**
 * LevelDB's ArenaTest.Simple, piece for piece: 100,000 pieces, every 10,000th of size i, else
 * rarely up to 6,000 bytes, sometimes under 100, mostly under 20; a tenth aligned.
 * Returns the final numbers so a replay can be compared with LevelDB's.
 */
function leveldbArenaTest(seed: number): { bytes: number; usage: number; blocks: number } {
  const N = 100_000;
  const rnd = new LevelDbRandom(seed);
  const arena = new Arena();
  const ptrs = new Float64Array(N);
  const sizes = new Uint32Array(N);
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    let s: number;
    if (i % (N / 10) === 0) {
      s = i;
    } else {
      s = rnd.oneIn(4000) ? rnd.uniform(6000) : rnd.oneIn(10) ? rnd.uniform(100) : rnd.uniform(20);
    }
    if (s === 0) s = 1; // the arena refuses size 0, as LevelDB's does
    let r: number;
    if (rnd.oneIn(10)) {
      r = arena.allocateAligned(s);
      assert.equal(r % 8, 0, `piece ${i}: aligned allocation at ${r}`);
    } else {
      r = arena.allocate(s);
    }
    assert.ok(r > 0);
    arena.memory.u8.fill(i % 256, r, r + s);
    ptrs[i] = r;
    sizes[i] = s;
    bytes += s;
    arena.check();
    const usage = arena.memoryUsage();
    assert.ok(usage >= bytes, `piece ${i}: memoryUsage ${usage} < ${bytes} bytes requested`);
    if (i > N / 10) assert.ok(usage <= bytes * 1.1, `piece ${i}: memoryUsage ${usage} > 1.10 x ${bytes}`);
  }
  const u8 = arena.memory.u8;
  for (let i = 0; i < N; i++) {
    const p = ptrs[i]!;
    const end = p + sizes[i]!;
    for (let b = p; b < end; b++) {
      if (u8[b] !== i % 256) assert.fail(`piece ${i}: byte ${b - p} is ${u8[b]}, expected ${i % 256}`);
    }
  }
  return { bytes, usage: arena.memoryUsage(), blocks: arena.stats().blocks };
}

test('Arena replays LevelDB\'s own arena test with its seed 301', () => {
  const { bytes, usage, blocks } = leveldbArenaTest(301);
  // LevelDB's util/arena.cc with ArenaTest.Simple's generator, compiled and run, ends with
  // these numbers; the same rules must land on the same bytes.
  assert.equal(bytes, LEVELDB_301.bytes);
  assert.equal(usage, LEVELDB_301.usage);
  assert.equal(blocks, LEVELDB_301.blocks);
});

test('Arena passes LevelDB\'s arena test with a seeded generator', () => {
  const rng = seeded('arena leveldb test');
  leveldbArenaTest(1 + (rng.seed % 2147483646));
});

/** What LevelDB's C++ arena reports at the end of ArenaTest.Simple (seed 301). */
const LEVELDB_301 = { bytes: 1_874_602, usage: 1_922_353, blocks: 369 };

/** Four 1000-byte pieces (each <= blockSize/4): the first 4096-byte block keeps 96 bytes at 4008. */
function fillFirstBlock(arena: Arena): void {
  for (let i = 0; i < 4; i++) assert.equal(arena.allocate(1000), 8 + 1000 * i);
  assert.equal(arena.memoryUsage(), 4096 + 8);
}

test('a new Arena uses no memory', () => {
  const arena = new Arena();
  assert.equal(arena.memoryUsage(), 0);
  assert.equal(arena.blockSize, 4096);
  arena.check();
});

test('Arena bumps requests that fit the current block', () => {
  const arena = new Arena();
  const a = arena.allocate(1);
  assert.equal(a, 8, 'the first block starts at 8: offset 0 stays null');
  assert.equal(arena.memoryUsage(), 4096 + 8);
  assert.equal(arena.allocate(10), 9);
  // Larger than blockSize/4 but it fits the tail: bumped, no block of its own.
  assert.equal(arena.allocate(2000), 19);
  assert.equal(arena.memoryUsage(), 4096 + 8);
  arena.check();
});

test('Arena gives a request over blockSize/4 a block of its own and keeps the current block', () => {
  const arena = new Arena();
  fillFirstBlock(arena); // 96 bytes left in the first block, at 4008
  const big = arena.allocate(1025);
  assert.equal(big, 8 + 4096, 'the own block starts right after the first');
  assert.equal(arena.memoryUsage(), 4096 + 8 + 1025 + 8);
  // The first block's tail still serves small requests.
  assert.equal(arena.allocate(96), 4008);
  // The own block is not current: its 1025 bytes end at 5129; the next block starts 8-aligned.
  const next = arena.allocate(1);
  assert.equal(next, 5136);
  assert.equal(arena.memoryUsage(), 4096 + 8 + 1025 + 8 + 4096 + 8);
  arena.check();

  // On a fresh arena a large request takes its own block and there is still no current one.
  const fresh = new Arena();
  assert.equal(fresh.allocate(4000), 8);
  assert.equal(fresh.memoryUsage(), 4000 + 8);
  assert.equal(fresh.allocate(1), 4008, 'a small request then starts the first ordinary block');
  assert.equal(fresh.memoryUsage(), 4000 + 8 + 4096 + 8);
});

test('Arena starts a new block for a small request that misses and wastes the old tail', () => {
  const arena = new Arena();
  fillFirstBlock(arena); // 96 left, at 4008
  const p = arena.allocate(1024); // exactly blockSize/4: not "large", so a new ordinary block
  assert.equal(p, 4104);
  assert.equal(arena.memoryUsage(), 2 * (4096 + 8));
  assert.equal(arena.allocate(50), 4104 + 1024, 'bumped from the new block, the old tail is gone');
  arena.check();
});

test('Arena.allocateAligned pads to 8 and falls back with the unpadded size', () => {
  const arena = new Arena({ blockSize: 64 });
  assert.equal(arena.allocate(3), 8);
  assert.equal(arena.allocateAligned(8), 16, 'slop 5 skipped');
  assert.equal(arena.allocate(45), 24); // position 69, 3 bytes left
  assert.equal(arena.memoryUsage(), 64 + 8);
  // 2 bytes + slop 3 = 5 > 3 left: falls back with 2 (<= 64/4): a new block, aligned start.
  const p = arena.allocateAligned(2);
  assert.equal(p, 72);
  assert.equal(arena.memoryUsage(), 2 * (64 + 8));
  // Exactly enough with slop: bumped.
  arena.allocate(1); // at 74, position 75; 61 left
  assert.equal(arena.allocateAligned(56), 80); // slop 5 + 56 = 61
  assert.equal(arena.allocate(1), 136, 'block exhausted exactly: the next one starts at 136');
  arena.check();
});

test('Arena.memoryUsage is the block sizes plus 8 bytes per block', () => {
  const arena = new Arena({ blockSize: 100 });
  for (const n of [20, 25, 25, 20]) arena.allocate(n); // block of 100 at 8; 10 bytes left
  assert.equal(arena.allocate(26), 112, '> 25 and it misses: a block of exactly 26 bytes');
  assert.equal(arena.allocate(10), 98, 'the first block is still current');
  assert.equal(arena.allocate(1), 144, 'then a new ordinary block, after the 26-byte one');
  assert.equal(arena.memoryUsage(), (100 + 8) + (26 + 8) + (100 + 8));
  assert.deepEqual(arena.stats(), { used: 226, total: 104 + 32 + 104, blocks: 3, memoryUsage: 250 });
});

test('Arena.reset returns every block and reuses the same memory', () => {
  const arena = new Arena();
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 100; i++) arena.allocate(1 + (i % 50));
    arena.allocate(5000);
    assert.ok(arena.memoryUsage() > 0);
    arena.reset();
    assert.equal(arena.memoryUsage(), 0);
    arena.check();
  }
  assert.ok(arena.memory.byteLength <= 64 * 1024, `memory grew to ${arena.memory.byteLength} across resets`);
  assert.equal(arena.allocate(1), 8, 'the first block is carved at the start again');
});

test('Arena throws OutOfMemoryError when the memory cannot grow, and changes nothing', () => {
  const memory = Memory.create({ maximum: 8192 });
  const arena = new Arena({ memory });
  fillFirstBlock(arena); // block [8, 4104), 96 left
  const before = arena.memoryUsage();
  assert.throws(() => arena.allocate(100), (e: unknown) => e instanceof OutOfMemoryError && e.requested === 4096);
  assert.throws(() => arena.allocate(5000), (e: unknown) => e instanceof OutOfMemoryError && e.requested === 5000);
  assert.equal(arena.memoryUsage(), before);
  assert.equal(arena.allocate(96), 4008, 'the current block is still current');
  arena.check();

  const fixed = new Arena({ memory: Memory.wrap(new ArrayBuffer(100)) });
  assert.throws(() => fixed.allocate(1), OutOfMemoryError);
  assert.equal(fixed.memoryUsage(), 0);
  fixed.check();
});

test('Arena carves blocks from a WebAssembly.Memory as it grows', () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const arena = new Arena({ memory: Memory.wrap(wasm) });
  const ptrs: number[] = [];
  for (let i = 0; i < 40; i++) {
    const p = arena.allocate(4000);
    arena.memory.u8.fill(i, p, p + 4000);
    ptrs.push(p);
  }
  assert.ok(wasm.buffer.byteLength > 65536);
  const u8 = new Uint8Array(wasm.buffer);
  ptrs.forEach((p, i) => assert.ok(u8.subarray(p, p + 4000).every((b) => b === i)));
  arena.check();
});

test('Arena rejects bad arguments and stays unchanged', () => {
  const arena = new Arena();
  arena.allocate(5);
  const usage = arena.memoryUsage();
  const cases: [string, () => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    ['allocate(0)', () => arena.allocate(0), RangeError, /Arena\.allocate: bytes .* got 0/],
    ['allocate(-1)', () => arena.allocate(-1), RangeError, /bytes .* got -1/],
    ['allocate(1.5)', () => arena.allocate(1.5), RangeError, /bytes .* got 1\.5/],
    ['allocate(NaN)', () => arena.allocate(NaN), RangeError, /bytes .* got NaN/],
    ['allocate(2**33)', () => arena.allocate(2 ** 33), RangeError, /bytes .* got 8589934592/],
    ['allocate("8")', () => arena.allocate('8' as unknown as number), TypeError, /bytes must be a number, got "8"/],
    ['allocate()', () => (arena.allocate as () => number)(), TypeError, /bytes must be a number, got undefined/],
    ['allocateAligned(0)', () => arena.allocateAligned(0), RangeError, /Arena\.allocateAligned: bytes .* got 0/],
    ['allocateAligned(-8)', () => arena.allocateAligned(-8), RangeError, /got -8/],
    ['new Arena(5)', () => new Arena(5 as never), TypeError, /opts must be an object/],
    ['blockSize 0', () => new Arena({ blockSize: 0 }), RangeError, /blockSize .* got 0/],
    ['blockSize 1.5', () => new Arena({ blockSize: 1.5 }), RangeError, /blockSize .* got 1\.5/],
    ['blockSize "4k"', () => new Arena({ blockSize: '4k' as never }), TypeError, /blockSize must be a number/],
    ['memory {}', () => new Arena({ memory: {} as never }), TypeError, /memory must be a Memory/],
  ];
  for (const [name, fn, type, message] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && !(e instanceof OutOfMemoryError) && message.test((e as Error).message), name);
  }
  assert.equal(arena.memoryUsage(), usage);
  assert.equal(arena.allocate(1), 13, 'the bump position did not move');
  arena.check();
});

test('Arena in debug mode poisons fresh blocks and reset memory', () => {
  const saved = getDebug();
  setDebug({ enabled: true });
  try {
    const arena = new Arena({ blockSize: 64 });
    const p = arena.allocate(16);
    const u8 = arena.memory.u8;
    assert.ok(u8.subarray(p, p + 64).every((b) => b === FRESH_BYTE));
    u8.fill(1, p, p + 16);
    arena.reset();
    assert.ok(arena.memory.u8.subarray(p, p + 64).every((b) => b === FREED_BYTE));
  } finally {
    setDebug(saved);
  }
});
