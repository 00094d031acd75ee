/**
 * What reading and writing a Memory costs, by the kind of buffer behind it and the way it is
 * viewed. The allocators hand out offsets; every use of the memory then goes through a view
 * (`memory.u8`, `memory.dv`, or one made over `memory.buffer`), so this cost is paid by every
 * user of every allocator.
 *
 * Kinds: a plain, fixed `ArrayBuffer` (`Memory.wrap`, the baseline); `Memory.create()`, a
 * growable `SharedArrayBuffer` kept to one worker (what `Arena` uses by default, and `SlabArena`
 * with `shared: false`); a resizable `ArrayBuffer` (what `Memory.create()` falls back to where
 * `SharedArrayBuffer` is missing, and what it was before); `Memory.create({ shared: true })`
 * (`SlabArena`'s default); a `WebAssembly.Memory`. Views: the Memory's own fixed-length views, and a view made without a
 * length over a growable buffer, which tracks the buffer's length as it grows.
 *
 * Each case runs its own copy of its loop (`specialize`), so no kind's views reach another's
 * compiled code. One operation is a write and a read elsewhere in the first KiB.
 */
import { Memory } from '../src/memory.js';
import { compare, type Case } from './support/harness.js';
import { specialize } from './support/peers.js';

const OPS = 1000;

/** Writes byte i and reads another, through `u8`. */
function bytesLoop(u8: Uint8Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    u8[i] = i;
    sum = (sum + u8[(i * 7) & 1023]!) | 0;
  }
  return sum;
}

/** Writes a little-endian int32 and reads another, through `dv`. */
function dataViewLoop(dv: DataView, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    dv.setInt32((i * 4) & 1023, i, true);
    sum = (sum + dv.getInt32((i * 28) & 1020, true)) | 0;
  }
  return sum;
}

/** Writes a byte through `memory.u8`, getting the view anew each time. */
function getterLoop(memory: Memory, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const u8 = memory.u8;
    u8[i & 1023] = i;
    sum = (sum + u8.length) | 0;
  }
  return sum;
}

/** Runs the Memory groups. */
export async function run(): Promise<void> {
  const size = 1 << 20;
  const fixed = Memory.wrap(new ArrayBuffer(size));
  const unshared = Memory.create({ initial: size, maximum: 16 * size });
  const resizable = Memory.wrap(new ArrayBuffer(size, { maxByteLength: 16 * size }));
  const growable = Memory.create({ initial: size, maximum: 16 * size, shared: true });
  const wasm = Memory.wrap(new WebAssembly.Memory({ initial: size >>> 16, maximum: 256 }));
  const base = 'fixed ArrayBuffer';
  const kinds: Array<[string, Memory]> = [
    [base, fixed],
    ['Memory.create()', unshared],
    ['resizable ArrayBuffer', resizable],
    ['Memory.create({ shared: true })', growable],
    ['WebAssembly.Memory', wasm],
  ];

  const bytes: Case[] = [];
  const words: Case[] = [];
  const getters: Case[] = [];
  const vs = (name: string, suffix: string): { vs?: string } => (name === base ? {} : { vs: `${base}: ${suffix}` });
  for (const [name, memory] of kinds) {
    const b = specialize(bytesLoop);
    const w = specialize(dataViewLoop);
    const g = specialize(getterLoop);
    const u8 = memory.u8;
    const dv = memory.dv;
    bytes.push({ name: `${name}: memory.u8`, ops: OPS, fn: () => b(u8, OPS), ...vs(name, 'memory.u8') });
    words.push({ name: `${name}: memory.dv`, ops: OPS, fn: () => w(dv, OPS), ...vs(name, 'memory.dv') });
    getters.push({ name: `${name}: memory.u8 per write`, ops: OPS, fn: () => g(memory, OPS), ...vs(name, 'memory.u8 per write') });
  }
  const growableKinds: Array<[string, Memory]> = [
    ['resizable ArrayBuffer', resizable],
    ['Memory.create({ shared: true })', growable],
  ];
  for (const [name, memory] of growableKinds) {
    const b = specialize(bytesLoop);
    const tracking = new Uint8Array(memory.buffer);
    bytes.push({ name: `${name}: view without a length`, ops: OPS, fn: () => b(tracking, OPS), vs: `${base}: memory.u8` });
  }
  await compare('Memory: a byte written and one read (ns per pair)', bytes);
  await compare('Memory: an int32 written and one read, through memory.dv (ns per pair)', words);
  await compare('Memory: a byte written through memory.u8, the getter read each time (ns per write)', getters);
}
