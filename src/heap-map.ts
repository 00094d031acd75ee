/**
 * A heap map: `heapMap(arena)` draws a {@link SlabArena}'s slabs as an SVG picture, one cell
 * per arena slab, colored by what holds it; inside a slab that a `SlabCache` holds, a grid of
 * its 4 KiB pages shows the blocks the cache cut (mempool slabs, page runs, other blocks, free
 * buddy blocks), each shaded by how full it is where that can be known. Its contract (memory
 * source, thread-safety, failure) is on {@link heapMap}.
 *
 * What it reads: the arena's public figures and its @internal but exported per-slab state
 * (`slabInfo`, `slabOwner`, `pageMap`, `pageTags`: encodings in slab-arena.ts, page-map.ts and
 * large.ts) and the header words of mempool slabs (block-header.ts, `Word` and `Mark`).
 *
 * Picture:
 * ```
 *   title: used / carved / maximum, slab size, quota
 *   legend: one swatch per state and block kind, one per SlabCache owner present
 *   +-------------+ +-------------+ +-------------+
 *   |#### band ###| |#### band ###| |#### band ###|  band: the slab's state color
 *   |+--+--+-----+| |             | |             |  (a cache's slab: its owner's color)
 *   ||po|la|free || |   body      | |   body      |  body: the page grid (cache slabs), else
 *   |+--+--+-----+| |             | |             |  the state color again
 *   +-------------+ +-------------+ +-------------+
 * ```
 * Every slab cell is `<g class="slab STATE" data-slab="i" data-state="STATE">` (plus
 * `data-owner` for a cache's slab) with a `<title>` tooltip; its first `<rect>` covers the band.
 */
import { formatBytes, formatPercent } from './format.js';
import { checkInstance, optionalInt, optionsBag } from './internal/checks.js';
import { LargeState, largeState, tagIndex } from './small/objects/large.js';
import { allocBase, bitmapWords, headerBytes, heldWord, Mark, popcount, remoteWord, tailBits, Word } from './small/objects/block-header.js';
import { blockOrder, freeOrder, Page } from './small/slabs/page-map.js';
import { OwnerKind } from './small/slabs/owner-registry.js';
import { SlabArena } from './small/slabs/slab-arena.js';

/**
 * Options of {@link heapMap}.
 * @category Output
 */
export interface HeapMapOptions {
  /**
   * Slab cells to draw, from the first data slab on. Default: every carved slab and at least
   * one never-carved one, to the end of their row. Slabs past them are summed up in the title.
   */
  slabs?: number;
  /** Cells per row. Default 16 (fewer when fewer cells are drawn). */
  columns?: number;
  /** Width in pixels of one slab cell. Default 96. */
  cellSize?: number;
  /** The first title line. Default: `SlabArena heap map`. */
  title?: string;
}

/**
 * The colors of the heap map, by state of a slab or kind of block; owners of slabs (one per
 * `SlabCache`) take `owners[i]` in the order of their ids. @internal
 */
export const HEAP_MAP_COLORS = {
  /** Carved, charged to the quota, and free: the next map takes it. */
  free: '#a1d99b',
  /** Reserved address space, never carved. */
  uncarved: '#f0f0f0',
  /** A map or unmap in flight (or leaked by a killed worker). */
  claiming: '#de2d26',
  /** Mapped with no cache as owner: an LSRegion's, or `arena.map()`'s caller's. */
  mapped: '#41b6c4',
  /** A run of slabs, or a page run inside a slab: a large allocation. */
  run: '#fd8d3c',
  /** The filled part of a run or page run (bytes asked of it), when known. */
  runFill: '#d94801',
  /** A mempool slab (its empty part). */
  pool: '#c6dbef',
  /** The filled part of a mempool slab: live objects of all its slots. */
  poolFill: '#2171b5',
  /** A block a cache handed out that is no mempool slab: Region, Ibuf, Obuf, `cache.get()`. */
  block: '#bcbddc',
  /** A free buddy block inside a cache's slab. */
  buddyFree: '#e5f5e0',
  /** A page the page map says nothing of (should not be seen). */
  unknown: '#bdbdbd',
  /** One color per SlabCache owner, in the order of their ids. */
  owners: ['#54278f', '#8c2d04', '#005a32', '#7a0177', '#08306b', '#525252', '#993404', '#014636'],
} as const;

/** What a slab cell is. */
type SlabState = 'free' | 'uncarved' | 'claiming' | 'mapped' | 'run' | 'cache' | 'cache-run';

/** Bytes of one page of the page map. */
const PAGE = Page.BYTES;
const BAND = 10;
const GAP = 6;
const MARGIN = 16;
const FONT = 12;
/** Slab infos below this are sentinels (never carved, or claimed by a map in flight). */
const SENTINEL = -(2 ** 30);

/** Text for XML content and attribute values. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number as an SVG coordinate: at most 3 decimals. */
function n(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

function rect(x: number, y: number, w: number, h: number, fill: string, extra = ''): string {
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${fill}"${extra}/>`;
}

/** The line a slab that is not a cache's gets in the heap map's tooltip, by state. */
const WHOLE_SLAB = {
  free: 'free (carved, charged to the quota)',
  uncarved: 'never carved (reserved address space)',
  claiming: 'in flight (a map or unmap holds it)',
  mapped: 'mapped with no cache as owner (an LSRegion, or arena.map())',
} as const;

/**
 * An SVG picture (a complete document, as a string) of `arena`'s slabs: one cell per slab,
 * colored by state (free, never carved, in flight, held by a `SlabCache` (a color per owner
 * id), a run of slabs, or mapped with no cache as owner: an `LSRegion`'s or `arena.map()`'s);
 * inside a slab a cache holds, its 4 KiB pages by the page map: mempool slabs shaded by live
 * objects / slots, page runs (large allocations) shaded by bytes asked / held, other blocks,
 * and free buddy blocks. A title gives the arena's used / carved / maximum and its quota, a
 * legend names the colors, and every cell carries a tooltip.
 *
 * @remarks
 * Memory source: none; it only reads, and writes nothing.
 *
 * Thread-safety: it may be called from any worker at any time; with maps and frees running in
 * other workers meanwhile, the picture is a blend of moments.
 *
 * Failure: a `TypeError` naming `arena` when it is not a SlabArena, and the usual `TypeError` /
 * `RangeError` for a bad option. What it reads is never trusted: a block that does not look
 * like a mempool slab of this owner is drawn as an "other" block.
 *
 * @example
 *     writeFileSync('heap.svg', heapMap(arena));   // open it in a browser
 * @category Output
 */
export function heapMap(arena: SlabArena, opts?: HeapMapOptions): string {
  const where = 'heapMap';
  checkInstance(where, 'arena', arena, SlabArena);
  const o = optionsBag<HeapMapOptions>(where, opts);
  const S = arena.slabSize;
  const ctrl = arena.ctrlSlabs;
  const total = arena.slabCount - ctrl;
  const carvedEnd = arena.carvedEnd();
  const columns0 = optionalInt(where, 'opts.columns', o.columns, 16, 1, 4096);
  // By default every carved slab and at least one never carved, to the end of their row.
  const carvedCells = Math.ceil((carvedEnd - ctrl + 1) / columns0) * columns0;
  const cells = Math.min(total, optionalInt(where, 'opts.slabs', o.slabs, carvedCells, 1, 2 ** 31));
  const columns = Math.min(columns0, cells);
  const cellW = optionalInt(where, 'opts.cellSize', o.cellSize, 96, 16, 4096);
  if (o.title !== undefined && typeof o.title !== 'string') {
    throw new TypeError(`${where}: opts.title must be a string, got ${typeof o.title}`);
  }

  // Page grid of one slab: a power-of-two number of columns, so every buddy block is a rectangle.
  const per = arena.pagesPerSlab;
  const gcols = 2 ** Math.ceil(Math.log2(per) / 2);
  const grows = per / gcols;
  const unit = cellW / gcols;
  const cellH = BAND + grows * unit;
  const stroke = Math.max(0.25, Math.min(1, unit / 6));

  const info = arena.slabInfo;
  const owner = arena.slabOwner;
  const pm = arena.pageMap;
  const tags = arena.pageTags;
  const dv = arena.memory.dv;
  const committed = dv.byteLength;

  // Cache owners present, in id order: their colors. A worker's direct maps (LSRegion,
  // arena.map) carry its MAPS entry's id as owner: drawn as mapped with no cache.
  const isCache = (id: number): boolean => id !== 0 && arena.ownerKind(id) !== OwnerKind.MAPS;
  const ownerIds = new Set<number>();
  for (let i = ctrl; i < ctrl + cells; i++) if (info[i]! > SENTINEL && isCache(owner[i]!)) ownerIds.add(owner[i]!);
  const ownerColor = new Map<number, string>();
  [...ownerIds].sort((a, b) => a - b).forEach((id, k) => {
    ownerColor.set(id, HEAP_MAP_COLORS.owners[k % HEAP_MAP_COLORS.owners.length]!);
  });

  // ---- header: title, figures, legend ----
  const width = Math.max(720, 2 * MARGIN + columns * cellW + (columns - 1) * GAP);
  const head: string[] = [];
  let y = MARGIN + 16;
  head.push(`<text x="${MARGIN}" y="${y}" font-size="16" font-weight="bold">${esc(o.title ?? 'SlabArena heap map')}</text>`);
  y += 20;
  const q = arena.quota;
  head.push(`<text x="${MARGIN}" y="${y}">${esc(
    `used ${formatBytes(arena.used)} (${formatPercent(arena.used, arena.carved)} of carved) · carved ${formatBytes(arena.carved)} · ` +
    `maximum ${formatBytes(arena.maximum)} · quota ${formatBytes(q.used)} of ${formatBytes(q.total)}`)}</text>`);
  y += 16;
  const rest = total - cells;
  head.push(`<text x="${MARGIN}" y="${y}">${esc(
    `slab ${formatBytes(S)} = ${per} pages of 4 KiB · ${ctrl} control slab${ctrl === 1 ? '' : 's'} not drawn` +
    (rest > 0 ? ` · ${rest} more slab${rest === 1 ? '' : 's'} (${formatBytes(rest * S)}) past the last cell, ${Math.max(0, carvedEnd - ctrl - cells)} of them carved` : ''))}</text>`);
  y += 14;
  const legend: [string, string, string?][] = [
    [HEAP_MAP_COLORS.free, 'free, ready to hand out'],
    [HEAP_MAP_COLORS.uncarved, 'not used yet (reserved)'],
    [HEAP_MAP_COLORS.claiming, 'changing hands right now'],
    [HEAP_MAP_COLORS.mapped, 'taken whole (log buffers, raw maps)'],
    [HEAP_MAP_COLORS.run, 'one large allocation (filled: bytes asked)', HEAP_MAP_COLORS.runFill],
    [HEAP_MAP_COLORS.pool, 'small objects of one size (filled: in use)', HEAP_MAP_COLORS.poolFill],
    [HEAP_MAP_COLORS.block, 'buffers (regions, input and output buffers)'],
    [HEAP_MAP_COLORS.buddyFree, 'free, kept by a worker for reuse'],
    ...[...ownerColor].map(([id, c]): [string, string] => [c, `stripe: held by worker cache ${id}`]),
  ];
  let lx = MARGIN;
  y += 4;
  for (const [color, label, fill] of legend) {
    const w = 18 + label.length * 7 + 14;
    if (lx + w > width - MARGIN && lx > MARGIN) {
      lx = MARGIN;
      y += 18;
    }
    head.push(`<g class="legend-item">${rect(lx, y, 12, 12, color, ' stroke="#888" stroke-width="0.5"')}` +
      (fill !== undefined ? rect(lx, y + 6, 12, 6, fill) : '') +
      `<text x="${lx + 18}" y="${y + 10}">${esc(label)}</text></g>`);
    lx += w;
  }
  y += 12 + 14;
  const top = y;

  // ---- the cells ----
  const body: string[] = [];
  for (let c = 0; c < cells; c++) {
    const i = ctrl + c;
    const x0 = MARGIN + (c % columns) * (cellW + GAP);
    const y0 = top + Math.floor(c / columns) * (cellH + GAP);
    const v = info[i]!;
    const own = owner[i]!;
    const addr = i * S;
    let state: SlabState;
    let runStart = i;
    let runLen = 1;
    if (v === 0) state = 'free';
    else if (v < SENTINEL) state = i >= carvedEnd ? 'uncarved' : 'claiming';
    else {
      if (v < 0) runStart = i + v;
      runLen = info[runStart]! > 0 ? info[runStart]! : 1;
      const isRun = v < 0 || v > 1;
      state = ownerColor.has(own) ? (isRun ? 'cache-run' : 'cache') : isRun ? 'run' : 'mapped';
    }
    const hex = `0x${addr.toString(16)}`;
    let tip = `slab ${i} at ${hex}: `;
    const band = own !== 0 && (state === 'cache' || state === 'cache-run') ? ownerColor.get(own)! : '';
    const parts: string[] = [];
    const bodyY = y0 + BAND;
    const bodyH = grows * unit;
    switch (state) {
      case 'free':
      case 'uncarved':
      case 'claiming':
      case 'mapped':
        // One color, one line: the slab is not a cache's.
        tip += WHOLE_SLAB[state];
        parts.push(rect(x0, y0, cellW, cellH, HEAP_MAP_COLORS[state]));
        break;
      case 'run':
      case 'cache-run': {
        const k = i - runStart;
        const bandColor = state === 'run' ? HEAP_MAP_COLORS.mapped : band;
        parts.push(rect(x0, y0, cellW, BAND, bandColor));
        parts.push(rect(x0, bodyY, cellW, bodyH, HEAP_MAP_COLORS.run));
        tip += `slab ${k + 1} of a run of ${runLen} (${formatBytes(runLen * S)}) at 0x${(runStart * S).toString(16)}, `;
        tip += state === 'run' ? 'no cache as owner (an LSRegion, or arena.mapRun())' : `SlabCache ${own}`;
        if (state === 'cache-run') {
          const asked = askedOf(tags, runStart * S);
          if (asked >= 0) {
            const f = Math.max(0, Math.min(1, (asked - k * S) / S));
            if (f > 0) parts.push(rect(x0, bodyY, cellW * f, bodyH, HEAP_MAP_COLORS.runFill));
            tip += `; a large allocation of ${formatBytes(asked)}`;
          }
        }
        break;
      }
      case 'cache': {
        tip += `held by SlabCache ${own}`;
        parts.push(rect(x0, y0, cellW, BAND, band));
        parts.push(rect(x0, bodyY, cellW, bodyH, HEAP_MAP_COLORS.unknown));
        const base = i * per;
        for (let p = 0; p < per;) {
          const b = pm[base + p]!;
          const start = addr + p * PAGE;
          let pages = 1;
          let kind: string;
          let fill: string;
          let fillColor = '';
          let frac = 0;
          let what: string;
          if (blockOrder(b) >= 0) {
            pages = 2 ** blockOrder(b);
            const pool = start + Word.BYTES <= committed ? mempoolSummary(dv, start, pages * PAGE, own) : null;
            if (pool !== null) {
              kind = 'pool';
              fill = HEAP_MAP_COLORS.pool;
              fillColor = HEAP_MAP_COLORS.poolFill;
              frac = pool.count > 0 ? pool.live / pool.count : 0;
              what = `mempool slab of ${formatBytes(pages * PAGE)}: objsize ${pool.objsize}, ${pool.live} of ${pool.count} slots live` +
                (pool.cls !== Mark.NO_CLASS ? `, class ${pool.cls}` : '');
            } else {
              kind = 'block';
              fill = HEAP_MAP_COLORS.block;
              what = `block of ${formatBytes(pages * PAGE)} (Region, Ibuf, Obuf or cache.get())`;
            }
          } else if (freeOrder(b) >= 0) {
            pages = 2 ** freeOrder(b);
            kind = 'buddy-free';
            fill = HEAP_MAP_COLORS.buddyFree;
            what = `free buddy block of ${formatBytes(pages * PAGE)}`;
          } else if (b === Page.RUN) {
            while (p + pages < per && pm[base + p + pages] === Page.RUN_TAIL) pages++;
            kind = 'large';
            fill = HEAP_MAP_COLORS.run;
            fillColor = HEAP_MAP_COLORS.runFill;
            const asked = askedOf(tags, start);
            frac = asked >= 0 ? Math.min(1, asked / (pages * PAGE)) : 1;
            what = `page run of ${formatBytes(pages * PAGE)}` + (asked >= 0 ? `: a large allocation of ${formatBytes(asked)}` : '');
          } else {
            kind = 'unknown';
            fill = HEAP_MAP_COLORS.unknown;
            what = `page with page map byte ${b}`;
          }
          pages = Math.max(1, Math.min(pages, per - p));
          parts.push(blockShape(x0, bodyY, p, pages, gcols, unit, stroke, kind, fill, fillColor, frac,
            `0x${start.toString(16)}: ${what}`));
          p += pages;
        }
        break;
      }
    }
    const data = `data-slab="${i}" data-state="${state}"${own !== 0 && band !== '' ? ` data-owner="${own}"` : ''}`;
    body.push(`<g class="slab ${state}" ${data}><title>${esc(tip)}</title>${parts.join('')}</g>`);
  }

  const rowsOfCells = Math.ceil(cells / columns);
  const height = top + rowsOfCells * cellH + (rowsOfCells - 1) * GAP + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${n(height)}" viewBox="0 0 ${width} ${n(height)}" ` +
      `font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${FONT}">`,
    `<title>${esc(o.title ?? 'SlabArena heap map')}</title>`,
    rect(0, 0, width, height, '#ffffff'),
    ...head,
    `<g class="slabs">`,
    ...body,
    `</g>`,
    `</svg>`,
    '',
  ].join('\n');
}

/** Bytes asked of the large allocation starting at `start` (its page tags), or -1 if none. */
function askedOf(tags: Int32Array, start: number): number {
  const t = tagIndex(start);
  const w = tags[t]!;
  const st = largeState(w);
  return st === LargeState.LIVE || st === LargeState.REMOTE ? tags[t + 1]! >>> 0 : -1;
}

/** What a mempool slab's header says, or null when the block at `s` does not look like one of owner `own`. */
function mempoolSummary(dv: DataView, s: number, size: number, own: number): { objsize: number; count: number; live: number; cls: number } | null {
  const word = (k: number): number => dv.getUint32(s + 4 * k, true);
  if (word(Word.MAGIC) !== Mark.MEMPOOL || word(Word.SLABSIZE) !== size || (word(Word.OWNER) | 0) !== own) return null;
  const count = word(Word.COUNT);
  const bw = bitmapWords(count);
  if (count === 0 || headerBytes(bw) > size) return null;
  let live = 0;
  // Taken and not freed (REMOTE); the bits past the last slot are taken for good.
  // Word indexes relative to the slab, as `word` reads them: slab 0's are.
  for (let k = 0, w = allocBase(0); k < bw; k++, w++) {
    const past = k === bw - 1 ? tailBits(count) : 0;
    // Live: ALLOCATED, not REMOTE (pending, deferred), not HELD (retired).
    live += popcount((word(w) & ~word(remoteWord(w, bw)) & ~word(heldWord(w, bw)) & ~past) >>> 0);
  }
  return { objsize: word(Word.OBJSIZE), count, live, cls: word(Word.CLASS) };
}

/**
 * Pages [p, p + pages) of a slab's page grid (row-major, `gcols` per row) as rectangles: an
 * aligned buddy block is one rectangle; a page run may take a partial first row, full rows and
 * a partial last row. `frac` of the shape's area is drawn in `fillColor`, from the left (or
 * from the bottom of a tall block).
 */
function blockShape(
  x0: number, y0: number, p: number, pages: number, gcols: number, unit: number, stroke: number,
  kind: string, fill: string, fillColor: string, frac: number, tip: string,
): string {
  const rects: [number, number, number, number][] = [];
  const end = p + pages;
  for (let q = p; q < end;) {
    const col = q % gcols;
    const row = Math.floor(q / gcols);
    if (col === 0 && end - q >= gcols) {
      const rows = Math.floor((end - q) / gcols);
      rects.push([0, row, gcols, rows]);
      q += rows * gcols;
    } else {
      const len = Math.min(gcols - col, end - q);
      rects.push([col, row, len, 1]);
      q += len;
    }
  }
  const sa = ` stroke="#ffffff" stroke-width="${n(stroke)}"`;
  let out = `<g class="blk ${kind}"><title>${esc(tip)}</title>`;
  for (const [c, r, w, h] of rects) out += rect(x0 + c * unit, y0 + r * unit, w * unit, h * unit, fill, sa);
  if (fillColor !== '' && frac > 0) {
    if (rects.length === 1) {
      const [c, r, w, h] = rects[0]!;
      if (h > w) {
        const fh = h * frac;
        out += rect(x0 + c * unit, y0 + (r + h - fh) * unit, w * unit, fh * unit, fillColor, sa);
      } else {
        out += rect(x0 + c * unit, y0 + r * unit, w * frac * unit, h * unit, fillColor, sa);
      }
    } else {
      // A run over several rows: fill its pages in reading order.
      let left = pages * frac;
      for (const [c, r, w, h] of rects) {
        if (left <= 0) break;
        const area = w * h;
        if (left >= area) {
          out += rect(x0 + c * unit, y0 + r * unit, w * unit, h * unit, fillColor, sa);
        } else if (h === 1) {
          out += rect(x0 + c * unit, y0 + r * unit, left * unit, unit, fillColor, sa);
        } else {
          const full = Math.floor(left / w);
          if (full > 0) out += rect(x0 + c * unit, y0 + r * unit, w * unit, full * unit, fillColor, sa);
          const part = left - full * w;
          if (part > 0) out += rect(x0 + c * unit, y0 + (r + full) * unit, part * unit, unit, fillColor, sa);
        }
        left -= area;
      }
    }
  }
  return out + '</g>';
}
