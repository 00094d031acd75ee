/**
 * Stats for people: `formatStats(allocator)` renders an allocator's figures as a table a person
 * reads (as Tarantool's `box.slab.info()` / `box.slab.stats()` or jemalloc's stats printer do),
 * and loading this module gives every allocator class a one-line `util.inspect` form, so that
 * `console.log(alloc)` prints `SmallAlloc { used: 1.2 MiB, total: 4 MiB, count: 10234, ... }`
 * instead of a couple of hundred lines of internal fields. The contract of both (memory
 * source, thread-safety, failure) is on {@link formatStats}.
 *
 * Units: bytes print in binary units with three significant digits (`512 B`, `1.5 KiB`,
 * `12.3 MiB`, `4 GiB`); fragmentation is `1 - used / held`, in percent, `-` when nothing is held.
 *
 * The inspect methods are installed here, on the classes' prototypes (non-enumerable, under
 * `Symbol.for('nodejs.util.inspect.custom')`, and as `toString`, so `String(alloc)` prints the
 * same line), to keep this concern in one file; a class that defines its own keeps it. `Memory`
 * gets its line here too.
 */
import { Arena } from './arena/arena.js';
import { BumpArena } from './arena/bump-arena.js';
import { typeError } from './internal/checks.js';
import { Memory } from './memory.js';
import { Ibuf } from './small/buffers/ibuf.js';
import { LSRegion } from './small/buffers/lsregion.js';
import { Mempool, type MempoolStats } from './small/objects/mempool.js';
import { Obuf } from './small/buffers/obuf.js';
import { Quota } from './small/slabs/quota.js';
import { Region } from './small/buffers/region.js';
import { SlabArena } from './small/slabs/slab-arena.js';
import { SlabCache } from './small/slabs/slab-cache.js';
import { SmallAlloc } from './small/objects/small-alloc.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * `bytes` in binary units, three significant digits: `0 B`, `1016 B`, `1.5 KiB`, `12.3 MiB`,
 * `4 GiB`. Below 1 KiB the figure is exact. @internal
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${sign}${v} B`;
  let s = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  if (Number(s) >= 1024 && u < UNITS.length - 1) {
    // 1023.9 KiB rounds to 1024 KiB: say 1 MiB.
    s = '1';
    u++;
  }
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return `${sign}${s} ${UNITS[u]}`;
}

/** `part / whole` in percent with one decimal (`12.5%`), `-` when `whole` is 0. @internal */
export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

/** Fragmentation `1 - used / held` in percent, `-` when nothing is held. */
function frag(used: number, held: number): string {
  return held > 0 ? formatPercent(held - used, held) : '-';
}

/** A table's rows for `used` of `held` bytes: used, held, and the fragmentation between them. */
function usage(used: number, held: number): [string, string][] {
  return [['used', formatBytes(used)], ['held', formatBytes(held)], ['fragmentation', frag(used, held)]];
}

/** A one-line form's fields for used and total bytes (every allocator's line but SlabArena's has them). */
function sizes(st: { readonly used: number; readonly total: number }): [string, string][] {
  return [['used', formatBytes(st.used)], ['total', formatBytes(st.total)]];
}

/** The fields of a one-line form. */
type Line = [string, string | number][];

/**
 * A one-line form that reads the allocator's `stats()` once: its used and total bytes, then
 * the fields `more` picks from the same figures (and the allocator).
 */
function statsLine<A extends { stats(): { used: number; total: number } }>(more: (st: ReturnType<A['stats']>, a: A) => Line): (a: A) => Line {
  return (a) => {
    const st = a.stats() as ReturnType<A['stats']>;
    return [...sizes(st), ...more(st, a)];
  };
}

/** Aligned `key  value` lines under a heading. */
function block(heading: string, rows: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(...rows.map(([k]) => k.length));
  return [heading, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)];
}

/** A table with a header row; every column right-aligned, indented by two spaces. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => '  ' + r.map((c, i) => c.padStart(w[i]!)).join('  ');
  return [line(header), ...rows.map(line)];
}

function formatSmallAlloc(a: SmallAlloc): string {
  const st = a.stats();
  const small = { count: 0, slabs: 0, used: 0, total: 0 };
  const row = (objsize: string, c: { count: number; slabs: number; used: number; total: number }, slabSize: string): string[] =>
    [objsize, String(c.count), String(c.slabs), slabSize, formatBytes(c.used), formatBytes(c.total), frag(c.used, c.total)];
  const rows = st.classes.map((c) => {
    small.count += c.count;
    small.slabs += c.slabs;
    small.used += c.used;
    small.total += c.total;
    return row(formatBytes(c.objsize), c, formatBytes(c.slabSize));
  });
  rows.push(row('total', small, ''));
  const cache = a.cache;
  const arena = cache.arena;
  return [
    ...block('SmallAlloc', [
      ...usage(st.used, st.total),
      ['live allocations', String(st.count)],
      ['size classes', `${st.classes.length} in use, factor ${a.actualFactor.toFixed(3)}, largest ${formatBytes(a.objsizeMax)}`],
    ]),
    '',
    ...table(['size', 'live', 'slabs', 'slab', 'used', 'held', 'frag'], rows),
    '',
    ...block('large allocations', [
      ['count', String(st.large.count)],
      ...usage(st.large.used, st.large.total),
    ]),
    '',
    ...block('read views', [
      ['open views', String(st.views)],
      ['closed by GC', String(st.viewsCollected)],
      ['deferred frees', String(st.deferred)],
      // Debug mode's quarantine; release mode's table stays as it was.
      ...(st.quarantined > 0 ? [['of them quarantined', String(st.quarantined)] as [string, string]] : []),
    ]),
    '',
    ...block('memory source', [
      ['cache', `owner ${cache.ownerId}: used ${formatBytes(cache.used)} of ${formatBytes(cache.total)} held`],
      ['arena', `used ${formatBytes(arena.used)}, carved ${formatBytes(arena.carved)}, maximum ${formatBytes(arena.maximum)}`],
      ['quota', `used ${formatBytes(arena.quota.used)} of ${formatBytes(arena.quota.total)}`],
    ]),
  ].join('\n');
}

function formatMempool(p: Mempool): string {
  const st: MempoolStats = p.stats();
  return block('Mempool', [
    ['object size', formatBytes(st.objsize)],
    ['live objects', String(st.count)],
    ...usage(st.used, st.total),
    ['slabs', `${st.slabs} of ${formatBytes(st.slabSize)}, ${st.objectsPerSlab} objects each`],
    ['empty slabs', String(st.emptySlabs)],
    ['deferred frees', String(st.deferred)],
    ...(st.quarantined > 0 ? [['of them quarantined', String(st.quarantined)] as [string, string]] : []),
  ]).join('\n');
}

function formatSlabCache(c: SlabCache): string {
  const st = c.stats();
  const out = block('SlabCache', [
    ['owner id', String(c.ownerId)],
    ...usage(st.used, st.total),
    ['arena slabs', `${st.slabs} of ${formatBytes(c.arena.slabSize)}`],
    ['page runs', `${st.large.count}, ${formatBytes(st.large.used)}`],
  ]);
  const rows = st.orders.map((o) => [
    String(o.order), formatBytes(o.size), String(o.used), String(o.free), formatBytes(o.used * o.size), formatBytes(o.free * o.size),
  ]);
  out.push('', ...table(['order', 'block', 'used', 'free', 'used bytes', 'free bytes'], rows));
  return out.join('\n');
}

function formatSlabArena(a: SlabArena): string {
  const S = a.slabSize;
  return block('SlabArena', [
    ['slab size', formatBytes(S)],
    ['used', `${formatBytes(a.used)} (${a.used / S} slabs)`],
    ['carved', `${formatBytes(a.carved)} (${a.carved / S} slabs, ${(a.carved - a.used) / S} free)`],
    ['used of carved', formatPercent(a.used, a.carved)],
    ['maximum', `${formatBytes(a.maximum)} reserved`],
    ['quota', `used ${formatBytes(a.quota.used)} of ${formatBytes(a.quota.total)} (${formatPercent(a.quota.used, a.quota.total)})`],
    ['shared', a.memory.shared ? 'yes' : 'no'],
  ]).join('\n');
}

function formatQuota(q: Quota): string {
  return block('Quota', [
    ['limit', formatBytes(q.total)],
    ['used', `${formatBytes(q.used)} (${formatPercent(q.used, q.total)})`],
    ['free', formatBytes(q.total - q.used)],
    ['shared', q.shared ? 'yes' : 'no'],
  ]).join('\n');
}

function formatRegion(r: Region): string {
  const st = r.stats();
  return block('Region', [
    ...usage(st.used, st.total),
    ['slabs', String(st.slabs)],
    ['spare slab', st.spare > 0 ? formatBytes(st.spare) : 'none'],
  ]).join('\n');
}

function formatIbuf(b: Ibuf): string {
  const st = b.stats();
  return block('Ibuf', [
    ['unread', formatBytes(st.used)],
    ['consumed', formatBytes(st.consumed)],
    ['room', formatBytes(b.unused)],
    ['capacity', formatBytes(b.capacity)],
    ['held', formatBytes(st.total)],
  ]).join('\n');
}

function formatObuf(b: Obuf): string {
  const st = b.stats();
  return block('Obuf', [
    ...usage(st.used, st.total),
    ['buffers', `${st.buffers} held, ${b.iovCount} with data`],
  ]).join('\n');
}

function formatLSRegion(r: LSRegion): string {
  const st = r.stats();
  return block('LSRegion', [
    ...usage(st.used, st.total),
    ['slabs', `${st.slabs} of ${formatBytes(r.slabSize)} (${st.runs} runs)`],
    ['cached slab', st.cached > 0 ? 'yes' : 'no'],
    ['last id', String(st.lastId)],
  ]).join('\n');
}

function formatArena(a: Arena): string {
  const st = a.stats();
  return block('Arena', [
    ['used', formatBytes(st.used)],
    ['held', formatBytes(st.total)],
    ['blocks', `${st.blocks} (block size ${formatBytes(a.blockSize)})`],
    ['memoryUsage()', formatBytes(st.memoryUsage)],
  ]).join('\n');
}

function formatBumpArena(a: BumpArena): string {
  const st = a.stats();
  return block('BumpArena', [
    ['used', `${formatBytes(st.used)} (${formatPercent(st.used, st.total)})`],
    ['capacity', formatBytes(st.total)],
    ['remaining', formatBytes(st.remaining)],
    ['shared', a.shared ? 'yes' : 'no'],
  ]).join('\n');
}

/**
 * A class, how `formatStats` renders it, and the fields of its one-line inspect form. Order
 * matters only for classes that extend each other (none do today).
 */
const KINDS: readonly {
  cls: abstract new (...args: never[]) => object;
  format: (a: never) => string;
  line: (a: never) => Line;
}[] = [
  {
    cls: SmallAlloc, format: formatSmallAlloc,
    line: statsLine<SmallAlloc>((st) => [['count', st.count], ['classes', st.classes.length], ['views', st.views]]),
  },
  {
    cls: Mempool, format: formatMempool,
    line: (p: Mempool) => [['objsize', p.objsize], ...sizes(p), ['count', p.count]],
  },
  {
    cls: SlabCache, format: formatSlabCache,
    line: statsLine<SlabCache>((st, c) => [['slabs', st.slabs], ['owner', c.ownerId]]),
  },
  {
    cls: SlabArena, format: formatSlabArena,
    line: (a: SlabArena) => [['used', formatBytes(a.used)], ['carved', formatBytes(a.carved)],
      ['maximum', formatBytes(a.maximum)], ['slabSize', formatBytes(a.slabSize)]],
  },
  {
    cls: Quota, format: formatQuota,
    line: (q: Quota) => sizes(q),
  },
  {
    cls: Region, format: formatRegion,
    line: statsLine<Region>((st) => [['slabs', st.slabs]]),
  },
  {
    cls: Ibuf, format: formatIbuf,
    line: (b: Ibuf) => [...sizes(b), ['capacity', formatBytes(b.capacity)]],
  },
  {
    cls: Obuf, format: formatObuf,
    line: statsLine<Obuf>((st) => [['buffers', st.buffers]]),
  },
  {
    cls: LSRegion, format: formatLSRegion,
    line: statsLine<LSRegion>((st) => [['slabs', st.slabs], ['lastId', st.lastId]]),
  },
  {
    cls: Arena, format: formatArena,
    line: statsLine<Arena>((st) => [['blocks', st.blocks]]),
  },
  {
    cls: BumpArena, format: formatBumpArena,
    line: statsLine<BumpArena>((st) => [['remaining', formatBytes(st.remaining)]]),
  },
];

/**
 * A table a person reads of `allocator`'s figures, bytes in binary units (KiB/MiB/GiB):
 * for a `SmallAlloc`, one row per size class (object size, live objects, slabs, slab size,
 * used and held bytes, fragmentation `1 - used/held`) with the small total, then its large
 * allocations, read views and deferred frees, and the cache, arena and quota under it; for the
 * other allocators their own figures (a `SlabCache` per order, a `SlabArena` used / carved /
 * maximum and its quota, a `Quota` limit and use, the buffers' used and held bytes, ...).
 *
 * @remarks
 * Works for `SmallAlloc`, `Mempool`, `SlabCache`, `SlabArena`, `Quota`, `Region`, `Ibuf`,
 * `Obuf`, `LSRegion`, `Arena` and `BumpArena`.
 *
 * Memory source: none. It reads only public getters and `stats()` (plus `SlabCache.ownerId`,
 * the id the heap map's legend names), and allocates nothing in any allocator.
 *
 * Thread-safety: `stats()` belongs to the allocator's owner worker (Mempool, SmallAlloc and the
 * buffers); formatting one is a `stats()` call and has the same rules and the same side effects
 * (remote frees taken in, a batch of deferred frees released).
 *
 * Failure: a `TypeError` naming `allocator` for anything that is not one of the allocators
 * above (its type admits only them; the check is for JavaScript callers and casts). The one-line `util.inspect` forms the package gives these classes never throw: an
 * object whose figures cannot be read (a prototype, say) prints as `Name {}`.
 *
 * @example
 *     console.log(formatStats(alloc));
 *     // SmallAlloc
 *     //   used              310 KiB
 *     //   held              372 KiB
 *     //   fragmentation     16.6%
 *     //   live allocations  1322
 *     //   size classes      3 in use, factor 1.044, largest 3.99 KiB
 *     //
 *     //       size  live  slabs    slab      used     held  frag
 *     //       16 B  1000      2   8 KiB  15.6 KiB   16 KiB  2.3%
 *     //      104 B   300      2  16 KiB  30.5 KiB   32 KiB  4.8%
 *     //   3.01 KiB    20      1  64 KiB  60.2 KiB   64 KiB  6.0%
 *     //      total  1320      5           106 KiB  112 KiB  5.1%
 *     //
 *     // large allocations
 *     //   count          2
 *     //   ...
 * @category Output
 */
export function formatStats(
  allocator: SmallAlloc | Mempool | SlabCache | SlabArena | Quota | Region | Ibuf | Obuf | LSRegion | Arena | BumpArena,
): string {
  for (const k of KINDS) {
    if (allocator instanceof k.cls) return k.format(allocator as never);
  }
  return typeError('formatStats', 'allocator', `an allocator (${KINDS.map((k) => k.cls.name).join(', ')})`, allocator);
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** A Memory's line (it has no stats() and no table: only this). */
const MEMORY_LINE = {
  cls: Memory as unknown as abstract new (...args: never[]) => object,
  line: (m: Memory): Line => [['shared', String(m.shared)], ['byteLength', formatBytes(m.byteLength)],
    ['maxByteLength', formatBytes(m.maxByteLength)]],
};

// The same one line for `util.inspect` (console.log) and `String(x)`, on every class above and
// on Memory, unless the class defines its own.
for (const k of [...KINDS, MEMORY_LINE]) {
  const proto = k.cls.prototype as object;
  const name = k.cls.name;
  const line = k.line as (a: never) => Line;
  const text = function oneLine(this: object): string {
    let fields: Line;
    try {
      fields = line(this as never);
    } catch {
      return `${name} {}`;
    }
    return `${name} { ${fields.map(([f, v]) => `${f}: ${v}`).join(', ')} }`;
  };
  for (const key of [INSPECT, 'toString']) {
    if (Object.prototype.hasOwnProperty.call(proto, key)) continue;
    Object.defineProperty(proto, key, { configurable: true, enumerable: false, writable: true, value: text });
  }
}
