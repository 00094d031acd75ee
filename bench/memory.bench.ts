/**
 * What reading and writing a Memory costs, by the kind of buffer behind it. The allocators hand
 * out offsets; every use of the memory then goes through `memory.u8` / `memory.dv` (or a view of
 * `memory.buffer`), so this cost is paid by every user of every allocator.
 *
 * - `Memory.wrap(new ArrayBuffer(n))`: a plain, fixed buffer (the baseline);
 * - `Memory.create()`: the default, a resizable `ArrayBuffer` (what `Arena` uses by default, and
 *   `SlabArena` with `shared: false`);
 * - `Memory.create({ shared: true })`: a growable `SharedArrayBuffer` (`SlabArena`'s default);
 * - `Memory.wrap(new WebAssembly.Memory(...))`.
 *
 * Each kind runs its own copy of each loop (`specialize`), so no kind's views reach another's
 * compiled code. One operation is a 1-byte (or 4-byte) write and a read elsewhere in the first
 * KiB.
 */
import { Memory } from '../src/memory.js';
import { compare, type Case } from './support/harness.js';
import { specialize } from './support/peers.js';

const OPS = 1000;

/** Writes byte i and reads another, through `memory.u8`. */
function bytesLoop(memory: Memory, n: number): number {
  const u8 = memory.u8;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    u8[i] = i;
    sum = (sum + u8[(i * 7) & 1023]!) | 0;
  }
  return sum;
}

/** Writes a little-endian int32 and reads another, through `memory.dv`. */
function dataViewLoop(memory: Memory, n: number): number {
  const dv = memory.dv;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const at = (i * 4) & 1023;
    dv.setInt32(at, i, true);
    sum = (sum + dv.getInt32((i * 28) & 1020, true)) | 0;
  }
  return sum;
}

/** Runs the Memory group. */
export async function run(): Promise<void> {
  const size = 1 << 20;
  const kinds: Array<[string, Memory]> = [
    ['fixed ArrayBuffer', Memory.wrap(new ArrayBuffer(size))],
    ['Memory.create() (resizable ArrayBuffer)', Memory.create({ initial: size, maximum: 16 * size })],
    ['Memory.create({ shared: true })', Memory.create({ initial: size, maximum: 16 * size, shared: true })],
    ['WebAssembly.Memory', Memory.wrap(new WebAssembly.Memory({ initial: size >>> 16, maximum: 256 }))],
  ];
  const bytes: Case[] = [];
  const words: Case[] = [];
  for (const [name, memory] of kinds) {
    const b = specialize(bytesLoop);
    const w = specialize(dataViewLoop);
    const vs = name === kinds[0]![0] ? {} : { vs: `${kinds[0]![0]}: u8` };
    const vsDv = name === kinds[0]![0] ? {} : { vs: `${kinds[0]![0]}: dv` };
    bytes.push({ name: `${name}: u8`, ops: OPS, fn: () => b(memory, OPS), ...vs });
    words.push({ name: `${name}: dv`, ops: OPS, fn: () => w(memory, OPS), ...vsDv });
  }
  await compare('Memory: a byte written and one read, through memory.u8 (ns per pair)', bytes);
  await compare('Memory: an int32 written and one read, through memory.dv (ns per pair)', words);
}
