/**
 * `npm start`: the main job. One million player records {id, score, name} kept two ways, with
 * the same workload, each store in a child process of its own so that its memory and garbage
 * collector figures are its own:
 *
 * - **Map**: plain objects in a `Map`, as a program keeps them without this library.
 * - **off-heap**: the records in a `SmallAlloc` under a `Quota` (`createAllocator`), laid out by
 *   `defineLayout`, indexed by an `OffHeapMap` (id -> record pointer) in the same shared memory.
 *   Updates are copy-on-write: a new version, published in the index, the old one freed at
 *   once. Readers in worker threads look records up meanwhile, each batch under a read view of
 *   the arena, so a record freed while they read it keeps its bytes until they are done.
 *
 * Phases: load, look up, update a fifth (with readers in workers running during it, counting
 * every record they reach that is not the one they looked up: torn or reused), delete a tenth. Printed: records/s per phase, bytes per record (RSS and JS heap), total GC time
 * and the longest GC pause (`perf_hooks` GC entries), and the allocator's own stats. Written:
 * `report.html`, the same figures as charts, with a heap map of the arena.
 *
 *     npm start                              # 1,000,000 records, 2 reader workers
 *     npm start -- --records 200000 --workers 4 --out /tmp/report.html
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createAllocator, defineLayout, formatStats, heapMap, OffHeapMap, type LayoutCursor, type SmallAlloc } from 'binalloc';
import { fieldsOfPlayer, nameOf, type ReaderRun, type StoreResult, type PhaseResult } from './record-store-lib.js';
import { renderReport, renderTable } from './record-store-report.js';

interface Options {
  records: number;
  workers: number;
  out: string;
  child: 'map' | 'offheap' | null;
  seed: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { records: 1_000_000, workers: 2, out: 'report.html', child: null, seed: 42 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const int = (name: string, min: number, max: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
      i++;
      return n;
    };
    if (a === '--records') o.records = int('--records', 1000, 20_000_000);
    else if (a === '--workers') o.workers = int('--workers', 0, 64);
    else if (a === '--seed') o.seed = int('--seed', 0, 2 ** 31 - 1);
    else if (a === '--out') { o.out = v ?? o.out; i++; }
    else if (a === '--child') { o.child = v === 'map' ? 'map' : 'offheap'; i++; }
    else if (a === '--help') {
      console.log('npm start -- [--records N] [--workers W] [--out report.html] [--seed S]');
      process.exit(0);
    } else throw new TypeError(`unknown option ${a} (try --help)`);
  }
  return o;
}

// ---- the child: one store, every phase ------------------------------------------------------

/** Total GC time and the longest pause, from the GC entries delivered so far. */
const gcStats = { total: 0, max: 0, count: 0 };
/** When the program forced a full GC itself (to measure memory): those pauses are not the store's. */
const forced: [number, number][] = [];

function startGcObserver(): void {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (forced.some(([a, b]) => e.startTime >= a && e.startTime <= b)) continue;
      gcStats.total += e.duration;
      gcStats.count++;
      if (e.duration > gcStats.max) gcStats.max = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
}

/** Lets the event loop deliver GC entries and messages. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A full GC, to measure what is live; its pause is left out of the GC figures. */
function fullGc(): void {
  const t0 = performance.now();
  gc();
  forced.push([t0, performance.now()]);
}

/** A small deterministic generator (xorshift32), so both stores see the same workload. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Workload {
  order: Uint32Array;
  lookups: Uint32Array;
  updates: Uint32Array;
  deletes: Uint32Array;
  scores: Float64Array;
}

function workload(n: number, seed: number): Workload {
  const r = rng(seed);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i + 1;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const pick = (k: number): Uint32Array => Uint32Array.from({ length: k }, () => 1 + Math.floor(r() * n));
  const scores = Float64Array.from({ length: n + 1 }, () => Math.round(r() * 1e6) / 100);
  // Deletes: distinct ids, a tenth of them.
  const deletes = order.slice(0, Math.floor(n / 10)).map((x) => x);
  return { order: order.slice(), lookups: pick(n), updates: pick(Math.floor(n / 5)), deletes, scores };
}

interface Store {
  load(w: Workload, progress: (done: number) => void): void;
  lookup(id: number): number;
  update(id: number, score: number): void;
  remove(id: number): void;
  /** Starts readers in workers, until `stop[0]` is set (see waitForReaders); resolves with their figures. */
  readers(workers: number, records: number, seed: number, stop: Int32Array): Promise<Readers>;
  stats(): Record<string, unknown>;
  /** The allocator's own table (formatStats), or '' for the Map. */
  statsText(): string;
  heapMap(): string;
}

class MapStore implements Store {
  private readonly map = new Map<number, { id: number; score: number; name: string }>();

  load(w: Workload, progress: (done: number) => void): void {
    const order = w.order;
    for (let i = 0; i < order.length; i++) {
      const id = order[i]!;
      this.map.set(id, { id, score: w.scores[id]!, name: nameOf(id) });
      if ((i & 0xffff) === 0) progress(i);
    }
    progress(order.length);
  }

  lookup(id: number): number {
    return this.map.get(id)?.score ?? 0;
  }

  update(id: number, score: number): void {
    const old = this.map.get(id);
    if (old !== undefined) this.map.set(id, { ...old, score });
  }

  remove(id: number): void {
    this.map.delete(id);
  }

  async readers(workers: number, records: number, seed: number, stop: Int32Array): Promise<Readers> {
    // A Map cannot be shared: each reader gets a copy (structured clone), and pays for it; it
    // never sees an update.
    const t0 = performance.now();
    const copy = [...this.map.values()].map((r) => [r.id, r.score] as const);
    const setupMs = performance.now() - t0;
    return summarize(await Promise.all(Array.from({ length: workers }, (_, k) => runReader({ kind: 'map', records: copy, n: records, seed: seed + k, stop: stop.buffer }))), setupMs);
  }

  stats(): Record<string, unknown> {
    return { records: this.map.size };
  }

  statsText(): string {
    return '';
  }

  heapMap(): string {
    return '';
  }
}

const Player = defineLayout(fieldsOfPlayer);

class OffHeapStore implements Store {
  readonly alloc: SmallAlloc;
  private readonly index: OffHeapMap<number>;
  private readonly rec: LayoutCursor<typeof fieldsOfPlayer>;
  private u8: Uint8Array;

  constructor(records: number) {
    // Room for the records and the index with a margin: the quota is what this store may take.
    this.alloc = createAllocator({ limit: Math.max(64 << 20, records * (Player.size + 48) * 3) });
    this.rec = Player.cursor(this.alloc.memory);
    this.index = new OffHeapMap<number>(this.alloc, { keys: 'u32' });
    this.u8 = this.alloc.memory.u8;
  }

  load(w: Workload, progress: (done: number) => void): void {
    const rec = this.rec;
    const order = w.order;
    for (let i = 0; i < order.length; i++) {
      const id = order[i]!;
      rec.ptr = this.alloc.alloc(Player.size);
      rec.id = id;
      rec.score = w.scores[id]!;
      rec.name = nameOf(id);
      this.index.set(id, rec.ptr);
      if ((i & 0xffff) === 0) progress(i);
    }
    progress(order.length);
  }

  lookup(id: number): number {
    const p = this.index.get(id);
    if (p === undefined) return 0;
    this.rec.ptr = p;
    return this.rec.score;
  }

  update(id: number, score: number): void {
    // Copy-on-write: a new version, published in the index, the old one freed at once (readers
    // that may still hold it hold a read view: it keeps its bytes until they close it).
    const old = this.index.get(id);
    if (old === undefined) return;
    const p = this.alloc.alloc(Player.size);
    // The memory's view, got again only when the new record lies past it (getting
    // memory.u8 checks the buffer's length: about 15 ns).
    if (p + Player.size > this.u8.length) this.u8 = this.alloc.memory.u8;
    this.u8.copyWithin(p, old, old + Player.size);
    this.rec.ptr = p;
    this.rec.score = score;
    this.index.set(id, p);
    this.alloc.free(old);
  }

  remove(id: number): void {
    const p = this.index.get(id);
    if (p === undefined) return;
    this.index.delete(id);
    this.alloc.free(p);
  }

  async readers(workers: number, records: number, seed: number, stop: Int32Array): Promise<Readers> {
    const shared = {
      kind: 'offheap' as const,
      arena: this.alloc.cache.arena.handle(),
      index: this.index.handle(),
      fields: Player.fields,
      n: records,
      stop: stop.buffer,
    };
    return summarize(await Promise.all(Array.from({ length: workers }, (_, k) => runReader({ ...shared, seed: seed + k }))), 0);
  }

  stats(): Record<string, unknown> {
    const st = this.alloc.stats();
    const ix = this.index.stats();
    return { records: st.count, 'bytes used': st.used, 'bytes held': st.total, 'index bytes': ix.tableBytes };
  }

  statsText(): string {
    return formatStats(this.alloc);
  }

  heapMap(): string {
    return heapMap(this.alloc.cache.arena, { title: 'the records\' arena', columns: 8 });
  }
}

/** The readers' figures. */
interface Readers {
  perSecond: number;
  lookups: number;
  /** Records reached that were not the one looked up (torn or reused): must be 0. */
  bad: number;
  setupMs: number;
}

/** Waits until `workers` readers have started (each adds 1 to `stop[1]`; `stop[0] = 1` stops them). */
async function waitForReaders(stop: Int32Array, workers: number): Promise<void> {
  const t0 = performance.now();
  while (Atomics.load(stop, 1) < workers && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 2));
}

function runReader(data: Record<string, unknown>): Promise<ReaderRun> {
  return new Promise((resolvePromise, reject) => {
    const w = new Worker(new URL('./record-store-worker.js', import.meta.url), { workerData: data });
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('a reader worker took more than 60 s'));
    }, 60_000);
    w.once('message', (m: ReaderRun) => {
      clearTimeout(timer);
      resolvePromise(m);
      void w.terminate();
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function summarize(runs: ReaderRun[], setupMs: number): Readers {
  const perSecond = runs.reduce((s, r) => s + (r.lookups / r.ms) * 1000, 0);
  return { perSecond, lookups: runs.reduce((s, r) => s + r.lookups, 0), bad: runs.reduce((s, r) => s + r.bad, 0), setupMs };
}

function send(m: unknown): void {
  process.send!(m);
}

async function child(o: Options): Promise<void> {
  const n = o.records;
  const w = workload(n, o.seed);
  const store: Store = o.child === 'map' ? new MapStore() : new OffHeapStore(n);
  const phases: PhaseResult[] = [];
  const phase = async (name: string, count: number, body: (progress: (done: number) => void) => void): Promise<void> => {
    await tick();
    const t0 = performance.now();
    body((done) => send({ type: 'progress', store: o.child, phase: name, done, total: count }));
    const ms = performance.now() - t0;
    await tick();
    phases.push({ name, count, ms, perSecond: (count / ms) * 1000 });
  };
  const chunked = (count: number, each: (i: number) => void) => (progress: (done: number) => void): void => {
    const step = Math.max(1, Math.floor(count / 20));
    for (let i = 0; i < count; i++) {
      each(i);
      if (i % step === 0) progress(i);
    }
    progress(count);
  };

  fullGc();
  await tick();
  // From here on, the store's work: the pauses of building the workload (the same input for
  // both stores, and in the off-heap store's process most of its GC) are not the store's.
  startGcObserver();
  const base = process.memoryUsage();
  await phase('load', n, (progress) => store.load(w, progress));
  fullGc();
  await tick();
  const loaded = process.memoryUsage();
  let sink = 0;
  await phase('lookup', n, chunked(n, (i) => {
    sink += store.lookup(w.lookups[i]!);
  }));
  // The readers run while the updates do: started first, stopped when the updates are done.
  const stop = new Int32Array(new SharedArrayBuffer(8));
  const readersDone = o.workers > 0 ? store.readers(o.workers, n, o.seed, stop) : null;
  if (readersDone !== null) await waitForReaders(stop, o.workers);
  await phase('update', w.updates.length, chunked(w.updates.length, (i) => {
    store.update(w.updates[i]!, i);
  }));
  Atomics.store(stop, 0, 1);
  const readers = readersDone === null ? null : await readersDone;
  await phase('delete', w.deletes.length, chunked(w.deletes.length, (i) => {
    store.remove(w.deletes[i]!);
  }));
  await tick();
  const end = process.memoryUsage();
  const result: StoreResult = {
    store: o.child!,
    records: n,
    phases,
    rssPerRecord: (loaded.rss - base.rss) / n,
    heapPerRecord: (loaded.heapUsed - base.heapUsed) / n,
    rssGrowth: loaded.rss - base.rss,
    heapGrowth: loaded.heapUsed - base.heapUsed,
    rssEnd: end.rss,
    gcTotalMs: gcStats.total,
    gcMaxMs: gcStats.max,
    gcCount: gcStats.count,
    readers: readers === null ? null : { workers: o.workers, ...readers },
    stats: store.stats(),
    statsText: store.statsText(),
    heapMap: store.heapMap(),
    sink,
  };
  send({ type: 'result', result });
}

// ---- the parent: both stores, the table, the report ------------------------------------------

function runChild(kind: 'map' | 'offheap', o: Options, onProgress: (m: { phase: string; done: number; total: number }) => void): Promise<StoreResult> {
  return new Promise((resolvePromise, reject) => {
    const args = ['--child', kind, '--records', String(o.records), '--workers', String(o.workers), '--seed', String(o.seed)];
    const c = fork(new URL(import.meta.url).pathname, args, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    let result: StoreResult | null = null;
    c.on('message', (m: { type: string; result?: StoreResult; phase?: string; done?: number; total?: number }) => {
      if (m.type === 'progress') onProgress(m as { phase: string; done: number; total: number });
      else if (m.type === 'result') result = m.result!;
    });
    c.on('exit', (code) => (result !== null ? resolvePromise(result) : reject(new Error(`the ${kind} store's process exited with ${code}`))));
    c.on('error', reject);
  });
}

async function parent(o: Options): Promise<void> {
  const tty = process.stdout.isTTY === true;
  console.log(`${o.records.toLocaleString('en')} records {id u32, score f64, name ≤ 16 chars}, ${o.workers} reader worker(s), Node ${process.version}`);
  const results: StoreResult[] = [];
  for (const kind of ['map', 'offheap'] as const) {
    const label = kind === 'map' ? 'Map of objects' : 'off-heap (SmallAlloc + OffHeapMap)';
    let last = '';
    const t0 = performance.now();
    results.push(await runChild(kind, o, (m) => {
      const line = `${label}: ${m.phase} ${Math.round((100 * m.done) / m.total)}%`;
      if (tty) process.stdout.write(`\r${line.padEnd(70)}`);
      else if (m.done === m.total && line !== last) console.log(line);
      last = line;
    }));
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    if (tty) process.stdout.write(`\r${`${label}: done in ${s} s`.padEnd(70)}\n`);
    else console.log(`${label}: done in ${s} s`);
  }
  console.log();
  console.log(renderTable(results));
  const path = resolve(o.out);
  writeFileSync(path, renderReport(results, o));
  console.log(`\nreport: ${path}`);
}

const options = parseOptions(process.argv.slice(2));
if (options.child !== null) await child(options);
else await parent(options);
