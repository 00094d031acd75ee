/**
 * Model-based tests of the shared top of the small family (Quota, SlabArena) and the per-worker SlabCache: random command sequences run against a plain reference model,
 * shrunk to a minimal sequence on failure, check() after every command. Seeds are printed;
 * `SEED=n` replays one. The models live in ./specs/.
 */
import { modelTests } from '../support/model-suite.js';
import { slabSpecs } from './specs/index.js';

modelTests(slabSpecs);
