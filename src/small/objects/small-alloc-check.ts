/**
 * SmallAlloc's invariant walker, the body of `SmallAlloc.check()`: every pool's own check, the
 * pools' places, the large allocations against their page tags and counters, and the read
 * views' queue against what the slabs and large allocations hold back.
 *
 * Memory source: none; it reads the allocator's pools, tags and counters and changes nothing.
 * The SmallAlloc takes remote frees in (and releases a batch of deferred frees) before it calls.
 *
 * Thread-safety: the owner worker's, as the allocator it walks.
 *
 * Failure: throws an Error naming the first broken invariant (`SmallAlloc.check: ...`).
 *
 * Invariants: those listed in small-alloc.ts's header, with the large allocations' counters
 * (small-alloc-large.ts) recounted from their page tags.
 */
import { slabOf, slabSizeAt } from '../slabs/slab-cache.js';
import { Mark } from './block-header.js';
import { LargeState, largeId, largeState, tagIndex } from './large.js';
import type { SmallAllocParts } from './small-alloc-parts.js';

/** Throws an Error naming the first broken invariant of `a`. @internal */
export function checkSmallAlloc(a: SmallAllocParts): void {
  const { ownerId, pools, extra, large, views } = a;
  const where = 'SmallAlloc.check';
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  let deferred = 0;
  pools.forEach((p, cls) => {
    if (p === null) return;
    if (p.classIndex !== cls || p.objsize !== a.classes.sizeOf(cls)) fail(`pool of objsize ${p.objsize} sits at class ${cls}`);
    p.check();
    deferred += p.deferred;
  });
  for (const [objsize, p] of extra) {
    if (p.objsize !== objsize || p.classIndex !== Mark.NO_CLASS) fail(`adopted pool of objsize ${p.objsize} is misfiled`);
    p.check();
    deferred += p.deferred;
  }
  const cache = a.cache;
  const arena = cache.arena;
  let live = 0;
  let liveBytes = 0;
  let held = 0;
  let largeDeferred = 0;
  for (const s of large.held) {
    const w = Atomics.load(large.tags, tagIndex(s));
    if (largeId(w) !== a.id || arena.slabOwner[Math.floor(s / arena.slabSize)] !== ownerId) {
      fail(`large allocation at ${s} has page tags or an owner that do not name this allocator`);
    }
    const size = large.size(s);
    if (slabOf(arena, s) !== s || slabSizeAt(arena, s) !== cache.pagesSize(size)) {
      fail(`large allocation at ${s} is not a run of ${cache.pagesSize(size)} bytes the cache handed out`);
    }
    const state = largeState(w);
    held += cache.pagesSize(size);
    if (state === LargeState.LIVE || state === LargeState.REMOTE) {
      live++;
      liveBytes += size;
    } else if (state === LargeState.DEFERRED) {
      largeDeferred++;
    } else fail(`large allocation at ${s} is in state ${state}`);
  }
  if (live !== large.live || liveBytes !== large.used) {
    fail(`${live} large allocations of ${liveBytes} bytes are live, counters say ${large.live} of ${large.used}`);
  }
  if (held !== large.total) fail(`large allocations hold ${held} bytes, counter says ${large.total}`);
  if (largeDeferred !== large.deferred) fail(`${largeDeferred} large allocations deferred, counter says ${large.deferred}`);
  if (views.size !== deferred + largeDeferred) {
    fail(`the deferred queue holds ${views.size} entries, slabs and large allocations hold ${deferred + largeDeferred}`);
  }
  const problem = views.problem();
  if (problem !== null) fail(problem);
}
