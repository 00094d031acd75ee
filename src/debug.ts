/**
 * Debug mode: one switch, off by default. Each allocator reads it once, in its constructor, so
 * a disabled debug mode costs one field test at most. What it does and its contract are on
 * {@link setDebug}.
 */
import { optionalBool, optionalInt, optionsBag } from './internal/checks.js';

/**
 * Pattern written over memory as it is handed out in debug mode.
 * @category Errors and debug
 */
export const FRESH_BYTE = 0xa5;
/**
 * Pattern written over memory as it is freed in debug mode.
 * @category Errors and debug
 */
export const FREED_BYTE = 0xdd;

/**
 * The debug settings in force. Read them through {@link getDebug}.
 * @category Errors and debug
 */
export interface DebugOptions {
  /** Poison memory, refuse interior pointers, run `check()` periodically. Default false. */
  enabled?: boolean;
  /** Run `check()` every this many operations in debug mode; 0 never. Default 1024. */
  checkEvery?: number;
  /**
   * The quarantine's bound in frees: `Mempool` and `SmallAlloc` in debug mode hold back from
   * reuse the slots of at most this many of the latest frees; 0 turns the quarantine off.
   * Default 1024.
   */
  quarantine?: number;
  /**
   * The quarantine's bound in bytes: the frees held back hold at most this many bytes (a
   * large allocation counts its pages; one larger than this is not held). Default 4 MiB.
   */
  quarantineBytes?: number;
}

const state = { enabled: false, checkEvery: 1024, quarantine: 1024, quarantineBytes: 4 * 1024 * 1024 };

const env = typeof process !== 'undefined' ? process.env?.['BINALLOC_DEBUG'] : undefined;
if (env !== undefined && env !== '' && env !== '0') {
  state.enabled = true;
  const n = Number(env);
  if (Number.isInteger(n) && n > 1) state.checkEvery = n;
}

/**
 * Switches debug mode for allocators created from now on. Returns the settings in force.
 *
 * @remarks
 * When on, allocators created afterwards fill fresh memory with `FRESH_BYTE` and freed memory
 * with `FREED_BYTE`, refuse interior pointers on free, and run their own `check()` every
 * `checkEvery` operations. The environment variable `BINALLOC_DEBUG=1` (or `=N` for
 * `checkEvery` N) switches it on at load.
 *
 * The quarantine: release mode catches a free of a slot that is free now, but once the slot
 * has been handed out again, a second free of the old pointer looks like its new owner's free.
 * So in debug mode `Mempool` and `SmallAlloc` (its large allocations too) hold freed slots back
 * from reuse, as AddressSanitizer does: the latest `quarantine` frees, within
 * `quarantineBytes` bytes, stay taken (a second free of one is an `InvalidPointerError`), and
 * the oldest is reused when the window is full. Under memory pressure an allocator gives its
 * quarantine back before one of its own allocations fails, so it never makes one fail that
 * would succeed in release mode. (Another allocator over the same SlabCache does not reach
 * it: the window is bounded, but the slabs it pins may be more than its bytes.)
 * `stats().quarantined` counts the frees it holds.
 *
 * Thread-safety: the switch is this worker's; each worker loads its own copy of the module.
 *
 * Failure: a bad option is a `TypeError`/`RangeError` naming it; the settings are then unchanged.
 *
 *     import { setDebug } from 'binalloc';
 *     setDebug({ enabled: true, checkEvery: 1000 });
 * @category Errors and debug
 */
export function setDebug(opts: DebugOptions): Readonly<Required<DebugOptions>> {
  const o = optionsBag<DebugOptions>('setDebug', opts);
  const enabled = optionalBool('setDebug', 'enabled', o.enabled, state.enabled);
  const checkEvery = optionalInt('setDebug', 'checkEvery', o.checkEvery, state.checkEvery, 0, 2 ** 31 - 1);
  const quarantine = optionalInt('setDebug', 'quarantine', o.quarantine, state.quarantine, 0, 2 ** 31 - 1);
  const quarantineBytes = optionalInt('setDebug', 'quarantineBytes', o.quarantineBytes, state.quarantineBytes, 0, Number.MAX_SAFE_INTEGER);
  state.enabled = enabled;
  state.checkEvery = checkEvery;
  state.quarantine = quarantine;
  state.quarantineBytes = quarantineBytes;
  return { ...state };
}

/**
 * The debug settings in force now, in this worker (see {@link setDebug}).
 * @category Errors and debug
 */
export function getDebug(): Readonly<Required<DebugOptions>> {
  return { ...state };
}

/**
 * Debug mode's periodic check, the one every allocator keeps: `due()` counts one operation and
 * says when the allocator's `check()` should run (every `checkEvery` operations; never when
 * `checkEvery` is 0). @internal
 */
export class PeriodicCheck {
  private ops = 0;

  constructor(private readonly every: number) {}

  /** One more operation: true when check() is due. */
  due(): boolean {
    return this.every !== 0 && ++this.ops % this.every === 0;
  }
}
