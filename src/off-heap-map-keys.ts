/**
 * OffHeapMap's keys: their 32-bit hashes, the same in every worker (Murmur3's finalizer for a
 * u32 key; FNV-1a over the UTF-16 code units, then the finalizer, for a string key), and the
 * form a string key has once stored as UTF-8 (a lone surrogate reads back as U+FFFD, so
 * '\ud800' and '\ufffd' are one key and hash alike).
 *
 * Memory source: none (pure functions). Thread-safety: pure. Failure: none.
 */
/** A key's hash: 32 bits, deterministic in every worker (Murmur3's finalizer for u32 keys). */
export function hashU32(k: number): number {
  let h = Math.imul(k ^ (k >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** FNV-1a over the UTF-16 code units, then the finalizer: the same in every worker. */
export function hashString(s: string): number {
  let h = 0x811c9dc5 | 0;
  let surrogates = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    surrogates |= (c & 0xf800) ^ 0xd800 ? 0 : 1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (surrogates !== 0) {
    // The key is what its UTF-8 reads back as: hash that (a lone surrogate is U+FFFD).
    const w = wellFormed(s);
    if (w !== s) return hashString(w);
  }
  return hashU32(h);
}

/**
 * `s` as its UTF-8 encoding reads back: a lone surrogate becomes U+FFFD (as TextEncoder writes
 * it), so '\ud800' and '\ufffd' are one key. `s` itself when it has none (the common case: one
 * pass, no copy).
 */
export function wellFormed(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c & 0xf800) !== 0xd800) continue;
    if (c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++;
      continue;
    }
    return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  }
  return s;
}
