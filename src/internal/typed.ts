/**
 * Typed arrays over an allocator's memory: the types, and the checks every `allocAs` /
 * `allocSlice` makes of its arguments.
 */
import { OutOfMemoryError } from '../errors.js';
import { checkInt, typeError } from './checks.js';

/**
 * Any of the built-in typed arrays.
 * @category Arenas
 */
export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/**
 * The constructor of a typed array `T`, as `allocAs` and `allocSlice` take it (`Float64Array`, …).
 * @category Arenas
 */
export interface TypedArrayConstructor<T extends TypedArray> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  /** Bytes per element: 1, 2, 4 or 8. */
  readonly BYTES_PER_ELEMENT: number;
}

const TYPES: ReadonlySet<unknown> = new Set<unknown>([
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]);

/**
 * Bytes of `length` elements of `type` after checking both: `TypeError` unless `type` is a
 * built-in typed array constructor, `RangeError` unless `length` is an integer in
 * [0, 2^53 - 1], `OutOfMemoryError` when the bytes exceed `max`, the largest allocation the
 * caller can make.
 */
export function typedBytes(where: string, type: unknown, length: unknown, max: number): number {
  if (!TYPES.has(type)) typeError(where, 'type', 'a typed array constructor', type);
  checkInt(where, 'length', length, 0, Number.MAX_SAFE_INTEGER);
  const t = type as TypedArrayConstructor<TypedArray> & { name: string };
  const bytes = (length as number) * t.BYTES_PER_ELEMENT;
  if (bytes > max) {
    throw new OutOfMemoryError(bytes, `${where}: length ${length} of ${t.name} is ${bytes} bytes, more than the largest allocation (${max} bytes)`);
  }
  return bytes;
}
