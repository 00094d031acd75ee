/**
 * Model-based tests of the address space and the standalone arenas (Memory, Arena, BumpArena): random command sequences run against a plain reference model,
 * shrunk to a minimal sequence on failure, check() after every command. Seeds are printed;
 * `SEED=n` replays one. The models live in ./specs/.
 */
import { modelTests } from '../support/model-suite.js';
import { standaloneSpecs } from './specs/index.js';

modelTests(standaloneSpecs);
