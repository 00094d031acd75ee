/**
 * The read view handle a SmallAlloc gives out (`openReadView()`), and the reaper that closes a
 * handle the program dropped without close(). What a view holds back and when it is released
 * is the queue in read-views.ts; the allocator's `closeView` does the rest.
 *
 * Memory source: none; a handle is a small JS object over a ViewRecord, and the reaper keeps
 * only the record and the allocator, never the handle, so a dropped handle can be collected.
 *
 * Thread-safety: the allocator's worker only, as the allocator.
 *
 * Failure: none; close() is idempotent.
 */
import type { ReadView } from '../slabs/arena-views.js';
import type { ViewRecord } from './read-views.js';

export type { ReadView } from '../slabs/arena-views.js';

/**
 * The allocator of a view: closes it, `collected` when the garbage collector found it dropped
 * unclosed. @internal
 */
export interface ViewOwner {
  closeView(rec: ViewRecord, collected?: boolean): void;
}

class SmallReadView implements ReadView {
  constructor(private readonly owner: ViewOwner, private readonly rec: ViewRecord) {}

  close(): void {
    if (!this.rec.closed) {
      viewReaper.unregister(this.rec);
      this.owner.closeView(this.rec);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Closes a view the program dropped without close(), when the garbage collector reclaims it. */
const viewReaper = new FinalizationRegistry<{ owner: ViewOwner; rec: ViewRecord }>(({ owner, rec }) => {
  if (!rec.closed) owner.closeView(rec, true);
});

/** The handle of view `rec` of `owner`, closed by the garbage collector if dropped unclosed. @internal */
export function newReadView(owner: ViewOwner, rec: ViewRecord): ReadView {
  const view = new SmallReadView(owner, rec);
  viewReaper.register(view, { owner, rec }, rec);
  return view;
}
