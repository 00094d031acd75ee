/**
 * The library in two browsers: headless Chromium (Debian's `chromium`) and headless Firefox
 * (Debian's `firefox-esr`) each load three pages (test/browser/pages.ts) that import
 * dist/index.js as an ES module, so no module of the package may import a Node built-in:
 *
 * - isolated: served with `Cross-Origin-Opener-Policy: same-origin` and
 *   `Cross-Origin-Embedder-Policy: require-corp`, which make the page cross-origin isolated (only
 *   such a page has `SharedArrayBuffer`). The page and a module Worker share a SlabArena through
 *   `handle()`, free each other's pointers and end with every allocator back to zero.
 * - plain: served without those headers, so there is no `SharedArrayBuffer`. Unshared memory
 *   works (createAllocator with `shared: false`, Mempool, Region, BumpArena); asking for shared
 *   memory is the library's `TypeError` that says the page must be cross-origin isolated.
 * - csp: isolated, and under `Content-Security-Policy: default-src 'self'; script-src 'self';
 *   worker-src 'self'`, so `new Function` is refused; `defineLayout` still gives cursors (built
 *   of closures) that write and read records in an allocator's memory.
 *
 * One server (node:http on 127.0.0.1, a random port) serves every page under its own folder
 * (`/<page>/`) with that page's headers: the page, its script, its worker and the package's
 * dist/. A page POSTs its findings to `result?run=<id>`, the id the test opened it with, so no
 * WebDriver is needed. Each test starts the browser on a fresh temporary profile and, once the
 * page has reported (or the time is up), stops it and every process it started.
 *
 * A browser that is not installed skips its three tests, naming the Debian package to install.
 */
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { html, PAGES } from './browser/pages.js';
import type { PageName } from './browser/pages.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const dist = join(root, 'dist');
/** Seconds a page has to report before its test gives up. */
const LIMIT_S = 45;

/** The first of `names` found on PATH, or null. */
function findBinary(names: readonly string[]): string | null {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of names) {
    for (const d of dirs) {
      const p = join(d, name);
      if (existsSync(p) && statSync(p).isFile()) return p;
    }
  }
  return null;
}

interface Browser {
  name: string;
  /** The Debian package that installs it. */
  pkg: string;
  bin: string | null;
  /** Writes what the browser needs into the fresh profile folder. */
  prepare(profile: string): void;
  args(profile: string, url: string): string[];
  env?: Record<string, string>;
}

/** Firefox's preferences for a quiet headless run: no first-run pages, telemetry or updates. */
const FIREFOX_PREFS: Record<string, string | number | boolean> = {
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.startup.page': 0,
  'browser.aboutwelcome.enabled': false,
  'startup.homepage_welcome_url': '',
  'startup.homepage_welcome_url.additional': '',
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.policy.firstRunURL': '',
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'extensions.update.enabled': false,
  'browser.search.update': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.tabs.warnOnClose': false,
  'dom.ipc.processPrelaunch.enabled': false,
};

const BROWSERS: Browser[] = [
  {
    name: 'chromium',
    pkg: 'chromium',
    bin: findBinary(['chromium', 'chromium-browser']),
    prepare: () => {},
    args: (profile, url) => [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--no-zygote', `--user-data-dir=${profile}`, url,
    ],
  },
  {
    name: 'firefox',
    pkg: 'firefox-esr',
    bin: findBinary(['firefox-esr', 'firefox']),
    prepare: (profile) => {
      const lines = Object.entries(FIREFOX_PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`);
      writeFileSync(join(profile, 'user.js'), lines.join('\n') + '\n');
    },
    args: (profile, url) => ['--headless', '--no-remote', '--new-instance', '--profile', profile, url],
    env: { MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
  },
];

interface Report {
  error?: string;
  checks?: Record<string, boolean>;
  node?: boolean;
  [more: string]: unknown;
}

/** The reports awaited, by run id. */
const waiting = new Map<string, (r: Report) => void>();
let server: Server | undefined;
let port = 0;

function serve(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, folder = '', ...rest] = url.pathname.split('/');
    const page = Object.hasOwn(PAGES, folder) ? PAGES[folder as PageName] : undefined;
    const headers = { ...page?.headers, 'Cache-Control': 'no-store' };
    const file = rest.join('/');
    if (page === undefined) return void res.writeHead(404, headers).end();
    if (req.method === 'POST' && file === 'result') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => {
        res.writeHead(204, headers).end();
        const deliver = waiting.get(url.searchParams.get('run') ?? '');
        if (deliver === undefined) return;
        try { deliver(JSON.parse(body) as Report); } catch { deliver({ error: `unreadable report: ${body}` }); }
      });
      return;
    }
    const send = (type: string, body: string | Buffer) => res.writeHead(200, { ...headers, 'Content-Type': type }).end(body);
    const js = 'text/javascript; charset=utf-8';
    if (file === '') return send('text/html; charset=utf-8', html(folder as PageName));
    if (file === 'page.js') return send(js, page.script);
    if (file === 'worker.js' && page.worker !== undefined) return send(js, page.worker);
    if (file.startsWith('dist/') && file.endsWith('.js')) {
      const path = normalize(join(dist, decodeURIComponent(file.slice('dist/'.length))));
      if (path.startsWith(dist + sep) && existsSync(path)) return send(js, readFileSync(path));
    }
    res.writeHead(404, headers).end();
  });
}

before(async () => {
  server = serve();
  await new Promise<void>((res) => server!.listen(0, '127.0.0.1', res));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((res) => (server === undefined ? res() : server.close(() => res()))));

let runs = 0;

/**
 * Opens `page` in `browser` on a fresh profile and resolves to what the page reported, or to an
 * `error` if the browser exited first or the page did not report in LIMIT_S seconds. The browser
 * is stopped when the test ends: SIGTERM first (it then shuts down and reaps its helper
 * processes itself), and what is left after 5 s is killed, the whole process group.
 */
async function runPage(t: TestContext, browser: Browser, page: PageName): Promise<Report> {
  const run = `${browser.name}-${page}-${++runs}`;
  const reported = new Promise<Report>((res) => waiting.set(run, res));
  t.after(() => { waiting.delete(run); });
  const url = `http://127.0.0.1:${port}/${page}/?run=${encodeURIComponent(run)}`;

  const profile = mkdtempSync(join(tmpdir(), `binalloc-${browser.name}-`));
  browser.prepare(profile);
  const child = spawn(browser.bin!, browser.args(profile, url), {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...browser.env },
  });
  let output = '';
  const keep = (c: string) => { output = (output + c).slice(-4000); };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  t.after(async () => {
    try { child.kill('SIGTERM'); } catch { /* already gone */ }
    await Promise.race([exited, new Promise((res) => setTimeout(res, 5000).unref())]);
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* all gone */ }
    await exited;
    rmSync(profile, { recursive: true, force: true });
  });

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    reported,
    exited.then((): Report => ({ error: `${browser.name} exited before the page reported:\n${output}` })),
    new Promise<Report>((res) => {
      timer = setTimeout(() => res({ error: `no report from the page in ${LIMIT_S} s; ${browser.name} said:\n${output}` }), LIMIT_S * 1000);
    }),
  ]);
  clearTimeout(timer);
  return outcome;
}

const WHAT: Record<PageName, string> = {
  isolated: 'a cross-origin isolated page and a module Worker share a SlabArena',
  plain: 'a page that is not cross-origin isolated has unshared memory, and a TypeError for shared memory',
  csp: "under a strict CSP (no 'unsafe-eval') defineLayout's cursors still read and write records",
};

for (const browser of BROWSERS) {
  for (const page of Object.keys(PAGES) as PageName[]) {
    test(`browser, headless ${browser.name}: ${WHAT[page]}`, {
      skip: browser.bin === null ? `${browser.name} not found: install Debian's ${browser.pkg} (apt-get install ${browser.pkg})` : false,
      timeout: (LIMIT_S + 30) * 1000,
    }, async (t) => {
      assert.ok(existsSync(join(dist, 'index.js')), 'dist/index.js is built (npm run build)');
      const outcome = await runPage(t, browser, page);
      t.diagnostic(`${browser.name}, ${page}: ${JSON.stringify({ ...outcome, checks: undefined })}`);
      assert.equal(outcome.error, undefined, outcome.error);
      assert.equal(outcome.node, false, 'the page is no Node');
      assert.deepEqual(outcome.checks, PAGES[page].checks);
      // Strings through TextEncoder.encodeInto / TextDecoder.decode: browsers refuse views of a
      // SharedArrayBuffer or of a resizable buffer there (Node takes both); the library copies
      // through a private buffer where the engine refuses (src/internal/strings.ts).
      const strings = (outcome['strings'] ?? {}) as Record<string, Record<string, string>>;
      const broken = Object.entries(strings).flatMap(([a, cases]) =>
        Object.entries(cases).filter(([, r]) => r !== 'ok').map(([c, r]) => `${a}.${c}: ${r}`));
      assert.deepEqual(broken, [], 'strings round-trip through allocString/readString and layout string fields');
    });
  }
}
