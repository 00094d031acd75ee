/**
 * The owner registry of a SlabArena: one entry per live `SlabCache`, and one per worker that maps
 * slabs straight from the arena (`map`, `mapRun`: LSRegion, plain maps), each naming the worker
 * it lives in, so that another worker can take over (adopt) what a worker that exited held. An
 * entry's full id is recorded as the owner of every arena slab it holds (`arena.slabOwner`).
 *
 * Memory source: `OWNERS` entries of 4 Int32 words in the arena's control state (at
 * `REGISTRY_BYTE`, see arena-layout.ts); these functions take that view (`arena.registry`) and
 * allocate nothing but `claimOwners`'s result.
 *
 * Thread-safety: lock-free; any worker that attached the arena may call any of them at any
 * time, racing the others. Each state step is one compare-exchange of an entry's word 0; an
 * entry's thread and id words change only while the entry is CLAIMING (held by one caller).
 * A worker killed in the middle of a step leaves at most that one entry CLAIMING (lost).
 *
 * Failure: `registerOwner` throws `OutOfMemoryError` when every entry is taken and `RangeError`
 * for a bad thread id; `claimOwners` throws `RangeError` for bad arguments. A stale or foreign
 * id given to the others changes nothing.
 *
 * Entry e (1..OWNERS), 4 Int32 words:
 * ```
 *  word 0: adopter << 2 | state     word 1: thread id     word 2: full id (last one issued)     word 3: kind
 * ```
 * Kind (`OwnerKind`): CACHE, a `SlabCache` (adoption takes its slabs over); MAPS, a worker's
 * direct maps (adoption unmaps them: nobody can reach what an exited worker mapped for itself);
 * VIEWS, the read views of one `SlabArena` object (registered at its first `openReadView`; its
 * entry index is its view slot, arena-views.ts; adoption closes what the worker left open).
 * A worker has at most one LIVE MAPS entry per arena, registered at its first direct map.
 * A full owner id is `e + OWNERS * gen` (gen >= 1, bumped on each registration of the entry,
 * the id below 2^30), so a stale id never matches a re-registered entry. States:
 * ```
 *  FREE --registerOwner--> CLAIMING --> LIVE --releaseOwner--> FREE
 *                                         |
 *                                   claimOwners(its thread, X): adopter = X
 *                                         v
 *                                      ADOPTING --finishOwner(id, X)--> FREE
 *                                         |  ^
 *                                         +--+ claimOwners by another adopter Y (X died, or
 *                                              Y races X): adopter = Y
 * ```
 * State and adopter share one word, so each step is one compare-exchange.
 *
 * Invariants (`inspectRegistry` verifies them): the kind is CACHE, MAPS or VIEWS, CACHE when FREE; a
 * non-zero id is an id of its entry; the thread id is >= 0; only an ADOPTING entry has an
 * adopter, and it is an owner id; a LIVE or ADOPTING entry has an id.
 */
import { OutOfMemoryError } from '../../errors.js';
import { checkInt, rangeError } from '../../internal/checks.js';

/** Entries in the owner registry. */
export const OWNERS = 4096;

/** What an owner entry stands for (word 3 of its entry). @internal */
export const enum OwnerKind {
  /** A SlabCache: adoption takes its slabs over. */
  CACHE = 0,
  /** A worker's direct maps (`SlabArena.map`, `mapRun`): adoption unmaps them. */
  MAPS = 1,
  /** A SlabArena object's read views (arena-views.ts): adoption closes them. Owns no slab. */
  VIEWS = 2,
}

/** Owner ids are below this. */
const ID_LIMIT = 2 ** 30;

/** Owner registry states (low 2 bits of an entry's word 0). */
const O_FREE = 0;
const O_CLAIMING = 1;
const O_LIVE = 2;
const O_ADOPTING = 3;

/**
 * The registry entry (1..OWNERS) of owner id `id`, or 0 when `id` is not an owner id (ids are
 * `entry + OWNERS * gen`, gen >= 1, below 2^30). @internal
 */
export function ownerIndex(id: number): number {
  return Number.isInteger(id) && id > OWNERS && id < ID_LIMIT ? ((id - 1) & (OWNERS - 1)) + 1 : 0;
}

/**
 * Claims a registry entry of `kind` (by default a `SlabCache`'s) living in worker `threadId`;
 * returns its full id (`entry + OWNERS * gen`, below 2^30). Throws `OutOfMemoryError` when all
 * `OWNERS` entries are taken. @internal
 */
export function registerOwner(r: Int32Array, threadId: number, kind: OwnerKind = OwnerKind.CACHE): number {
  checkInt('SlabArena.registerOwner', 'threadId', threadId, 0, 2 ** 31 - 1);
  for (let e = 1; e <= OWNERS; e++) {
    const b = 4 * (e - 1);
    if (Atomics.load(r, b) !== O_FREE || Atomics.compareExchange(r, b, O_FREE, O_CLAIMING) !== O_FREE) continue;
    const last = Atomics.load(r, b + 2);
    let id = last === 0 ? e + OWNERS : last + OWNERS;
    if (id >= ID_LIMIT) id = e + OWNERS;
    Atomics.store(r, b + 1, threadId);
    Atomics.store(r, b + 2, id);
    Atomics.store(r, b + 3, kind);
    Atomics.store(r, b, O_LIVE);
    return id;
  }
  throw new OutOfMemoryError(0, `SlabArena: all ${OWNERS} slab cache owner entries are in use`);
}

/**
 * Frees the registry entry of `id` (LIVE or ADOPTING) if `id` is still its current id; a stale
 * id changes nothing. Its slabs must have been handed over or returned first. @internal
 */
export function releaseOwner(r: Int32Array, id: number): void {
  const e = ownerIndex(id);
  if (e === 0) return;
  const b = 4 * (e - 1);
  for (;;) {
    const w = Atomics.load(r, b);
    const s = w & 3;
    if ((s !== O_LIVE && s !== O_ADOPTING) || Atomics.load(r, b + 2) !== id) return;
    if (Atomics.compareExchange(r, b, w, O_CLAIMING) !== w) continue;
    freeClaimed(r, b, id, w);
    return;
  }
}

/** The worker thread id registered for owner `id`, or -1 if `id` is not a live or adopted entry's current id. @internal */
export function ownerThread(r: Int32Array, id: number): number {
  return entryWord(r, id, 1);
}

/**
 * The kind of owner `id` (`OwnerKind`) if it is the current id of a LIVE or ADOPTING entry,
 * else -1. @internal
 */
export function ownerKind(r: Int32Array, id: number): number {
  return entryWord(r, id, 3);
}

/** Word `word` of owner `id`'s entry if `id` is the current id of a LIVE or ADOPTING entry, else -1. */
function entryWord(r: Int32Array, id: number, word: number): number {
  const e = ownerIndex(id);
  if (e === 0) return -1;
  const b = 4 * (e - 1);
  const s = Atomics.load(r, b) & 3;
  if ((s !== O_LIVE && s !== O_ADOPTING) || Atomics.load(r, b + 2) !== id) return -1;
  return Atomics.load(r, b + word);
}

/**
 * The id of worker `threadId`'s LIVE MAPS entry, or 0 when it has none. Only that worker
 * registers its MAPS entry, so its search and then its registration race no one. @internal
 */
export function findMapsOwner(r: Int32Array, threadId: number): number {
  for (let e = 1; e <= OWNERS; e++) {
    const b = 4 * (e - 1);
    if ((Atomics.load(r, b) & 3) !== O_LIVE || Atomics.load(r, b + 3) !== OwnerKind.MAPS || Atomics.load(r, b + 1) !== threadId) continue;
    const id = Atomics.load(r, b + 2);
    if (ownerLive(r, id)) return id;
  }
  return 0;
}

/** True when `id` is the current id of a LIVE entry (registered, not being adopted). @internal */
export function ownerLive(r: Int32Array, id: number): boolean {
  const e = ownerIndex(id);
  return e !== 0 && entryLive(r, e, id);
}

/** {@link ownerLive} for `id`, whose entry `e` (= ownerIndex(id)) the caller already knows. @internal */
export function entryLive(r: Int32Array, e: number, id: number): boolean {
  const b = 4 * (e - 1);
  return (Atomics.load(r, b) & 3) === O_LIVE && Atomics.load(r, b + 2) === id;
}

/**
 * Takes the registry entries the caller, the cache `adopter`, must now adopt and returns their
 * full ids: (a) LIVE entries of worker `threadId` other than `adopter`; (b) ADOPTING entries of
 * `threadId` (an adoption whose adopter died, or a concurrent one: taken over); (c) ADOPTING
 * entries whose adopter is one of the ids taken (adopting a killed adopter takes over what it
 * was adopting), to a fixed point. Each ends ADOPTING with this adopter, by compare-exchange,
 * so racing callers are fine: an entry one of them takes over drops out of the other's
 * adoption, whose slab-by-slab exchanges of `slabOwner` then fail. @internal
 */
export function claimOwners(r: Int32Array, threadId: number, adopter: number): number[] {
  checkInt('SlabArena.claimOwners', 'threadId', threadId, 0, 2 ** 31 - 1);
  if (ownerIndex(adopter) === 0) rangeError('SlabArena.claimOwners', 'adopter', 'an owner id from registerOwner', adopter);
  const mine = ((adopter << 2) | O_ADOPTING) | 0;
  const ids: number[] = [];
  const taken = new Uint8Array(OWNERS + 1);
  for (let more = true; more;) {
    more = false;
    for (let e = 1; e <= OWNERS; e++) {
      if (taken[e]) continue;
      const b = 4 * (e - 1);
      const w = Atomics.load(r, b);
      const s = w & 3;
      if (s !== O_LIVE && s !== O_ADOPTING) continue;
      const id = Atomics.load(r, b + 2);
      const t = Atomics.load(r, b + 1);
      const a = w >>> 2;
      if (id === adopter) continue;
      const wanted = s === O_LIVE ? t === threadId : t === threadId || (a !== 0 && ids.includes(a));
      if (!wanted) continue;
      if (w !== mine && Atomics.compareExchange(r, b, w, mine) !== w) continue;
      // An entry freed and registered again between the loads and the exchange (same word)
      // is not the one chosen: give it back.
      if (Atomics.load(r, b + 2) !== id || Atomics.load(r, b + 1) !== t) {
        if (w !== mine) Atomics.compareExchange(r, b, mine, w);
        continue;
      }
      taken[e] = 1;
      ids.push(id);
      more = true;
    }
  }
  return ids;
}

/** Frees the entry of `id` if it is still ADOPTING with adopter `adopter` (the adoption is done). @internal */
export function finishOwner(r: Int32Array, id: number, adopter: number): void {
  const e = ownerIndex(id);
  if (e === 0 || ownerIndex(adopter) === 0) return;
  const b = 4 * (e - 1);
  const mine = ((adopter << 2) | O_ADOPTING) | 0;
  if (Atomics.load(r, b + 2) !== id || Atomics.compareExchange(r, b, mine, O_CLAIMING) !== mine) return;
  freeClaimed(r, b, id, mine);
}

/**
 * The entry at word `b`, which this worker has just set CLAIMING over its state word `was`:
 * CLAIMING holds it, so its id cannot change now, but it may have been re-registered between
 * the caller's id test and the exchange: then it is not ours to free and gets `was` back; else
 * it is freed.
 */
function freeClaimed(r: Int32Array, b: number, id: number, was: number): void {
  if (Atomics.load(r, b + 2) !== id) {
    Atomics.store(r, b, was);
    return;
  }
  Atomics.store(r, b + 1, 0);
  Atomics.store(r, b + 3, OwnerKind.CACHE);
  Atomics.store(r, b, O_FREE);
}

/**
 * The registry's part of the arena's invariant walk (`check()`, `attach`): every entry on its
 * own, each word read once, so it may run while other workers map and unmap. The first problem
 * found, or null. @internal
 */
export function inspectRegistry(r: Int32Array): string | null {
  for (let e = 1; e <= OWNERS; e++) {
    const b = 4 * (e - 1);
    const w = Atomics.load(r, b);
    const s = w & 3;
    const a = w >>> 2;
    const t = Atomics.load(r, b + 1);
    const id = Atomics.load(r, b + 2);
    const kind = Atomics.load(r, b + 3);
    if (kind !== OwnerKind.CACHE && kind !== OwnerKind.MAPS && kind !== OwnerKind.VIEWS) return `owner entry ${e} has kind ${kind}, which is none`;
    if (s === O_FREE && kind !== OwnerKind.CACHE) return `owner entry ${e} is free but has kind ${kind}`;
    if (id !== 0 && ownerIndex(id) !== e) return `owner entry ${e} holds id ${id}, which is not an id of entry ${e}`;
    if (t < 0) return `owner entry ${e} has thread ${t}`;
    if (s === O_ADOPTING ? ownerIndex(a) === 0 : a !== 0) return `owner entry ${e} (state ${s}) has adopter ${a}`;
    if ((s === O_LIVE || s === O_ADOPTING) && id === 0) return `owner entry ${e} is in use but has no id`;
  }
  return null;
}
