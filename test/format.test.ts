/**
 * formatStats() and the one-line util.inspect forms: the figures a person reads are the ones
 * stats() and the getters give, in binary units, and anything that is not an allocator is a
 * TypeError naming `allocator`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  Arena, BumpArena, Ibuf, LSRegion, Memory, Mempool, Obuf, Quota, Region, SlabArena, SlabCache, SmallAlloc, formatStats,
} from '../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const S = 64 * KiB;
const UNIT: Record<string, number> = { B: 1, KiB, MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB };

function setup(): { quota: Quota; arena: SlabArena; cache: SlabCache } {
  const quota = new Quota(64 * MiB);
  const arena = new SlabArena({ quota, slabSize: S, shared: false, maximum: 64 * S });
  return { quota, arena, cache: new SlabCache(arena) };
}

/** `12.5 KiB` -> 12800. */
function bytesOf(s: string): number {
  const m = /^(-?\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)$/.exec(s.trim());
  assert.ok(m, `a size in binary units: ${JSON.stringify(s)}`);
  return Number(m[1]) * UNIT[m[2]!]!;
}

/** A printed size agrees with `exact` to its three significant digits (exactly below 1 KiB). */
function assertBytes(printed: string, exact: number, what: string): void {
  const v = bytesOf(printed);
  if (exact < KiB) assert.equal(v, exact, `${what}: ${printed}`);
  else assert.ok(Math.abs(v - exact) <= exact * 0.005 + 1e-9, `${what}: ${printed} should be about ${exact} bytes`);
}

/** The lines of the block under `heading` (up to the next blank line or heading). */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const at = lines.indexOf(heading);
  assert.ok(at >= 0, `a "${heading}" section in:\n${text}`);
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('  ')) break;
    out.push(l);
  }
  return out;
}

/** The value of `key` in a key/value block. */
function field(lines: readonly string[], key: string): string {
  const l = lines.find((x) => x.startsWith(`  ${key}  `));
  assert.ok(l !== undefined, `a "${key}" line in:\n${lines.join('\n')}`);
  return l.slice(key.length + 2).trim();
}

/** The table under the header line that starts with `first`: rows of cells. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => {
    const cells = l.trim().split(/ {2,}/);
    return cells[0] === first && cells.length > 2;
  });
  assert.ok(at >= 0, `a table headed "${first}" in:\n${text}`);
  const rows: string[][] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '') break;
    rows.push(l.trim().split(/ {2,}/));
  }
  return rows;
}

function percentOf(used: number, held: number): number {
  return Math.round(1000 * (1 - used / held)) / 10;
}

test('formatStats() of a SmallAlloc gives each class its object size, live count, slabs, used, held and fragmentation', () => {
  const { cache } = setup();
  const a = new SmallAlloc(cache);
  const small: number[] = [];
  for (let i = 0; i < 1000; i++) small.push(a.alloc(16));
  for (let i = 0; i < 300; i++) a.alloc(100);
  for (let i = 0; i < 20; i++) a.alloc(3000);
  for (let i = 0; i < 1000; i += 3) a.free(small[i]!);
  const big = a.alloc(200 * KiB);
  const st = a.stats();
  const text = formatStats(a);

  const rows = tableRows(text, 'size');
  assert.equal(rows.length, st.classes.length + 1, 'a row per class and a total');
  for (const [i, c] of st.classes.entries()) {
    const [size, live, slabs, slab, used, held, frag] = rows[i]!;
    assertBytes(size!, c.objsize, 'object size');
    assert.equal(Number(live), c.count, `live objects of class ${c.objsize}`);
    assert.equal(Number(slabs), c.slabs);
    assertBytes(slab!, c.slabSize, 'slab size');
    assertBytes(used!, c.used, 'used');
    assertBytes(held!, c.total, 'held');
    assert.equal(frag, `${percentOf(c.used, c.total).toFixed(1)}%`);
  }
  const c16 = rows.find((r) => r[0] === '16 B');
  assert.deepEqual(c16?.slice(1, 2), [String(1000 - 334)], 'the 16-byte class: 666 live');
  assertBytes(c16![4]!, 666 * 16, 'the 16-byte class: used');
  const total = rows.at(-1)!;
  assert.equal(total[0], 'total');
  assert.equal(Number(total[1]), st.count - 1, 'small objects: every live allocation but the large one');

  const head = section(text, 'SmallAlloc');
  assertBytes(field(head, 'used'), st.used, 'used');
  assertBytes(field(head, 'held'), st.total, 'held');
  assert.equal(field(head, 'live allocations'), String(st.count));
  assert.equal(field(head, 'fragmentation'), `${percentOf(st.used, st.total).toFixed(1)}%`);
  const large = section(text, 'large allocations');
  assert.equal(field(large, 'count'), '1');
  assertBytes(field(large, 'used'), 200 * KiB, 'large used');
  assertBytes(field(large, 'held'), st.large.total, 'large held');
  assert.match(field(section(text, 'memory source'), 'quota'), /^used \S+ \S+ of 64 MiB$/);
  a.free(big);
});

test('formatStats() of a SmallAlloc counts open read views and deferred frees', () => {
  const { cache } = setup();
  const a = new SmallAlloc(cache);
  const ps = Array.from({ length: 50 }, () => a.alloc(40));
  const view = a.openReadView();
  for (const p of ps.slice(0, 20)) a.free(p);
  const views = section(formatStats(a), 'read views');
  assert.equal(field(views, 'open views'), '1');
  assert.equal(field(views, 'deferred frees'), String(a.stats().deferred));
  assert.ok(a.stats().deferred >= 20);
  view.close();
  a.stats(); // releases everything now that no view is open
  assert.equal(field(section(formatStats(a), 'read views'), 'deferred frees'), '0');
});

test('formatStats() prints every size in binary units with at most three significant digits', () => {
  const { cache, arena, quota } = setup();
  const a = new SmallAlloc(cache);
  for (let i = 0; i < 5000; i++) a.alloc(24 + (i % 7) * 100);
  a.alloc(300 * KiB);
  for (const text of [formatStats(a), formatStats(cache), formatStats(arena), formatStats(quota)]) {
    const sizes = [...text.matchAll(/(\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)\b/g)];
    assert.ok(sizes.length >= 3, text);
    for (const [all, num, unit] of sizes) {
      const v = Number(num);
      if (unit === 'B') assert.ok(Number.isInteger(v) && v < 1024, `${all}: whole bytes below 1 KiB`);
      else assert.ok(v >= 1 && v < 1024, `${all}: in [1, 1024) of its unit`);
      assert.ok(num!.replace('.', '').replace(/^0+/, '').length <= 4, `${all}: three significant digits`);
    }
    assert.doesNotMatch(text, /\d{5,}/, 'no long raw byte counts');
  }
});

test('formatStats() of Mempool, SlabCache, SlabArena and Quota gives their own figures', () => {
  const { cache, arena, quota } = setup();
  const pool = new Mempool(cache, 48);
  for (let i = 0; i < 500; i++) pool.alloc();
  const ps = pool.stats();
  const mp = section(formatStats(pool), 'Mempool');
  assert.equal(field(mp, 'object size'), '48 B');
  assert.equal(field(mp, 'live objects'), '500');
  assertBytes(field(mp, 'used'), 500 * 48, 'pool used');
  assertBytes(field(mp, 'held'), ps.total, 'pool held');
  assert.match(field(mp, 'slabs'), new RegExp(`^${ps.slabs} of \\S+ \\S+, ${ps.objectsPerSlab} objects each$`));

  const cs = cache.stats();
  const ct = formatStats(cache);
  assert.equal(field(section(ct, 'SlabCache'), 'owner id'), String(cache.ownerId));
  assertBytes(field(section(ct, 'SlabCache'), 'held'), cs.total, 'cache held');
  const orders = tableRows(ct, 'order');
  assert.equal(orders.length, cache.orderMax + 1);
  for (const o of cs.orders) {
    const r = orders[o.order]!;
    assert.deepEqual([Number(r[0]), Number(r[2]), Number(r[3])], [o.order, o.used, o.free]);
    assertBytes(r[4]!, o.used * o.size, `order ${o.order} used bytes`);
  }

  const at = section(formatStats(arena), 'SlabArena');
  assert.equal(field(at, 'slab size'), '64 KiB');
  assert.match(field(at, 'used'), new RegExp(`\\(${arena.used / S} slabs\\)$`));
  assertBytes(field(at, 'used').split(' (')[0]!, arena.used, 'arena used');
  assertBytes(field(at, 'carved').split(' (')[0]!, arena.carved, 'arena carved');
  assert.equal(field(at, 'maximum'), '4 MiB reserved');

  const qt = section(formatStats(quota), 'Quota');
  assert.equal(field(qt, 'limit'), '64 MiB');
  assertBytes(field(qt, 'used').split(' (')[0]!, quota.used, 'quota used');
  assertBytes(field(qt, 'free'), quota.total - quota.used, 'quota free');
});

test('formatStats() of Region, Ibuf, Obuf, LSRegion, Arena and BumpArena gives their used and held bytes', () => {
  const { cache, arena } = setup();
  const region = new Region(cache);
  region.alloc(5000);
  region.alloc(300);
  const rt = section(formatStats(region), 'Region');
  assertBytes(field(rt, 'used'), region.used, 'region used');
  assertBytes(field(rt, 'held'), region.total, 'region held');
  assert.equal(field(rt, 'slabs'), String(region.stats().slabs));

  const ibuf = new Ibuf(cache);
  ibuf.alloc(700);
  ibuf.consume(200);
  const it = section(formatStats(ibuf), 'Ibuf');
  assert.equal(field(it, 'unread'), '500 B');
  assert.equal(field(it, 'consumed'), '200 B');
  assertBytes(field(it, 'capacity'), ibuf.capacity, 'ibuf capacity');

  const obuf = new Obuf(cache);
  obuf.alloc(900);
  const ot = section(formatStats(obuf), 'Obuf');
  assert.equal(field(ot, 'used'), '900 B');
  assertBytes(field(ot, 'held'), obuf.total, 'obuf held');

  const ls = new LSRegion(arena);
  ls.alloc(1000, 7);
  const lt = section(formatStats(ls), 'LSRegion');
  assert.equal(field(lt, 'used'), '1000 B');
  assert.equal(field(lt, 'held'), '64 KiB');
  assert.equal(field(lt, 'last id'), '7');

  const ar = new Arena();
  ar.allocate(100);
  ar.allocate(5000);
  const art = section(formatStats(ar), 'Arena');
  assertBytes(field(art, 'used'), ar.stats().used, 'arena used');
  assertBytes(field(art, 'memoryUsage()'), ar.memoryUsage(), 'memoryUsage');
  assert.match(field(art, 'blocks'), /^2 \(block size 4 KiB\)$/);

  const bump = new BumpArena(64 * KiB);
  bump.alloc(1000);
  const bt = section(formatStats(bump), 'BumpArena');
  assert.equal(field(bt, 'capacity'), '64 KiB');
  assertBytes(field(bt, 'used').split(' (')[0]!, bump.stats().used, 'bump used');
  assertBytes(field(bt, 'remaining'), bump.remaining(), 'bump remaining');
});

test('formatStats() throws a TypeError naming allocator for anything else', () => {
  for (const bad of [{}, [], null, undefined, 42, 'SmallAlloc', Memory.create(), () => 0]) {
    assert.throws(() => formatStats(bad as never), (e: unknown) =>
      e instanceof TypeError && /^formatStats: allocator must be an allocator/.test(e.message));
  }
});

test('util.inspect() of every allocator is one short line with its used and total', () => {
  const { cache, arena, quota } = setup();
  const a = new SmallAlloc(cache);
  for (let i = 0; i < 100; i++) a.alloc(32);
  const pool = new Mempool(cache, 64);
  pool.alloc();
  const region = new Region(cache);
  region.alloc(10);
  const ibuf = new Ibuf(cache);
  ibuf.alloc(10);
  const obuf = new Obuf(cache);
  obuf.alloc(10);
  const ls = new LSRegion(arena);
  ls.alloc(10, 1);
  const ar = new Arena();
  ar.allocate(10);
  const bump = new BumpArena(4096);
  bump.alloc(10);
  const all: [string, object][] = [
    ['SmallAlloc', a], ['Mempool', pool], ['SlabCache', cache], ['SlabArena', arena], ['Quota', quota], ['Region', region],
    ['Ibuf', ibuf], ['Obuf', obuf], ['LSRegion', ls], ['Arena', ar], ['BumpArena', bump],
  ];
  for (const [name, x] of all) {
    const s = inspect(x);
    assert.ok(s.startsWith(`${name} { `) && s.endsWith(' }'), s);
    assert.ok(!s.includes('\n') && s.length < 120, `one short line: ${s}`);
    assert.match(s, /used: \d+(\.\d+)? (B|KiB|MiB|GiB)/, s);
    assert.match(s, name === 'SlabArena' ? /carved: / : /total: /, s);
    assert.ok(inspect({ x }, { breakLength: Infinity }) === `{ x: ${s} }`, 'nested, the same line');
    const proto = Object.getPrototypeOf(x) as object;
    assert.equal(Object.getOwnPropertyDescriptor(proto, Symbol.for('nodejs.util.inspect.custom'))?.enumerable, false);
  }
  assert.equal(inspect(a), `SmallAlloc { used: 3.13 KiB, total: ${a.stats().total / KiB} KiB, count: 100, classes: 1, views: 0 }`);
  assert.equal(inspect(quota), `Quota { used: ${quota.used / KiB} KiB, total: 64 MiB }`);
});
