/**
 * The SlabArena's invariant walker: reads the whole control state and names the first broken
 * invariant (see slab-arena.ts's module comment for the invariants). `SlabArena.check()` runs
 * `inspectShared` and `inspectQuiet`; `SlabArena.attach` runs `inspectShared` with the page
 * arrays and then `inspectWhenQuiet`, so a corrupt buffer from another worker is refused before
 * it is used. The owner registry's own walk is owner-registry.ts's `inspectRegistry`.
 *
 * Memory source: none; it reads the arena's views (`ArenaWords`: `ctl`, `hint` and the per-slab
 * and per-page arrays) and its quota's charge, and allocates only one Int32 view of the page
 * map and the counters it starts from.
 *
 * Thread-safety: it only reads, and may run while other workers map and unmap. `inspectShared`
 * checks what holds at every instant (each word on its own; slabs seen in use are compared with
 * the carved end read afterwards). `inspectQuiet` assumes no map or unmap is in flight in a live
 * worker; `inspectWhenQuiet` runs it only inside a moment it sees quiet (the begun and ended
 * counts equal before and unchanged after).
 *
 * Failure: none thrown; each returns the first problem found, as text, or null.
 */
import { Ctl, LOW, SlabState, type ArenaWords } from './arena-layout.js';
import { ownerIndex, ownerLive, ownerThread } from './owner-registry.js';

/** What `inspectShared` reads of an arena: its words, and its quota's charge (a `SlabArena` has both). @internal */
export interface CheckedArena extends ArenaWords {
  /** The arena's quota: every carved slab is charged to it. */
  readonly quota: { readonly used: number };
}

/** The counters both walks start from: the carved end, the slabs `used` counts, the hint's slab. */
function counters(arena: ArenaWords): { carved: number; used: number; hint: number } {
  return {
    carved: Atomics.load(arena.ctl, Ctl.CARVED),
    used: Atomics.load(arena.ctl, Ctl.USED),
    hint: Number(Atomics.load(arena.hint, 0) & LOW),
  };
}

/**
 * What can be checked while other workers map and unmap: the control words, every slab's
 * info and owner word on its own, and that never-carved slabs have UNCARVED info and owner 0
 * (with `pages`, also zero page map and page tags: that reads the whole control state). The
 * first problem found, or null. The registry entries are `inspectRegistry`'s. @internal
 */
export function inspectShared(arena: CheckedArena, pages: boolean): string | null {
  const n = arena.slabCount;
  const ctrl = arena.ctrlSlabs;
  const { carved: carved0, used, hint } = counters(arena);
  if (carved0 < ctrl || carved0 > n) return `carved end ${carved0} is outside [${ctrl}, ${n}]`;
  if (used < 0 || used > n - ctrl) return `used counts ${used} slabs, outside [0, ${n - ctrl}]`;
  if (hint < ctrl || hint > n) return `free hint ${hint} is outside [${ctrl}, ${n}]`;
  // A carve charges the quota before it moves the carved end, and a carved slab stays charged:
  // the charge read after the end covers it at every instant (other users of the quota only add).
  const charged = arena.quota.used;
  if (charged < (carved0 - ctrl) * arena.slabSize) {
    return `the quota has ${charged} bytes charged, less than the ${(carved0 - ctrl) * arena.slabSize} bytes of the ${carved0 - ctrl} slabs carved`;
  }
  const info = arena.slabInfo;
  const owner = arena.slabOwner;
  for (let i = 0; i < ctrl; i++) {
    if (info[i] !== SlabState.UNCARVED || owner[i] !== 0) return `control slab ${i} has info ${info[i]} and owner ${owner[i]}`;
  }
  // Any slab seen in use must lie below the carved end read afterwards: a carve moves the
  // end before it writes its slabs.
  let last = -1;
  for (let i = ctrl; i < n; i++) {
    const v = info[i]!;
    const o = owner[i]!;
    if (v !== SlabState.UNCARVED) {
      if (v !== SlabState.FREE && v !== SlabState.CLAIMING && !(v > 0 && v <= n - i) && !(v < 0 && v >= ctrl - i)) {
        return `slab ${i} has info ${v}, which is no state`;
      }
      last = i;
    }
    if (o !== 0) {
      if (ownerIndex(o) === 0) return `slab ${i} has owner ${o}, which is no owner id`;
      last = i;
    }
  }
  const ppw = arena.pagesPerSlab >>> 2; // Int32 words of page map per slab
  const pm32 = new Int32Array(arena.pageMap.buffer, arena.pageMap.byteOffset, arena.pageMap.length >>> 2);
  const tags = arena.pageTags;
  for (let i = 0; pages && i < n; i++) {
    if (i >= ctrl && i < carved0) continue;
    if (!zero(pm32, i * ppw, (i + 1) * ppw) || !zero(tags, 2 * i * arena.pagesPerSlab, 2 * (i + 1) * arena.pagesPerSlab)) {
      if (i < ctrl) return `the page map or page tags of control slab ${i} are not zero`;
      last = Math.max(last, i);
    }
  }
  const carved = Atomics.load(arena.ctl, Ctl.CARVED);
  if (last >= carved) return `slab ${last}, past the carved end ${carved}, is not in the never-carved state (info ${info[last]}, owner ${owner[last]}, or its page map or page tags written)`;
  return null;
}

/**
 * `inspectQuiet` if a quiet moment comes within a few tries: no map or unmap in flight when
 * it starts, none started or finished while it runs. Else null: the invariants that need one
 * are not checked (a worker killed in the middle of a map leaves one in flight for ever).
 * @internal
 */
export function inspectWhenQuiet(arena: ArenaWords): string | null {
  const c = arena.ctl;
  for (let tries = 0; tries < 8; tries++) {
    const b = Atomics.load(c, Ctl.BEGUN);
    const e = Atomics.load(c, Ctl.ENDED);
    if (b !== e) continue;
    const problem = inspectQuiet(arena);
    if (Atomics.load(c, Ctl.BEGUN) === b && Atomics.load(c, Ctl.ENDED) === e) return problem;
  }
  return null;
}

/**
 * The invariants that need a quiet moment (no map or unmap in flight in a live worker): run
 * structure, the `used` bounds, the hint, and zero owner, page map and page tags of free slabs;
 * and who holds each run: its start's owner is 0 or the current id of a live (or adopted)
 * registry entry, and every slab of the run has the start's owner, except one an adoption has
 * not moved yet (an owner whose entry is no longer live: see `runOwnerProblem`).
 * @internal
 */
export function inspectQuiet(arena: ArenaWords): string | null {
  const info = arena.slabInfo;
  const owner = arena.slabOwner;
  const { carved, used, hint } = counters(arena);
  const pps = arena.pagesPerSlab;
  let mapped = 0;
  let claimed = 0;
  let firstFree = -1;
  for (let i = arena.ctrlSlabs; i < carved;) {
    const k = info[i]!;
    if (k > 0) {
      if (i + k > carved) return `run at slab ${i} of ${k} slabs passes the carved end ${carved}`;
      for (let j = 1; j < k; j++) {
        if (info[i + j] !== -j) return `slab ${i + j} inside the run at ${i} has info ${info[i + j]}, expected ${-j}`;
      }
      const held = runOwnerProblem(arena, i, k);
      if (held !== null) return held;
      mapped += k;
      i += k;
    } else if (k === SlabState.FREE) {
      if (firstFree < 0) firstFree = i;
      if (owner[i] !== 0) return `free slab ${i} has owner ${owner[i]}`;
      const pm = arena.pageMap;
      for (let p = i * pps; p < (i + 1) * pps; p++) {
        if (pm[p] !== 0 || arena.pageTags[2 * p] !== 0 || arena.pageTags[2 * p + 1] !== 0) return `free slab ${i} has page ${p} written in the page map or page tags`;
      }
      i++;
    } else if (k === SlabState.CLAIMING || k === SlabState.UNCARVED) {
      // Claimed by a map or unmap in flight, or leaked by a killed worker; a run being
      // published or unmapped shows its first inner slabs after its CLAIMING start.
      claimed++;
      let j = 1;
      while (i + j < carved && info[i + j] === -j) j++;
      claimed += j - 1;
      i += j;
    } else {
      return `slab ${i} says it is inside a run (${k}) but follows no run start`;
    }
  }
  if (used < mapped || used > mapped + claimed) return `used counts ${used} slabs, ${mapped} are mapped (and ${claimed} claimed)`;
  if (firstFree >= 0 && hint > firstFree) return `free hint ${hint} is above free slab ${firstFree}`;
  return null;
}

/**
 * Who holds the run of `k` slabs at `i`, checked; the problem, or null. An adoption moves a
 * run's start to the adopter first and its inner slabs after, while the dead owner's entry is
 * ADOPTING (then freed), and an adopter killed half-way leaves that state for a later adoption:
 * so an inner slab may keep an owner whose entry is no longer LIVE, never a live one of another
 * cache (a run spanning two live owners: destroying one would unmap the other's slab). Inner
 * slabs are read before the start, as an adoption writes them after it; an owner that reads as
 * unregistered is read again, so an adoption finishing meanwhile is not taken for corruption.
 */
function runOwnerProblem(arena: ArenaWords, i: number, k: number): string | null {
  const owner = arena.slabOwner;
  const r = arena.registry;
  for (let j = 1; j < k; j++) {
    const o = Atomics.load(owner, i + j);
    const start = Atomics.load(owner, i);
    if (o === start) continue;
    if (o !== 0 && start !== 0 && !ownerLive(r, o)) continue;
    if (Atomics.load(owner, i + j) !== o || Atomics.load(owner, i) !== start) continue;
    return `run at slab ${i} of ${k} slabs has owner ${start} at its start but owner ${o} at slab ${i + j}`;
  }
  const start = Atomics.load(owner, i);
  if (start !== 0 && ownerThread(r, start) < 0 && Atomics.load(owner, i) === start) {
    return `run at slab ${i} has owner ${start}, which is no live or registered owner (entry ${ownerIndex(start)} holds another id or is free)`;
  }
  return null;
}

function zero(a: Int32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== 0) return false;
  return true;
}
