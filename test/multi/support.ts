/**
 * Helpers for the many-workers tests (and the scaling benchmarks): a single-producer
 * single-consumer ring of fixed-size records in a SharedArrayBuffer, a shared "claimed" bitmap
 * that catches an address handed out twice while live, stamps, and a few waits.
 *
 * Ring layout (Int32Array over its own SharedArrayBuffer; counters only grow, the slot of
 * counter c is c & (capacity - 1)):
 * ```
 *  word 0 head   (consumer: records taken)       word 2 consumer is waiting (0/1)
 *  word 1 tail   (producer: records published)   word 3 producer is waiting (0/1)
 *  words 8 ...   capacity records of `width` words each
 * ```
 * Invariant: 0 <= tail - head <= capacity. Records are written with plain stores before the
 * tail is published with `Atomics.store` and read after the tail is read with `Atomics.load`,
 * so a consumer never sees a half-written record. A side that finds the ring empty (or full)
 * raises its waiting flag, then `Atomics.wait`s on the counter it needs to move; the other side
 * notifies only when it sees the flag up (seq-cst atomics make the flag-then-counter handshake
 * safe), and every wait has a timeout as a second line of defence.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

const HEAD = 0;
const TAIL = 1;
const C_WAIT = 2;
const P_WAIT = 3;
const DATA = 8;

/** The shared words of a ring; send `buffer` to the other side and wrap it there. */
export class Ring {
  /** The ring's words. */
  readonly words: Int32Array;
  /** Records it holds (a power of two). */
  readonly capacity: number;
  /** 32-bit words per record. */
  readonly width: number;
  private readonly mask: number;

  /** A new ring, or (with `buffer`) the ring another worker created. */
  constructor(capacity: number, width: number, buffer?: SharedArrayBuffer) {
    assert.ok(capacity > 0 && (capacity & (capacity - 1)) === 0, 'ring capacity is a power of two');
    this.capacity = capacity;
    this.width = width;
    this.mask = capacity - 1;
    this.words = new Int32Array(buffer ?? new SharedArrayBuffer(4 * (DATA + capacity * width)));
  }

  /** The buffer to send to the other side. */
  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /** Records waiting. */
  get size(): number {
    return Atomics.load(this.words, TAIL) - Atomics.load(this.words, HEAD);
  }

  // ---- producer side ----

  /** Index (in `words`) of the next record to write, or -1 when the ring is full. */
  reserve(): number {
    const w = this.words;
    const t = w[TAIL]!;
    if (t - Atomics.load(w, HEAD) === this.capacity) return -1;
    return DATA + (t & this.mask) * this.width;
  }

  /** Publishes the record written at `reserve()`'s index. */
  publish(): void {
    const w = this.words;
    Atomics.store(w, TAIL, w[TAIL]! + 1);
    if (Atomics.load(w, C_WAIT) !== 0) Atomics.notify(w, TAIL);
  }

  /** Index of the next record to write, waiting (at most `ms` in all) while the ring is full; -1 on timeout. */
  reserveWait(ms: number): number {
    let at = this.reserve();
    if (at >= 0) return at;
    const w = this.words;
    const deadline = Date.now() + ms;
    while (at < 0 && Date.now() < deadline) {
      Atomics.store(w, P_WAIT, 1);
      const h = Atomics.load(w, HEAD);
      if (w[TAIL]! - h === this.capacity) Atomics.wait(w, HEAD, h, 5);
      Atomics.store(w, P_WAIT, 0);
      at = this.reserve();
    }
    return at;
  }

  // ---- consumer side ----

  /** Index of the oldest record, or -1 when the ring is empty. */
  peek(): number {
    const w = this.words;
    const h = w[HEAD]!;
    if (Atomics.load(w, TAIL) === h) return -1;
    return DATA + (h & this.mask) * this.width;
  }

  /** Drops the record `peek()` returned. */
  take(): void {
    const w = this.words;
    Atomics.store(w, HEAD, w[HEAD]! + 1);
    if (Atomics.load(w, P_WAIT) !== 0) Atomics.notify(w, HEAD);
  }

  /** Index of the oldest record, waiting (at most `ms` in all) while the ring is empty; -1 on timeout. */
  peekWait(ms: number): number {
    let at = this.peek();
    if (at >= 0) return at;
    const w = this.words;
    const deadline = Date.now() + ms;
    while (at < 0 && Date.now() < deadline) {
      Atomics.store(w, C_WAIT, 1);
      const t = Atomics.load(w, TAIL);
      if (t === w[HEAD]) Atomics.wait(w, TAIL, t, 5);
      Atomics.store(w, C_WAIT, 0);
      at = this.peek();
    }
    return at;
  }
}

/**
 * One bit per 8 bytes of the arena, shared by every worker: set when an address is handed out,
 * cleared just before it is freed. Setting a bit that is already set means the allocator
 * handed out a live address twice.
 */
export class Claims {
  readonly bits: Int32Array;

  constructor(arenaBytes: number, buffer?: SharedArrayBuffer) {
    this.bits = new Int32Array(buffer ?? new SharedArrayBuffer(4 * Math.ceil(arenaBytes / 8 / 32)));
  }

  get buffer(): SharedArrayBuffer {
    return this.bits.buffer as SharedArrayBuffer;
  }

  /** Marks `ptr` live; false if it already was. */
  claim(ptr: number): boolean {
    const i = ptr / 8;
    const bit = 1 << (i & 31);
    return (Atomics.or(this.bits, i >>> 5, bit) & bit) === 0;
  }

  /** Marks `ptr` free; false if it was not live. */
  release(ptr: number): boolean {
    const i = ptr / 8;
    const bit = 1 << (i & 31);
    return (Atomics.and(this.bits, i >>> 5, ~bit) & bit) !== 0;
  }

  /** Addresses still marked live. */
  count(): number {
    let n = 0;
    for (let k = 0; k < this.bits.length; k++) {
      let x = Atomics.load(this.bits, k);
      while (x !== 0) {
        x &= x - 1;
        n++;
      }
    }
    return n;
  }
}

/** A tag naming allocation `seq` of worker `id` (ids 0..127). Never 0. */
export function tagOf(id: number, seq: number): number {
  return (((id + 1) << 24) | (seq & 0xffffff)) >>> 0;
}

/**
 * Writes `tag` over the `size` bytes at `ptr`: its first and last 4 bytes (the last ones
 * mixed with the size), or, for allocations under 8 bytes, each byte. Nothing for size 0.
 */
export function stampAt(dv: DataView, u8: Uint8Array, ptr: number, size: number, tag: number): void {
  if (size >= 8) {
    dv.setUint32(ptr, tag, true);
    dv.setUint32(ptr + size - 4, (tag ^ Math.imul(size, 0x9e3779b1)) >>> 0, true);
  } else {
    for (let i = 0; i < size; i++) u8[ptr + i] = (tag + i * 31) & 0xff;
  }
}

/** Null when the stamp of {@link stampAt} is intact, else what is wrong. */
export function stampError(dv: DataView, u8: Uint8Array, ptr: number, size: number, tag: number): string | null {
  if (size >= 8) {
    const a = dv.getUint32(ptr, true);
    if (a !== tag) return `allocation ${hex(tag)} (${size} bytes at ${ptr}) starts with ${hex(a)}`;
    const b = dv.getUint32(ptr + size - 4, true);
    const want = (tag ^ Math.imul(size, 0x9e3779b1)) >>> 0;
    if (b !== want) return `allocation ${hex(tag)} (${size} bytes at ${ptr}) ends with ${hex(b)}, not ${hex(want)}`;
    return null;
  }
  for (let i = 0; i < size; i++) {
    if (u8[ptr + i] !== ((tag + i * 31) & 0xff)) return `allocation ${hex(tag)} (${size} bytes at ${ptr}) byte ${i} is ${u8[ptr + i]}`;
  }
  return null;
}

function hex(x: number): string {
  return `0x${(x >>> 0).toString(16)}`;
}

/** Adds 1 to `words[at]` and waits (at most `ms`) until it reaches `n`; false on timeout. */
export function barrier(words: Int32Array, at: number, n: number, ms: number): boolean {
  Atomics.add(words, at, 1);
  Atomics.notify(words, at);
  return waitUntil(words, at, n, ms);
}

/** Waits (at most `ms`) until `words[at] >= n`; false on timeout. */
export function waitUntil(words: Int32Array, at: number, n: number, ms: number): boolean {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = Atomics.load(words, at);
    if (v >= n) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(words, at, v, Math.min(left, 50));
  }
}

/** A number of workers for the stress tests: 2..8, at least 4 where it costs little. */
export function stressWorkers(cores: number): number {
  return Math.min(8, Math.max(4, cores));
}

/**
 * The next message of `w` that `pick` accepts (any, by default); rejects on a message with an
 * `error` string, a worker error, an exit, or after `ms`. Listen before the message can come:
 * a message nobody listens for is lost.
 */
export function nextMessage<T>(w: Worker, what: string, ms: number, pick: (m: Record<string, unknown>) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no message within ${ms} ms`)), ms);
    const onMessage = (m: Record<string, unknown>): void => {
      if (typeof m['error'] === 'string') done(new Error(`${what}: ${m['error']}`));
      else if (pick(m)) done(null, m as T);
    };
    const onError = (e: Error): void => done(e);
    const onExit = (code: number): void => done(new Error(`${what}: the worker exited (${code}) before its message`));
    function done(e: Error | null, m?: T): void {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      if (e !== null) reject(e);
      else resolve(m!);
    }
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/**
 * Starts one worker per entry of `data` on `script`, waits for each one's single message, and
 * rejects on a worker's error or early exit, or after `ms`. Every worker is terminated before
 * it returns, whatever happened.
 */
export async function runWorkers<R>(script: URL, data: readonly unknown[], ms: number): Promise<R[]> {
  const workers = data.map((d) => new Worker(script, { workerData: d }));
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = workers.map((w, i) => new Promise<R>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before reporting`)));
    }));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`workers did not finish within ${ms} ms`)), ms);
    });
    return await Promise.race([Promise.all(done), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// ---- the table of worker-exit.test.ts: slot states (see worker-exit-worker.ts) ----

/** Table slot state: free for the victim to fill. */
export const EMPTY = 0;
/** The victim is allocating into the slot (ptr 0 until its alloc returned). */
export const ALLOCATING = 1;
/** Holds a live, stamped, claimed allocation. */
export const LIVE = 2;
/** The victim took it to free it. */
export const VICTIM_FREEING = 3;
/** The freer took it to free it. */
export const FREER_FREEING = 4;
/** Int32 words per slot: state, ptr, size, tag. */
export const SLOT = 4;
