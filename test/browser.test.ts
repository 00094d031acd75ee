/**
 * The library in a browser: headless Chromium loads a page that imports dist/index.js as an ES
 * module (so no module of the package may import a Node built-in), builds a Quota, a shared
 * SlabArena, a SlabCache and a SmallAlloc, and starts a module Worker that attaches to the
 * arena through `handle()`. The worker frees some of the page's pointers and allocates its own;
 * the page reads what the worker wrote, frees the worker's pointers and checks that every
 * allocator is back to zero and passes `check()`. The page POSTs its findings to the server.
 *
 * The server (node:http on 127.0.0.1, a random port) sends `Cross-Origin-Opener-Policy:
 * same-origin` and `Cross-Origin-Embedder-Policy: require-corp`, which make the page cross-origin
 * isolated: only such a page has `SharedArrayBuffer`.
 *
 * Chromium is Debian's (`apt-get install chromium`); without it the test is skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const dist = join(root, 'dist');
/** Seconds the page has to report before the test gives up. */
const LIMIT_S = 60;

function findChromium(): string | null {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of ['chromium', 'chromium-browser']) {
    for (const d of dirs) {
      const p = join(d, name);
      if (existsSync(p) && statSync(p).isFile()) return p;
    }
  }
  return null;
}

const chromium = findChromium();

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>binalloc in a browser</title>
<script type="module">
const report = (r) => fetch('/result', { method: 'POST', body: JSON.stringify(r) });
addEventListener('error', (e) => report({ error: 'page: ' + e.message }));
addEventListener('unhandledrejection', (e) => report({ error: 'page: ' + (e.reason?.stack ?? e.reason) }));
try {
  const { Quota, SlabArena, SlabCache, SmallAlloc } = await import('/dist/index.js');
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
  const worker = new Worker('/worker.js', { type: 'module' });
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
  report({ checks, quotaUsed: quota.used, node: typeof process !== 'undefined' });
} catch (e) {
  report({ error: 'page: ' + (e?.stack ?? e) });
}
</script>`;

const WORKER = `import { SlabArena, SlabCache, SmallAlloc } from '/dist/index.js';
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
    postMessage({ error: 'worker: ' + (err?.stack ?? err) });
  }
};
`;

interface Report {
  error?: string;
  checks?: Record<string, boolean>;
  quotaUsed?: number;
  node?: boolean;
}

test('the package runs in a browser: a page and a module Worker share a SlabArena (headless Chromium)', {
  skip: chromium === null ? "chromium not found: install Debian's chromium (apt-get install chromium)" : false,
  timeout: (LIMIT_S + 30) * 1000,
}, async (t) => {
  assert.ok(existsSync(join(dist, 'index.js')), 'dist/index.js is built (npm run build)');
  let deliver!: (r: Report) => void;
  const reported = new Promise<Report>((res) => { deliver = res; });

  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => {
        res.writeHead(204, headers).end();
        try { deliver(JSON.parse(body) as Report); } catch { deliver({ error: `unreadable report: ${body}` }); }
      });
      return;
    }
    const send = (type: string, body: string | Buffer) => res.writeHead(200, { ...headers, 'Content-Type': type }).end(body);
    if (url.pathname === '/') return send('text/html; charset=utf-8', PAGE);
    if (url.pathname === '/worker.js') return send('text/javascript; charset=utf-8', WORKER);
    if (url.pathname.startsWith('/dist/') && url.pathname.endsWith('.js')) {
      const file = normalize(join(dist, decodeURIComponent(url.pathname.slice('/dist/'.length))));
      if (file.startsWith(dist + sep) && existsSync(file)) return send('text/javascript; charset=utf-8', readFileSync(file));
    }
    res.writeHead(404, headers).end();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.after(() => new Promise<void>((res) => server.close(() => res())));
  const { port } = server.address() as AddressInfo;

  const profile = mkdtempSync(join(tmpdir(), 'binalloc-chromium-'));
  const browser = spawn(chromium!, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--no-zygote', `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/`,
  ], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  browser.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-4000); });
  const exited = new Promise<void>((res) => browser.once('exit', () => res()));
  t.after(async () => {
    // SIGTERM first: the browser then shuts down and reaps its helper processes itself. What
    // is left after 5 s is killed, the whole process group we started.
    try { browser.kill('SIGTERM'); } catch { /* already gone */ }
    await Promise.race([exited, new Promise((res) => setTimeout(res, 5000).unref())]);
    try { process.kill(-browser.pid!, 'SIGKILL'); } catch { /* all gone */ }
    await exited;
    rmSync(profile, { recursive: true, force: true });
  });

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    reported,
    exited.then((): Report => ({ error: `chromium exited before the page reported:\n${stderr}` })),
    new Promise<Report>((res) => {
      timer = setTimeout(() => res({ error: `no report from the page in ${LIMIT_S} s; chromium said:\n${stderr}` }), LIMIT_S * 1000);
    }),
  ]);
  clearTimeout(timer);

  assert.equal(outcome.error, undefined, outcome.error);
  assert.equal(outcome.node, false, 'the page is no Node');
  assert.deepEqual(outcome.checks, {
    crossOriginIsolated: true, shared: true, workerReadPage: true, pageReadsWorker: true,
    pageUsedZero: true, workerUsedZero: true,
  });
});
