/**
 * The library's public classes as the trust tests see them: looked up by name on the entry
 * point, typed by the contract (API.md) rather than by their implementation.
 *
 * A namespace lookup by name keeps these tests to the contract's names: `unless(...)` fails the
 * test file at once, naming what is missing, if the entry point stops exporting one of them.
 *
 * The interfaces below are the contract, written once: every trust test speaks only through
 * them, so a test here can only rely on what API.md promises.
 */
import * as lib from '../../src/index.js';

const entry = lib as unknown as Record<string, unknown>;

/** The export `name` of the entry point, or `undefined` while it is not written. */
export function exported<T>(name: string): T | undefined {
  return entry[name] as T | undefined;
}

/**
 * The `skip` option for node:test of a test that needs these exports: always false, because a
 * missing export is a failure of the contract, thrown here, never a skipped test.
 */
export function unless(...names: string[]): false {
  const missing = names.filter((n) => entry[n] === undefined);
  if (missing.length !== 0) throw new Error(`the entry point does not export ${missing.join(', ')} (API.md)`);
  return false;
}

/** Anything with an invariant walker. */
export interface Checked {
  check(): void;
}

/** A JSON-serializable statistics object (API.md: at least `used` and `total`). */
export interface Stats {
  used: number;
  total: number;
  [k: string]: unknown;
}

export type Ptr = number;

export interface MemoryLike {
  readonly shared: boolean;
  readonly maxByteLength: number;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly byteLength: number;
  grow(byteLength: number): void;
  readonly u8: Uint8Array;
  readonly dv: DataView;
}
export interface MemoryCtor {
  create(opts?: { initial?: number; maximum?: number; shared?: boolean }): MemoryLike;
  wrap(source: unknown, opts?: { maximum?: number }): MemoryLike;
}

export interface ArenaLike {
  readonly memory: MemoryLike;
  allocate(bytes: number): Ptr;
  allocateAligned(bytes: number): Ptr;
  memoryUsage(): number;
  reset(): void;
}
export type ArenaCtor = new (opts?: { memory?: MemoryLike; blockSize?: number }) => ArenaLike;

export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;
export interface TypedArrayCtor<T extends TypedArray> {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

export interface BumpArenaLike {
  readonly memory: MemoryLike;
  readonly capacity: number;
  handle(): unknown;
  remaining(): number;
  alloc(size: number, align?: number): Ptr;
  tryAlloc(size: number, align?: number): Ptr;
  allocSlice<T extends TypedArray>(type: TypedArrayCtor<T>, length: number, fill?: number | bigint): T;
  tryAllocSlice<T extends TypedArray>(type: TypedArrayCtor<T>, length: number, fill?: number | bigint): T | null;
  allocString(s: string): Ptr;
  readString(ptr: Ptr): string;
  reset(): void;
}
export interface BumpArenaCtor {
  new (capacity: number, opts?: { shared?: boolean }): BumpArenaLike;
  attach(handle: unknown): BumpArenaLike;
}

export interface QuotaLike {
  readonly total: number;
  readonly used: number;
  handle(): unknown;
  set(limit: number): number;
  use(bytes: number): number;
  tryUse(bytes: number): number;
  release(bytes: number): number;
}
export interface QuotaCtor {
  new (limit: number, opts?: { shared?: boolean }): QuotaLike;
  readonly UNIT: number;
  attach(handle: unknown): QuotaLike;
}

export interface SlabArenaOptions {
  quota: QuotaLike;
  slabSize?: number;
  prealloc?: number;
  maximum?: number;
  shared?: boolean;
}
export interface SlabArenaLike {
  readonly memory: MemoryLike;
  readonly quota: QuotaLike;
  readonly slabSize: number;
  readonly maximum: number;
  readonly used: number;
  handle(): unknown;
  map(): Ptr;
  tryMap(): Ptr;
  mapRun(slabs: number): Ptr;
  tryMapRun(slabs: number): Ptr;
  unmap(slab: Ptr): void;
  check?(): void;
  stats?(): Stats;
}
export interface SlabArenaCtor {
  new (opts: SlabArenaOptions): SlabArenaLike;
  attach(handle: unknown): SlabArenaLike;
}

export interface SlabCacheLike extends Checked {
  readonly arena: SlabArenaLike;
  readonly order0Size: number;
  readonly orderMax: number;
  get(size: number): Ptr;
  tryGet(size: number): Ptr;
  put(ptr: Ptr): void;
  realSize(size: number): number;
  readonly used: number;
  readonly total: number;
  stats(): Stats;
}
export type SlabCacheCtor = new (arena: SlabArenaLike) => SlabCacheLike;

export interface MempoolLike extends Checked {
  readonly objsize: number;
  alloc(): Ptr;
  tryAlloc(): Ptr;
  free(ptr: Ptr): void;
  readonly count: number;
  readonly used: number;
  readonly total: number;
  stats(): Stats;
  destroy(): void;
}
export type MempoolCtor = new (cache: SlabCacheLike, objsize: number) => MempoolLike;

export interface ReadViewLike {
  close(): void;
}
export interface SmallAllocLike extends Checked {
  readonly actualFactor: number;
  readonly objsizeMax: number;
  alloc(size: number): Ptr;
  tryAlloc(size: number): Ptr;
  free(ptr: Ptr, size?: number): void;
  info(ptr: Ptr): { isLarge: boolean; realSize: number };
  realloc(ptr: Ptr, size: number): Ptr;
  calloc(size: number): Ptr;
  openReadView(): ReadViewLike;
  stats(): Stats;
  destroy(): void;
}
export type SmallAllocCtor = new (
  cache: SlabCacheLike, opts?: { objsizeMin?: number; granularity?: number; allocFactor?: number },
) => SmallAllocLike;

export interface RegionLike {
  alloc(size: number): Ptr;
  tryAlloc(size: number): Ptr;
  alignedAlloc(size: number, align: number): Ptr;
  reserve(size: number): Ptr;
  readonly used: number;
  readonly total: number;
  truncate(used: number): void;
  join(size: number): Ptr;
  reset(): void;
  free(): void;
  check?(): void;
}
export type RegionCtor = new (cache: SlabCacheLike) => RegionLike;

export interface IbufLike {
  reserve(size: number): Ptr;
  alloc(size: number): Ptr;
  consume(size: number): void;
  discard(size: number): void;
  readonly rpos: Ptr;
  readonly wpos: Ptr;
  readonly used: number;
  readonly capacity: number;
  view(): Uint8Array;
  reset(): void;
  destroy(): void;
  check?(): void;
}
export type IbufCtor = new (cache: SlabCacheLike, startCapacity?: number) => IbufLike;

export interface ObufLike {
  reserve(size: number): Ptr;
  alloc(size: number): Ptr;
  dup(bytes: Uint8Array): number;
  readonly size: number;
  createSavepoint(): unknown;
  rollbackTo(svp: unknown): void;
  toBuffers(): Uint8Array[];
  reset(): void;
  destroy(): void;
  check?(): void;
}
export type ObufCtor = new (cache: SlabCacheLike, startCapacity?: number) => ObufLike;

export interface LSRegionLike {
  alloc(size: number, id: number): Ptr;
  alignedAlloc(size: number, align: number, id: number): Ptr;
  gc(minId: number): void;
  readonly used: number;
  readonly total: number;
  destroy(): void;
  check?(): void;
}
export type LSRegionCtor = new (arena: SlabArenaLike) => LSRegionLike;

export const Memory = exported<MemoryCtor>('Memory');
export const Arena = exported<ArenaCtor>('Arena');
export const BumpArena = exported<BumpArenaCtor>('BumpArena');
export const Quota = exported<QuotaCtor>('Quota');
export const SlabArena = exported<SlabArenaCtor>('SlabArena');
export const SlabCache = exported<SlabCacheCtor>('SlabCache');
export const Mempool = exported<MempoolCtor>('Mempool');
export const SmallAlloc = exported<SmallAllocCtor>('SmallAlloc');
export const Region = exported<RegionCtor>('Region');
export const Ibuf = exported<IbufCtor>('Ibuf');
export const Obuf = exported<ObufCtor>('Obuf');
export const LSRegion = exported<LSRegionCtor>('LSRegion');

/** `value!` for a class the caller has already checked is written (tests skipped otherwise). */
export function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`${name} is not exported by the entry point yet`);
  return value;
}
