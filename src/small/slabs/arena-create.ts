/**
 * A new SlabArena's address space and control words: the options checked, the preallocated
 * slabs charged to the quota, the space reserved, and the header and geometry written, before
 * the arena object is built over them. (An arena attached from a handle: arena-attach.ts.)
 *
 * Memory source: `Memory.createHanded`: a growable buffer reserved up to the whole address
 * space the options allow (a shared wasm memory on Bun), with the control state and the
 * preallocated slabs committed.
 *
 * Thread-safety: it runs before any handle exists: no other worker sees the state yet.
 *
 * Failure: TypeError/RangeError naming the option; `QuotaExceededError` when the quota refuses
 * the preallocation; `OutOfMemoryError` when the space cannot be reserved. Nothing stays
 * charged to the quota when it throws.
 *
 * The options' type is declared here, beside the checks that read it (slab-arena.ts
 * re-exports it).
 */
import { QuotaExceededError } from '../../errors.js';
import { checkInstance, optionalBool, optionalInt, optionalPowerOfTwo, optionsBag, rangeError, typeError } from '../../internal/checks.js';
import { Kind, writeHeader } from '../../internal/header.js';
import { MAX_BYTE_LENGTH, Memory } from '../../memory.js';
import { requireSharedMemory } from '../../internal/shared-memory.js';
import { controlBytes, Ctl, VERSION } from './arena-layout.js';
import { Quota } from './quota.js';

/**
 * Options of the {@link SlabArena} constructor.
 * @category Arenas
 */
export interface SlabArenaOptions {
  /** Every carved slab is charged to it. */
  quota: Quota;
  /** Bytes per slab: a power of two in [64 KiB, 1 GiB]. Default 4 MiB. */
  slabSize?: number;
  /** Bytes of slabs to carve (and charge) at once, kept free for the first maps. Default 0. */
  prealloc?: number;
  /**
   * Bytes of address space to reserve, control slabs included; rounded down to slabs, at most
   * 4 GiB. Default: all 4 GiB (rounded down to slabs), so the quota can be raised later. It is
   * address space, not memory: only the control state is committed at construction (9.1 MiB
   * for 4 GiB with 4 MiB slabs, 9.6 MiB with 64 KiB slabs: the page map and page tags cover
   * every 4 KiB page), and of that only what is written costs memory (measured on Node 20:
   * 12 KiB of RSS with 4 MiB slabs, 270 KiB with 64 KiB slabs, most of it the slab states).
   */
  maximum?: number;
  /**
   * Let workers attach (`handle()`). Default true. With false the memory is this worker's alone
   * (`Memory.create` with `shared: false`: as fast, and no handle is given out).
   */
  shared?: boolean;
}

const MIN_SLAB = 65536;
const MAX_SLAB = 2 ** 30;
const DEFAULT_SLAB = 4 * 1024 * 1024;

/** The memory and quota of a new arena made with `opts`, its control words written. @internal */
export function createArena(opts: SlabArenaOptions): { memory: Memory; quota: Quota } {
  const where = 'SlabArena';
  if (typeof opts !== 'object' || opts === null) typeError(where, 'opts', 'an object with a quota', opts);
  const o = optionsBag<SlabArenaOptions>(where, opts);
  const quota = checkInstance(where, 'opts.quota', o.quota, Quota);
  const slabSize = optionalPowerOfTwo(where, 'slabSize', o.slabSize, DEFAULT_SLAB, MIN_SLAB, MAX_SLAB);
  const shift = Math.log2(slabSize);
  const shared = optionalBool(where, 'shared', o.shared, true);
  if (shared) requireSharedMemory(where);
  const maximum = optionalInt(where, 'maximum', o.maximum, MAX_BYTE_LENGTH, 0, MAX_BYTE_LENGTH);
  const nslabs = Math.floor(maximum / slabSize);
  const ctrl = Math.ceil(controlBytes(nslabs, shift) / slabSize);
  if (nslabs - ctrl < 1) {
    rangeError(where, 'maximum',
      `at least ${(Math.ceil(controlBytes(ctrl + 1, shift) / slabSize) + 1) * slabSize} (control slabs and one slab)`,
      o.maximum);
  }
  const prealloc = optionalInt(where, 'prealloc', o.prealloc, 0, 0, (nslabs - ctrl) * slabSize);
  const cbytes = controlBytes(nslabs, shift);
  const pre = Math.ceil(prealloc / slabSize);
  if (pre > 0 && quota.tryUse(pre * slabSize) < 0) {
    throw new QuotaExceededError(prealloc, quota.total,
      `SlabArena: prealloc ${prealloc} bytes exceed the quota (used ${quota.used} of ${quota.total})`);
  }
  let memory: Memory;
  try {
    memory = Memory.createHanded({ shared, maximum: nslabs * slabSize, initial: pre > 0 ? (ctrl + pre) * slabSize : cbytes });
  } catch (e) {
    if (pre > 0) quota.release(pre * slabSize);
    throw e;
  }
  const words = new Int32Array(memory.buffer, 0, 16);
  words[Ctl.SHIFT] = shift;
  words[Ctl.NSLABS] = nslabs;
  words[Ctl.CTRL] = ctrl;
  words[Ctl.CARVED] = ctrl + pre;
  words[Ctl.USED] = 0;
  words[Ctl.QUOTA_LO] = quota.identity % 2 ** 32 | 0;
  words[Ctl.QUOTA_HI] = Math.floor(quota.identity / 2 ** 32);
  writeHeader(words, Kind.SlabArena, VERSION, cbytes);
  return { memory, quota };
}
