/**
 * The three pages of test/browser.test.ts, as the files the test's server sends. Each page is an
 * HTML file that loads its script from `page.js` (no inline script, so the same page works under
 * the strict Content-Security-Policy) and its script imports `./dist/index.js`, relative to the
 * page's folder: the server sends the package under every page's folder with that page's headers.
 *
 * Every script reports once: it POSTs `{ checks, ... }` or `{ error }` to `result?run=<run>`,
 * `<run>` being the query parameter the page was opened with, so that the server can tell which
 * test a report belongs to.
 */

/** The name of a page; also its folder on the server (`/<name>/`). */
export type PageName = 'isolated' | 'plain' | 'csp';

export interface Page {
  /** Response headers of every file under the page's folder. */
  headers: Record<string, string>;
  /** `page.js`, the page's module script. */
  script: string;
  /** `worker.js`, where the page starts a module Worker. */
  worker?: string;
  /** The checks the page must report, all of them true. */
  checks: Record<string, true>;
}

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The HTML of every page: the title names the page, the script is `page.js` beside it. */
export function html(name: PageName): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>binalloc in a browser: ${name}</title>
<script type="module" src="page.js"></script>
`;
}

/** Opens every page script: `report` and the reports of uncaught errors. */
const PRELUDE = `const describe = (e) => String(e) + (e?.stack ? '\\n' + e.stack : '');
const run = new URLSearchParams(location.search).get('run');
let reported = false;
const report = (r) => {
  if (reported) return;
  reported = true;
  fetch('result?run=' + encodeURIComponent(run), { method: 'POST', body: JSON.stringify(r) });
};
/**
 * Strings through an allocator's allocString/readString: a short ASCII one (written and read
 * byte by byte), then ones that go through TextEncoder.encodeInto and TextDecoder.decode.
 * 'ok' or the error, by case; reported apart from the checks.
 */
const stringRoundTrips = (a) => {
  const out = {};
  const cases = { ascii8: 'abcdefgh', nonAscii: 'héllo', ascii100: 'x'.repeat(100), nonAscii100: 'é'.repeat(50) };
  for (const [name, str] of Object.entries(cases)) {
    try {
      const p = a.allocString(str);
      const back = a.readString(p);
      out[name] = back === str ? 'ok' : 'read back ' + JSON.stringify(back);
      if (typeof a.free === 'function' && a.free.length === 1) a.free(p);
    } catch (e) {
      out[name] = String(e);
    }
  }
  return out;
};
addEventListener('error', (e) => report({ error: 'page: ' + e.message }));
addEventListener('unhandledrejection', (e) => report({ error: 'page: ' + describe(e.reason) }));
`;

/**
 * Cross-origin isolated: a page and a module Worker share a SlabArena. The page allocates, the
 * worker attaches through `handle()`, frees some of the page's pointers and allocates its own;
 * the page reads what the worker wrote, frees the worker's pointers and checks that every
 * allocator is back to zero and passes `check()`.
 */
const isolated: Page = {
  headers: ISOLATION,
  script: PRELUDE + `try {
  const { Quota, SlabArena, SlabCache, SmallAlloc } = await import('./dist/index.js');
  const checks = {};
  checks.crossOriginIsolated = crossOriginIsolated === true;
  const quota = new Quota(64 << 20);
  const arena = new SlabArena({ quota, slabSize: 1 << 20 });
  const cache = new SlabCache(arena);
  const small = new SmallAlloc(cache);
  checks.shared = arena.memory.shared;
  const mine = [];
  for (let i = 0; i < 100; i++) {
    const p = small.alloc(24 + i);
    arena.memory.dv.setUint32(p, i, true);
    mine.push(p);
  }
  const worker = new Worker('./worker.js', { type: 'module' });
  const ask = (msg) => new Promise((res, rej) => {
    worker.onmessage = (e) => (e.data.error ? rej(new Error(e.data.error)) : res(e.data));
    worker.onerror = (e) => rej(new Error('worker: ' + e.message));
    worker.postMessage(msg);
  });
  // The worker frees the first 50 of the page's pointers and allocates 200, freeing 100 of them.
  const reply = await ask({ arena: arena.handle(), ptrs: mine.slice(0, 50) });
  checks.workerReadPage = reply.sum === (49 * 50) / 2;
  const dv = arena.memory.dv;
  checks.pageReadsWorker = reply.ptrs.length === 100 && reply.ptrs.every((p, k) => dv.getUint32(p, true) === (100 + k) * 10);
  for (const p of reply.ptrs) small.free(p);
  for (const p of mine.slice(50)) small.free(p);
  checks.pageUsedZero = small.stats().used === 0;
  small.check();
  cache.check();
  arena.check();
  const after = await ask('stats');
  checks.workerUsedZero = after.used === 0;
  worker.terminate();
  const strings = { smallAlloc: stringRoundTrips(small) };
  report({ checks, strings, quotaUsed: quota.used, node: typeof process !== 'undefined' });
} catch (e) {
  report({ error: 'page: ' + describe(e) });
}
`,
  worker: `import { SlabArena, SlabCache, SmallAlloc } from './dist/index.js';
let small = null;
onmessage = (e) => {
  try {
    if (e.data === 'stats') {
      small.check();
      postMessage({ used: small.stats().used });
      return;
    }
    const arena = SlabArena.attach(e.data.arena);
    small = new SmallAlloc(new SlabCache(arena));
    let sum = 0;
    for (const p of e.data.ptrs) sum += arena.memory.dv.getUint32(p, true);
    for (const p of e.data.ptrs) small.free(p);
    const ptrs = [];
    for (let i = 0; i < 200; i++) {
      const p = small.alloc(16 + ((i * 37) % 300));
      arena.memory.dv.setUint32(p, i * 10, true);
      ptrs.push(p);
    }
    for (const p of ptrs.splice(0, 100)) small.free(p);
    small.check();
    postMessage({ sum, ptrs });
  } catch (err) {
    postMessage({ error: 'worker: ' + String(err) + '\\n' + err?.stack });
  }
};
`,
  checks: {
    crossOriginIsolated: true, shared: true, workerReadPage: true, pageReadsWorker: true,
    pageUsedZero: true, workerUsedZero: true,
  },
};

/**
 * Not isolated (no COOP/COEP): the page has no `SharedArrayBuffer`. Unshared memory works
 * (createAllocator, Mempool, Region, BumpArena), and asking for shared memory is the library's
 * `TypeError` that says the page must be cross-origin isolated, never a `ReferenceError`.
 */
const plain: Page = {
  headers: {},
  script: PRELUDE + `try {
  const { createAllocator, Mempool, Region, BumpArena, SlabArena, Quota } = await import('./dist/index.js');
  const checks = {};
  checks.notIsolated = globalThis.crossOriginIsolated !== true;
  checks.noSharedArrayBuffer = typeof SharedArrayBuffer === 'undefined';

  const alloc = createAllocator({ limit: 16 * 1024 * 1024, shared: false });
  checks.allocatorUnshared = alloc.memory.shared === false;
  const ptrs = [];
  for (let i = 0; i < 500; i++) {
    const p = alloc.alloc(8 + (i % 200));
    alloc.memory.dv.setUint32(p, i, true);
    ptrs.push(p);
  }
  checks.allocatorReadsBack = ptrs.every((p, i) => alloc.memory.dv.getUint32(p, true) === i);
  for (const p of ptrs) alloc.free(p);
  alloc.check();
  alloc.cache.check();
  alloc.cache.arena.check();
  checks.allocatorUsedZero = alloc.stats().used === 0;

  const pool = new Mempool(alloc.cache, 48);
  const objs = [];
  for (let i = 0; i < 300; i++) objs.push(pool.alloc());
  checks.mempoolDistinct = new Set(objs).size === 300;
  for (const p of objs) pool.free(p);
  pool.check();
  checks.mempoolUsedZero = pool.stats().used === 0;

  const region = new Region(alloc.cache);
  const r = [];
  for (let i = 0; i < 100; i++) {
    const p = region.alloc(1000);
    alloc.memory.dv.setUint32(p, i, true);
    r.push(p);
  }
  checks.regionReadsBack = r.every((p, i) => alloc.memory.dv.getUint32(p, true) === i);
  region.check();
  region.free();
  checks.regionUsedZero = region.stats().used === 0;

  const bump = new BumpArena(1 << 16);
  checks.bumpUnshared = bump.shared === false;
  const b = bump.alloc(64), c = bump.alloc(64);
  checks.bumpAlloc = b > 0 && c > 0 && Math.abs(b - c) >= 64;  // it allocates downwards
  bump.check();
  const strings = { smallAlloc: stringRoundTrips(alloc), bumpArena: stringRoundTrips(bump) };

  const refusals = {};
  const refused = (name, make) => {
    try {
      make();
      refusals[name] = 'no error';
    } catch (e) {
      refusals[name] = e?.constructor?.name + ': ' + e?.message;
      return e instanceof TypeError && /must be cross-origin isolated/.test(e.message);
    }
    return false;
  };
  checks.createAllocatorSharedRefused = refused('createAllocator', () => createAllocator({ limit: 16 * 1024 * 1024, shared: true }));
  checks.quotaSharedRefused = refused('Quota', () => new Quota(16 << 20));
  checks.slabArenaSharedRefused = refused('SlabArena', () => new SlabArena({ quota: new Quota(16 << 20, { shared: false }), shared: true }));
  checks.bumpArenaSharedRefused = refused('BumpArena', () => new BumpArena(1 << 16, { shared: true }));
  report({ checks, refusals, strings, node: typeof process !== 'undefined' });
} catch (e) {
  report({ error: 'page: ' + describe(e) });
}
`,
  checks: {
    notIsolated: true, noSharedArrayBuffer: true, allocatorUnshared: true, allocatorReadsBack: true,
    allocatorUsedZero: true, mempoolDistinct: true, mempoolUsedZero: true, regionReadsBack: true,
    regionUsedZero: true, bumpUnshared: true, bumpAlloc: true, createAllocatorSharedRefused: true,
    quotaSharedRefused: true, slabArenaSharedRefused: true, bumpArenaSharedRefused: true,
  },
};

/**
 * Cross-origin isolated and under a strict Content-Security-Policy (no 'unsafe-eval', no inline
 * script): `new Function` throws, and `defineLayout` still gives cursors (built of closures),
 * which write and read a record in an allocator's shared memory.
 */
const csp: Page = {
  headers: {
    ...ISOLATION,
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; worker-src 'self'",
  },
  script: PRELUDE + `try {
  const { createAllocator, defineLayout } = await import('./dist/index.js');
  const checks = {};
  let evalError = 'no error';
  try {
    new Function('return 1');
  } catch (e) {
    evalError = e?.constructor?.name + ': ' + e?.message;
  }
  checks.newFunctionRefused = evalError !== 'no error';
  checks.crossOriginIsolated = crossOriginIsolated === true;
  const alloc = createAllocator({ limit: 16 * 1024 * 1024 });
  checks.shared = alloc.memory.shared === true;
  const Player = defineLayout({ id: 'u32', score: 'f64', name: { string: 24 } });
  const player = Player.cursor(alloc.memory);
  const ptrs = [];
  for (let i = 0; i < 50; i++) {
    player.ptr = alloc.alloc(Player.size);
    player.id = 7 + i;
    player.score = 99.5 + i;
    player.name = 'ada ' + i;
    ptrs.push(player.ptr);
  }
  const other = Player.cursor(alloc.memory);
  checks.recordsReadBack = ptrs.every((p, i) => {
    other.ptr = p;
    return other.id === 7 + i && other.score === 99.5 + i && other.name === 'ada ' + i;
  });
  other.ptr = ptrs[0];
  const first = { id: other.id, score: other.score, name: other.name };
  for (const p of ptrs) alloc.free(p);
  alloc.check();
  checks.usedZero = alloc.stats().used === 0;
  const strings = { smallAlloc: stringRoundTrips(alloc), layout: {} };
  try {
    player.ptr = alloc.alloc(Player.size);
    player.name = 'é';
    strings.layout.nonAscii = player.name === 'é' ? 'ok' : 'read back ' + JSON.stringify(player.name);
  } catch (e) {
    strings.layout.nonAscii = String(e);
  }
  report({ checks, evalError, first, strings, node: typeof process !== 'undefined' });
} catch (e) {
  report({ error: 'page: ' + describe(e) });
}
`,
  checks: {
    newFunctionRefused: true, crossOriginIsolated: true, shared: true, recordsReadBack: true,
    usedZero: true,
  },
};

export const PAGES: Record<PageName, Page> = { isolated, plain, csp };
