/**
 * Model of `Memory`: the committed length, growth up to the reserved maximum (a grow past it
 * throws `OutOfMemoryError` and changes nothing), and bytes written surviving every growth,
 * read back through a view taken before or after the grow and through a second `Memory` that
 * wraps the same buffer.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { Memory, OutOfMemoryError } from '../../../src/index.js';
import { command, expectThrow, type ModelSpec, type Real } from '../../support/model.js';
import { committed } from '../../support/paged.js';

interface M {
  byteLength: number;
  readonly maximum: number;
  /** offset -> byte written there. */
  readonly bytes: Map<number, number>;
}
interface R extends Real {
  mem: Memory;
  /** A second Memory over the same buffer (shared runs only). */
  twin: Memory | null;
}

function verify(m: M, r: R): void {
  assert.equal(r.mem.byteLength, m.byteLength, 'byteLength');
  assert.equal(r.mem.u8.length, m.byteLength, 'u8 covers the whole buffer');
  assert.equal(r.mem.dv.byteLength, m.byteLength, 'dv covers the whole buffer');
  const u8 = r.mem.u8;
  for (const [off, v] of m.bytes) assert.equal(u8[off], v, `byte ${off}`);
  if (r.twin !== null) {
    const t = r.twin.u8;
    assert.equal(t.length, m.byteLength, 'the twin sees the growth');
    for (const [off, v] of m.bytes) assert.equal(t[off], v, `twin byte ${off}`);
  }
}

function spec(shared: boolean): ModelSpec<M, R> {
  const maximum = 1 << 18;
  // Unshared memory on Bun commits whole wasm pages (Memory.create).
  const commit = (n: number): number => (shared ? n : committed(n, maximum));
  return {
    name: shared ? 'Memory (shared)' : 'Memory',
    quickRuns: 40,
    maxCommands: 40,
    setup() {
      const mem = Memory.create({ initial: 1024, maximum, shared });
      const twin = shared ? Memory.wrap(mem.buffer) : null;
      const real: R = { mem, twin, check: () => {} };
      const model: M = { byteLength: commit(1024), maximum, bytes: new Map() };
      real.check = () => verify(model, real);
      return { model, real };
    },
    commands: [
      command('grow', fc.integer({ min: 0, max: maximum + 4096 }), (m: M, r: R, n) => {
        if (n > m.maximum) {
          expectThrow(() => r.mem.grow(n), OutOfMemoryError, `grow(${n})`);
        } else {
          r.mem.grow(n);
          m.byteLength = Math.max(m.byteLength, commit(n));
        }
      }),
      command('twinGrow', fc.integer({ min: 0, max: maximum }), (m: M, r: R, n) => {
        r.twin!.grow(n);
        m.byteLength = Math.max(m.byteLength, n);
      }, () => shared),
      command('write', fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), (m: M, r: R, [at, v]) => {
        const off = at % m.byteLength;
        r.mem.u8[off] = v;
        m.bytes.set(off, v);
      }),
      command('writeDv', fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), (m: M, r: R, [at, v]) => {
        const off = at % m.byteLength;
        r.mem.dv.setUint8(off, v);
        m.bytes.set(off, v);
      }),
    ],
  };
}

export const memorySpecs = [spec(false), spec(true)];
