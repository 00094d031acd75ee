/**
 * Model of `SlabArena` over a `Quota`: which slabs and runs are mapped and what they hold,
 * how many slabs were carved (each charged once, forever), and what `used` must read.
 *
 * The contract fixes: a map either reuses kept memory (no new charge) or carves exactly the
 * slabs it returns (a charge of `slabs * slabSize`); a single `map()` with a kept slab must
 * reuse it; with the default maximum a map must succeed whenever the quota has room; a failed
 * map and a bad unmap change nothing. Shared runs drive the arena through a second object
 * attached from its handle as well.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { InvalidPointerError, OutOfMemoryError, Quota, QuotaExceededError, SlabArena } from '../../../src/index.js';
import { assertDisjoint, command, expectThrow, stamp, verifyAll, type Block, type ModelSpec, type Real } from '../../support/model.js';

interface Run extends Block {
  slabs: number;
}
interface M {
  readonly slab: number;
  /** Slabs carved (and charged) so far. */
  carved: number;
  readonly live: Run[];
  /** Bytes of the quota taken by others before the arena (none here). */
  readonly explicitMax: boolean;
  tag: number;
}
interface R extends Real {
  quota: Quota;
  views: SlabArena[];
}
interface P {
  slabShift: number;
  quotaSlabs: number;
  extra: number;
  preSlabs: number;
  maxSlabs: number | null;
  shared: boolean;
}

const pick = (r: R, i: number): SlabArena => r.views[i % r.views.length]!;

function mapSome(m: M, r: R, slabs: number, i: number, useTry: boolean, run: boolean): void {
  const a = pick(r, i);
  const what = `${useTry ? 'try' : ''}${run ? `mapRun(${slabs})` : 'map()'}`;
  const bytes = slabs * m.slab;
  const usedBefore = r.quota.used;
  const kept = m.carved - m.live.reduce((n, x) => n + x.slabs, 0);
  const quotaRoom = r.quota.total - usedBefore >= bytes;
  let ptr = 0;
  if (run && bytes > a.maximum - a.ctrlSlabs * m.slab) {
    // More slabs than the address space holds past its control state.
    expectThrow(() => (useTry ? a.tryMapRun(slabs) : a.mapRun(slabs)), RangeError, what);
    assert.equal(r.quota.used, usedBefore, `${what}: a refused map charges nothing`);
    return;
  }
  try {
    ptr = run ? (useTry ? a.tryMapRun(slabs) : a.mapRun(slabs)) : useTry ? a.tryMap() : a.map();
  } catch (e) {
    if (useTry || !(e instanceof OutOfMemoryError)) throw e;
    if (e instanceof QuotaExceededError) assert.ok(!quotaRoom, `${what} blamed the quota, which had room`);
    else assert.ok(quotaRoom, `${what} blamed the address space, though the quota had no room`);
  }
  if (ptr === 0) {
    if (!run || slabs === 1) assert.ok(kept < slabs, `${what} failed with ${kept} kept slab(s)`);
    if (!m.explicitMax) assert.ok(!quotaRoom, `${what} failed though the quota had room (default maximum)`);
    assert.equal(r.quota.used, usedBefore, `${what}: a failed map charges nothing`);
    return;
  }
  const charged = r.quota.used - usedBefore;
  if (kept >= slabs && slabs === 1) assert.equal(charged, 0, `${what} carved new memory with a kept slab`);
  assert.ok(charged === 0 || charged === bytes, `${what} charged ${charged}`);
  if (charged > 0) m.carved += slabs;
  assert.ok(ptr > 0 && ptr % m.slab === 0, `${what} = ${ptr}: aligned to the slab size, never 0`);
  assert.ok(ptr + bytes <= a.memory.byteLength, `${what}: committed`);
  assertDisjoint(m.live, ptr, bytes, what);
  const tag = ++m.tag;
  stamp(a.memory.u8, ptr, bytes, tag);
  m.live.push({ ptr, size: bytes, tag, slabs });
}

const spec: ModelSpec<M, R, P> = {
  name: 'SlabArena',
  quickRuns: 40,
  maxCommands: 40,
  params: fc.record({
    slabShift: fc.constantFrom(16, 17),
    quotaSlabs: fc.integer({ min: 0, max: 10 }),
    extra: fc.constantFrom(0, 1, 1023),
    preSlabs: fc.constantFrom(0, 0, 1, 3),
    maxSlabs: fc.option(fc.integer({ min: 3, max: 12 })),
    shared: fc.boolean(),
  }),
  setup({ slabShift, quotaSlabs, extra, preSlabs, maxSlabs, shared }) {
    const slab = 2 ** slabShift;
    const quota = new Quota(quotaSlabs * slab + extra);
    // The control state takes one slab, two of 64 KiB (its owner registry alone is 64 KiB).
    const ctrl = slabShift === 16 ? 2 : 1;
    const pre = Math.min(preSlabs, quotaSlabs, maxSlabs === null ? quotaSlabs : maxSlabs - ctrl);
    const A = SlabArena;
    const arena = new A({
      quota, slabSize: slab, shared,
      ...(pre > 0 ? { prealloc: pre * slab } : {}),
      ...(maxSlabs !== null ? { maximum: maxSlabs * slab } : {}),
    });
    assert.equal(arena.slabSize, slab);
    assert.equal(arena.quota, quota);
    assert.equal(quota.used, pre * slab, 'prealloc is charged at once');
    const views = shared ? [arena, A.attach(structuredClone(arena.handle()))] : [arena];
    const model: M = { slab, carved: pre, live: [], explicitMax: maxSlabs !== null, tag: 0 };
    const real: R = {
      quota,
      views,
      check() {
        for (const v of views) {
          v.check();
          assert.equal(v.used, model.live.reduce((n, x) => n + x.size, 0), 'used counts the slabs handed out');
        }
        assert.equal(quota.used, model.carved * slab, 'the quota is charged for every slab carved, once');
        verifyAll(arena.memory.u8, model.live, 'slab');
      },
    };
    return { model, real };
  },
  commands: [
    command('map', fc.tuple(fc.nat(), fc.boolean()), (m: M, r: R, [i, t]) => mapSome(m, r, 1, i, t, false)),
    command('mapRun', fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat(), fc.boolean()), (m: M, r: R, [k, i, t]) => mapSome(m, r, k, i, t, true)),
    command('unmap', fc.tuple(fc.nat(), fc.nat()), (m: M, r: R, [j, i]) => {
      const [x] = m.live.splice(j % m.live.length, 1);
      pick(r, i).unmap(x!.ptr);
    }, (m) => m.live.length > 0),
    command('unmapTwice', fc.tuple(fc.nat(), fc.nat()), (m: M, r: R, [j, i]) => {
      const [x] = m.live.splice(j % m.live.length, 1);
      pick(r, i).unmap(x!.ptr);
      expectThrow(() => pick(r, i + 1).unmap(x!.ptr), InvalidPointerError, `second unmap(${x!.ptr})`);
    }, (m) => m.live.length > 0),
    command('unmapInside', fc.tuple(fc.nat(), fc.nat(), fc.nat()), (m: M, r: R, [j, k, i]) => {
      const x = m.live[j % m.live.length]!;
      const off = x.slabs > 1 ? m.slab * (1 + (k % (x.slabs - 1))) : 8 * (1 + (k % 100));
      expectThrow(() => pick(r, i).unmap(x.ptr + off), InvalidPointerError, `unmap(${x.ptr}+${off})`);
    }, (m) => m.live.length > 0),
  ],
};

export const slabArenaSpecs = [spec];
