/**
 * Model-based tests of the stack and buffer allocators (Region, Ibuf, Obuf, LSRegion): random command sequences run against a plain reference model,
 * shrunk to a minimal sequence on failure, check() after every command. Seeds are printed;
 * `SEED=n` replays one. The models live in ./specs/.
 */
import { modelTests } from '../support/model-suite.js';
import { bufferSpecs } from './specs/index.js';

modelTests(bufferSpecs);
