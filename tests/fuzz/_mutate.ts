/**
 * Byte-level mutations of real samples, coverage-blind (AFL's havoc stage, without the
 * coverage): flip bits, set interesting bytes and integers, delete, duplicate and repeat
 * ranges, insert tokens of the format, splice in pieces of other samples, truncate, and
 * plant invalid UTF-8. Each mutation is a few numbers drawn by fast-check, applied in order.
 * @module
 */
import fc from "fast-check";

const enc = new TextEncoder();

/** Bytes that change a parser's path: separators, quotes, escapes, UTF-8 lead bytes. */
const INTERESTING_BYTES = [
  0x00,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x22,
  0x23,
  0x27,
  0x2b,
  0x2c,
  0x2d,
  0x2e,
  0x30,
  0x39,
  0x3d,
  0x5c,
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc3,
  0xe2,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf8,
  0xff,
];

/** Little-endian integers at the edges of 8, 16, 32 and 64 bits, and small lengths. */
const INTERESTING_INTS: readonly number[][] = [
  [0],
  [1],
  [0x7f],
  [0x80],
  [0xff],
  [0xff, 0xff],
  [0x00, 0x80],
  [0xff, 0x7f],
  [0xff, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0x7f],
  [0x00, 0x00, 0x00, 0x80],
  [0xfe, 0xff, 0xff, 0xff],
  [0x00, 0x00, 0x10, 0x00],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0, 0, 0, 0, 0, 0, 0, 0x80],
  [0, 0, 0, 0, 0, 0, 0xf0, 0x7f], // +Inf as a double
  [1, 0, 0, 0, 0, 0, 0xf8, 0x7f], // a NaN
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // the longest varint
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80], // a varint that never ends
];

/** Byte sequences that are not UTF-8: lone continuation, overlong, surrogate, past U+10FFFF. */
const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xc0, 0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xef, 0xbb, 0xbf], // a byte-order mark (valid, but only at the start)
];

/** One mutation: its kind and three numbers it reads positions and choices from. */
type Mutation = [kind: number, a: number, b: number, c: number];

const KINDS = 13;

/** How large a mutated input may grow (a repeat of a large range is cut here). */
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * Inputs made by mutating `samples`: a sample, then one to eight mutations (fewer more often).
 * `tokens` are the format's words (keywords, separators, numbers at the edges of their range).
 */
export function mutatedSamples(
  samples: readonly Uint8Array[],
  tokens: readonly string[] = [],
): fc.Arbitrary<Uint8Array> {
  if (samples.length === 0) throw new Error("BUG: mutatedSamples needs samples");
  const tokenBytes = tokens.map((t) => enc.encode(t));
  const mutation = fc.tuple(fc.nat(KINDS - 1), fc.nat(), fc.nat(), fc.nat());
  return fc.tuple(
    fc.nat(samples.length - 1),
    fc.array(mutation, { minLength: 1, maxLength: 8 }),
  ).map(([which, mutations]) => mutate(samples[which], mutations, samples, tokenBytes));
}

/** Applies mutations to a copy of `bytes`. */
export function mutate(
  bytes: Uint8Array,
  mutations: readonly Mutation[],
  pool: readonly Uint8Array[],
  tokens: readonly Uint8Array[],
): Uint8Array {
  let out: Uint8Array = bytes.slice();
  for (const m of mutations) {
    out = applyOne(out, m, pool, tokens);
    if (out.length > MAX_BYTES) out = out.subarray(0, MAX_BYTES);
  }
  return out;
}

function applyOne(
  b: Uint8Array,
  [kind, a, x, y]: Mutation,
  pool: readonly Uint8Array[],
  tokens: readonly Uint8Array[],
): Uint8Array {
  const n = b.length;
  const at = n === 0 ? 0 : a % n;
  const insertAt = a % (n + 1);
  switch (kind) {
    case 0: // flip a bit
      if (n > 0) b[at] ^= 1 << (x % 8);
      return b;
    case 1: // an interesting byte
      if (n > 0) b[at] = INTERESTING_BYTES[x % INTERESTING_BYTES.length];
      return b;
    case 2: // add or subtract a little
      if (n > 0) b[at] = (b[at] + (x % 71) - 35) & 0xff;
      return b;
    case 3: { // delete a range (short ones more often)
      const len = 1 + (x % 16 === 0 ? y % Math.max(1, n) : y % 8);
      return concat(b.subarray(0, at), b.subarray(Math.min(n, at + len)));
    }
    case 4: { // duplicate a range somewhere
      if (n === 0) return b;
      const len = 1 + (y % Math.min(n - at, 64));
      return splice(b, x % (n + 1), b.subarray(at, at + len));
    }
    case 5: { // repeat a range many times (long keys, many tags, deep nesting)
      if (n === 0) return b;
      const len = 1 + (y % Math.min(n - at, 32));
      // Mostly a few times; one repeat in 16 goes to a thousand or more.
      const times = [2, 2, 2, 3, 3, 4, 5, 8, 10, 10, 20, 50, 100, 100, 1000, 10_000][x % 16];
      const piece = b.subarray(at, at + len);
      if (piece.length * times > MAX_BYTES) return b;
      const rep = new Uint8Array(piece.length * times);
      for (let k = 0; k < times; k++) rep.set(piece, k * piece.length);
      return splice(b, at + len, rep);
    }
    case 6: // a token of the format
      if (tokens.length === 0) return b;
      return splice(b, insertAt, tokens[x % tokens.length]);
    case 7: { // a token over the bytes there
      if (tokens.length === 0 || n === 0) return b;
      const t = tokens[x % tokens.length];
      return concat(b.subarray(0, at), t, b.subarray(Math.min(n, at + t.length)));
    }
    case 8: // truncate
      return b.subarray(0, at);
    case 9: { // splice in a piece of another sample
      if (pool.length === 0) return b;
      const other = pool[x % pool.length];
      if (other.length === 0) return b;
      const from = y % other.length;
      const len = 1 + ((y >>> 8) % Math.min(other.length - from, 256));
      return splice(b, insertAt, other.subarray(from, from + len));
    }
    case 10: // invalid UTF-8
      return splice(b, insertAt, Uint8Array.from(INVALID_UTF8[x % INVALID_UTF8.length]));
    case 11: { // an interesting little-endian integer over the bytes there
      if (n === 0) return b;
      const v = INTERESTING_INTS[x % INTERESTING_INTS.length];
      for (let k = 0; k < v.length && at + k < n; k++) b[at + k] = v[k];
      return b;
    }
    default: { // swap two ranges' bytes
      if (n < 2) return b;
      const other = x % n;
      const len = 1 + (y % 16);
      const tmp = b.slice(at, Math.min(n, at + len));
      const src = b.slice(other, Math.min(n, other + tmp.length));
      b.set(src, at);
      b.set(tmp.subarray(0, Math.min(tmp.length, n - other)), other);
      return b;
    }
  }
}

function splice(b: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  return concat(b.subarray(0, at), piece, b.subarray(at));
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes of strings and byte arrays, end to end (a string is UTF-8 encoded). */
export function bytesOf(...parts: (string | Uint8Array)[]): Uint8Array {
  return concat(...parts.map((p) => (typeof p === "string" ? enc.encode(p) : p)));
}

/**
 * The inputs of a target: structured ones (`structured`, weight 3), the same then mutated
 * (weight 2), and mutated samples (weight 3).
 */
export function structuredAndMutated(
  structured: fc.Arbitrary<Uint8Array>,
  samples: readonly Uint8Array[],
  tokens: readonly string[],
): fc.Arbitrary<Uint8Array> {
  const tokenBytes = tokens.map((t) => enc.encode(t));
  const mutation = fc.tuple(fc.nat(KINDS - 1), fc.nat(), fc.nat(), fc.nat());
  return fc.oneof(
    { arbitrary: structured, weight: 3 },
    {
      arbitrary: fc.tuple(structured, fc.array(mutation, { minLength: 1, maxLength: 4 })).map((
        [bytes, mutations],
      ) => mutate(bytes, mutations, samples, tokenBytes)),
      weight: 2,
    },
    { arbitrary: mutatedSamples(samples, tokens), weight: 3 },
  );
}
