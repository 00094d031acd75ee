import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Quota, SlabArena } from '../../src/index.js';
import { seeded } from '../../dev/rng.js';
import { Ring, runWorkers } from './support.js';
import type { PcParams, PcReport } from './producer-consumer-worker.js';

const KB = 1024;
const MB = 1024 * KB;
const RECORDS = 1_000_000;
const RING = 4096;
const SAMPLE = 25_000;

test('a producer passes 1,000,000 records to a consumer that frees them through its own SmallAlloc: nothing lost, nothing handed out twice, memory bounded', { timeout: 30_000 }, async () => {
  const rng = seeded('producer consumer');
  const quota = new Quota(256 * MB);
  const arena = new SlabArena({ quota, slabSize: 64 * KB });
  const ring = new Ring(RING, 2);
  const sync = new SharedArrayBuffer(8);
  const common = {
    handle: arena.handle(), ring: ring.buffer, ringCapacity: RING, sync, records: RECORDS, seed: rng.seed,
    minSize: 8, maxSize: 200, sampleEvery: SAMPLE, budgetMs: 20_000,
  };
  const params: PcParams[] = [{ role: 'producer', ...common }, { role: 'consumer', ...common }];
  const [producer, consumer] = await runWorkers<PcReport>(new URL('./producer-consumer-worker.js', import.meta.url), params, 25_000);
  assert.equal(producer!.error, null);
  assert.equal(consumer!.error, null);
  if (process.env['STRESS_VERBOSE']) console.log(JSON.stringify({ producer, consumer }));
  assert.equal(producer!.records, RECORDS, 'every record was produced');
  assert.equal(consumer!.records, RECORDS, 'every record arrived, in order and intact');
  assert.equal(producer!.countAtEnd, 0, 'every record was freed and taken in by the producer');
  assert.equal(producer!.usedAtEnd, 0);
  assert.equal(consumer!.countAtEnd, 0, 'the consumer never allocated');
  // In flight at any moment: at most the ring's records (RING * 200 bytes) plus frees not yet
  // taken in, against ~100 MB produced. Memory stops growing after warm-up: the second half's
  // peak stays within 1.5x the first half's (plus a slab), and the whole run within 4 MB.
  const half = Math.floor(producer!.held.length / 2);
  const early = (xs: number[]): number => Math.max(...xs.slice(1, half));
  const late = (xs: number[]): number => Math.max(...xs.slice(half));
  for (const [what, xs] of [['arena.used', producer!.arenaUsed], ['the producer\'s cache.used', producer!.held]] as const) {
    assert.ok(late(xs) <= 1.5 * early(xs) + arena.slabSize, `${what} grew after warm-up: ${early(xs)} -> ${late(xs)}`);
    assert.ok(Math.max(...xs) <= 4 * MB, `${what} peaked at ${Math.max(...xs)}`);
  }
  assert.ok(quota.used <= 4 * MB, `quota.used is ${quota.used}`);
});
