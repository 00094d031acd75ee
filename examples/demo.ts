/**
 * `npm start`: a short tour of every allocator, printing what each one did.
 *
 * The last part shares one SlabArena with a worker thread: the worker allocates records, the
 * main thread reads them and frees them through its own SmallAlloc, and the memory goes back to
 * the worker that handed it out.
 */
import { Worker } from 'node:worker_threads';
import {
  Arena, BumpArena, LSRegion, Mempool, Obuf, Quota, Region, SlabArena, SlabCache, SmallAlloc,
} from 'binalloc';

const MiB = 1024 * 1024;

// LevelDB's Arena: bump allocation in 4 KiB blocks, all freed at once.
{
  const arena = new Arena();
  for (let i = 0; i < 10_000; i++) arena.allocate(1 + (i % 40));
  console.log(`Arena: 10,000 allocations, memoryUsage() = ${arena.memoryUsage()} bytes`);
  arena.reset();
}

// bitena's BumpArena: a fixed-capacity arena, here holding strings and a typed slice.
{
  const bump = new BumpArena(64 * 1024, { shared: true });
  const hello = bump.allocString('héllo, wörld');
  const squares = bump.allocSlice(Float64Array, 8);
  for (let i = 0; i < squares.length; i++) squares[i] = i * i;
  console.log(`BumpArena: "${bump.readString(hello)}", squares ${[...squares].join(',')}, ${bump.remaining()} bytes left`);
}

// Tarantool's family: a quota, one arena shared by workers, a slab cache per worker.
const quota = new Quota(64 * MiB);
const arena = new SlabArena({ quota, slabSize: 1 * MiB });
const cache = new SlabCache(arena);

// SmallAlloc with a read view: freed memory stays intact until the view closes.
const small = new SmallAlloc(cache);
{
  const ptrs: number[] = [];
  for (let i = 0; i < 1000; i++) ptrs.push(small.alloc(16 + (i % 200)));
  const p = ptrs[0]!;
  arena.memory.dv.setFloat64(p, Math.PI, true);
  const view = small.openReadView();
  for (const q of ptrs) small.free(q);
  const stillThere = arena.memory.dv.getFloat64(p, true);
  view.close();
  console.log(`SmallAlloc: 1,000 allocations freed under a read view; the first still reads ${stillThere.toFixed(5)} until the view closes; used now ${small.stats().used} bytes`);
}

// Mempool: fixed-size objects, O(1).
{
  const pool = new Mempool(cache, 48);
  const objs = Array.from({ length: 5000 }, () => pool.alloc());
  console.log(`Mempool(48): ${pool.count} objects in ${pool.total} bytes of slabs`);
  for (const o of objs) pool.free(o);
  pool.destroy();
}

// Region: a stack with savepoints.
{
  const region = new Region(cache);
  region.alloc(100);
  const savepoint = region.used;
  for (let i = 0; i < 1000; i++) region.alloc(32);
  const before = region.used;
  region.truncate(savepoint);
  console.log(`Region: used ${before} -> ${region.used} after truncate to a savepoint`);
  region.free();
}

// Obuf: output gathered as a chain of buffers, ready for writev.
{
  const obuf = new Obuf(cache);
  const line = new TextEncoder().encode('one line of output\n');
  for (let i = 0; i < 2000; i++) obuf.dup(line);
  console.log(`Obuf: ${obuf.size} bytes in ${obuf.toBuffers().length} buffers, never copied to grow`);
  obuf.destroy();
}

// LSRegion: free everything up to an id at once.
{
  const ls = new LSRegion(arena);
  for (let id = 1; id <= 100; id++) for (let i = 0; i < 400; i++) ls.alloc(64, id);
  const before = ls.used;
  ls.gc(80); // whole slabs whose ids are all <= 80 are freed; the slab holding id 81 stays
  console.log(`LSRegion: ${before} -> ${ls.used} bytes live after gc(80): whole slabs only`);
  ls.destroy();
}

// Many workers: a worker allocates 10,000 records; the main thread reads and frees them.
{
  const worker = new Worker(new URL('./demo-worker.js', import.meta.url), {
    workerData: { arena: arena.handle(), count: 10_000 },
  });
  const ptrs = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const dv = arena.memory.dv;
  let sum = 0;
  for (const p of ptrs) sum += dv.getUint32(p, true);
  for (const p of ptrs) small.free(p); // handed back to the worker's SmallAlloc
  // Listen for 'exit' before asking: the worker's last message and its exit can arrive together.
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.postMessage('stats');
  const workerUsed = await new Promise<number>((resolve) => worker.once('message', resolve));
  await exited;
  console.log(`Workers: read ${ptrs.length} records a worker wrote (checksum ${sum}), freed them here; the worker's allocator now has ${workerUsed} bytes in use`);
}

// A worker that exits holding memory: adoptOnExit takes its id while it runs and, once it has
// exited, adopts what it left (a running worker is never adopted).
{
  const worker = new Worker(new URL('./demo-worker.js', import.meta.url), {
    workerData: { arena: arena.handle(), count: 1_000, leave: true },
  });
  const adopted = small.adoptOnExit(worker);
  const ptrs = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const { objects } = await adopted;
  for (const p of ptrs) small.free(p); // ours now
  console.log(`Adoption: a worker exited holding ${ptrs.length} records; adoptOnExit took over ${objects} objects, freed here`);
}

small.destroy();
cache.destroy();
console.log(`Quota: ${quota.used} of ${quota.total} bytes charged (slabs stay charged and are reused); arena used ${arena.used}`);
