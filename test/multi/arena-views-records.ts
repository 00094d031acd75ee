/**
 * The records of the arena read views test: RECORD_WORDS Int32 words, written whole before
 * their pointer is published: the record's index, its version, a payload derived from both,
 * and a checksum over all of them. A reader that finds another index or a wrong sum read a
 * record that was freed and reused (or torn by the writer of another record).
 */
export const RECORD_WORDS = 16;
export const RECORD_BYTES = 4 * RECORD_WORDS;

/** Writes record `index`, version `version`, into `w` at word `at`. */
export function writeRecord(w: Int32Array, at: number, index: number, version: number): void {
  let sum = 0;
  w[at] = index;
  w[at + 1] = version;
  sum = (index + version) | 0;
  for (let k = 2; k < RECORD_WORDS - 1; k++) {
    const v = Math.imul(version ^ (k * 0x9e3779b1), 0x85ebca6b) ^ index;
    w[at + k] = v;
    sum = (sum + v) | 0;
  }
  w[at + RECORD_WORDS - 1] = sum;
}

/** What is wrong with the record copied into `words`, read as record `index`; null if nothing. */
export function recordProblem(words: Int32Array, index: number): string | null {
  if (words[0] !== index) return `holds index ${words[0]}`;
  let sum = 0;
  for (let k = 0; k < RECORD_WORDS - 1; k++) sum = (sum + words[k]!) | 0;
  if (sum !== words[RECORD_WORDS - 1]) return `checksum ${words[RECORD_WORDS - 1]}, the words sum to ${sum}`;
  return null;
}
