/**
 * The timestamp column codec. Instants come as the `(ms, subMs)` pair of `core/time.ts`
 * (`ms = floor(ns / 1e6)`, `0 <= subMs < 1e6`), sorted ascending (equal instants allowed), in
 * two `Float64Array`s. The first instant is written exactly; the rest as nanosecond deltas,
 * which are never negative.
 *
 * Encodings (first byte), the smallest wins:
 * - `TimestampsRle` (0x11): every delta equal (regular intervals, a single instant, or all
 *   instants equal): first instant, then the delta as a `(ms, subMs)` pair. No BigInt at all.
 * - `TimestampsDelta` (0x12): first instant, `g` = the GCD of the deltas, then the deltas / g in
 *   Simple-8b (tsm1 divides by the largest power of 10; a GCD catches 15 s intervals as well).
 * - `TimestampsDeltaOfDelta` (0x13): first instant, g, the first delta / g, then the zigzag
 *   delta-of-deltas / g in Simple-8b (Gorilla's scheme: jittery regular intervals shrink to
 *   small numbers).
 * - `TimestampsRaw` (0x10): 12 bytes per instant (f64 ms, u32 subMs); only when no delta
 *   encoding applies (a scaled delta of 2^60 or more) or none is smaller.
 *
 * Number vs BigInt: deltas are exact as JS numbers while below 2^53 ns (104 days), whatever the
 * block's span, so a block spanning years at a 1-day interval stays on the fast path. A block
 * with any delta of 104 days or more takes a BigInt path (one BigInt per value: correct, about
 * ten times slower) and is written as `TimestampsDelta` with the same layout; delta-of-delta is
 * used only on the number path. Decoding picks the path per value from the bytes.
 *
 * Limits: 1 to MAX_BLOCK_VALUES instants; each in InfluxDB's int64 nanosecond range; unsorted
 * input, mismatched lengths, a non-integer ms or a subMs outside [0, 1e6) are `BUG:` errors.
 *
 * @module
 */

import { ByteReader, type ByteWriter, CodecError } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";
import {
  SIMPLE8B_MAX,
  simple8bDecode,
  simple8bDecode64,
  simple8bEncode,
  simple8bEncodeBig,
} from "./simple8b.ts";

const NS_PER_MS = 1_000_000;
const TWO_32 = 4294967296;
/** The largest ms delta whose nanoseconds stay below 2^53 with any subMs difference. */
const MAX_NUMBER_DELTA_MS = 9_007_199_253;
/** floor(INT64_MIN / 1e6) and floor(INT64_MAX / 1e6), with the subMs bounds at the ends. */
const MIN_MS = -9_223_372_036_855, MIN_MS_SUB = 224_192;
const MAX_MS = 9_223_372_036_854, MAX_MS_SUB = 775_807;

/** The decoded column: two arrays of equal length. */
export interface TimestampColumn {
  timesMs: Float64Array;
  timesSubMs: Float64Array;
}

function inRange(ms: number, sub: number): boolean {
  if (ms > MIN_MS && ms < MAX_MS) return true;
  if (ms === MIN_MS) return sub >= MIN_MS_SUB;
  if (ms === MAX_MS) return sub <= MAX_MS_SUB;
  return false;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function gcdBig(a: bigint, b: bigint): bigint {
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function checkInput(timesMs: Float64Array, timesSubMs: Float64Array): void {
  const count = timesMs.length;
  if (timesSubMs.length !== count) {
    throw new Error(
      `BUG: encodeTimestamps: ${count} ms values but ${timesSubMs.length} subMs values`,
    );
  }
  checkCount(count, "encodeTimestamps");
  let pm = -Infinity, ps = 0;
  for (let i = 0; i < count; i++) {
    const ms = timesMs[i], sub = timesSubMs[i];
    if (!Number.isInteger(ms) || !Number.isInteger(sub) || sub < 0 || sub >= NS_PER_MS) {
      throw new Error(`BUG: encodeTimestamps: bad instant (${ms}, ${sub}) at index ${i}`);
    }
    if (ms < pm || (ms === pm && sub < ps)) {
      throw new Error(
        `BUG: encodeTimestamps: instants not sorted at index ${i}: (${ms}, ${sub}) after (${pm}, ${ps})`,
      );
    }
    pm = ms;
    ps = sub;
  }
  if (!inRange(timesMs[0], timesSubMs[0]) || !inRange(pm, ps)) {
    throw new Error("BUG: encodeTimestamps: instants outside the int64 nanosecond range");
  }
}

/**
 * Appends an encoded block of instants and returns the encoding chosen.
 * @throws {Error} `BUG:` on input that breaks the contract (see the module doc).
 * @example
 * ```ts
 * const w = new ByteWriter();
 * const ms = new Float64Array([1_700_000_000_000, 1_700_000_010_000, 1_700_000_020_000]);
 * encodeTimestamps(ms, new Float64Array(3), w); // Encoding.TimestampsRle, 12 bytes
 * ```
 */
export function encodeTimestamps(
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  out: ByteWriter,
): number {
  checkInput(timesMs, timesSubMs);
  const count = timesMs.length;
  const ms0 = timesMs[0], sub0 = timesSubMs[0];
  const start = out.length;

  // Deltas as normalised (ms, subMs) pairs: equal pairs <=> equal nanosecond deltas.
  let equal = true;
  let small = true;
  let dMs0 = 0, dSub0 = 0;
  for (let i = 1; i < count; i++) {
    let dMs = timesMs[i] - timesMs[i - 1];
    let dSub = timesSubMs[i] - timesSubMs[i - 1];
    if (dSub < 0) {
      dMs -= 1;
      dSub += NS_PER_MS;
    }
    if (i === 1) {
      dMs0 = dMs;
      dSub0 = dSub;
    } else if (dMs !== dMs0 || dSub !== dSub0) {
      equal = false;
    }
    if (dMs > MAX_NUMBER_DELTA_MS) small = false;
  }
  if (equal) {
    out.u8(Encoding.TimestampsRle);
    out.uvarint(count);
    out.varint(ms0);
    out.uvarint(sub0);
    out.uvarint(dMs0);
    out.uvarint(dSub0);
    return Encoding.TimestampsRle;
  }
  const rawSize = 1 + 3 + 12 * count;
  const id = small
    ? encodeDeltasNumber(timesMs, timesSubMs, out)
    : encodeDeltasBig(timesMs, timesSubMs, out);
  if (id !== 0 && out.length - start <= rawSize) return id;
  out.truncate(start);
  out.u8(Encoding.TimestampsRaw);
  out.uvarint(count);
  for (let i = 0; i < count; i++) {
    out.f64(timesMs[i]);
    out.u32(timesSubMs[i]);
  }
  return Encoding.TimestampsRaw;
}

function writeFirst(out: ByteWriter, id: number, count: number, ms: number, sub: number): void {
  out.u8(id);
  out.uvarint(count);
  out.varint(ms);
  out.uvarint(sub);
}

/** Every delta below 2^53 ns: delta and delta-of-delta in numbers; writes the smaller. */
function encodeDeltasNumber(
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  out: ByteWriter,
): number {
  const count = timesMs.length;
  const q = new Float64Array(count - 1);
  let g = 0;
  for (let i = 1; i < count; i++) {
    const d = (timesMs[i] - timesMs[i - 1]) * NS_PER_MS + (timesSubMs[i] - timesSubMs[i - 1]);
    q[i - 1] = d;
    if (g !== 1) g = gcd(d, g);
  }
  if (g > 1) { for (let i = 0; i < q.length; i++) q[i] /= g; }
  // Delta-of-delta, zigzag: exact while |dod| < 2^52 (q < 2^53 makes |dod| < 2^53).
  const z = new Float64Array(count - 2);
  let dodOk = true;
  for (let i = 1; i < q.length; i++) {
    const dod = q[i] - q[i - 1];
    if (dod >= 2 ** 52 || dod <= -(2 ** 52)) {
      dodOk = false;
      break;
    }
    z[i - 1] = dod >= 0 ? 2 * dod : -2 * dod - 1;
  }
  const start = out.length;
  writeFirst(out, Encoding.TimestampsDelta, count, timesMs[0], timesSubMs[0]);
  out.uvarint(g);
  simple8bEncode(q, out);
  if (!dodOk) return Encoding.TimestampsDelta;
  const deltaBytes = out.view().slice(start);
  out.truncate(start);
  writeFirst(out, Encoding.TimestampsDeltaOfDelta, count, timesMs[0], timesSubMs[0]);
  out.uvarint(g);
  out.uvarint(q[0]);
  simple8bEncode(z, out);
  if (out.length - start < deltaBytes.length) return Encoding.TimestampsDeltaOfDelta;
  out.truncate(start);
  out.bytes(deltaBytes);
  return Encoding.TimestampsDelta;
}

/** Some delta of 2^53 ns or more: deltas as bigints (slow path); 0 when they do not fit. */
function encodeDeltasBig(timesMs: Float64Array, timesSubMs: Float64Array, out: ByteWriter): number {
  const count = timesMs.length;
  const q: bigint[] = new Array(count - 1);
  let g = 0n;
  for (let i = 1; i < count; i++) {
    const d = BigInt(timesMs[i] - timesMs[i - 1]) * 1_000_000n +
      BigInt(timesSubMs[i] - timesSubMs[i - 1]);
    q[i - 1] = d;
    if (g !== 1n) g = gcdBig(d, g);
  }
  for (let i = 0; i < q.length; i++) {
    q[i] /= g;
    if (q[i] > SIMPLE8B_MAX) return 0;
  }
  writeFirst(out, Encoding.TimestampsDelta, count, timesMs[0], timesSubMs[0]);
  out.uvarintBig(g);
  simple8bEncodeBig(q, out);
  return Encoding.TimestampsDelta;
}

/**
 * Decodes a block written by {@linkcode encodeTimestamps}. With `distinct`, a block repeating an
 * instant is refused too (a segment block never holds two values at one instant): in the delta
 * paths the check runs once per distinct delta, in RLE once per block, so it is almost free.
 * @throws {CodecError} on any inconsistency in the bytes, including instants that would fall
 *   outside the int64 nanosecond range or go backwards (or repeat, with `distinct`).
 */
export function decodeTimestamps(block: Uint8Array, distinct = false): TimestampColumn {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x10, "timestamp");
  const timesMs = new Float64Array(count);
  const timesSubMs = new Float64Array(count);
  if (id === Encoding.TimestampsRaw) {
    decodeRaw(r, timesMs, timesSubMs, distinct);
    return { timesMs, timesSubMs };
  }
  const firstAt = r.offset;
  let ms = r.varint("first timestamp ms");
  let sub = r.uvarint("first timestamp subMs");
  if (sub >= NS_PER_MS) r.fail(`first timestamp subMs ${sub} is not below 1e6`, firstAt);
  if (!inRange(ms, sub)) r.fail(`first timestamp (${ms}, ${sub}) outside int64 ns`, firstAt);
  timesMs[0] = ms;
  timesSubMs[0] = sub;
  if (id === Encoding.TimestampsRle) {
    const dAt = r.offset;
    const dMs = r.uvarint("timestamp delta ms");
    const dSub = r.uvarint("timestamp delta subMs");
    if (dSub >= NS_PER_MS) r.fail(`timestamp delta subMs ${dSub} is not below 1e6`, dAt);
    if (distinct && count > 1 && dMs === 0 && dSub === 0) {
      r.fail("timestamp RLE delta 0 repeats the first instant", dAt);
    }
    r.expectEnd("timestamp RLE block");
    for (let i = 1; i < count; i++) {
      ms += dMs;
      sub += dSub;
      if (sub >= NS_PER_MS) {
        sub -= NS_PER_MS;
        ms += 1;
      }
      timesMs[i] = ms;
      timesSubMs[i] = sub;
    }
  } else {
    const gAt = r.offset;
    const gBig = r.uvarintBig("timestamp delta scale");
    if (gBig === 0n) r.fail("timestamp delta scale is 0", gAt);
    if (id === Encoding.TimestampsDelta) decodeDelta(r, gBig, timesMs, timesSubMs, distinct);
    else decodeDeltaOfDelta(r, gBig, timesMs, timesSubMs, distinct);
    r.expectEnd("timestamp block");
  }
  if (!inRange(timesMs[count - 1], timesSubMs[count - 1])) {
    throw new CodecError(0, "timestamps run outside the int64 nanosecond range");
  }
  return { timesMs, timesSubMs };
}

function decodeRaw(
  r: ByteReader,
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  distinct: boolean,
): void {
  const count = timesMs.length;
  r.need(12 * count, "raw timestamps");
  let pm = -Infinity, ps = 0;
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    const ms = r.f64();
    const sub = r.u32();
    if (!Number.isInteger(ms) || sub >= NS_PER_MS || !inRange(ms, sub)) {
      r.fail(`raw timestamp (${ms}, ${sub}) is not a valid instant`, at);
    }
    if (ms < pm || (ms === pm && sub < ps)) r.fail("raw timestamps go backwards", at);
    if (distinct && ms === pm && sub === ps) r.fail("raw timestamp repeats the one before", at);
    timesMs[i] = pm = ms;
    timesSubMs[i] = ps = sub;
  }
  r.expectEnd("raw timestamp block");
}

/**
 * Adds nanosecond deltas `g * q[i]` to the first instant. `q` comes as 64-bit halves; each
 * delta takes the number path when exact, the BigInt path otherwise. With `distinct`, a delta 0
 * is refused (checked where a delta differs from the one before, so not once per value).
 */
function accumulate(
  g: bigint,
  hi: Uint32Array,
  lo: Uint32Array,
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  distinct: boolean,
): void {
  const count = timesMs.length;
  const gn = g <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : Infinity;
  let ms = timesMs[0], sub = timesSubMs[0];
  let lastD = -1, dMs = 0, dSub = 0;
  for (let i = 1; i < count; i++) {
    const h = hi[i - 1];
    const d = gn * (h * TWO_32 + lo[i - 1]);
    if (d !== lastD) {
      if (distinct && d === 0) throw new CodecError(0, `timestamp delta 0 at value ${i}`);
      if (h < 0x200000 && d <= Number.MAX_SAFE_INTEGER) {
        dMs = Math.floor(d / NS_PER_MS);
        dSub = d - dMs * NS_PER_MS;
        if (dSub < 0) {
          dMs -= 1;
          dSub += NS_PER_MS;
        } else if (dSub >= NS_PER_MS) {
          dMs += 1;
          dSub -= NS_PER_MS;
        }
        lastD = d;
      } else {
        // Also a 0 quotient when g is past 2^53 (d is NaN then).
        const big = g * ((BigInt(h) << 32n) | BigInt(lo[i - 1]));
        if (distinct && big === 0n) throw new CodecError(0, `timestamp delta 0 at value ${i}`);
        dMs = Number(big / 1_000_000n);
        dSub = Number(big % 1_000_000n);
        lastD = -1;
      }
    }
    ms += dMs;
    sub += dSub;
    if (sub >= NS_PER_MS) {
      sub -= NS_PER_MS;
      ms += 1;
    }
    timesMs[i] = ms;
    timesSubMs[i] = sub;
  }
}

function decodeDelta(
  r: ByteReader,
  g: bigint,
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  distinct: boolean,
): void {
  const n1 = timesMs.length - 1;
  const hi = new Uint32Array(n1), lo = new Uint32Array(n1);
  simple8bDecode64(r, n1, hi, lo);
  accumulate(g, hi, lo, timesMs, timesSubMs, distinct);
}

function decodeDeltaOfDelta(
  r: ByteReader,
  g: bigint,
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  distinct: boolean,
): void {
  const at = r.offset;
  const n1 = timesMs.length - 1;
  if (g > BigInt(Number.MAX_SAFE_INTEGER)) r.fail("delta-of-delta scale beyond 2^53", at);
  const gn = Number(g);
  let q = r.uvarint("first timestamp delta");
  const z = new Float64Array(n1 - 1);
  simple8bDecode(r, n1 - 1, z);
  const hi = new Uint32Array(n1), lo = new Uint32Array(n1);
  for (let i = 0; i < n1; i++) {
    if (i > 0) {
      const zz = z[i - 1];
      q += zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
    }
    if (q < 0 || gn * q > Number.MAX_SAFE_INTEGER) {
      r.fail(`delta-of-delta gives delta ${q} x ${gn} outside [0, 2^53) at value ${i + 1}`, at);
    }
    const l = q >>> 0;
    lo[i] = l;
    hi[i] = (q - l) / TWO_32;
  }
  accumulate(g, hi, lo, timesMs, timesSubMs, distinct);
}
