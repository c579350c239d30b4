import assert from "node:assert/strict";
import fc from "fast-check";
import { instantFromNanos, MAX_TIME_NS, MIN_TIME_NS, nanosOf } from "../../core/time.ts";
import { ByteWriter, CodecError } from "./bytes.ts";
import { Encoding, encodingName, MAX_BLOCK_VALUES } from "./encoding.ts";
import { simple8bEncodeBig } from "./simple8b.ts";
import { decodeTimestamps, encodeTimestamps } from "./timestamps.ts";
import { assertCorruptionSafe, hex } from "./_testing.ts";

const T0 = 1_700_000_000_000; // ms
const DAY_NS = 86_400_000_000_000n;

function fromNanos(ns: readonly bigint[]): [Float64Array, Float64Array] {
  const ms = new Float64Array(ns.length), sub = new Float64Array(ns.length);
  ns.forEach((n, i) => {
    const t = instantFromNanos(n);
    ms[i] = t.ms;
    sub[i] = t.subMs;
  });
  return [ms, sub];
}

function fromMs(msList: number[]): [Float64Array, Float64Array] {
  return [Float64Array.from(msList), new Float64Array(msList.length)];
}

function encode(ms: Float64Array, sub: Float64Array): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(8);
  const id = encodeTimestamps(ms, sub, w);
  const bytes = w.finish();
  assert.equal(bytes[0], id);
  return { id, bytes };
}

function roundTrip(ms: Float64Array, sub: Float64Array): { id: number; bytes: Uint8Array } {
  const e = encode(ms, sub);
  const d = decodeTimestamps(e.bytes);
  assert.deepEqual(Array.from(d.timesMs), Array.from(ms));
  assert.deepEqual(Array.from(d.timesSubMs), Array.from(sub));
  return e;
}

const regular = (n: number, stepMs: number, start = T0) =>
  fromMs(Array.from({ length: n }, (_, i) => start + i * stepMs));

Deno.test("timestamps: encoding choice and exact sizes (dense table)", () => {
  const jitter = fromMs(Array.from({ length: 100 }, (_, i) => T0 + i * 10_000 + ((i * 7) % 5)));
  // Pseudo-random gaps: the delta-of-delta is as wide as the delta, which is smaller to store.
  let t = T0;
  const irregular = fromMs(Array.from({ length: 100 }, (_, i) => (t += (i * 7919) % 1000)));
  // Quadratic times: constant delta-of-delta.
  const quadratic = fromMs(Array.from({ length: 100 }, (_, i) => T0 + i * i * 1_000));
  const cases: [string, [Float64Array, Float64Array], number, number | undefined][] = [
    ["one instant", fromMs([T0]), Encoding.TimestampsRle, 11],
    ["two instants", fromMs([T0, T0 + 1]), Encoding.TimestampsRle, 11],
    ["1000 x 10 s", regular(1000, 10_000), Encoding.TimestampsRle, 13],
    ["1000 equal", regular(1000, 0), Encoding.TimestampsRle, 12],
    [
      "10 s, 20 s, 10 s: delta / gcd in one word",
      fromMs([0, 1e4, 3e4, 4e4]),
      Encoding.TimestampsDelta,
      1 + 1 + 1 + 1 + 5 + 8,
    ],
    ["jittery 10 s", jitter, Encoding.TimestampsDeltaOfDelta, undefined],
    ["irregular", irregular, Encoding.TimestampsDelta, undefined],
    ["quadratic", quadratic, Encoding.TimestampsDeltaOfDelta, undefined],
    [
      "equal then shrinking deltas",
      fromMs([T0, T0, T0 + 5, T0 + 5, T0 + 6]),
      Encoding.TimestampsDelta,
      undefined,
    ],
    [
      "1 ns steps in nanoseconds",
      fromNanos([1n, 2n, 3n, 5n, 8n]),
      Encoding.TimestampsDelta,
      undefined,
    ],
    [
      "extremes of int64 (delta beyond 2^60)",
      fromNanos([MIN_TIME_NS, MIN_TIME_NS + 1n, MAX_TIME_NS]),
      Encoding.TimestampsRaw,
      1 + 1 + 36,
    ],
  ];
  for (const [name, [ms, sub], want, size] of cases) {
    const { id, bytes } = roundTrip(ms, sub);
    assert.equal(encodingName(id), encodingName(want), name);
    if (size !== undefined) assert.equal(bytes.length, size, name);
  }
});

Deno.test("timestamps: byte-exact RLE block", () => {
  const { bytes } = encode(...fromMs([0, 10_000, 20_000]));
  // id, count 3, first ms 0 (zigzag), subMs 0, delta ms 10000 (uvarint 90 4e), delta subMs 0
  assert.equal(hex(bytes), "11 03 00 00 90 4e 00");
});

Deno.test("timestamps: spans over 104 days (number path with small deltas, BigInt path with a big gap)", () => {
  // 1000 daily points span 1000 days; every delta is small: the number path.
  const daily = fromNanos(
    Array.from({ length: 1000 }, (_, i) => 1_600_000_000_000_000_000n + BigInt(i) * DAY_NS),
  );
  assert.equal(roundTrip(...daily).id, Encoding.TimestampsRle);
  const dailyJitter = fromNanos(
    Array.from(
      { length: 1000 },
      (_, i) => 1_600_000_000_000_000_000n + BigInt(i) * DAY_NS + BigInt(i % 3),
    ),
  );
  assert.equal(roundTrip(...dailyJitter).id, Encoding.TimestampsDeltaOfDelta);
  // A gap of 200 days (beyond 2^53 ns) forces the BigInt path for the deltas.
  const gap = fromNanos([0n, 1n, 3n, 200n * DAY_NS, 200n * DAY_NS + 7n, 400n * DAY_NS + 1n]);
  assert.equal(roundTrip(...gap).id, Encoding.TimestampsDelta);
  // Deltas right at the number/BigInt boundary.
  const edge = fromNanos([0n, 2n ** 53n - 1n, 2n ** 54n, 2n ** 54n + 2n ** 53n + 5n]);
  roundTrip(...edge);
  // Negative instants (before 1970).
  roundTrip(...fromNanos([-5_000_000_001n, -5_000_000_000n, -1n, 0n, 999_999n]));
});

Deno.test("timestamps: limits — empty, unsorted, bad instants and counts are BUG errors", () => {
  const w = new ByteWriter();
  const cases: [string, Float64Array, Float64Array, RegExp][] = [
    ["empty", new Float64Array(0), new Float64Array(0), /BUG: .*empty/],
    ["length mismatch", new Float64Array(2), new Float64Array(1), /BUG: .*subMs values/],
    ["decreasing", Float64Array.of(2, 1), new Float64Array(2), /BUG: .*not sorted at index 1/],
    ["decreasing subMs", Float64Array.of(2, 2), Float64Array.of(5, 4), /BUG: .*not sorted/],
    ["subMs 1e6", Float64Array.of(1), Float64Array.of(1e6), /BUG: .*bad instant/],
    ["fractional ms", Float64Array.of(1.5), Float64Array.of(0), /BUG: .*bad instant/],
    ["NaN ms", Float64Array.of(NaN), Float64Array.of(0), /BUG: .*bad instant/],
    ["beyond int64", Float64Array.of(9_223_372_036_854), Float64Array.of(775_808), /BUG: .*range/],
    [
      "too many",
      new Float64Array(MAX_BLOCK_VALUES + 1),
      new Float64Array(MAX_BLOCK_VALUES + 1),
      /BUG: .*MAX_BLOCK_VALUES/,
    ],
  ];
  for (const [name, ms, sub, re] of cases) {
    assert.throws(() => encodeTimestamps(ms, sub, w), re, name);
  }
  // The int64 ends themselves are fine.
  roundTrip(...fromNanos([MIN_TIME_NS - 2n, MAX_TIME_NS + 1n]));
});

Deno.test("timestamps: corrupt and truncated blocks raise CodecError", () => {
  const samples = [
    fromMs([T0]),
    regular(50, 10_000),
    fromMs(Array.from({ length: 40 }, (_, i) => T0 + i * 10_000 + (i % 4))),
    fromMs(Array.from({ length: 40 }, (_, i) => T0 + i * i * 100)),
    fromNanos([0n, 1n, 3n, 200n * DAY_NS]),
    fromNanos([MIN_TIME_NS, MIN_TIME_NS + 1n, MAX_TIME_NS]),
  ];
  for (const [ms, sub] of samples) assertCorruptionSafe(encode(ms, sub).bytes, decodeTimestamps);
  // A block of another type, a zero count, a count beyond the limit.
  assert.throws(
    () => decodeTimestamps(Uint8Array.of(0x21, 1)),
    /unknown timestamp encoding id 0x21 \(a FloatsGorilla block\)/,
  );
  assert.throws(() => decodeTimestamps(Uint8Array.of(0x11, 0)), /count 0 outside/);
  assert.throws(() => decodeTimestamps(Uint8Array.of(0x11, 0x81, 0x80, 0x40)), CodecError);
  // An RLE block whose steps run past int64.
  const w = new ByteWriter();
  w.u8(Encoding.TimestampsRle);
  w.uvarint(3);
  w.varint(9_223_372_036_000);
  w.uvarint(0);
  w.uvarint(1_000_000);
  w.uvarint(0);
  assert.throws(() => decodeTimestamps(w.finish()), /outside the int64 nanosecond range/);
});

const nanosArb = fc.bigInt({ min: MIN_TIME_NS, max: MAX_TIME_NS });
const deltaArb = fc.oneof(
  fc.constant(0n),
  fc.constant(10_000_000_000n),
  fc.bigInt({ min: 9_999_000_000n, max: 10_001_000_000n }),
  fc.bigInt({ min: 0n, max: 1_000_000n }),
  fc.bigInt({ min: 0n, max: 2n ** 53n }),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 62n }),
);

Deno.test("timestamps: any sorted instants round-trip (property)", () => {
  fc.assert(
    fc.property(
      nanosArb,
      fc.array(deltaArb, { maxLength: 300, size: "medium" }),
      (start, deltas) => {
        const ns = [start];
        for (const d of deltas) {
          const next = ns[ns.length - 1] + d;
          if (next > MAX_TIME_NS) break;
          ns.push(next);
        }
        const [ms, sub] = fromNanos(ns);
        roundTrip(ms, sub);
        const back = decodeTimestamps(encode(ms, sub).bytes);
        for (let i = 0; i < ns.length; i++) {
          assert.equal(
            nanosOf(back.timesMs[i], back.timesSubMs[i]),
            ns[i],
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("timestamps: distinct refuses exactly the blocks that repeat an instant (property)", () => {
  fc.assert(
    fc.property(
      nanosArb,
      fc.array(deltaArb, { maxLength: 300, size: "medium" }),
      fc.boolean(),
      (start, deltas, noRepeat) => {
        const ns = [start];
        for (const d of deltas) {
          const next = ns[ns.length - 1] + (noRepeat && d === 0n ? 1n : d);
          if (next > MAX_TIME_NS) break;
          ns.push(next);
        }
        const repeats = ns.some((t, i) => i > 0 && t === ns[i - 1]);
        const { bytes } = encode(...fromNanos(ns));
        if (repeats) assert.throws(() => decodeTimestamps(bytes, true), CodecError);
        else {
          const back = decodeTimestamps(bytes, true);
          assert.deepEqual(ns.map((_, i) => nanosOf(back.timesMs[i], back.timesSubMs[i])), ns);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("timestamps: distinct refuses a repeat in every encoding, the rare paths included", () => {
  // RLE delta 0, deltas, delta-of-delta: as the encoder writes them.
  const rle = encode(...fromMs([T0, T0, T0]));
  const delta = encode(...fromMs([0, 1e4, 3e4, 3e4]));
  const dod = encode(
    ...fromMs(Array.from({ length: 50 }, (_, i) => T0 + (i < 49 ? i * i : 48 * 48))),
  );
  assert.deepEqual(
    [rle.id, delta.id, dod.id],
    [Encoding.TimestampsRle, Encoding.TimestampsDelta, Encoding.TimestampsDeltaOfDelta],
  );
  // Raw, by hand (the encoder writes raw only when no delta encoding fits).
  const raw = new ByteWriter();
  raw.u8(Encoding.TimestampsRaw);
  raw.uvarint(2);
  for (let i = 0; i < 2; i++) {
    raw.f64(T0);
    raw.u32(5);
  }
  // Deltas scaled by g past 2^53 with a 0 quotient: the BigInt path.
  const big = new ByteWriter();
  big.u8(Encoding.TimestampsDelta);
  big.uvarint(3);
  big.varint(0);
  big.uvarint(0);
  big.uvarintBig(2n ** 60n);
  simple8bEncodeBig([1n, 0n], big);
  for (const bytes of [rle.bytes, delta.bytes, dod.bytes, raw.finish(), big.finish()]) {
    assert.equal(decodeTimestamps(bytes).timesMs.length > 1, true);
    assert.throws(() => decodeTimestamps(bytes, true), /repeats|delta 0/, hex(bytes));
  }
});

Deno.test("timestamps: long runs (the largest block) round-trip", () => {
  const n = 100_000;
  const [ms, sub] = regular(n, 1);
  for (let i = 50_000; i < n; i++) sub[i] = i % 7;
  roundTrip(ms, sub);
  assert.equal(roundTrip(...regular(MAX_BLOCK_VALUES, 1)).id, Encoding.TimestampsRle);
});
