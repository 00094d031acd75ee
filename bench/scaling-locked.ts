/**
 * The scaling benchmark's baseline: what every other JS allocator needs to be shared by
 * workers. A segregated free-list allocator whose whole state lives in one SharedArrayBuffer
 * (so any worker can use it), guarded by one lock that every alloc and free takes.
 *
 * Memory source: a bump pointer over the same buffer; freed blocks go on the free list of
 * their class and are reused first. Never returns memory.
 *
 * Thread-safety: every call takes the lock (a futex-style mutex: compare-exchange, a short
 * spin, then `Atomics.wait`); inside it, plain reads and writes, ordered by the lock's atomics.
 *
 * Layout (Int32 words):
 * ```
 *  word 0 lock (0 free, 1 held, 2 held with waiters) | 1 bump | 2 end | 8..8+CLASSES free heads
 *  block: [class (4 bytes) | pad (4)] [payload of (class + 1) * 16 bytes]  -> ptr = block + 8
 * ```
 * Invariant: every block on free list c has class c; bump <= end. Failure: alloc returns 0.
 */

const LOCK = 0;
const BUMP = 1;
const END = 2;
const HEADS = 8;
/** Size classes: 16, 32, ..., 256 bytes. */
export const CLASSES = 16;
const STATE_BYTES = 4 * (HEADS + CLASSES);

/** A fresh shared buffer of `bytes` for {@link LockedFreeList}, state initialized. */
export function lockedFreeListBuffer(bytes: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(bytes);
  const w = new Int32Array(sab);
  w[BUMP] = (STATE_BYTES + 15) & ~15;
  w[END] = bytes;
  return sab;
}

/** One worker's handle on the shared, lock-guarded free-list allocator. */
export class LockedFreeList {
  private readonly w: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.w = new Int32Array(sab);
  }

  /** `size` bytes (1..256), or 0 when the buffer is exhausted. */
  alloc(size: number): number {
    const w = this.w;
    const c = (size - 1) >>> 4;
    this.lock();
    let p = w[HEADS + c]!;
    if (p !== 0) {
      w[HEADS + c] = w[p >>> 2]!;
    } else {
      const b = w[BUMP]!;
      const next = b + 8 + ((c + 1) << 4);
      if (next > w[END]!) {
        this.unlock();
        return 0;
      }
      w[BUMP] = next;
      w[b >>> 2] = c;
      p = b + 8;
    }
    this.unlock();
    return p;
  }

  /** Frees a pointer `alloc` returned. */
  free(ptr: number): void {
    const w = this.w;
    const c = w[(ptr - 8) >>> 2]!;
    this.lock();
    w[ptr >>> 2] = w[HEADS + c]!;
    w[HEADS + c] = ptr;
    this.unlock();
  }

  private lock(): void {
    const w = this.w;
    let c = Atomics.compareExchange(w, LOCK, 0, 1);
    if (c === 0) return;
    for (let spin = 0; spin < 64; spin++) {
      if (Atomics.load(w, LOCK) === 0) {
        c = Atomics.compareExchange(w, LOCK, 0, 1);
        if (c === 0) return;
      }
    }
    // Contended: mark waiters (2) and sleep until the holder hands the lock over.
    if (c !== 2) c = Atomics.exchange(w, LOCK, 2);
    while (c !== 0) {
      Atomics.wait(w, LOCK, 2);
      c = Atomics.exchange(w, LOCK, 2);
    }
  }

  private unlock(): void {
    const w = this.w;
    if (Atomics.sub(w, LOCK, 1) !== 1) {
      Atomics.store(w, LOCK, 0);
      Atomics.notify(w, LOCK, 1);
    }
  }
}
