/**
 * Model of `Quota`, exact: total is the limit rounded up to UNIT, used a multiple of UNIT never
 * above total; use/tryUse charge the rounded amount or change nothing; set below used and
 * release of more than used are RangeErrors that change nothing. Shared runs drive the same
 * quota through a second object attached from its handle.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { Quota, QuotaExceededError } from '../../../src/index.js';
import { command, expectThrow, type ModelSpec, type Real } from '../../support/model.js';

const UNIT = 1024;
const roundUp = (n: number): number => Math.ceil(n / UNIT) * UNIT;

interface M {
  total: number;
  used: number;
}
interface R extends Real {
  /** The quota, and (shared runs) the same quota attached from its handle. */
  views: Quota[];
}

const bytesArb = fc.oneof(fc.integer({ min: 0, max: 3 * UNIT }), fc.integer({ min: 0, max: 1 << 20 }));
const pick = (r: R, i: number): Quota => r.views[i % r.views.length]!;

const spec: ModelSpec<M, R, { limit: number; shared: boolean }> = {
  name: 'Quota',
  quickRuns: 60,
  maxCommands: 40,
  params: fc.record({ limit: fc.oneof(fc.integer({ min: 0, max: 8 * UNIT }), fc.integer({ min: 0, max: 1 << 21 })), shared: fc.boolean() }),
  setup({ limit, shared }) {
    const Q = Quota;
    assert.equal(Q.UNIT, UNIT);
    const q = new Q(limit, { shared });
    const views = shared ? [q, Q.attach(structuredClone(q.handle()))] : [q];
    const model: M = { total: roundUp(limit), used: 0 };
    const real: R = {
      views,
      check() {
        for (const v of views) {
          assert.equal(v.total, model.total, 'total');
          assert.equal(v.used, model.used, 'used');
        }
      },
    };
    return { model, real };
  },
  commands: [
    command('use', fc.tuple(bytesArb, fc.nat()), (m: M, r: R, [b, i]) => {
      const q = pick(r, i);
      if (m.used + roundUp(b) > m.total) {
        const e = expectThrow(() => q.use(b), QuotaExceededError, `use(${b})`);
        assert.equal(e.limit, m.total, 'QuotaExceededError.limit');
        assert.equal(e.requested, b, 'QuotaExceededError.requested');
      } else {
        assert.equal(q.use(b), roundUp(b));
        m.used += roundUp(b);
      }
    }),
    command('tryUse', fc.tuple(bytesArb, fc.nat()), (m: M, r: R, [b, i]) => {
      const got = pick(r, i).tryUse(b);
      if (m.used + roundUp(b) > m.total) assert.equal(got, -1);
      else {
        assert.equal(got, roundUp(b));
        m.used += roundUp(b);
      }
    }),
    command('release', fc.tuple(bytesArb, fc.nat()), (m: M, r: R, [b, i]) => {
      const q = pick(r, i);
      if (roundUp(b) > m.used) expectThrow(() => q.release(b), RangeError, `release(${b})`);
      else {
        assert.equal(q.release(b), roundUp(b));
        m.used -= roundUp(b);
      }
    }),
    command('releaseAll', fc.nat(), (m: M, r: R, i) => {
      assert.equal(pick(r, i).release(m.used), m.used);
      m.used = 0;
    }),
    command('set', fc.tuple(fc.integer({ min: 0, max: 1 << 21 }), fc.nat()), (m: M, r: R, [l, i]) => {
      const q = pick(r, i);
      if (roundUp(l) < m.used) expectThrow(() => q.set(l), RangeError, `set(${l})`);
      else {
        assert.equal(q.set(l), roundUp(l));
        m.total = roundUp(l);
      }
    }),
  ],
};

export const quotaSpecs = [spec];
