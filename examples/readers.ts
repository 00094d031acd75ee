/**
 * Readers in other workers, protected by read views: this thread keeps 1,000 records and
 * updates them copy-on-write (a new version is written, its pointer published, the old one
 * freed), as fast as it can, while two reader workers look records up. Each reader opens a
 * view over the arena for every batch of lookups, reads, and closes it: a record freed while
 * the view is open keeps its bytes until the view closes, so no reader ever sees a torn or
 * reused record, and the writer never waits.
 */
import { Worker } from 'node:worker_threads';
import { createAllocator } from 'binalloc';

const RECORDS = 1_000;
const RECORD = 32; // [version u32][key u32][payload 5 x u32][checksum u32]
const alloc = createAllocator({ limit: 64 * 1024 * 1024, shared: true });
const arena = alloc.cache.arena;
// The index the readers look records up in: record i's pointer at index[i], published with Atomics.
const index = new Int32Array(new SharedArrayBuffer(4 * RECORDS));
const stop = new Int32Array(new SharedArrayBuffer(4));

function write(key: number, version: number): number {
  const p = alloc.alloc(RECORD);
  const dv = alloc.memory.dv; // after the allocation: it may have grown the buffer
  dv.setUint32(p, version, true);
  dv.setUint32(p + 4, key, true);
  let sum = version ^ key;
  for (let j = 2; j < 7; j++) {
    const word = Math.imul(version + j, 0x9e3779b1) >>> 0;
    dv.setUint32(p + 4 * j, word, true);
    sum ^= word;
  }
  dv.setUint32(p + 28, sum >>> 0, true);
  return p;
}

for (let i = 0; i < RECORDS; i++) Atomics.store(index, i, write(i, 0));
const readers = [0, 1].map(() => new Worker(new URL('./readers-worker.js', import.meta.url), {
  workerData: { arena: arena.handle(), index: index.buffer, stop: stop.buffer },
}));
const results = readers.map((w) => new Promise<{ reads: number; torn: number }>((resolve, reject) => {
  w.once('message', resolve);
  w.once('error', reject);
}));

// The writer: update records for half a second; an old version is freed at once.
let updates = 0;
const until = Date.now() + 500;
while (Date.now() < until) {
  for (let k = 0; k < 100; k++, updates++) {
    const i = updates % RECORDS;
    const old = Atomics.load(index, i);
    Atomics.store(index, i, write(i, updates + 1));
    alloc.free(old);
  }
}
Atomics.store(stop, 0, 1);
const done = await Promise.all(results);
const reads = done.reduce((n, r) => n + r.reads, 0);
const torn = done.reduce((n, r) => n + r.torn, 0);
console.log(`Readers: ${reads} records read under read views while ${updates} updates freed old versions; torn or reused: ${torn}`);
console.log(`Held back for views now: ${alloc.stats().deferred} frees (0 once every view has closed)`);
if (torn !== 0) process.exitCode = 1;
