/**
 * The record store's output: the table a person reads on the terminal, and `report.html` with
 * the same figures as bar charts and the arena's heap map.
 */
import type { StoreResult } from './record-store-lib.js';

const LABEL = { map: 'Map of objects', offheap: 'off-heap' } as const;

/** Bytes in human units. */
export function human(bytes: number): string {
  const a = Math.abs(bytes);
  if (a >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** Records per second in human units. */
function rate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M/s` : `${(perSecond / 1e3).toFixed(0)} k/s`;
}

interface Row {
  what: string;
  values: [string, string];
  /** The off-heap store's figure over the Map's, where a smaller one is better. */
  ratio?: number;
  target?: number;
}

function rows(map: StoreResult, off: StoreResult): Row[] {
  const out: Row[] = [];
  for (const p of map.phases) {
    const q = off.phases.find((x) => x.name === p.name);
    out.push({ what: `${p.name} (${p.count.toLocaleString('en')})`, values: [rate(p.perSecond), q === undefined ? '-' : rate(q.perSecond)] });
  }
  const readers = (r: StoreResult): string => r.readers === null ? '-'
    : `${rate(r.readers.perSecond)}${r.store === 'map' ? `, a stale copy (+${(r.readers.setupMs / 1000).toFixed(1)} s to make)` : ''}`;
  out.push({ what: `lookups in ${map.readers?.workers ?? 0} worker(s) during the updates`, values: [readers(map), readers(off)] });
  const torn = (r: StoreResult): string => r.readers === null ? '-' : `${r.readers.bad} of ${r.readers.lookups.toLocaleString('en')}`;
  out.push({ what: 'torn or reused records read', values: [torn(map), torn(off)] });
  out.push({ what: 'RSS per record', values: [human(map.rssPerRecord), human(off.rssPerRecord)], ratio: off.rssGrowth / map.rssGrowth, target: 1 / 2 });
  out.push({ what: 'JS heap per record', values: [human(map.heapPerRecord), human(off.heapPerRecord)], ratio: off.heapGrowth / map.heapGrowth, target: 1 / 20 });
  out.push({ what: 'GC time, total', values: [`${map.gcTotalMs.toFixed(0)} ms (${map.gcCount} GCs)`, `${off.gcTotalMs.toFixed(0)} ms (${off.gcCount} GCs)`] });
  out.push({ what: 'longest GC pause', values: [`${map.gcMaxMs.toFixed(1)} ms`, `${off.gcMaxMs.toFixed(1)} ms`], ratio: off.gcMaxMs / map.gcMaxMs, target: 1 / 10 });
  return out;
}

/** The terminal table, the targets, and the allocator's own stats. */
export function renderTable(results: StoreResult[]): string {
  const map = results.find((r) => r.store === 'map')!;
  const off = results.find((r) => r.store === 'offheap')!;
  const rs = rows(map, off);
  const w0 = Math.max(...rs.map((r) => r.what.length), 10);
  const w1 = Math.max(...rs.map((r) => r.values[0].length), LABEL.map.length);
  const w2 = Math.max(...rs.map((r) => r.values[1].length), LABEL.offheap.length);
  const line = (a: string, b: string, c: string, d = ''): string => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(w2)}  ${d}`.trimEnd();
  const out = [line('', LABEL.map, LABEL.offheap, 'off-heap / Map'), line('-'.repeat(w0), '-'.repeat(w1), '-'.repeat(w2))];
  for (const r of rs) {
    const verdict = r.ratio === undefined ? '' : `${r.ratio.toFixed(3)}x  (target <= ${r.target === 0.5 ? '1/2' : `1/${Math.round(1 / r.target!)}`}: ${r.ratio <= r.target! ? 'met' : 'MISSED'})`;
    out.push(line(r.what, r.values[0], r.values[1], verdict));
  }
  out.push('', 'off-heap store, the allocator\'s own figures:');
  out.push(off.statsText ?? Object.entries(off.stats).map(([k, v]) => `  ${k}: ${typeof v === 'number' && /bytes|used|held/.test(k) ? human(v) : String(v)}`).join('\n'));
  return out.join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A figure in the chart's unit. */
function show(unit: string, v: number): string {
  return unit === 'B' ? human(v) : unit === '/s' ? rate(v) : `${v.toFixed(1)} ${unit}`;
}

/**
 * One horizontal bar chart: a bar per store, an axis from 0 with its end labelled, and which
 * way is better in the title.
 */
function chart(title: string, unit: string, better: 'higher' | 'lower', map: number, off: number): string {
  const max = Math.max(map, off, 1e-9);
  const x0 = 120;
  const width = 300;
  const bar = (y: number, label: string, v: number, color: string): string =>
    `<text x="0" y="${y + 14}" font-size="12">${label}</text>` +
    `<rect x="${x0}" y="${y}" width="${Math.max(1, (width * v) / max).toFixed(1)}" height="18" fill="${color}"/>` +
    `<text x="${(x0 + 6 + (width * v) / max).toFixed(1)}" y="${y + 14}" font-size="12">${escape(show(unit, v))}</text>`;
  const axis = `<line x1="${x0}" y1="50" x2="${x0 + width}" y2="50" stroke="#666"/>` +
    `<text x="${x0}" y="64" font-size="10" fill="#666">0</text>` +
    `<text x="${x0 + width}" y="64" font-size="10" fill="#666" text-anchor="end">${escape(show(unit, max))}</text>`;
  return `<figure><figcaption>${escape(title)} <span class="better">(${better} is better)</span></figcaption>` +
    `<svg width="520" height="68" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">` +
    bar(4, LABEL.map, map, '#d08770') + bar(28, LABEL.offheap, off, '#5e81ac') + axis + '</svg></figure>';
}

/** The report's first line: what the off-heap store bought and cost in this run, in one sentence. */
function lead(map: StoreResult, off: StoreResult): string {
  const heap = map.heapGrowth / Math.max(1, off.heapGrowth);
  const pause = map.gcMaxMs / Math.max(0.001, off.gcMaxMs);
  const speeds = map.phases.map((p) => (off.phases.find((q) => q.name === p.name)?.perSecond ?? 0) / p.perSecond);
  const slowest = Math.min(...speeds);
  const fastest = Math.max(...speeds);
  const speed = slowest >= 1 ? `at ${slowest.toFixed(1)}-${fastest.toFixed(1)}x the Map's speed`
    : `at ${slowest.toFixed(2)}-${fastest.toFixed(2)}x the Map's speed (above 1 is faster)`;
  return `The off-heap store kept the same records in ${heap >= 1 ? `${heap.toFixed(0)}x less` : `${(1 / heap).toFixed(1)}x more`} JS heap, ` +
    `with a longest GC pause ${pause >= 1 ? `${pause.toFixed(0)}x shorter` : `${(1 / pause).toFixed(1)}x longer`}, readers in other workers reading live records while they changed, ` +
    `${speed}; what it costs is memory you manage: every record is freed by hand.`;
}

/** `report.html`: the figures as charts, the table, and the heap map. */
export function renderReport(results: StoreResult[], o: { records: number; workers: number }): string {
  const map = results.find((r) => r.store === 'map')!;
  const off = results.find((r) => r.store === 'offheap')!;
  const charts = [
    ...map.phases.map((p) => chart(`${p.name}: records per second`, '/s', 'higher', p.perSecond, off.phases.find((q) => q.name === p.name)?.perSecond ?? 0)),
    chart('RSS growth while loading', 'B', 'lower', map.rssGrowth, off.rssGrowth),
    chart('JS heap growth while loading', 'B', 'lower', map.heapGrowth, off.heapGrowth),
    chart('total GC time', 'ms', 'lower', map.gcTotalMs, off.gcTotalMs),
    chart('longest GC pause', 'ms', 'lower', map.gcMaxMs, off.gcMaxMs),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>binalloc record store: ${o.records.toLocaleString('en')} records</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}figure{margin:1rem 0}figcaption{font-weight:bold;margin-bottom:.25rem}.better{font-weight:normal;color:#666}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>
</head><body>
<h1>${o.records.toLocaleString('en')} records: a Map of objects against the off-heap store</h1>
<p><strong>${escape(lead(map, off))}</strong></p>
<p>Node ${escape(process.version)}, ${o.workers} reader worker(s). Each store ran in a process of its own.</p>
${charts.join('\n')}
<h2>The table</h2>
<pre>${escape(renderTable(results))}</pre>
<h2>Heap map of the records' arena</h2>
${off.heapMap === '' ? '<p>(no heap map)</p>' : off.heapMap}
</body></html>
`;
}
