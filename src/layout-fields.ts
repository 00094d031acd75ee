/**
 * The kinds of field a record layout holds, and a field as `defineLayout` places it: the types
 * both cursor builders read, the compiled one (layout.ts, which checks and places the fields
 * and re-exports the public kinds) and the one built of closures (layout-closures.ts), so that
 * neither imports the other's module for them. layout.ts's module comment has the rules.
 *
 * Memory source: none; types only. Thread-safety: none needed. Failure: none.
 */
import type { readStringAt, writeString } from './internal/strings.js';

/**
 * A number, bigint or boolean field: its name is its type, as in C's `<stdint.h>`.
 * @category Records
 */
export type ScalarKind = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'bool';

/**
 * A fixed-length byte array field: the accessor gives a `Uint8Array` view of its bytes.
 * @category Records
 */
export interface BytesField {
  /** Its length in bytes. */
  readonly bytes: number;
}

/**
 * A fixed-capacity string field: UTF-8 after a u32 length.
 * @category Records
 */
export interface StringField {
  /** The most bytes of UTF-8 it holds. */
  readonly string: number;
}

/**
 * What a field holds: a scalar kind; `{ bytes: n }`, exactly `n` bytes read as a `Uint8Array`
 * view over the record; or `{ string: capacity }`, a UTF-8 string of at most `capacity` bytes
 * after its byte length (a u32).
 * @category Records
 */
export type FieldKind = ScalarKind | BytesField | StringField;

// ---- a field, placed --------------------------------------------------------------------

/** A typed-array view a cursor keeps: its private field's name and its constructor's name. @internal */
export interface ViewSpec {
  /** Private field of the cursor holding it (`#f64`). */
  field: string;
  /** Global constructor (`Float64Array`); null for the memory's own `u8`. */
  ctor: string | null;
  /** log2 of the element size: the shift that turns a byte offset into an index. */
  shift: number;
}

/** One field, placed. @internal */
export interface Placed {
  name: string;
  /** The kind as given (a frozen copy for the object kinds). */
  kind: FieldKind;
  offset: number;
  size: number;
  align: number;
  /** 'scalar' (with `view`), 'bytes' or 'string'. */
  type: 'scalar' | 'bytes' | 'string';
  view: ViewSpec | null;
  /** Bytes of a byte array; capacity of a string. */
  capacity: number;
}

// ---- what a cursor calls ----------------------------------------------------------------

/** What the cursor class calls on its slow paths and for strings and byte arrays. @internal */
export interface CursorHelpers {
  badPtr(p: unknown): never;
  pastEnd(field: number, ptr: number, byteLength: number): never;
  setBytes(field: number, u8: Uint8Array, at: number, value: unknown): void;
  stringBytes(field: number, value: unknown): number;
  readStringAt: typeof readStringAt;
  writeString: typeof writeString;
}
