/**
 * Run by no-shared-memory.test.ts in a child process: removes `SharedArrayBuffer` as a browser
 * page that is not cross-origin isolated lacks it, then loads the library (after the removal:
 * a static import would load it first) and tries each case. Prints one JSON object, case name
 * -> `ok`, or the error's class and message, for the parent to check one by one.
 */
delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
const lib = await import('../../src/index.js');

/** What each case does; it throws when the library fails it. */
const cases: Record<string, () => unknown> = {
  'Memory.create() grows a resizable ArrayBuffer': () => {
    const m = lib.Memory.create({ maximum: 1 << 20 });
    m.grow(70000);
    m.u8[69999] = 7;
    if (m.buffer.constructor !== ArrayBuffer || m.u8[69999] !== 7 || m.shared) throw new Error(`got ${String(m.buffer)}`);
  },
  'createAllocator({ limit, shared: false }) allocates, frees, reads views and checks': () => {
    const a = lib.createAllocator({ limit: 8 << 20, shared: false });
    const ptrs = [16, 100, 3000, 40000, 1 << 20].map((n) => a.alloc(n));
    const s = a.allocString('héllo');
    if (a.readString(s) !== 'héllo') throw new Error('string lost');
    const view = a.openReadView();
    for (const p of ptrs) a.free(p);
    view.close();
    a.free(s);
    a.check();
    if (a.stats().used !== 0) throw new Error(`used ${a.stats().used}`);
    lib.formatStats(a);
    a.destroy();
  },
  'Quota, SlabArena, SlabCache, Mempool and the buffers with shared: false': () => {
    const quota = new lib.Quota(16 << 20, { shared: false });
    const arena = new lib.SlabArena({ quota, slabSize: 1 << 16, shared: false });
    const cache = new lib.SlabCache(arena);
    const pool = new lib.Mempool(cache, 48);
    pool.free(pool.alloc());
    pool.check();
    new lib.Region(cache).alloc(100);
    new lib.Ibuf(cache).alloc(100);
    new lib.Obuf(cache).alloc(100);
    const ls = new lib.LSRegion(arena);
    ls.alloc(100, 1);
    ls.gc(1);
    cache.check();
  },
  'Arena and an unshared BumpArena': () => {
    new lib.Arena().allocate(100);
    const b = new lib.BumpArena(1024);
    if (b.readString(b.allocString('x')) !== 'x') throw new Error('string lost');
  },
  'defineLayout cursors over an unshared Memory': () => {
    const L = lib.defineLayout({ a: 'u32', b: 'f64', s: { string: 8 } });
    const c = L.cursor(lib.Memory.create({ initial: 64 }), 16);
    c.a = 3; c.b = 1.5; c.s = 'hé';
    if (c.a !== 3 || c.b !== 1.5 || c.s !== 'hé') throw new Error('field lost');
  },
  'Memory.create({ shared: true })': () => lib.Memory.create({ shared: true }),
  'new Quota(limit)': () => new lib.Quota(1 << 20),
  'new SlabArena({ quota }) (shared by default)': () => new lib.SlabArena({ quota: new lib.Quota(1 << 24, { shared: false }) }),
  'new BumpArena(capacity, { shared: true })': () => new lib.BumpArena(1024, { shared: true }),
  'createAllocator({ limit }) (shared by default)': () => lib.createAllocator({ limit: 8 << 20 }),
};

const results: Record<string, string> = {};
for (const [name, run] of Object.entries(cases)) {
  try {
    run();
    results[name] = 'ok';
  } catch (e) {
    results[name] = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
  }
}
console.log(JSON.stringify(results));
