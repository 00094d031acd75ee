/**
 * heapMap(): the SVG is well-formed, has one cell per slab in the state the arena is in, and
 * (when Debian's chromium is installed) renders to pixels of those colors. Set HEAP_MAP_OUT to
 * a directory to keep the SVG and the screenshot there for a look.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { LSRegion, Quota, SlabArena, SlabCache, SmallAlloc, heapMap } from '../src/index.js';
import { HEAP_MAP_COLORS } from '../src/heap-map.js';
import { decodePng, pixelHex } from './support/png.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const S = 64 * KiB;

/** An arena in a known state: a cache slab with 100 small objects and a page run, a run of 3 slabs, an LSRegion slab, 2 free slabs. */
function known() {
  const quota = new Quota(64 * MiB);
  const arena = new SlabArena({ quota, slabSize: S, shared: false, maximum: 48 * S });
  const cache = new SlabCache(arena);
  const a = new SmallAlloc(cache);
  const objs = Array.from({ length: 100 }, () => a.alloc(16));
  const page = a.alloc(a.objsizeMax + 1);
  const bigSize = 3 * S - 1000;
  const big = a.alloc(bigSize);
  const ls = new LSRegion(arena);
  const logged = ls.alloc(100, 1);
  const f1 = arena.map();
  const f2 = arena.map();
  arena.unmap(f1);
  arena.unmap(f2);
  return { quota, arena, cache, a, objs, page, big, bigSize, ls, logged, free: [f1, f2] };
}

interface Cell {
  slab: number;
  cls: string;
  state: string;
  owner: number;
  /** The first rect: x, y, width, height, fill. */
  x: number; y: number; w: number; h: number; fill: string;
  /** The whole group's markup. */
  body: string;
}

function rectOf(tag: string): { x: number; y: number; w: number; h: number; fill: string } {
  const at = (name: string): string => {
    const m = new RegExp(` ${name}="([^"]*)"`).exec(tag);
    assert.ok(m, `${name} in ${tag}`);
    return m[1]!;
  };
  return { x: Number(at('x')), y: Number(at('y')), w: Number(at('width')), h: Number(at('height')), fill: at('fill') };
}

function cellsOf(svg: string): Cell[] {
  const cells: Cell[] = [];
  const re = /<g class="slab ([\w-]+)" data-slab="(\d+)" data-state="([\w-]+)"(?: data-owner="(\d+)")?>(.*?)<\/g>\n/g;
  for (const m of svg.matchAll(re)) {
    const first = /<rect [^>]*\/>/.exec(m[5]!);
    assert.ok(first, `a rect in slab ${m[2]}`);
    cells.push({ slab: Number(m[2]), cls: m[1]!, state: m[3]!, owner: Number(m[4] ?? 0), ...rectOf(first[0]), body: m[5]! });
  }
  return cells;
}

/** Throws unless `svg` is one well-formed element tree rooted at <svg>, with escaped text. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  let last = 0;
  for (const m of svg.matchAll(/<[^>]*>/g)) {
    const text = svg.slice(last, m.index);
    assert.doesNotMatch(text, /[<>]|&(?!(amp|lt|gt|quot);)/, `text escaped: ${JSON.stringify(text.slice(0, 80))}`);
    last = m.index + m[0].length;
    const t = /^<(\/)?([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/)?>$/.exec(m[0]);
    assert.ok(t, `a well-formed tag: ${m[0].slice(0, 120)}`);
    const [, close, name, , selfClose] = t;
    if (close !== undefined) {
      assert.equal(stack.pop(), name, `</${name}> closes the open element`);
    } else {
      if (stack.length === 0) roots++;
      if (selfClose === undefined) stack.push(name!);
    }
  }
  assert.equal(svg.slice(last).trim(), '', 'nothing after the root');
  assert.deepEqual(stack, [], 'every element closed');
  assert.equal(roots, 1, 'one root element');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+(\.\d+)?"/);
}

test('heapMap() draws one cell per slab, in the state and color the arena has them', () => {
  const k = known();
  const { arena, cache } = k;
  const svg = heapMap(arena);
  assertWellFormed(svg);
  const cells = cellsOf(svg);
  const carvedEnd = arena.carvedEnd();
  assert.equal(cells.length, Math.ceil((carvedEnd - arena.ctrlSlabs + 1) / 16) * 16, 'carved slabs and a row end of never-carved ones');
  cells.forEach((c, i) => {
    assert.equal(c.slab, arena.ctrlSlabs + i);
    assert.equal(c.cls, c.state);
  });
  const cell = (ptr: number): Cell => cells.find((c) => c.slab === Math.floor(ptr / S))!;
  const own = HEAP_MAP_COLORS.owners[0];

  const small = cell(k.objs[0]!);
  assert.deepEqual([small.state, small.owner, small.fill], ['cache', cache.ownerId, own]);
  const pools = [...small.body.matchAll(/<g class="blk pool"><title>([^<]*)<\/title>(<rect [^>]*\/>)(<rect [^>]*\/>)?<\/g>/g)];
  assert.equal(pools.length, 1, 'one mempool slab: 100 objects of 16 bytes fit one');
  const tip = /objsize 16, (\d+) of (\d+) slots live/.exec(pools[0]![1]!);
  assert.ok(tip, pools[0]![1]);
  assert.equal(Number(tip[1]), 100);
  const block = rectOf(pools[0]![2]!);
  const filled = rectOf(pools[0]![3]!);
  assert.equal(block.fill, HEAP_MAP_COLORS.pool);
  assert.equal(filled.fill, HEAP_MAP_COLORS.poolFill);
  const frac = 100 / Number(tip[2]);
  // Lengths are written with 3 decimals: the area is right to about 0.0005 of a side.
  assert.ok(Math.abs(filled.w * filled.h - frac * block.w * block.h) < 0.0005 * (block.w + block.h), 'shaded by live / slots');
  assert.match(cell(k.page).body, /<g class="blk large"><title>0x[0-9a-f]+: page run of 4 KiB: a large allocation of /);

  const run = [0, 1, 2].map((j) => cell(k.big + j * S));
  for (const [j, c] of run.entries()) {
    assert.deepEqual([c.state, c.owner, c.fill], ['cache-run', cache.ownerId, own], `run slab ${j}`);
    assert.match(c.body, new RegExp(`slab ${j + 1} of a run of 3`));
    const fills = [...c.body.matchAll(/<rect [^>]*\/>/g)].map((r) => rectOf(r[0])).filter((r) => r.fill === HEAP_MAP_COLORS.runFill);
    const want = Math.max(0, Math.min(1, (k.bigSize - j * S) / S));
    assert.ok(Math.abs(fills[0]!.w - want * c.w) < 0.01, `run slab ${j} filled ${want}`);
  }

  const logged = cell(k.logged);
  assert.deepEqual([logged.state, logged.owner, logged.fill], ['mapped', 0, HEAP_MAP_COLORS.mapped]);
  for (const f of k.free) assert.deepEqual([cell(f).state, cell(f).fill], ['free', HEAP_MAP_COLORS.free]);
  for (const c of cells.filter((x) => x.slab >= carvedEnd)) assert.deepEqual([c.state, c.fill], ['uncarved', HEAP_MAP_COLORS.uncarved]);
  assert.equal(cells.filter((c) => c.slab < carvedEnd).length, carvedEnd - arena.ctrlSlabs);
  assert.equal(cells.filter((c) => c.state === 'free').length, 2);

  const u = arena.used / KiB;
  const cv = arena.carved / KiB;
  assert.deepEqual([u, cv], [5 * 64, 7 * 64], 'five slabs handed out (cache 1 + run 3 + LSRegion 1), two free');
  assert.ok(svg.includes(`used ${u} KiB (${(100 * u / cv).toFixed(1)}% of carved) · carved ${cv} KiB · maximum 3 MiB · quota ${cv} KiB of 64 MiB`));
  assert.match(svg, new RegExp(`held by worker cache ${cache.ownerId}`), 'the legend names the owner');
});

test('heapMap() takes slabs, columns and cellSize, and refuses what is not an arena', () => {
  const { arena } = known();
  const all = cellsOf(heapMap(arena, { slabs: 1e6 }));
  assert.equal(all.length, arena.slabCount - arena.ctrlSlabs, 'every slab, at most');
  const some = heapMap(arena, { slabs: 5, columns: 5, cellSize: 32, title: 'a <b> & c' });
  assertWellFormed(some);
  assert.equal(cellsOf(some).length, 5);
  assert.match(some, /a &lt;b&gt; &amp; c/);
  const rest = arena.slabCount - arena.ctrlSlabs - 5;
  assert.ok(some.includes(`${rest} more slabs (${(rest * 64 / 1024).toPrecision(3)} MiB) past the last cell, 2 of them carved`), 'the rest summed up');
  assert.throws(() => heapMap({} as SlabArena), (e: unknown) => e instanceof TypeError && /^heapMap: arena must be a SlabArena/.test(e.message));
  assert.throws(() => heapMap(arena, { columns: 0 }), RangeError);
  assert.throws(() => heapMap(arena, { cellSize: 1.5 }), RangeError);
  assert.throws(() => heapMap(arena, 'big' as never), TypeError);
});

function findChromium(): string | null {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p !== undefined && p !== '' && existsSync(p)) return p;
  }
  return null;
}

const chromium = findChromium();

test('heapMap() renders in headless chromium with each slab in its state color', {
  skip: chromium === null ? "chromium not found: install Debian's chromium (apt-get install chromium)" : false,
  timeout: 120_000,
}, async (t) => {
  const k = known();
  const svg = heapMap(k.arena);
  const dir = mkdtempSync(join(tmpdir(), 'binalloc-heap-map-'));
  try {
    const svgPath = join(dir, 'heap.svg');
    const pngPath = join(dir, 'heap.png');
    writeFileSync(svgPath, svg);
    const [, w, h] = /^<svg [^>]*width="(\d+)" height="(\d+(?:\.\d+)?)"/.exec(svg)!;
    const width = Number(w);
    const height = Math.ceil(Number(h));
    await promisify(execFile)(chromium!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, '--hide-scrollbars',
      '--force-device-scale-factor=1', `--window-size=${width},${height}`, `--screenshot=${pngPath}`, pathToFileURL(svgPath).href,
    ], { timeout: 90_000 });
    const png = decodePng(readFileSync(pngPath));
    if (process.env.HEAP_MAP_OUT) {
      copyFileSync(svgPath, join(process.env.HEAP_MAP_OUT, 'heap.svg'));
      copyFileSync(pngPath, join(process.env.HEAP_MAP_OUT, 'heap.png'));
    }
    assert.deepEqual([png.width, png.height], [width, height]);
    const near = (got: string, want: string, what: string): void => {
      const d = [1, 3, 5].map((i) => Math.abs(parseInt(got.slice(i, i + 2), 16) - parseInt(want.slice(i, i + 2), 16)));
      assert.ok(Math.max(...d) <= 3, `${what}: pixel ${got}, want ${want}`);
    };
    const cells = cellsOf(svg);
    const seen = new Set<string>();
    for (const c of cells) {
      near(pixelHex(png, c.x + c.w / 2, c.y + c.h / 2), c.fill, `slab ${c.slab} (${c.state})`);
      seen.add(c.state);
    }
    assert.deepEqual([...seen].sort(), ['cache', 'cache-run', 'free', 'mapped', 'uncarved']);
    const small = cells.find((c) => c.slab === Math.floor(k.objs[0]! / S))!;
    near(pixelHex(png, small.x + small.w / 2, small.y + small.h / 2), HEAP_MAP_COLORS.owners[0], 'a held slab: its owner color');
    const free = cells.find((c) => c.state === 'free')!;
    near(pixelHex(png, free.x + free.w / 2, free.y + free.h / 2), HEAP_MAP_COLORS.free, 'a free slab');
    const fill = /<g class="blk pool"><title>[^<]*<\/title><rect [^>]*\/>(<rect [^>]*\/>)/.exec(small.body)!;
    const f = rectOf(fill[1]!);
    near(pixelHex(png, f.x + f.w / 2, f.y + f.h / 2), HEAP_MAP_COLORS.poolFill, 'the live part of the mempool slab');
    t.diagnostic(`rendered ${width}x${height} with ${chromium}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
