/**
 * Argument checks shared by every allocator.
 *
 * Convention (API.md): a value of the wrong type is a `TypeError`; a number that is `NaN`,
 * fractional, negative, zero where zero is meaningless, above its maximum, or an alignment
 * that is not a power of two is a `RangeError`. Every message names the method, the argument
 * and the value, e.g. `BumpArena.alloc: size must be an integer in [0, 1024], got -1`.
 *
 * Hot paths do a cheap inline guard and call these only when it fails, so a correct call
 * pays one comparison:
 *
 *     if (typeof size !== 'number' || (size >>> 0) !== size || size > max) checkInt('Mempool.alloc', 'size', size, 0, max);
 *
 * (The `typeof` test first: `>>>` on a bigint throws a TypeError that names nothing.)
 *
 * Each function here throws when its value is bad and returns the value when it is good.
 */

/** Renders a value for an error message: strings quoted, bigints with their `n`. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
    case 'bigint':
      return `${value}n`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return String(value);
    default:
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : `an object (${Object.prototype.toString.call(value)})`;
  }
}

/** Throws a `TypeError` naming `where` and `name`. */
export function typeError(where: string, name: string, expected: string, value: unknown): never {
  throw new TypeError(`${where}: ${name} must be ${expected}, got ${describe(value)}`);
}

/** Throws a `RangeError` naming `where` and `name`. */
export function rangeError(where: string, name: string, expected: string, value: unknown): never {
  throw new RangeError(`${where}: ${name} must be ${expected}, got ${describe(value)}`);
}

/**
 * An integer in `[min, max]` (both safe integers). Returns it.
 * `TypeError` if not a number; `RangeError` if `NaN`, fractional or out of range.
 */
export function checkInt(where: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') typeError(where, name, 'a number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    rangeError(where, name, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/**
 * The one rule for a pointer argument, in every allocator: not a number is a `TypeError`; a
 * number that is not a non-negative safe integer (`NaN`, fractional, negative, infinite, 2^53
 * and above: every number of this library is a safe integer) is a `RangeError`. Returns it; whether it is a live allocation is the caller's question
 * (`InvalidPointerError` when it is not). Call it on the slow path, after a cheap guard failed.
 */
export function checkPointer(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number') typeError(where, name, 'a number', value);
  if (!Number.isSafeInteger(value) || value < 0) rangeError(where, name, 'a non-negative integer', value);
  return value;
}

/** A power of two in `[min, max]`. Returns it. */
export function checkPowerOfTwo(where: string, name: string, value: unknown, min: number, max: number): number {
  checkInt(where, name, value, min, max);
  const v = value as number;
  if (!isPowerOfTwo(v)) rangeError(where, name, `a power of two in [${min}, ${max}]`, value);
  return v;
}

/** An optional integer: `undefined` and `null` give `fallback`. */
export function optionalInt(
  where: string, name: string, value: unknown, fallback: number, min: number, max: number,
): number {
  return value === undefined || value === null ? fallback : checkInt(where, name, value, min, max);
}

/** An optional power of two: `undefined` and `null` give `fallback`. */
export function optionalPowerOfTwo(
  where: string, name: string, value: unknown, fallback: number, min: number, max: number,
): number {
  return value === undefined || value === null ? fallback : checkPowerOfTwo(where, name, value, min, max);
}

/** An optional boolean: `undefined` and `null` give `fallback`. */
export function optionalBool(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') typeError(where, name, 'a boolean', value);
  return value;
}

/** An options bag: `undefined` and `null` mean `{}`; anything else must be an object. */
export function optionsBag<T extends object>(where: string, value: unknown): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) typeError(where, 'opts', 'an object', value);
  return value as Partial<T>;
}

/** An instance of `ctor`. Returns it. */
export function checkInstance<T>(
  where: string, name: string, value: unknown, ctor: abstract new (...args: never[]) => T,
): T {
  if (!(value instanceof ctor)) typeError(where, name, `a ${ctor.name}`, value);
  return value as T;
}

/** True for 1, 2, 4, … up to 2**53. */
export function isPowerOfTwo(v: number): boolean {
  return v > 0 && Number.isInteger(Math.log2(v)) && 2 ** Math.log2(v) === v;
}

/** `value` rounded up to a multiple of `align` (a power of two); exact for values below 2**53. */
export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** log2 of a power of two below 2**32. */
export function log2(powerOfTwo: number): number {
  return 31 - Math.clz32(powerOfTwo);
}

/**
 * True when `x` is a `SharedArrayBuffer`; false (not a `ReferenceError`) where the constructor
 * is missing, as in a browser page that is not cross-origin isolated.
 */
export function isSharedBuffer(x: unknown): x is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && x instanceof SharedArrayBuffer;
}

/**
 * Bytes a C-style calloc is asked for, checked: `size` alone, or `n` elements of `size` bytes
 * whose product (C's overflow check) must be at most `max`. RangeError naming the argument.
 */
export function callocBytes(where: string, n: number, size: number | undefined, max: number): number {
  if (size === undefined) {
    if (typeof n !== 'number' || (n >>> 0) !== n) checkInt(where, 'size', n, 0, max);
    return n;
  }
  checkInt(where, 'n', n, 0, max);
  checkInt(where, 'size', size, 0, max);
  if (n * size > max) throw new RangeError(`${where}: n * size must be at most ${max} bytes, got ${n} * ${size}`);
  return n * size;
}
