/**
 * Layout cursors built without code generation: the fallback `defineLayout` takes where
 * `new Function` is refused (a page under a Content-Security-Policy without 'unsafe-eval',
 * Node with `--disallow-code-generation-from-strings`), with the same API, the same results
 * and the same errors as the compiled class of layout.ts, whose module comment this one leans
 * on (field placement, the growth check, the invariants).
 *
 * How it differs: the class is one per layout here too (so cursors of a layout share a
 * prototype and a loop over one layout sees one class), but each accessor is a closure over
 * its field's constants (view slot, shift, index) instead of source with the constants
 * written in, and the views sit in one array indexed by slot instead of one private field
 * each. The code of every accessor of one kind is shared by all fields and layouts, so its
 * type feedback is too: V8 inlines it less well than the compiled class's. What that costs is
 * measured in bench/layout.bench.ts ("closure cursor").
 *
 * Memory source: none (as layout.ts). Thread-safety: a cursor belongs to the worker that made
 * it. Failure: what layout.ts states, through the same helpers, so messages are identical.
 */
import type { Memory } from './memory.js';
import type { CursorHelpers, Placed, ViewSpec } from './layout-fields.js';

/** A view element by element: any of the typed arrays a cursor keeps. */
interface Elements {
  [index: number]: unknown;
}

type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Elements;

/**
 * The cursor class of one layout, made of closures (see the module); its instances are the
 * layout's `LayoutCursor`s, which the caller types them as.
 * @param placed the fields, placed by `defineLayout`.
 * @param align the layout's align: `ptr` must be a multiple of it.
 * @param u8 the spec of the memory's own `u8` view (slot 0).
 * @param h the helpers that throw and that read and write strings and byte arrays.
 * @param where `LayoutCursor.<field>` per field, for string decode errors.
 * @internal
 */
export function closureCursor(
  placed: readonly Placed[], align: number, u8: ViewSpec, h: CursorHelpers, where: readonly string[],
): new (memory: Memory) => object {
  const specs: ViewSpec[] = [u8];
  for (const f of placed) if (f.view !== null && !specs.includes(f.view)) specs.push(f.view);
  const ctors = specs.map((s) => (s.ctor === null ? null : (globalThis as unknown as Record<string, ViewConstructor>)[s.ctor]!));
  const needsDv = placed.some((f) => f.type === 'string');
  const mask = -align;
  let accessor!: (f: Placed, i: number) => PropertyDescriptor;

  class LayoutCursor {
    #m: Memory;
    #p = 0;
    /** Views by slot: `#v[0]` is `#u8`, the others in `specs` order. */
    #v: Elements[] = [];
    #u8: Uint8Array | undefined = undefined;
    #dv: DataView | undefined = undefined;

    constructor(memory: Memory) {
      this.#m = memory;
      this.#take();
    }

    get ptr(): number {
      return this.#p;
    }

    set ptr(p: number) {
      if (typeof p !== 'number' || ((p & mask) >>> 0) !== p) h.badPtr(p);
      this.#p = p;
    }

    /** Takes the memory's views anew if its buffer grew or changed; true when it did. */
    #take(): boolean {
      const a = this.#m.u8;
      if (a === this.#u8) return false;
      const b = a.buffer, n = a.length;
      this.#u8 = a;
      this.#v[0] = a;
      for (let j = 1; j < specs.length; j++) this.#v[j] = new ctors[j]!(b, 0, n >>> specs[j]!.shift);
      if (needsDv) this.#dv = this.#m.dv;
      return true;
    }

    #get(i: number): unknown {
      if (this.#take()) return Reflect.get(this, placed[i]!.name);
      return h.pastEnd(i, this.#p, this.#u8!.length);
    }

    #set(i: number, v: unknown): void {
      if (this.#take()) Reflect.set(this, placed[i]!.name, v);
      else h.pastEnd(i, this.#p, this.#u8!.length);
    }

    static {
      accessor = (f: Placed, i: number): PropertyDescriptor => {
        if (f.type === 'scalar') {
          const s = specs.indexOf(f.view!), shift = f.view!.shift, k = f.offset >>> shift;
          if (f.kind === 'bool') {
            return {
              get(this: LayoutCursor): unknown {
                const x = this.#v[s]![(this.#p >>> shift) + k];
                return x !== undefined ? x !== 0 : this.#get(i);
              },
              set(this: LayoutCursor, v: unknown): void {
                const a = this.#v[s]!, j = (this.#p >>> shift) + k;
                if (a[j] !== undefined) a[j] = v ? 1 : 0;
                else this.#set(i, v);
              },
            };
          }
          return {
            get(this: LayoutCursor): unknown {
              const x = this.#v[s]![(this.#p >>> shift) + k];
              return x !== undefined ? x : this.#get(i);
            },
            set(this: LayoutCursor, v: unknown): void {
              const a = this.#v[s]!, j = (this.#p >>> shift) + k;
              if (a[j] !== undefined) a[j] = v;
              else this.#set(i, v);
            },
          };
        }
        const off = f.offset;
        if (f.type === 'bytes') {
          const n = f.capacity;
          return {
            get(this: LayoutCursor): unknown {
              const a = this.#u8!, p = this.#p + off;
              return p + n <= a.length ? a.subarray(p, p + n) : this.#get(i);
            },
            set(this: LayoutCursor, v: unknown): void {
              const a = this.#u8!, p = this.#p + off;
              if (p + n <= a.length) h.setBytes(i, a, p, v);
              else this.#set(i, v);
            },
          };
        }
        const end = f.size, name = where[i]!;
        return {
          get(this: LayoutCursor): unknown {
            const a = this.#u8!, p = this.#p + off;
            return p + end <= a.length ? h.readStringAt(a, this.#dv!, p, p + end, name) : this.#get(i);
          },
          set(this: LayoutCursor, v: unknown): void {
            const n = h.stringBytes(i, v), a = this.#u8!, p = this.#p + off;
            if (p + end <= a.length) h.writeString(a, this.#dv!, p, v as string, n);
            else this.#set(i, v);
          },
        };
      };
    }
  }

  // As a class body's accessors are: not enumerable, configurable.
  placed.forEach((f, i) => {
    Object.defineProperty(LayoutCursor.prototype, f.name, { ...accessor(f, i), enumerable: false, configurable: true });
  });
  return LayoutCursor;
}
