/**
 * The block codecs (src/storage/codecs/): decoding any bytes either throws a `CodecError` or
 * returns a block that keeps the value type's contract (floats as a Float64Array; integers exact
 * and compact; unsigned within uint64; booleans; well-formed strings; instants inside the int64
 * nanosecond range with `0 <= subMs < 1e6`), which encodes again and decodes to itself. The first
 * input byte picks the decoder; structured inputs are encoded value arrays of every shape,
 * mutated or not.
 * @module
 */
import fc from "fast-check";
import {
  ByteWriter,
  CodecError,
  decodeBooleans,
  decodeFloats,
  decodeIntegers,
  decodeStrings,
  decodeTimestamps,
  decodeUnsigned,
  encodeBooleans,
  encodeFloats,
  encodeIntegers,
  encodeStrings,
  encodeTimestamps,
  encodeUnsigned,
  MAX_BLOCK_VALUES,
} from "../../../src/storage/codecs/mod.ts";
import { concat, structuredAndMutated } from "../_mutate.ts";
import { isWellFormed } from "../_points.ts";
import { sameData } from "../_same.ts";
import { count, demand, expectOnly, type FuzzTarget } from "../_target.ts";

const KINDS = ["floats", "integers", "unsigned", "strings", "booleans", "timestamps"] as const;
type Kind = typeof KINDS[number];

const DECODE: Record<Kind, (b: Uint8Array) => unknown> = {
  floats: decodeFloats,
  integers: decodeIntegers,
  unsigned: decodeUnsigned,
  strings: decodeStrings,
  booleans: decodeBooleans,
  timestamps: decodeTimestamps,
};

/** Encodes a decoded block again (the encoders throw `BUG:` on anything off contract). */
const ENCODE: Record<Kind, (v: unknown, w: ByteWriter) => unknown> = {
  floats: (v, w) => encodeFloats(v as Float64Array, w),
  integers: (v, w) => encodeIntegers(v as (number | bigint)[], w),
  unsigned: (v, w) => encodeUnsigned(v as (number | bigint)[], w),
  strings: (v, w) => encodeStrings(v as string[], w),
  booleans: (v, w) => encodeBooleans(v as boolean[], w),
  timestamps: (v, w) => {
    const t = v as { timesMs: Float64Array; timesSubMs: Float64Array };
    return encodeTimestamps(t.timesMs, t.timesSubMs, w);
  },
};

const SAFE = 9007199254740991n;

/** Throws unless a decoded block keeps its type's contract. */
function checkBlock(kind: Kind, v: unknown): void {
  const bad = (why: string) => demand(false, `${kind}: decoded ${why}`);
  const length = kind === "timestamps"
    ? (v as { timesMs: Float64Array }).timesMs.length
    : (v as ArrayLike<unknown>).length;
  if (length < 1 || length > MAX_BLOCK_VALUES) bad(`a block of ${length} values`);
  switch (kind) {
    case "floats":
      if (!(v instanceof Float64Array)) bad("floats not as a Float64Array");
      return;
    case "integers":
    case "unsigned":
      for (const x of v as (number | bigint)[]) {
        if (typeof x === "number") {
          if (!Number.isSafeInteger(x) || (kind === "unsigned" && x < 0)) bad(`the integer ${x}`);
        } else if (typeof x === "bigint") {
          if (x >= -SAFE && x <= SAFE) bad(`the safe integer ${x} as a bigint`);
          if (kind === "integers" && BigInt.asIntN(64, x) !== x) bad(`${x} outside int64`);
          if (kind === "unsigned" && BigInt.asUintN(64, x) !== x) bad(`${x} outside uint64`);
        } else bad(`an integer of type ${typeof x}`);
      }
      return;
    case "strings":
      for (const s of v as string[]) if (!isWellFormed(s)) bad("a string that is not Unicode");
      return;
    case "booleans":
      for (const b of v as boolean[]) if (typeof b !== "boolean") bad(`the boolean ${b}`);
      return;
    case "timestamps": {
      const { timesMs, timesSubMs } = v as { timesMs: Float64Array; timesSubMs: Float64Array };
      if (timesSubMs.length !== timesMs.length) bad("times and sub-ms of different lengths");
      for (let i = 0; i < timesMs.length; i++) {
        const ms = timesMs[i], sub = timesSubMs[i];
        if (!Number.isSafeInteger(ms) || !Number.isInteger(sub) || sub < 0 || sub >= 1e6) {
          bad(`the instant (${ms}, ${sub})`);
        }
        const ns = BigInt(ms) * 1_000_000n + BigInt(sub);
        if (BigInt.asIntN(64, ns) !== ns) bad(`the instant ${ns} outside int64`);
      }
    }
  }
}

const floats = fc.oneof(
  fc.array(fc.double(), { minLength: 1, maxLength: 300 }),
  fc.array(fc.integer({ min: -1000, max: 1000 }).map((i) => i / 100), {
    minLength: 1,
    maxLength: 300,
  }),
  fc.tuple(fc.double(), fc.nat(2000)).map(([v, n]) => Array(n + 1).fill(v)),
).map((a) => Float64Array.from(a));

const int64 = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) =>
    v >= -SAFE && v <= SAFE ? Number(v) : v
  ),
);
const uint64 = fc.oneof(
  fc.nat(1000),
  fc.maxSafeNat(),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => (v <= SAFE ? Number(v) : v)),
);

const instants = fc.oneof(
  // Regular steps (RLE), jittered steps, anything in range.
  fc.tuple(fc.integer({ min: -1e12, max: 4e12 }), fc.nat(100_000), fc.nat(1000)).map((
    [start, step, n],
  ) => Array.from({ length: n + 1 }, (_, i) => BigInt(start) * 1_000_000n + BigInt(i * step))),
  fc.array(
    fc.bigInt({ min: -9223372036854775806n, max: 9223372036854775806n }),
    { minLength: 1, maxLength: 200 },
  ),
).map((unsorted) => {
  const ns = unsorted.toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ms = new Float64Array(ns.length), sub = new Float64Array(ns.length);
  ns.forEach((n, i) => {
    let m = n / 1_000_000n, s = n % 1_000_000n;
    if (s < 0n) [m, s] = [m - 1n, s + 1_000_000n];
    ms[i] = Number(m);
    sub[i] = Number(s);
  });
  return { timesMs: ms, timesSubMs: sub };
});

/** A block of each kind, encoded, with its kind byte in front. */
const blocks: fc.Arbitrary<Uint8Array> = fc.oneof(
  floats.map((v) => ["floats", v] as const),
  fc.array(int64, { minLength: 1, maxLength: 300 }).map((v) => ["integers", v] as const),
  fc.array(uint64, { minLength: 1, maxLength: 300 }).map((v) => ["unsigned", v] as const),
  fc.array(fc.oneof(fc.constantFrom("ok", "fail", ""), fc.string({ unit: "grapheme" })), {
    minLength: 1,
    maxLength: 300,
  }).map((v) => ["strings", v] as const),
  fc.array(fc.boolean(), { minLength: 1, maxLength: 3000 }).map((v) => ["booleans", v] as const),
  instants.map((v) => ["timestamps", v] as const),
).map(([kind, values]) => {
  const w = new ByteWriter();
  ENCODE[kind](values, w);
  return concat(Uint8Array.of(KINDS.indexOf(kind)), w.finish());
});

export const codecsTarget: FuzzTarget = {
  name: "codecs",
  about: "the six block decoders throw only CodecError and return valid blocks that re-encode",
  inputs: structuredAndMutated(
    blocks,
    [Uint8Array.of(0, 0x20, 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f)],
    [],
  ),
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        if (input.length === 0) return;
        const kind = KINDS[input[0] % KINDS.length];
        const block = input.subarray(1);
        const decoded = expectOnly(() => DECODE[kind](block), [CodecError]);
        if (decoded === undefined) return void count(outcomes, "refused");
        count(outcomes, `${kind} decoded`);
        checkBlock(kind, decoded);
        const w = new ByteWriter();
        ENCODE[kind](decoded, w);
        const again = DECODE[kind](w.finish());
        demand(
          sameData(again, decoded),
          `${kind}: a decoded block does not survive encoding again`,
        );
      },
      close: () => Promise.resolve(),
    });
  },
};
