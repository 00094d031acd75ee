/**
 * The page map: one byte per 4 KiB page of an arena's address space (`arena.pageMap`, index
 * `ptr >>> Page.SHIFT`), written only by the SlabCache that holds the page's arena slab and
 * read by any worker to find the block a pointer lies in. This module is the one owner of its
 * encoding; every other module reads and writes it through these names.
 *
 * ```
 *   byte          meaning
 *   0             a page of no handed-out block: free, not a cache's, or not mapped
 *   k + 1         (1 .. Page.MAX_BLOCK) EVERY page of a buddy block of order k handed out
 *   0x80 | (k+1)  the FIRST page of a free buddy block of order k (its other pages are 0)
 *   0xFF          the FIRST page of a page run: a run of arena slabs, or exact pages in a slab
 *   0xFE          every OTHER page of a page run
 * ```
 * A block of order k is `Page.BYTES << k` bytes, aligned to its size. The arena zeroes a slab's
 * bytes when it takes the slab back.
 */

/** The page map's constants. */
export const enum Page {
  /** log2 of a page's bytes. */
  SHIFT = 12,
  /** Bytes of a page: the smallest block (order 0). */
  BYTES = 4096,
  /** Flag of a free block's first page (with its order + 1 in the low bits). */
  FREE = 0x80,
  /** The largest byte of a handed-out block (order + 1). */
  MAX_BLOCK = 0x7f,
  /** First page of a page run. */
  RUN = 0xff,
  /** Every other page of a page run. */
  RUN_TAIL = 0xfe,
}

/** The order of the handed-out block whose pages carry byte `v`, or -1 if `v` marks none. */
export function blockOrder(v: number): number {
  return v >= 1 && v <= Page.MAX_BLOCK ? v - 1 : -1;
}

/** The byte of every page of a handed-out block of order `k`. */
export function blockByte(k: number): number {
  return k + 1;
}

/** The byte of the first page of a free block of order `k`. */
export function freeByte(k: number): number {
  return Page.FREE | (k + 1);
}

/** The order of the free block whose first page carries `v`, or -1 if `v` marks none. */
export function freeOrder(v: number): number {
  return (v & Page.FREE) !== 0 && v !== Page.RUN && v !== Page.RUN_TAIL ? (v & Page.MAX_BLOCK) - 1 : -1;
}

/** True for a page of a page run (its first page or another). */
export function isRun(v: number): boolean {
  return v === Page.RUN || v === Page.RUN_TAIL;
}

/** Bytes of a block of order `k`. */
export function blockBytes(k: number): number {
  return Page.BYTES << k;
}

/**
 * Sets the `pages` page-map entries from `page` to `v`: a loop for the few pages of a small
 * block, where a typed array's fill() costs a call into the runtime. @internal
 */
export function fillPages(pageMap: Uint8Array, v: number, page: number, pages: number): void {
  if (pages > 32) {
    pageMap.fill(v, page, page + pages);
    return;
  }
  for (let k = page + pages - 1; k >= page; k--) pageMap[k] = v;
}

/** Marks a page run of `pages` pages from `page`: its first page, then its tail. @internal */
export function markRun(pageMap: Uint8Array, page: number, pages: number): void {
  pageMap[page] = Page.RUN;
  if (pages > 1) pageMap.fill(Page.RUN_TAIL, page + 1, page + pages);
}
