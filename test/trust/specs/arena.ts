/**
 * Model of `Arena` (LevelDB's util/arena), exact: the model replays LevelDB's rules (bump
 * from the current block; a request > blockSize/4 gets a block of its own and the current
 * block stays; otherwise a new block and the old tail is wasted; `allocateAligned` pads to 8
 * and falls back unpadded) and so predicts `memoryUsage()` to the byte and every bumped
 * pointer exactly. Every live piece keeps its stamp until `reset()`.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { Arena, Memory, OutOfMemoryError } from '../../../src/index.js';
import { assertDisjoint, command, sizeArb, stamp, verifyAll, type Block, type ModelSpec, type Real } from '../../support/model.js';

interface M {
  readonly blockSize: number;
  readonly maximum: number;
  /** Next byte of the current block, once one exists. */
  cur: number;
  remaining: number;
  usage: number;
  /** Σ block sizes (what must fit in the memory). */
  carved: number;
  readonly live: Block[];
  tag: number;
}
interface R extends Real {
  arena: Arena;
}
interface P {
  blockSize: number | undefined;
  maximum: number;
}

function allocate(m: M, r: R, size: number, aligned: boolean): void {
  const slop = aligned && m.cur % 8 !== 0 ? 8 - (m.cur % 8) : 0;
  const bump = size + slop <= m.remaining;
  const ownBlock = !bump && size > m.blockSize / 4;
  const blockBytes = bump ? 0 : ownBlock ? size : m.blockSize;
  let ptr: number;
  try {
    ptr = aligned ? r.arena.allocateAligned(size) : r.arena.allocate(size);
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    // Only a new block may run out, and only when the memory really cannot hold it
    // (each block costs at most 7 bytes of alignment; the first 8 bytes are never handed out).
    assert.ok(!bump, `allocate(${size}) failed though it fit the current block`);
    const blocks = (m.usage - m.carved) / 8;
    assert.ok(8 + m.carved + 7 * (blocks + 1) + blockBytes > m.maximum,
      `allocate(${size}) ran out with ${m.carved} of ${m.maximum} bytes carved in ${blocks} blocks`);
    assert.equal(r.arena.memoryUsage(), m.usage, 'a failed allocation changes nothing');
    return;
  }
  assert.ok(ptr > 0, 'never null');
  if (aligned) assert.equal(ptr % 8, 0, `allocateAligned(${size}) is 8-aligned`);
  if (bump) {
    assert.equal(ptr, m.cur + slop, 'bumped from the current block');
    m.cur = ptr + size;
    m.remaining -= size + slop;
  } else if (ownBlock) {
    assert.equal(ptr % 8, 0, 'blocks start 8-aligned');
    m.usage += size + 8;
    m.carved += size;
  } else {
    assert.equal(ptr % 8, 0, 'blocks start 8-aligned');
    m.usage += m.blockSize + 8;
    m.carved += m.blockSize;
    m.cur = ptr + size;
    m.remaining = m.blockSize - size;
  }
  assert.ok(ptr + size <= r.arena.memory.byteLength, 'inside the memory');
  assertDisjoint(m.live, ptr, size);
  const tag = ++m.tag;
  stamp(r.arena.memory.u8, ptr, size, tag);
  m.live.push({ ptr, size, tag });
}

const spec: ModelSpec<M, R, P> = {
  name: 'Arena',
  quickRuns: 60,
  maxCommands: 60,
  params: fc.record({
    blockSize: fc.constantFrom(undefined, 64, 100, 256, 4096),
    maximum: fc.constantFrom(1 << 16, 1 << 20),
  }),
  setup({ blockSize, maximum }) {
    const memory = Memory.create({ maximum });
    const arena = new Arena({ memory, ...(blockSize !== undefined ? { blockSize } : {}) });
    const model: M = { blockSize: blockSize ?? 4096, maximum, cur: 0, remaining: 0, usage: 0, carved: 0, live: [], tag: 0 };
    const real: R = {
      arena,
      check() {
        arena.check();
        assert.equal(arena.memoryUsage(), model.usage, 'memoryUsage() is Σ block sizes + 8 per block');
        verifyAll(arena.memory.u8, model.live);
      },
    };
    return { model, real };
  },
  commands: [
    command('allocate', sizeArb(3000, 1), (m: M, r: R, size) => allocate(m, r, size, false)),
    command('allocateAligned', sizeArb(3000, 1), (m: M, r: R, size) => allocate(m, r, size, true)),
    command('allocateHuge', fc.integer({ min: 1 << 14, max: 1 << 19 }), (m: M, r: R, size) => allocate(m, r, size, false)),
    command('reset', fc.constant(null), (m: M, r: R) => {
      r.arena.reset();
      m.cur = 0;
      m.remaining = 0;
      m.usage = 0;
      m.carved = 0;
      m.live.length = 0;
    }),
  ],
};

export const arenaSpecs = [spec];
