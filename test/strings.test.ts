import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidPointerError } from '../src/errors.js';
import { readStringAt, stringBytes, STRING_ALIGN, STRING_PREFIX, writeString } from '../src/internal/strings.js';
import { Memory } from '../src/memory.js';
import { seeded } from '../dev/rng.js';

const encoder = new TextEncoder();

/** The three kinds of memory an allocator may sit on, 256 KiB each. */
const MEMORIES: [string, () => Memory][] = [
  ['ArrayBuffer', () => Memory.wrap(new ArrayBuffer(1 << 18))],
  ['SharedArrayBuffer', () => Memory.wrap(new SharedArrayBuffer(1 << 18))],
  ['WebAssembly.Memory', () => Memory.wrap(new WebAssembly.Memory({ initial: 4 }))],
  ['shared WebAssembly.Memory', () => Memory.wrap(new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true }))],
];

const SAMPLES: [string, string][] = [
  ['empty', ''],
  ['one ASCII char', 'a'],
  ['short ASCII', 'hello, world'],
  ['16 ASCII chars', 'key-0123-abcdefg'],
  ['every ASCII code, NUL included', Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('')],
  ['24 ASCII chars', 'y'.repeat(24)],
  ['25 ASCII chars', 'z'.repeat(25)],
  ['48 ASCII chars', 'Y'.repeat(48)],
  ['49 ASCII chars', 'Z'.repeat(49)],
  ['2-byte UTF-8', 'héllo wörld ñ ß'],
  ['3-byte UTF-8', '日本語テキスト €'],
  ['4-byte UTF-8', '😀🎉𝄞'],
  ['mixed widths', 'a é € 😀 z'],
  ['non-ASCII last in a short string', 'abcdefghijklmnoé'],
  ['64 KiB of ASCII', 'abcdefgh'.repeat(8192)],
  ['64 KiB of mixed widths', 'ab€😀'.repeat(65536 / 9)],
];

/** Writes `s` at `ptr` as an allocator would, then reads it back. */
function roundTrip(m: Memory, ptr: number, s: string): string {
  const n = stringBytes(s);
  writeString(m.u8, m.dv, ptr, s, n);
  return readStringAt(m.u8, m.dv, ptr, m.byteLength, 'test.readString');
}

for (const [kind, make] of MEMORIES) {
  test(`strings round-trip over a ${kind}`, () => {
    const m = make();
    let ptr = 8;
    for (const [what, s] of SAMPLES) {
      const expected = encoder.encode(s);
      const n = stringBytes(s);
      assert.equal(n, expected.length, `${what}: stringBytes`);
      // Guard bytes on both sides: the writer touches exactly [ptr, ptr + 4 + n).
      m.u8.fill(0xee, ptr - 4, ptr + STRING_PREFIX + n + 4);
      writeString(m.u8, m.dv, ptr, s, n);
      assert.equal(m.dv.getUint32(ptr, true), n, `${what}: the length in front, little-endian`);
      assert.deepEqual(m.u8.subarray(ptr + STRING_PREFIX, ptr + STRING_PREFIX + n), expected, `${what}: TextEncoder's bytes`);
      assert.equal(m.dv.getUint32(ptr - 4, true), 0xeeeeeeee, `${what}: nothing written before`);
      assert.equal(m.dv.getUint32(ptr + STRING_PREFIX + n, true), 0xeeeeeeee, `${what}: nothing written after`);
      assert.equal(readStringAt(m.u8, m.dv, ptr, m.byteLength, 'test.readString'), s, what);
      ptr += 8 + STRING_PREFIX + n;
      ptr += (STRING_ALIGN - (ptr % STRING_ALIGN)) % STRING_ALIGN;
    }
  });

  test(`lone surrogates are stored as U+FFFD over a ${kind}, as TextEncoder does`, () => {
    const m = make();
    const cases: [string, string][] = [
      ['a\ud800b', 'a\ufffdb'],
      ['\udc00', '\ufffd'],
      ['x\ud83d', 'x\ufffd'], // a high surrogate at the very end
      ['\ude00\ud83d', '\ufffd\ufffd'], // a pair the wrong way round
      ['\ud83d\ud83d\ude00', '\ufffd😀'], // a high surrogate, then a whole pair
    ];
    for (const [s, back] of cases) {
      assert.equal(stringBytes(s), encoder.encode(s).length, JSON.stringify(s));
      assert.equal(roundTrip(m, 16, s), back, JSON.stringify(s));
    }
  });
}

test('stringBytes agrees with TextEncoder on random strings of every width', () => {
  const rng = seeded('stringBytes random');
  // Code units weighted toward the boundaries: ASCII, 2-byte, 3-byte, surrogates (paired or not).
  const ranges: [number, number][] = [[0, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [0xd800, 0xdbff], [0xdc00, 0xdfff], [0xe000, 0xffff]];
  const m = Memory.wrap(new ArrayBuffer(4096));
  for (let step = 0; step < 2000; step++) {
    let s = '';
    const len = rng.int(0, 80);
    for (let i = 0; i < len; i++) {
      const [lo, hi] = rng.chance(0.6) ? ranges[0]! : rng.pick(ranges);
      s += String.fromCharCode(rng.int(lo, hi));
    }
    const expected = encoder.encode(s);
    assert.equal(stringBytes(s), expected.length, JSON.stringify(s));
    assert.equal(roundTrip(m, 4, s), new TextDecoder().decode(expected), JSON.stringify(s));
  }
});

test('a non-ASCII character anywhere in a short string round-trips (the ASCII paths bail out)', () => {
  const m = Memory.wrap(new ArrayBuffer(256));
  for (let n = 1; n <= 52; n++) {
    for (let at = 0; at < n; at++) {
      for (const c of ['é', '€', '😀', '\x7f']) {
        const s = 'a'.repeat(at) + c + 'b'.repeat(n - at - 1);
        assert.equal(roundTrip(m, 4, s), s, `${n} chars, ${JSON.stringify(c)} at ${at}`);
      }
    }
  }
});

test('readStringAt decodes bytes that are not UTF-8 to U+FFFD, on the short path too', () => {
  const m = Memory.wrap(new ArrayBuffer(256));
  for (const bytes of [[0x80], [0x61, 0x62, 0x63, 0xff], [0x61, 0x62, 0x63, 0x64, 0x65, 0xc3]]) {
    m.dv.setUint32(8, bytes.length, true);
    m.u8.set(bytes, 12);
    assert.equal(readStringAt(m.u8, m.dv, 8, m.byteLength, 'test'), new TextDecoder().decode(new Uint8Array(bytes)));
  }
});

test('readStringAt refuses a length running past limit, and reads nothing past it', () => {
  const m = Memory.wrap(new SharedArrayBuffer(256));
  writeString(m.u8, m.dv, 64, 'abcdef', 6);
  // The string ends at 74: a limit of 74 is enough, one byte less is not.
  assert.equal(readStringAt(m.u8, m.dv, 64, 74, 'X.readString'), 'abcdef');
  const refused = (ptr: number, limit: number): void => {
    assert.throws(() => readStringAt(m.u8, m.dv, ptr, limit, 'X.readString'),
      (e: unknown) => e instanceof InvalidPointerError && e.ptr === ptr && /^X\.readString: /.test(e.message),
      `ptr ${ptr}, limit ${limit}`);
  };
  refused(64, 73);
  refused(64, 66); // the length itself runs past
  refused(252, 255);
  refused(256, 256);
  // A corrupt length, far past the end of the memory.
  m.dv.setUint32(64, 0xffffffff, true);
  refused(64, 256);
  m.dv.setUint32(64, 256 - 68 + 1, true);
  refused(64, 256);
  m.dv.setUint32(64, 256 - 68, true);
  assert.equal(readStringAt(m.u8, m.dv, 64, 256, 'X.readString').length, 256 - 68);
  // An empty string may end exactly at the limit.
  writeString(m.u8, m.dv, 252, '', 0);
  assert.equal(readStringAt(m.u8, m.dv, 252, 256, 'X.readString'), '');
});

test('a string written in one memory reads back through another view of the same buffer', () => {
  const sab = new SharedArrayBuffer(1024);
  const a = Memory.wrap(sab);
  const b = Memory.wrap(sab);
  writeString(a.u8, a.dv, 100, 'shared ✓ 😀', stringBytes('shared ✓ 😀'));
  assert.equal(readStringAt(b.u8, b.dv, 100, b.byteLength, 'test'), 'shared ✓ 😀');
});

test('where TextDecoder refuses shared memory, readStringAt decodes a copy', () => {
  // A fresh process whose TextDecoder throws on views of a SharedArrayBuffer, as the WHATWG
  // spec long required, loads the codec and reads a long non-ASCII string from shared memory.
  const codec = new URL('../src/internal/strings.js', import.meta.url).href;
  const script = `
    const decode = TextDecoder.prototype.decode;
    TextDecoder.prototype.decode = function (v, o) {
      if (v && v.buffer instanceof SharedArrayBuffer) throw new TypeError('shared view refused');
      return decode.call(this, v, o);
    };
    const { readStringAt, stringBytes, writeString } = await import(${JSON.stringify(codec)});
    const u8 = new Uint8Array(new SharedArrayBuffer(4096));
    const dv = new DataView(u8.buffer);
    const s = 'shared \u2713 ' + 'ab\u20ac'.repeat(100);
    writeString(u8, dv, 8, s, stringBytes(s));
    process.stdout.write(String(readStringAt(u8, dv, 8, 4096, 'test') === s));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out, 'true');
});
