/**
 * Every model spec, grouped as the model-*.test.ts files run them; `test/soak.ts` runs them all.
 */
import type { AnySpec } from '../../support/model.js';
import { arenaSpecs } from './arena.js';
import { bumpArenaSpecs } from './bump-arena.js';
import { memorySpecs } from './memory.js';
import { quotaSpecs } from './quota.js';
import { slabArenaSpecs } from './slab-arena.js';

/** Memory and the standalone arenas. */
export const standaloneSpecs: AnySpec[] = [...memorySpecs, ...arenaSpecs, ...bumpArenaSpecs];
/** Quota, SlabArena, SlabCache. */
export const slabSpecs: AnySpec[] = [...quotaSpecs, ...slabArenaSpecs];
/** Mempool, SmallAlloc. */
export const objectSpecs: AnySpec[] = [];
/** Region, Ibuf, Obuf, LSRegion. */
export const bufferSpecs: AnySpec[] = [];

export const allSpecs: AnySpec[] = [...standaloneSpecs, ...slabSpecs, ...objectSpecs, ...bufferSpecs];
