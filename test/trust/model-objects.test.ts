/**
 * Model-based tests of the object allocators (Mempool, SmallAlloc): random command sequences run against a plain reference model,
 * shrunk to a minimal sequence on failure, check() after every command. Seeds are printed;
 * `SEED=n` replays one. The models live in ./specs/.
 */
import { modelTests } from '../support/model-suite.js';
import { objectSpecs } from './specs/index.js';

modelTests(objectSpecs);
