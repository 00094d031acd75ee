/**
 * The large allocations one SmallAlloc holds (its requests above objsizeMax): the set of their
 * starts and the counters that stats() reports and check() verifies. The page tags' layout and
 * a free from another worker are in large.ts; this is the owner's side of them.
 *
 * Memory source: page runs of the SmallAlloc's SlabCache; the SmallAlloc gets a run and hands
 * it in with `add`, and a run leaves for the cache through `drop` or `clear`.
 *
 * Thread-safety: the owner worker's only. Another worker only turns a tag LIVE into REMOTE
 * (large.ts); `takeRemote` takes such frees in, and `adopt` re-tags by compare-exchange.
 *
 * Failure: `freeOwned` throws InvalidPointerError, nothing changed, for what is not a live large
 * allocation of ours; the other methods take pointers the SmallAlloc has checked, and do not throw.
 *
 * Invariants (checked by SmallAlloc.check): `live` == allocations held in state LIVE or REMOTE
 * and `used` == their bytes asked for; `deferred` == those in state DEFERRED (they wait in the
 * queue of held frees: for read views, or in debug mode's quarantine); `total` == the pages of all held; every tag held names `id`.
 */
import { FREED_BYTE } from '../../debug.js';
import type { SlabCache } from '../slabs/slab-cache.js';
import { LargeState, largeFail, largeId, largeState, largeWord, liveLargeWord, tagIndex } from './large.js';
import { NO_EPOCH } from '../slabs/arena-views.js';
import { FREE_NOW, type ReadViews } from './read-views.js';

/** One SmallAlloc's large allocations and their counters. @internal */
export class LargeAllocations {
  /** Large allocations held (live, remote-freed, deferred), by start. */
  readonly held = new Set<number>();
  /** Allocations held in state LIVE or REMOTE. */
  live = 0;
  /** Bytes asked for by the live ones. */
  used = 0;
  /** Bytes of pages of all held. */
  total = 0;
  /** Allocations held in state DEFERRED (in the read views' queue). */
  deferred = 0;
  /** Large allocations made since the last scan for remote frees. */
  sinceScan = 0;

  /**
   * `tags` is the arena's page tags; `id` the SmallAlloc's (in its tags); `views` the queue a
   * free joins while frees are held back (a view open, debug mode's quarantine).
   */
  constructor(
    private readonly cache: SlabCache,
    readonly tags: Int32Array,
    private readonly id: number,
    private readonly views: ReadViews,
  ) {}

  /** Bytes asked for by large allocation `s`. */
  size(s: number): number {
    return this.tags[tagIndex(s) + 1]! >>> 0;
  }

  /** Page run `s`, just got from the cache for `size` bytes, is a live allocation of ours. */
  add(s: number, size: number): void {
    const t = tagIndex(s);
    this.tags[t + 1] = size | 0;
    Atomics.store(this.tags, t, largeWord(LargeState.LIVE, this.id));
    this.held.add(s);
    this.live++;
    this.used += size;
    this.total += this.cache.pagesSize(size);
  }

  /** Our live large allocation `s` now holds `size` bytes, in the pages it has. */
  resize(s: number, size: number): void {
    const t = tagIndex(s) + 1;
    this.used += size - (this.tags[t]! >>> 0);
    this.tags[t] = size | 0;
  }

  /** Our large allocation at `s` (state LIVE or REMOTE) is freed now. */
  free(s: number): void {
    const size = this.size(s);
    this.live--;
    this.used -= size;
    const tag = this.views.holdTag();
    if (tag !== FREE_NOW) {
      Atomics.store(this.tags, tagIndex(s), largeWord(LargeState.DEFERRED, this.id));
      this.deferred++;
      this.views.defer(s, this.cache.pagesSize(size), tag);
      this.views.syncHeld();
      // Debug mode's quarantine, no view sees it: poisoned now, as a class object is.
      if (!this.views.anyOpen && tag === NO_EPOCH) this.cache.arena.memory.u8.fill(FREED_BYTE, s, s + size);
      return;
    }
    this.drop(s);
  }

  /**
   * A free of our large allocation `ptr` (`s` is the same address), made through the
   * SmallAlloc or through another allocator of this worker (`caller` names it, for the error).
   * InvalidPointerError, nothing changed, unless it is live and ours.
   */
  freeOwned(ptr: number, s: number, caller: string): void {
    const where = `${caller}.free`;
    const w = liveLargeWord(this.cache.arena, ptr, where);
    if (largeId(w) !== this.id || !this.held.has(s)) largeFail(where, ptr, 'is not a large allocation of the allocator it names');
    this.free(s);
  }

  /** Returns large allocation `s` to the cache. */
  drop(s: number): void {
    this.held.delete(s);
    this.total -= this.cache.pagesSize(this.size(s));
    const t = tagIndex(s);
    Atomics.store(this.tags, t, 0);
    this.tags[t + 1] = 0;
    this.cache.put(s);
  }

  /** Takes in large allocations freed by other workers. Returns how many. */
  takeRemote(): number {
    let n = 0;
    for (const s of this.held) {
      if (largeState(Atomics.load(this.tags, tagIndex(s))) === LargeState.REMOTE) {
        n++;
        this.free(s);
      }
    }
    return n;
  }

  /**
   * Takes over page run `s`: a live large allocation (state LIVE) becomes ours (1). One freed
   * already (REMOTE: by another worker, never taken in; DEFERRED: held for the dead owner's
   * views) is held in our queue while an arena read view is open in any worker (2), else free
   * now: its tag is cleared and 0 returned, for the caller to give the run back. A remote
   * free touches only the tag word, so nothing else writes the run then.
   */
  adopt(s: number): number {
    const t = tagIndex(s);
    for (;;) {
      const w = Atomics.load(this.tags, t);
      const state = largeState(w);
      if (state !== LargeState.LIVE) {
        const pages = this.cache.pagesSize(this.size(s));
        // Held by the dead owner: it leaves the arena's count of held bytes with it.
        if (state === LargeState.DEFERRED) this.cache.arena.views.unhold(pages);
        const tag = this.cache.arena.views.tag();
        if (tag !== NO_EPOCH) {
          Atomics.store(this.tags, t, largeWord(LargeState.DEFERRED, this.id));
          this.held.add(s);
          this.total += pages;
          this.deferred++;
          this.views.defer(s, pages, tag);
          this.views.syncHeld();
          return 2;
        }
        Atomics.store(this.tags, t, 0);
        return 0;
      }
      // The exchange loses only to a remote free turning LIVE into REMOTE: then look again.
      if (Atomics.compareExchange(this.tags, t, w, largeWord(state, this.id)) !== w) continue;
      const size = this.size(s);
      this.held.add(s);
      this.live++;
      this.used += size;
      this.total += this.cache.pagesSize(size);
      return 1;
    }
  }

  /** Every large allocation back to the cache, the counters to zero. */
  clear(): void {
    for (const s of this.held) {
      Atomics.store(this.tags, tagIndex(s), 0);
      this.cache.put(s);
    }
    this.held.clear();
    this.live = 0;
    this.used = 0;
    this.total = 0;
    this.deferred = 0;
  }
}
