/**
 * Ibuf against what Node code does without it: keep the unparsed tail of a stream as a Buffer
 * and `Buffer.concat` each new chunk onto it. Each round reads 100 chunks of 1..4 KiB and parses
 * (consumes) whole 100-byte messages off the front, leaving a partial one behind.
 */
import { Quota } from '../src/small/slabs/quota.js';
import { SlabArena } from '../src/small/slabs/slab-arena.js';
import { SlabCache } from '../src/small/slabs/slab-cache.js';
import { Ibuf } from '../src/small/buffers/ibuf.js';
import { compare } from './support/harness.js';
import { sizeBatch } from './support/baselines.js';

const CHUNKS = 100;
const MESSAGE = 100;

/** reserve + copy the chunk in + alloc, then consume every whole message. */
function ibufRound(ibuf: Ibuf, chunks: Uint8Array[]): number {
  let sink = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    const p = ibuf.reserve(c.length);
    ibuf.memory.u8.set(c, p);
    ibuf.alloc(c.length);
    while (ibuf.used >= MESSAGE) {
      sink += ibuf.memory.u8[ibuf.rpos]!;
      ibuf.consume(MESSAGE);
    }
  }
  return sink;
}

interface Tail { buf: Buffer }

/** Buffer.concat of the tail and each chunk, then subarray past every whole message. */
function concatRound(state: Tail, chunks: Uint8Array[]): number {
  let sink = 0;
  for (let i = 0; i < chunks.length; i++) {
    let buf = state.buf.length === 0 ? Buffer.from(chunks[i]!) : Buffer.concat([state.buf, chunks[i]!]);
    while (buf.length >= MESSAGE) {
      sink += buf[0]!;
      buf = buf.subarray(MESSAGE);
    }
    state.buf = buf;
  }
  return sink;
}

/** Runs the Ibuf group. */
export async function run(): Promise<void> {
  const quota = new Quota(256 * 2 ** 20);
  const cache = new SlabCache(new SlabArena({ quota, slabSize: 4 * 2 ** 20 }));
  const sizes = sizeBatch(CHUNKS, 1024, 4096);
  const chunks = Array.from(sizes, (n, i) => new Uint8Array(n).fill(i));
  const ibuf = new Ibuf(cache, 16 * 1024);
  const tail: Tail = { buf: Buffer.alloc(0) };
  ibufRound(ibuf, chunks);
  concatRound(tail, chunks);
  await compare('Ibuf (100 chunks of 1..4 KiB, 100-byte messages consumed)', [
    { name: 'Buffer.concat tail + chunk', ops: CHUNKS, fn: () => concatRound(tail, chunks) },
    { name: 'Ibuf reserve/alloc/consume', ops: CHUNKS, fn: () => ibufRound(ibuf, chunks), vs: 'Buffer.concat tail + chunk' },
  ]);
  ibuf.check();
}
