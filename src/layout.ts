/**
 * Record layouts: C-struct-like records over a `Memory` someone else allocated, read and
 * written field by field through a cursor. Their contract (memory source, thread-safety,
 * failure) is on {@link defineLayout}.
 *
 * Layout of a record, its diagram and the alignment rules: on {@link defineLayout} (so they are
 * in the generated docs). A string field is the codec's string (internal/strings.ts). The
 * field kinds' types, and a field as placed, are declared in layout-fields.ts.
 *
 * How a cursor reads: `defineLayout` compiles one class per layout (`new Function`, source
 * specialized to the offsets; where code generation is refused, as under a Content-Security-
 * Policy without 'unsafe-eval', the same class built of closures: layout-closures.ts), whose
 * prototype has a getter and a setter per field; a cursor
 * holds fixed-length typed-array views of the whole memory in private fields and the pointer.
 * Because `ptr % align === 0` (the `ptr` setter's one check), every field's address is a
 * multiple of its size and a field is one element of a typed array: `score` above reads
 * `f64[(ptr >>> 3) + 1]`. Nothing is allocated per access except for what is inherent: a
 * 64-bit field is a bigint, a byte array a new `Uint8Array` view (over the memory: writes
 * through it land in the record), a string a string.
 *
 * Growth: the cursor notices, not the user. A scalar read past a view's end (the memory grew,
 * here or in another worker) or through a view of a detached buffer (a non-shared wasm memory
 * that grew) gives `undefined`, which the getter tests for; a scalar write loads the element
 * first and tests it the same way; a byte array or string compares its end with the view's
 * length. One compare per access and no look at the memory itself; on a miss the cursor calls
 * `memory.sync()` (through `memory.u8`), retakes its views if the buffer changed, and tries
 * once more. Where the check goes was measured (scratch variants of the compiled class, 1000
 * records, Node 20 and 24): the `undefined` test costs nothing beside the typed array's own
 * bounds check, on a read and on a write; a compare of the index with the view's length cost
 * 0.2-0.5 ns a write; a compare of `ptr` with an end kept in the cursor, in the `ptr` setter
 * or in each getter, cost 0.25 ns a read and still missed a detached wasm buffer. The `ptr`
 * setter's own check (a number, an integer below 2^32, aligned) costs nothing on Node 20 and
 * about 0.2 ns on Node 24, whatever its form.
 *
 * Invariants, for fields f, g in declaration order (f before g):
 *   offsetOf(f) % alignOf(f) === 0;  offsetOf(f) + sizeOf(f) <= offsetOf(g)
 *   align === max(alignOf(f));  size % align === 0;  size >= offsetOf(last) + sizeOf(last)
 *   size <= 2^32;  cursor.ptr % align === 0 and 0 <= cursor.ptr < 2^32
 *   a cursor's views cover [0, n) of one buffer of its memory, n <= memory.byteLength
 */
import { checkInt, describe, typeError } from './internal/checks.js';
import { readStringAt, STRING_PREFIX, stringBytes, writeString } from './internal/strings.js';
import { MAX_BYTE_LENGTH, Memory } from './memory.js';
import { closureCursor } from './layout-closures.js';
import type { BytesField, CursorHelpers, FieldKind, Placed, ScalarKind, StringField, ViewSpec } from './layout-fields.js';

export type { BytesField, FieldKind, ScalarKind, StringField } from './layout-fields.js';

/**
 * The fields of a layout: name -> kind, in declaration order.
 * @category Records
 */
export type FieldRecord = Readonly<Record<string, FieldKind>>;

/**
 * The JavaScript value of a field of kind `K`: u64 and i64 are `bigint`, bool is `boolean`, the
 * other scalars `number`, a byte array `Uint8Array` (an array of the same length may be
 * assigned too), a string `string`.
 * @category Records
 */
export type FieldValue<K> =
  K extends 'u64' | 'i64' ? bigint
    : K extends 'bool' ? boolean
    : K extends ScalarKind ? number
    : K extends BytesField ? Uint8Array
    : K extends StringField ? string
    : never;

/**
 * The part of every cursor that is not a field.
 * @category Records
 */
export interface CursorPointer {
  /** The record's address: a non-negative integer below 2^32, a multiple of the layout's `align`. */
  ptr: number;
}

/**
 * A cursor over records of one layout: set `ptr` to a record's address, then read and write its
 * fields as properties. Numeric stores convert as a typed array's do (integers wrap modulo
 * 2^bits, f32 rounds); bool stores 1 for a truthy value and 0 for a falsy one.
 * @category Records
 */
export type LayoutCursor<F extends FieldRecord = FieldRecord> =
  CursorPointer & { -readonly [K in keyof F]: FieldValue<F[K]> };

/**
 * A record layout: offsets of named fields, and cursors that read them (the rules and a
 * diagram are on {@link defineLayout}).
 * @category Records
 */
export interface Layout<F extends FieldRecord = FieldRecord> {
  /** Bytes of one record: the end of its last field rounded up to `align`. */
  readonly size: number;
  /** The largest alignment of its fields; every record's address is a multiple of it. */
  readonly align: number;
  /**
   * The record that was given to `defineLayout`, copied and frozen: plain data, so it can be
   * posted to a worker and given to `defineLayout` there to rebuild this layout.
   */
  readonly fields: Readonly<F>;
  /**
   * Byte offset of `field` from the start of a record (a string field's is where its length
   * is). `TypeError` if `field` is not a string; `RangeError` naming it if there is no such field.
   * @throws TypeError if `field` is not a string; RangeError if the layout has no such field.
   */
  offsetOf(field: string): number;
  /**
   * A cursor over `memory` at `ptr` (default 0). `TypeError` if `memory` is not a `Memory`;
   * `ptr` is checked as the cursor's `ptr` setter checks it.
   * @throws TypeError if `memory` is not a Memory; RangeError for a bad `ptr`. The cursor's accessors throw RangeError for a `ptr` that is not aligned or past the memory's end.
   */
  cursor(memory: Memory, ptr?: number): LayoutCursor<F>;
}

// ---- field kinds ------------------------------------------------------------------------

/** The views a cursor may keep, by element type. */
const VIEWS: Record<string, ViewSpec> = {
  u8: { field: '#u8', ctor: null, shift: 0 },
  i8: { field: '#i8', ctor: 'Int8Array', shift: 0 },
  u16: { field: '#u16', ctor: 'Uint16Array', shift: 1 },
  i16: { field: '#i16', ctor: 'Int16Array', shift: 1 },
  u32: { field: '#u32', ctor: 'Uint32Array', shift: 2 },
  i32: { field: '#i32', ctor: 'Int32Array', shift: 2 },
  f32: { field: '#f32', ctor: 'Float32Array', shift: 2 },
  f64: { field: '#f64', ctor: 'Float64Array', shift: 3 },
  u64: { field: '#u64', ctor: 'BigUint64Array', shift: 3 },
  i64: { field: '#i64', ctor: 'BigInt64Array', shift: 3 },
};

/** Scalar kind -> the view it is read through (bool is a u8). */
const SCALAR_VIEW = new Map<string, ViewSpec>([
  ['u8', VIEWS['u8']!], ['i8', VIEWS['i8']!], ['u16', VIEWS['u16']!], ['i16', VIEWS['i16']!],
  ['u32', VIEWS['u32']!], ['i32', VIEWS['i32']!], ['f32', VIEWS['f32']!], ['f64', VIEWS['f64']!],
  ['u64', VIEWS['u64']!], ['i64', VIEWS['i64']!], ['bool', VIEWS['u8']!],
]);

const KINDS_TEXT = `one of ${[...SCALAR_VIEW.keys()].map((k) => `'${k}'`).join(', ')}, { bytes: n } or { string: capacity }`;

/** Where a string field's bytes need their u32 length aligned. */
const STRING_FIELD_ALIGN = 4;
/** Capacity limit of a byte array or string: the record must fit the largest memory. */
const MAX_CAPACITY = MAX_BYTE_LENGTH - STRING_PREFIX;

// ---- defineLayout -----------------------------------------------------------------------

const WHERE = 'defineLayout';

/** `fields.name`, or `fields["a b"]` for a name that is not an identifier. */
function fieldRef(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `fields.${name}` : `fields[${JSON.stringify(name)}]`;
}

/** True for a name that JavaScript orders before every other key (an array index). */
function isArrayIndex(name: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(name) && Number(name) < 2 ** 32 - 1;
}

/** Checks one field's kind; returns it placed at offset 0 (the caller moves it). */
function kindOf(name: string, kind: unknown): Placed {
  const ref = fieldRef(name);
  if (typeof kind === 'string') {
    const view = SCALAR_VIEW.get(kind);
    if (view === undefined) typeError(WHERE, ref, KINDS_TEXT, kind);
    const size = 1 << view.shift;
    return { name, kind: kind as ScalarKind, offset: 0, size, align: size, type: 'scalar', view, capacity: 0 };
  }
  if (typeof kind === 'object' && kind !== null && !Array.isArray(kind)) {
    const keys = Object.keys(kind);
    if (keys.length === 1 && keys[0] === 'bytes') {
      const n = checkInt(WHERE, `${ref}.bytes`, (kind as { bytes: unknown }).bytes, 1, MAX_CAPACITY);
      return { name, kind: Object.freeze({ bytes: n }), offset: 0, size: n, align: 1, type: 'bytes', view: null, capacity: n };
    }
    if (keys.length === 1 && keys[0] === 'string') {
      const n = checkInt(WHERE, `${ref}.string`, (kind as { string: unknown }).string, 1, MAX_CAPACITY);
      return {
        name, kind: Object.freeze({ string: n }), offset: 0, size: STRING_PREFIX + n, align: STRING_FIELD_ALIGN,
        type: 'string', view: null, capacity: n,
      };
    }
  }
  return typeError(WHERE, ref, KINDS_TEXT, kind);
}

/**
 * A record layout for `fields` (name -> kind, laid out in declaration order, each field at its
 * natural alignment).
 *
 * @remarks
 * Layout of a record: fields in declaration order, each at the next offset that is a multiple
 * of its own alignment; the record's `align` is the largest field alignment and its `size` is
 * rounded up to it, so records laid end to end stay aligned. Alignment: u8, i8, bool and byte
 * arrays 1; u16, i16 2; u32, i32, f32 and a string (for its u32 length) 4; u64, i64 and f64 8.
 * A string field holds its UTF-8 byte length as a u32, then the bytes, then the unused rest of
 * its capacity (in UTF-8 bytes). For
 * `{ id: 'u32', score: 'f64', alive: 'bool', tag: { bytes: 3 }, name: { string: 10 } }`:
 * ```
 *  ptr+0      +4       +8                 +16    +17        +20        +24            +34  +40
 *  +----------+--------+------------------+------+----------+----------+--------------+----+
 *  | id (u32) | pad    | score (f64)      |alive | tag      | name:    | name: UTF-8, | pad|
 *  |          |        |                  |(u8)  | (3 bytes)| length   | 10 bytes of  |    |
 *  |          |        |                  |      |          | (u32)    | capacity     |    |
 *  +----------+--------+------------------+------+----------+----------+--------------+----+
 *  size 40, align 8; offsetOf('name') === 20 (where its length is)
 * ```
 *
 * Memory source: none. A layout is plain data (offsets computed from a record of field kinds);
 * a cursor reads and writes the `Memory` it is given at the pointer it is set to, and never
 * allocates from it or claims it. Where the records lie (a `Mempool`, a `BumpArena`, a slice of
 * a shared buffer) is the caller's business.
 *
 * Thread-safety: a layout is immutable and its `fields` are structured-cloneable, so
 * `defineLayout(layout.fields)` in another worker rebuilds the same offsets and both sides read
 * the same bytes (little-endian, as every other structure of the library and as wasm reads
 * them; the views are the host's byte order, and the library as a whole assumes a
 * little-endian host). A cursor belongs to the worker that made it. Fields are read and written
 * with plain loads and stores: a record written by one worker while another reads it may be
 * seen half-written (a 64-bit field, a string or a byte array torn), so hand records over with
 * a message or an `Atomics` handshake, as any other bytes.
 *
 * Failure: `defineLayout` throws `TypeError` if `fields` is not a plain object or a kind is not
 * one of the kinds, and `RangeError` for no fields, a byte or string capacity that is not an
 * integer >= 1, a name that is an array index (JavaScript would order it first) or `ptr` (the
 * cursor's pointer), or a record larger than 4 GiB; every message names the field. Setting
 * `cursor.ptr` to a non-number is a `TypeError`; to a number that is not a non-negative integer
 * below 2^32 and a multiple of the layout's `align`, a `RangeError`; `ptr` keeps its old value.
 * A field that lies past the memory's end (after the cursor has synced it) is a `RangeError`
 * naming the field; a string longer than its capacity is a `RangeError` and a byte array of the
 * wrong length a `RangeError` (of the wrong type a `TypeError`), naming the field. A failed
 * write has written nothing. A string field whose stored length passes its capacity (garbage,
 * or a record torn by a concurrent writer) reads as `InvalidPointerError`.
 *
 * ```ts
 * const Point = defineLayout({ x: 'f64', y: 'f64', id: 'u32', name: { string: 12 } });
 * const c = Point.cursor(memory, pool.alloc());   // pool: a Mempool of Point.size bytes
 * c.x = 1.5; c.name = 'origin';
 * ```
 * @throws TypeError if `fields` is not an object of field kinds; RangeError for an empty layout, a reserved or index-like name, a bad capacity, or a record over 4 GiB.
 * @category Records
 */
export function defineLayout<const F extends FieldRecord>(fields: F): Layout<F> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    typeError(WHERE, 'fields', 'an object of field kinds', fields);
  }
  if (Object.getOwnPropertySymbols(fields).some((s) => Object.prototype.propertyIsEnumerable.call(fields, s))) {
    typeError(WHERE, 'fields', 'keyed by strings only', fields);
  }
  const names = Object.keys(fields);
  if (names.length === 0) throw new RangeError(`${WHERE}: fields must name at least one field, got none`);
  const placed: Placed[] = [];
  let end = 0;
  let align = 1;
  for (const name of names) {
    if (name === 'ptr') throw new RangeError(`${WHERE}: ${fieldRef(name)}: the name "ptr" is the cursor's pointer`);
    if (isArrayIndex(name)) {
      throw new RangeError(`${WHERE}: ${fieldRef(name)}: a name that is an array index is ordered before every other key by JavaScript, so the declaration order would be lost; use a name that is not a number`);
    }
    const f = kindOf(name, (fields as Record<string, unknown>)[name]);
    f.offset = Math.ceil(end / f.align) * f.align;
    end = f.offset + f.size;
    if (end > MAX_BYTE_LENGTH) {
      throw new RangeError(`${WHERE}: ${fieldRef(name)} would end at byte ${end}, past the largest memory (${MAX_BYTE_LENGTH} bytes)`);
    }
    align = Math.max(align, f.align);
    placed.push(f);
  }
  // MAX_BYTE_LENGTH is a multiple of every alignment, so rounding up cannot pass it.
  const size = Math.ceil(end / align) * align;
  return new RecordLayout(placed, size, align) as unknown as Layout<F>;
}

/** The one implementation of {@link Layout}. */
class RecordLayout implements Layout {
  readonly size: number;
  readonly align: number;
  readonly fields: FieldRecord;
  readonly #offsets: Map<string, number>;
  readonly #Cursor: new (memory: Memory) => LayoutCursor;

  constructor(placed: readonly Placed[], size: number, align: number) {
    this.size = size;
    this.align = align;
    // fromEntries defines own properties, so a field named "__proto__" stays a field.
    this.fields = Object.freeze(Object.fromEntries(placed.map((f) => [f.name, f.kind])) as Record<string, FieldKind>);
    this.#offsets = new Map(placed.map((f) => [f.name, f.offset]));
    this.#Cursor = compileCursor(placed, size, align);
    Object.freeze(this);
  }

  offsetOf(field: string): number {
    if (typeof field !== 'string') typeError('Layout.offsetOf', 'field', 'a string', field);
    const offset = this.#offsets.get(field);
    if (offset === undefined) {
      const known = [...this.#offsets.keys()];
      const list = known.slice(0, 12).join(', ') + (known.length > 12 ? ', …' : '');
      throw new RangeError(`Layout.offsetOf: field must be a field of this layout (${list}), got ${describe(field)}`);
    }
    return offset;
  }

  cursor(memory: Memory, ptr?: number): LayoutCursor {
    if (!(memory instanceof Memory)) typeError('Layout.cursor', 'memory', 'a Memory', memory);
    const c = new this.#Cursor(memory);
    if (ptr !== undefined) c.ptr = ptr;
    return c;
  }
}

// ---- the cursor class -------------------------------------------------------------------

/** The name the cursor's errors go by. */
const CURSOR = 'LayoutCursor';

function helpers(placed: readonly Placed[], size: number, align: number): CursorHelpers {
  return {
    badPtr(p: unknown): never {
      if (typeof p !== 'number') typeError(CURSOR, 'ptr', 'a number', p);
      throw new RangeError(`${CURSOR}: ptr must be a non-negative integer below 2^32 and a multiple of ${align} (the layout's align), got ${describe(p)}`);
    },
    pastEnd(field: number, ptr: number, byteLength: number): never {
      const f = placed[field]!;
      throw new RangeError(`${CURSOR}: ${f.name} (bytes ${f.offset}..${f.offset + f.size} of the ${size}-byte record at ptr ${ptr}) runs past the memory's end (${byteLength} bytes)`);
    },
    setBytes(field: number, u8: Uint8Array, at: number, value: unknown): void {
      const f = placed[field]!;
      if (!(value instanceof Uint8Array) && !Array.isArray(value)) typeError(CURSOR, f.name, 'a Uint8Array or an array', value);
      if (value.length !== f.capacity) {
        throw new RangeError(`${CURSOR}: ${f.name} must be ${f.capacity} bytes long, got ${value.length}`);
      }
      u8.set(value, at);
    },
    stringBytes(field: number, value: unknown): number {
      const f = placed[field]!;
      if (typeof value !== 'string') typeError(CURSOR, f.name, 'a string', value);
      const n = stringBytes(value);
      if (n > f.capacity) {
        throw new RangeError(`${CURSOR}: ${f.name} holds at most ${f.capacity} bytes of UTF-8, got ${n} (${describe(value)})`);
      }
      return n;
    },
    readStringAt,
    writeString,
  };
}

/**
 * The getter and setter source of field `i`, with `this.#p` the record's pointer. A scalar's
 * read tests the loaded value for `undefined` (a typed array's answer past its end or when
 * detached), and so does its write, loading the element first: V8 merges that load with the
 * typed array's own bounds check (and, in `c.x = c.x + 1`, with the getter's load), where a
 * compare with the view's length cost 0.2-0.5 ns a write (Node 20 and 24). A byte array or a
 * string compares its end with the view's length. A miss goes to `#get`/`#set`.
 */
function accessorSource(f: Placed, i: number): string {
  const key = `[N[${i}]]`;
  if (f.type === 'scalar') {
    const v = f.view!;
    const index = `(this.#p >>> ${v.shift}) + ${f.offset >>> v.shift}`;
    const read = f.kind === 'bool' ? 'x !== 0' : 'x';
    const value = f.kind === 'bool' ? '(v ? 1 : 0)' : 'v';
    return `
  get ${key}() { const x = this.${v.field}[${index}]; return x !== undefined ? ${read} : this.#get(${i}); }
  set ${key}(v) { const a = this.${v.field}, j = ${index}; if (a[j] !== undefined) a[j] = ${value}; else this.#set(${i}, v); }`;
  }
  const at = `this.#p + ${f.offset}`;
  if (f.type === 'bytes') {
    const n = f.capacity;
    return `
  get ${key}() { const a = this.#u8, p = ${at}; return p + ${n} <= a.length ? a.subarray(p, p + ${n}) : this.#get(${i}); }
  set ${key}(v) { const a = this.#u8, p = ${at}; if (p + ${n} <= a.length) H.setBytes(${i}, a, p, v); else this.#set(${i}, v); }`;
  }
  const end = f.size;
  return `
  get ${key}() { const a = this.#u8, p = ${at}; return p + ${end} <= a.length ? H.readStringAt(a, this.#dv, p, p + ${end}, W[${i}]) : this.#get(${i}); }
  set ${key}(v) { const n = H.stringBytes(${i}, v), a = this.#u8, p = ${at}; if (p + ${end} <= a.length) H.writeString(a, this.#dv, p, v, n); else this.#set(${i}, v); }`;
}

/**
 * Layouts compiled so far. Each source names its number: V8 caches what `new Function` compiles
 * by its source, type feedback included, so two layouts with the same kinds at the same offsets
 * (names are passed in, not written in) would otherwise share their accessors' feedback, and a
 * loop over one would see the other's class as well.
 */
let compiled = 0;

/**
 * Whether this context lets `new Function` compile: a page under a Content-Security-Policy
 * without 'unsafe-eval', or Node with `--disallow-code-generation-from-strings`, refuses with
 * an `EvalError`. Asked once, by the first layout; a page's CSP cannot change afterwards. The
 * probe's source can fail for no other reason, so any error it throws means "refused".
 */
let codeGeneration: boolean | undefined;

function canGenerateCode(): boolean {
  if (codeGeneration === undefined) {
    try {
      codeGeneration = new Function('return true')() === true;
    } catch {
      codeGeneration = false;
    }
  }
  return codeGeneration;
}

/**
 * Makes cursors of later layouts compiled (`true`), built of closures (`false`, as where code
 * generation is refused), or whichever this context allows (`undefined`), so that tests and the
 * layout benchmark can hold both side by side. @internal
 */
export function setCodeGeneration(allowed: boolean | undefined): void {
  codeGeneration = allowed;
}

/**
 * Compiles the cursor class of one layout: its source names the offsets as constants, so each
 * accessor is a single indexed load or store that V8 inlines into the caller's loop, and each
 * layout's class has its own hidden class (a loop over one layout stays monomorphic). Where code
 * generation is refused, the class is built of closures instead (layout-closures.ts).
 */
function compileCursor(placed: readonly Placed[], size: number, align: number): new (memory: Memory) => LayoutCursor {
  const where = placed.map((f) => `${CURSOR}.${f.name}`);
  if (!canGenerateCode()) return closureCursor(placed, align, VIEWS['u8']!, helpers(placed, size, align), where) as new (memory: Memory) => LayoutCursor;
  const views = new Set<ViewSpec>([VIEWS['u8']!]);
  for (const f of placed) if (f.view !== null) views.add(f.view);
  const needsDv = placed.some((f) => f.type === 'string');
  const take = [...views].filter((v) => v.ctor !== null)
    .map((v) => `this.${v.field} = new ${v.ctor}(b, 0, n >>> ${v.shift});`).join(' ');
  // ptr is a non-negative integer below 2^32 and a multiple of align exactly when clearing its
  // low bits and reading it as a u32 gives it back: one compare (after the type test).
  const source = `"use strict";
class LayoutCursor {
  #m; #p = 0; ${[...views].map((v) => `${v.field};`).join(' ')}${needsDv ? ' #dv;' : ''}
  constructor(memory) { this.#m = memory; this.#take(); }
  get ptr() { return this.#p; }
  set ptr(p) { if (typeof p !== 'number' || ((p & ${-align}) >>> 0) !== p) H.badPtr(p); this.#p = p; }
  /* Takes the memory's views anew if its buffer grew or changed; true when it did. */
  #take() {
    const u8 = this.#m.u8;
    if (u8 === this.#u8) return false;
    const b = u8.buffer, n = u8.length;
    this.#u8 = u8; ${take}${needsDv ? ' this.#dv = this.#m.dv;' : ''}
    return true;
  }
  #get(i) { if (this.#take()) return this[N[i]]; return H.pastEnd(i, this.#p, this.#u8.length); }
  #set(i, v) { if (this.#take()) this[N[i]] = v; else H.pastEnd(i, this.#p, this.#u8.length); }
${placed.map(accessorSource).join('\n')}
}
return LayoutCursor; /* layout ${++compiled} */`;
  const names = placed.map((f) => f.name);
  return new Function('N', 'W', 'H', source)(names, where, helpers(placed, size, align)) as new (memory: Memory) => LayoutCursor;
}
