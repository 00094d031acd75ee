import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { BumpArena } from '../../src/arena/bump-arena.js';
import { seeded } from '../../dev/rng.js';

interface Result { id: number; n: number; ptrs: Uint32Array; sizes: Uint32Array; aligns: Uint32Array }

const WORKERS = 3;
const COUNT = 40_000;

/** Runs WORKERS workers on one shared arena of `capacity` bytes, all released at once. */
async function race(capacity: number, label: string): Promise<{ arena: BumpArena; results: Result[] }> {
  const rng = seeded(label);
  const arena = new BumpArena(capacity, { shared: true });
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const workers: Worker[] = [];
  try {
    const done: Promise<Result>[] = [];
    for (let id = 1; id <= WORKERS; id++) {
      const w = new Worker(new URL('./bump-arena-worker.js', import.meta.url), {
        workerData: { handle: arena.handle(), gate, id, seed: (rng.seed + id * 7919) >>> 0, count: COUNT },
      });
      workers.push(w);
      done.push(new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker ${id} exited with ${code} before reporting`)));
      }));
    }
    while (Atomics.load(gate, 1) < WORKERS) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    return { arena, results: await Promise.all(done) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** No overlap, every stamp intact, and the padding between neighbours explains remaining(). */
function verify(arena: BumpArena, results: Result[]): void {
  const top = arena.memory.byteLength;
  const data = top - arena.capacity;
  const all: { p: number; size: number; align: number; id: number }[] = [];
  for (const r of results) {
    for (let i = 0; i < r.n; i++) all.push({ p: r.ptrs[i]!, size: r.sizes[i]!, align: r.aligns[i]!, id: r.id });
  }
  const u8 = arena.memory.u8;
  for (const a of all) {
    assert.equal(a.p % a.align, 0, `worker ${a.id}: ${a.p} not aligned to ${a.align}`);
    for (let b = a.p; b < a.p + a.size; b++) {
      if (u8[b] !== a.id) assert.fail(`worker ${a.id}'s allocation at ${a.p} holds ${u8[b]} at ${b}`);
    }
  }
  // Downward bumps: each allocation ends below its predecessor's start, padding < its align.
  all.sort((x, y) => y.p - x.p);
  let prev = top;
  let sizes = 0;
  for (const a of all) {
    const gap = prev - (a.p + a.size);
    assert.ok(gap >= 0, `allocations overlap at ${a.p}`);
    assert.ok(gap < a.align, `${gap} bytes lost above ${a.p} (align ${a.align})`);
    sizes += a.size;
    prev = a.p;
  }
  assert.equal(prev, data + arena.remaining(), 'the lowest allocation is where the end pointer stands');
  assert.ok(sizes <= arena.capacity - arena.remaining());
  arena.check();
}

test('workers allocating from one shared BumpArena at once never overlap and lose nothing', { timeout: 60_000 }, async () => {
  // Room for every allocation: each worker makes all COUNT of them.
  const { arena, results } = await race(WORKERS * COUNT * 80, 'bump arena workers, roomy');
  for (const r of results) assert.equal(r.n, COUNT);
  verify(arena, results);
});

test('workers racing a shared BumpArena to full stop cleanly at its end', { timeout: 60_000 }, async () => {
  const { arena, results } = await race(1_000_000, 'bump arena workers, to full');
  const made = results.reduce((s, r) => s + r.n, 0);
  assert.ok(made < WORKERS * COUNT, 'the arena ran out');
  assert.ok(arena.remaining() < 64 + 16, `${arena.remaining()} bytes left although a worker was refused`);
  verify(arena, results);
});
