/**
 * `npm start`: a short tour of what the library has so far, printing what it does.
 */
import { Memory } from '../src/index.js';

const memory = Memory.create({ initial: 4096, maximum: 1 << 20, shared: true });
memory.grow(65536);
console.log(`Memory: ${memory.byteLength} bytes committed of ${memory.maxByteLength} reserved, shared=${memory.shared}`);
