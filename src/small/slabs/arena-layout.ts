/**
 * Where a SlabArena's state lies in its buffer: the control words, the hint, the owner registry
 * and the per-slab and per-page arrays, and the slab states. One source of these numbers for
 * slab-arena.ts and the modules beside it (arena-attach.ts, arena-check.ts, arena-runs.ts);
 * what the states mean is in slab-arena.ts, how maps and unmaps move between them in
 * arena-runs.ts. `ArenaWords` names the views of this layout an arena keeps: what the modules
 * beside it read, so they take the arena as that shape and never import it.
 *
 * Memory source: none; names, offsets and the size of the control state. Thread-safety:
 * constants, a type and a pure function. Failure: none.
 *
 * Layout of the buffer (the control state fills the first `ctrlSlabs` slabs, so no slab at
 * address 0 is ever handed out; n = maximum / slabSize slabs, P = n * slabSize / 4096 pages):
 * ```
 *  byte 0      16                     48        56        64                 V = 64+16*OWNERS (OWNERS = 4096)
 *  +-----------+----------------------+---------+---------+------------------+----------------+---------+----------+---------+----------+
 *  | header    | shift, n, ctrl,      | hint    | begun,  | owner registry   | read views     | info[n] | owner[n] | pageMap | pageTags |
 *  | (Kind.    | carved, used, quota  | BigUint | ended   | 4 x Int32        | epoch, held,   | Int32   | Int32    | 1 byte  | 2 x Int32|
 *  | SlabArena)| id low/high, pressure| ver<<32 | (op     | x OWNERS         | high, 0,       |         |          | x P     | x P      |
 *  |           | (Int32 words 4..11)  | | index | counts) |                  | slot x OWNERS  |         |          |         |          |
 *  +-----------+----------------------+---------+---------+------------------+----------------+---------+----------+---------+----------+
 *  ... padding to ctrlSlabs * slabSize | slab ctrlSlabs | slab ctrlSlabs+1 | ... | slab n-1 |
 * ```
 * The owner registry's entries are described in owner-registry.ts, the read views' words in
 * arena-views.ts.
 */
import { Page } from './page-map.js';
import { OWNERS } from './owner-registry.js';

/**
 * Version of this layout, in the header; it also covers the format of the blocks' headers
 * (block-header.ts, large.ts), which every worker attached reads. @internal
 */
export const VERSION = 5;

// const enums: tsc writes their values in as literals, so no reader loads a module binding.

/** Int32 word indexes of the control words (after the 16-byte header). @internal */
export const enum Ctl {
  /** log2(slabSize) */
  SHIFT = 4,
  /** Slabs in the whole reserved space, control slabs included. */
  NSLABS = 5,
  /** Control slabs. */
  CTRL = 6,
  /** Index of the first slab never carved. */
  CARVED = 7,
  /** Slabs handed out. */
  USED = 8,
  /** The quota's identity, low 32 bits. */
  QUOTA_LO = 9,
  /** And high bits. */
  QUOTA_HI = 10,
  /**
   * Memory pressure's generation: a worker whose allocation failed with empty blocks still kept
   * in caches adds 1, and every worker's caches give their empty blocks back at their next
   * slow path that sees it changed (spare-block.ts).
   */
  PRESSURE = 11,
  /** Maps and unmaps started. */
  BEGUN = 14,
  /** And finished. */
  ENDED = 15,
}

/** Slab states besides k > 0 (a run's start) and -j (inside a run). @internal */
export const enum SlabState {
  /** Carved and free. */
  FREE = 0,
  /** Never carved (or carved by a map that has not yet claimed it). */
  UNCARVED = -0x80000000,
  /** Held by a map or unmap in flight (or leaked by a killed worker). */
  CLAIMING = -0x7fffffff,
}

/** BigUint64: frees << 32 | lowest slab index that may be free. @internal */
export const HINT_BYTE = 48;
/** The owner registry: OWNERS entries of 4 Int32 words. @internal */
export const REGISTRY_BYTE = 64;
/** The read views' words (arena-views.ts): 4 Int32 words, then one slot per owner entry. @internal */
export const VIEWS_BYTE = REGISTRY_BYTE + 16 * OWNERS;
/** The per-slab arrays (info, owner), then the per-page ones (page map, page tags). @internal */
export const ARRAYS_BYTE = VIEWS_BYTE + 16 + 4 * OWNERS;

/**
 * Int32 word indexes, in the whole buffer, of the read views' words (their meaning: arena-views.ts).
 * Absolute, so the allocators read them through the Int32 view of the buffer they already
 * hold. @internal
 */
export const enum Vw {
  /** The epoch: bumped by every batch of frees checked while a view is open anywhere. Starts at 1. */
  EPOCH = (64 + 16 * 4096) / 4,
  /** Bytes held back by every allocator over the arena (a Uint32). */
  HELD = (64 + 16 * 4096) / 4 + 1,
  /** The highest owner entry registered for views (slots above it are 0); word + 3 is unused, 0. */
  HIGH = (64 + 16 * 4096) / 4 + 2,
  /** Slot of owner entry e (1..OWNERS) is word SLOTS + e - 1. */
  SLOTS = (64 + 16 * 4096) / 4 + 4,
}
/** The hint's slab index half. @internal */
export const LOW = 0xffffffffn;

/**
 * A SlabArena's views of the words above and its geometry, as the modules beside it read them
 * (a `SlabArena` is one). @internal
 */
export interface ArenaWords {
  /** Control words 0..15 (indexes: `Ctl`). */
  readonly ctl: Int32Array;
  /** The free hint: frees << 32 | lowest slab that may be free. */
  readonly hint: BigUint64Array;
  /** The owner registry's entries. */
  readonly registry: Int32Array;
  /** Per slab: its state (a run's length at its start, -j inside it, or a `SlabState`). */
  readonly slabInfo: Int32Array;
  /** Per slab: the owner id holding it, 0 for none. */
  readonly slabOwner: Int32Array;
  /** Per 4 KiB page: the page map. */
  readonly pageMap: Uint8Array;
  /** Two Int32 words per 4 KiB page. */
  readonly pageTags: Int32Array;
  /** Slabs in the whole address space, control slabs included. */
  readonly slabCount: number;
  /** Slabs the control state takes; the first data slab is this index. */
  readonly ctrlSlabs: number;
  /** Bytes per slab. */
  readonly slabSize: number;
  /** 4 KiB pages per slab. */
  readonly pagesPerSlab: number;
}

/** Bytes of control state for `nslabs` slabs of 2^shift bytes. @internal */
export function controlBytes(nslabs: number, shift: number): number {
  const pages = nslabs * 2 ** (shift - Page.SHIFT);
  return ARRAYS_BYTE + 8 * nslabs + 9 * pages; // a multiple of 8: pages is a multiple of 16
}
