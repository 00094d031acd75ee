/** Byte patterns for tests that stamp allocations and verify them later. */

/** `n` bytes of a pattern that differs with `seed` and along its length. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 37 + i * 5) & 255;
  return b;
}

/** True when `u8` holds exactly `bytes` at `ptr`. */
export function holds(u8: Uint8Array, ptr: number, bytes: Uint8Array): boolean {
  for (let j = 0; j < bytes.length; j++) if (u8[ptr + j] !== bytes[j]) return false;
  return true;
}
