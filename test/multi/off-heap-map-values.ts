/** The keys and values the OffHeapMap worker test writes, and how a reader checks one. */

/** Keys 0..KEYS-1 (key n is `n`, or the string `k${n}`). */
export const KEYS = 512;

/** Key number `n` as a map of `kind` keeps it. */
export function keyOf(kind: 'u32' | 'string', n: number): number | string {
  return kind === 'u32' ? n : `k${n}`;
}

/** Why `v`, read for key number `n`, was not written for it (its bits: n << 20 | writer << 19 | seq), or null. */
export function valueProblem(n: number, v: number): string | null {
  const key = v >>> 20;
  const writer = (v >>> 19) & 1;
  const seq = v & 0x7ffff;
  if (key !== n) return `key ${n} holds ${v}, a value written for key ${key}`;
  if (writer !== (n & 1)) return `key ${n} holds ${v}, written by writer ${writer}, which never writes it`;
  if (seq === 0) return `key ${n} holds ${v}, with no sequence number`;
  return null;
}
