// Worker for producer-consumer.test.ts. Role 'producer': allocates records through its own
// SmallAlloc, fills them, and passes (pointer, size) through a shared ring. Role 'consumer':
// takes records in order, verifies every byte, and frees them through ITS OWN SmallAlloc (a
// free from another worker). The producer samples the memory in use as it goes.
import { parentPort, workerData } from 'node:worker_threads';
import { SlabArena, SlabCache, SmallAlloc, type SlabArenaHandle } from '../../src/index.js';
import { rngFromSeed } from '../../dev/rng.js';
import { Ring, waitUntil } from './support.js';

export interface PcParams {
  role: 'producer' | 'consumer';
  handle: SlabArenaHandle;
  ring: SharedArrayBuffer;
  ringCapacity: number;
  /** [0] consumer finished */
  sync: SharedArrayBuffer;
  records: number;
  seed: number;
  minSize: number;
  maxSize: number;
  /** The producer samples memory every this many records. */
  sampleEvery: number;
  /** Give up after this many ms (the test then fails with a clear message). */
  budgetMs: number;
}

export interface PcReport {
  role: 'producer' | 'consumer';
  records: number;
  ms: number;
  /**
   * Producer: arena.used and the bytes its slab cache has handed to its pools, sampled every
   * sampleEvery records (read without stats(), which would take remote frees in).
   */
  arenaUsed: number[];
  held: number[];
  usedAtEnd: number;
  countAtEnd: number;
  error: string | null;
}

const P = workerData as PcParams;
const arena = SlabArena.attach(P.handle);
const cache = new SlabCache(arena);
const alloc = new SmallAlloc(cache);
const ring = new Ring(P.ringCapacity, 2, P.ring);
const sync = new Int32Array(P.sync);
const memory = arena.memory;
let u8 = memory.u8;
const start = Date.now();
const deadline = start + P.budgetMs;
const rep: PcReport = {
  role: P.role, records: 0, ms: 0, arenaUsed: [], held: [], usedAtEnd: -1, countAtEnd: -1, error: null,
};

/** The record: seq (4 bytes), then bytes seq*7+i, then ~seq in the last 4; size >= 8. */
function fill(p: number, size: number, seq: number): void {
  if (p + size > u8.length) u8 = memory.u8;
  u8[p] = seq;
  u8[p + 1] = seq >>> 8;
  u8[p + 2] = seq >>> 16;
  u8[p + 3] = seq >>> 24;
  const b = (seq * 7) & 0xff;
  for (let i = 4; i < size - 4; i++) u8[p + i] = b + i;
  const n = ~seq;
  u8[p + size - 4] = n;
  u8[p + size - 3] = n >>> 8;
  u8[p + size - 2] = n >>> 16;
  u8[p + size - 1] = n >>> 24;
}

/** Null when record `seq` of `size` bytes at `p` is intact. */
function verify(p: number, size: number, seq: number): string | null {
  if (p + size > u8.length) u8 = memory.u8;
  const got = (u8[p]! | (u8[p + 1]! << 8) | (u8[p + 2]! << 16) | (u8[p + 3]! << 24)) >>> 0;
  if (got !== seq >>> 0) return `record ${seq} (${size} bytes at ${p}) says it is record ${got}`;
  const b = (seq * 7) & 0xff;
  for (let i = 4; i < size - 4; i++) {
    if (u8[p + i] !== ((b + i) & 0xff)) return `record ${seq} (${size} bytes at ${p}) byte ${i} was overwritten`;
  }
  const tail = (u8[p + size - 4]! | (u8[p + size - 3]! << 8) | (u8[p + size - 2]! << 16) | (u8[p + size - 1]! << 24)) >>> 0;
  if (tail !== (~seq) >>> 0) return `record ${seq} (${size} bytes at ${p}) has a broken last word`;
  return null;
}

function produce(): void {
  const rng = rngFromSeed(P.seed);
  const span = P.maxSize - P.minSize + 1;
  for (let seq = 0; seq < P.records; seq++) {
    const size = P.minSize + Math.floor(rng.next() * span);
    const p = alloc.alloc(size);
    fill(p, size, seq);
    let at = ring.reserve();
    if (at < 0) at = ring.reserveWait(deadline - Date.now());
    if (at < 0) throw new Error(`producer: ring full at record ${seq} past the time budget`);
    ring.words[at] = p | 0;
    ring.words[at + 1] = size;
    ring.publish();
    rep.records++;
    if (seq % P.sampleEvery === 0) {
      rep.arenaUsed.push(arena.used);
      rep.held.push(cache.used);
    }
  }
  // Every record must come back before the counters can reach zero.
  if (!waitUntil(sync, 0, 1, Math.max(0, deadline - Date.now()))) throw new Error('producer: the consumer did not finish in time');
  alloc.check();
  const st = alloc.stats();
  rep.usedAtEnd = st.used;
  rep.countAtEnd = st.count;
}

function consume(): void {
  for (let seq = 0; seq < P.records; seq++) {
    let at = ring.peek();
    if (at < 0) at = ring.peekWait(deadline - Date.now());
    if (at < 0) throw new Error(`consumer: nothing arrived for record ${seq} within the time budget`);
    const p = ring.words[at]! >>> 0;
    const size = ring.words[at + 1]!;
    const bad = verify(p, size, seq);
    if (bad !== null) throw new Error(`consumer: ${bad}`);
    alloc.free(p);
    ring.take();
    rep.records++;
  }
  if (ring.peek() >= 0) throw new Error('consumer: the ring holds records past the last one');
  Atomics.store(sync, 0, 1);
  Atomics.notify(sync, 0);
  alloc.check();
  const st = alloc.stats();
  rep.usedAtEnd = st.used;
  rep.countAtEnd = st.count;
}

try {
  if (P.role === 'producer') produce();
  else consume();
} catch (e) {
  rep.error = (e as Error).stack ?? String(e);
  // Unblock the producer's final wait if the consumer failed.
  Atomics.store(sync, 0, 1);
  Atomics.notify(sync, 0);
}
rep.ms = Date.now() - start;
parentPort!.postMessage(rep);
