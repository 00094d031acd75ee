/**
 * Obuf against what Node code does without it: collect a Buffer per piece and
 * `Buffer.concat` them (or hand the array to a gathering write). One message is 1000 pieces of
 * 16..64 bytes; the obuf is reset after each message, keeping its buffers.
 */
import { Quota } from '../src/small/slabs/quota.js';
import { SlabArena } from '../src/small/slabs/slab-arena.js';
import { SlabCache } from '../src/small/slabs/slab-cache.js';
import { Obuf } from '../src/small/buffers/obuf.js';
import { compare } from './support/harness.js';
import { sizeBatch } from './support/baselines.js';

const BATCH = 1000;

/** Each piece as a fresh Buffer filled with a byte, then one Buffer.concat. */
function buffersConcat(sizes: Uint32Array): number {
  const parts: Buffer[] = [];
  for (let i = 0; i < sizes.length; i++) parts.push(Buffer.alloc(sizes[i]!, i));
  return Buffer.concat(parts).length;
}

/** Each piece as a fresh Buffer, kept in an array for a gathering write (no concat). */
function buffersCollect(sizes: Uint32Array): number {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; i < sizes.length; i++) {
    const b = Buffer.alloc(sizes[i]!, i);
    parts.push(b);
    n += b.length;
  }
  return n + parts.length;
}

/** Each piece reserved in place with alloc and filled. */
function obufAlloc(obuf: Obuf, sizes: Uint32Array): number {
  const u8 = obuf.memory.u8;
  for (let i = 0; i < sizes.length; i++) {
    const p = obuf.alloc(sizes[i]!);
    u8.fill(i, p, p + sizes[i]!);
  }
  const n = obuf.toBuffers().length + obuf.size;
  obuf.reset();
  return n;
}

/** Each piece copied in from an existing Uint8Array with dup. */
function obufDup(obuf: Obuf, pieces: Uint8Array[]): number {
  for (let i = 0; i < pieces.length; i++) obuf.dup(pieces[i]!);
  const n = obuf.toBuffers().length + obuf.size;
  obuf.reset();
  return n;
}

/** The same pieces copied with Buffer.concat. */
function concatPieces(pieces: Uint8Array[]): number {
  return Buffer.concat(pieces).length;
}

/** Runs the Obuf group. */
export async function run(): Promise<void> {
  const quota = new Quota(256 * 2 ** 20);
  const cache = new SlabCache(new SlabArena({ quota, slabSize: 4 * 2 ** 20 }));
  const sizes = sizeBatch(BATCH, 16, 64);
  const pieces = Array.from(sizes, (n, i) => new Uint8Array(n).fill(i));
  const a = new Obuf(cache, 4096);
  const b = new Obuf(cache, 4096);
  obufAlloc(a, sizes);
  obufDup(b, pieces);
  await compare('Obuf (a message of 1000 pieces of 16..64 bytes)', [
    { name: 'Buffer.alloc per piece + Buffer.concat', ops: BATCH, fn: () => buffersConcat(sizes) },
    { name: 'Buffer.alloc per piece, collected', ops: BATCH, fn: () => buffersCollect(sizes) },
    { name: 'Obuf.alloc + fill, toBuffers, reset', ops: BATCH, fn: () => obufAlloc(a, sizes), vs: 'Buffer.alloc per piece + Buffer.concat' },
    { name: 'Buffer.concat of the pieces', ops: BATCH, fn: () => concatPieces(pieces) },
    { name: 'Obuf.dup of the pieces, toBuffers, reset', ops: BATCH, fn: () => obufDup(b, pieces), vs: 'Buffer.concat of the pieces' },
  ]);
}
