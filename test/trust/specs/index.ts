/**
 * Every model spec, grouped as the model-*.test.ts files run them; `test/soak.ts` runs them all.
 */
import type { AnySpec } from '../../support/model.js';
import { arenaSpecs } from './arena.js';
import { bumpArenaSpecs } from './bump-arena.js';
import { memorySpecs } from './memory.js';
import { quotaSpecs } from './quota.js';
import { slabArenaSpecs } from './slab-arena.js';
import { objectSpecs as objects } from './objects.js';
import { bufferSpecs as buffers } from './buffers.js';

/** Memory and the standalone arenas. */
export const standaloneSpecs: AnySpec[] = [...memorySpecs, ...arenaSpecs, ...bumpArenaSpecs];
/** Quota, SlabArena, SlabCache. */
export const slabSpecs: AnySpec[] = [...quotaSpecs, ...slabArenaSpecs, objects[0]!];
/** Mempool, SmallAlloc. */
export const objectSpecs: AnySpec[] = objects.slice(1);
/** Region, Ibuf, Obuf, LSRegion. */
export const bufferSpecs: AnySpec[] = buffers;

export const allSpecs: AnySpec[] = [...standaloneSpecs, ...slabSpecs, ...objectSpecs, ...bufferSpecs];
