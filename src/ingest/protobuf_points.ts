/**
 * The protobuf ingest format: `epochnexus.ingest.v1.WriteRequest`
 * (proto/epochnexus/ingest/v1/ingest.proto), decoded straight from the wire bytes to
 * {@linkcode Point}s: no intermediate message objects, and int64 timestamps split into
 * `(timeMs, timeSubMs)` from their two 32-bit halves, without BigInt. int64/uint64 field values
 * become a `number` when safe and a `bigint` only beyond 2^53.
 *
 * A malformed message (truncated, bad wire type) is a {@linkcode ParseError} for the whole
 * body; a point that breaks a rule (no measurement, no field, a duplicate field, a time out of
 * range) is reported by its 1-based record number and the other points are kept.
 * @module
 */
import {
  type Field,
  FieldType,
  type Instant,
  ParseError,
  sortTags,
  type Tag,
} from "../core/mod.ts";
import type { DecodedBatch, IngestIssue } from "./batches.ts";

/** A decoded WriteRequest. */
export interface ProtobufWrite {
  database: string;
  retentionPolicy: string;
  atomic: boolean;
  batch: DecodedBatch;
}

/** Options of {@linkcode decodeProtobufWrite}. */
export interface ProtobufOptions {
  /** Time of points without one. */
  defaultTime: Instant;
  /** Number of the first point (for a stream of requests). @default {1} */
  firstRecord?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TWO32 = 4294967296;

/** A cursor over protobuf wire bytes. */
class Wire {
  pos: number;
  /** The two halves of the last 64-bit varint read. */
  lo = 0;
  hi = 0;

  constructor(readonly buf: Uint8Array, pos = 0, readonly end = buf.length) {
    this.pos = pos;
  }

  fail(what: string): never {
    throw new ParseError(`malformed protobuf WriteRequest at byte ${this.pos}: ${what}`, {
      details: { offset: this.pos },
    });
  }

  /** A varint up to 32 bits (tags, lengths); larger ones fail. */
  uint32(): number {
    let result = 0, shift = 0;
    while (true) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result += (b & 0x7f) * 2 ** 28;
      else if (b & 0x7f) this.fail("varint too large for a length");
      if (!(b & 0x80)) return result;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
  }

  /** A 64-bit varint into `lo` and `hi` (unsigned 32-bit halves). */
  varint64(): void {
    let lo = 0, hi = 0, shift = 0;
    while (true) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else if (shift < 63) hi |= (b & 0x7f) << (shift - 32);
      else hi |= (b & 0x01) << 31;
      if (!(b & 0x80)) break;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  bytes(): Uint8Array {
    const n = this.uint32();
    if (this.pos + n > this.end) this.fail(`length ${n} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const b = this.bytes();
    try {
      return utf8.decode(b);
    } catch {
      this.fail("a string is not valid UTF-8");
    }
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail("truncated double");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) this.fail("truncated field");
  }
}

/** The int64 in (hi, lo) as a field value: a number when safe, else a bigint. */
function int64Value(hi: number, lo: number, signed: boolean): number | bigint {
  if (signed && hi >= 0x80000000) {
    // Negative: magnitude is the two's complement.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    if (nhi < 0x200000) return -(nhi * TWO32 + nlo);
    return -((BigInt(nhi) << 32n) | BigInt(nlo));
  }
  if (hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The int64 nanoseconds in (hi, lo) as an instant, exactly, without BigInt. */
function instantOf(hi: number, lo: number): Instant | undefined {
  const negative = hi >= 0x80000000;
  let mhi = hi, mlo = lo;
  if (negative) {
    mlo = (~lo + 1) >>> 0;
    mhi = (~hi + (mlo === 0 ? 1 : 0)) >>> 0;
  }
  // InfluxDB's range is ±(2^63 - 2): refuse -2^63, -2^63+1 and 2^63-1.
  if (mhi === 0x7fffffff && mlo === 0xffffffff) return undefined;
  if (mhi === 0x80000000) return undefined;
  // value = mhi * 2^32 + mlo = mhi * 4294 * 1e6 + (mhi * 967296 + mlo); both parts exact.
  const rest = mhi * 967296 + mlo;
  const ms = mhi * 4294 + Math.floor(rest / 1e6);
  const sub = rest % 1e6;
  if (!negative) return { ms, subMs: sub };
  return sub === 0 ? { ms: -ms, subMs: 0 } : { ms: -ms - 1, subMs: 1e6 - sub };
}

/**
 * Decodes a WriteRequest.
 *
 * @example
 * ```ts
 * const { database, batch } = decodeProtobufWrite(bytes, { defaultTime: { ms: 0, subMs: 0 } });
 * batch.points; // the valid points; batch.errors: the others, by record number
 * ```
 * @throws {ParseError} when the bytes are not a WriteRequest.
 */
export function decodeProtobufWrite(bytes: Uint8Array, options: ProtobufOptions): ProtobufWrite {
  const w = new Wire(bytes);
  const out: ProtobufWrite = {
    database: "",
    retentionPolicy: "",
    atomic: false,
    batch: { points: [], errors: [], origins: [], originKind: "record", bytes: bytes.length },
  };
  let record = (options.firstRecord ?? 1) - 1;
  while (w.pos < w.end) {
    const tag = w.uint32();
    const field = tag >>> 3, wireType = tag & 7;
    if (field === 1 && wireType === 2) out.database = w.string();
    else if (field === 2 && wireType === 2) out.retentionPolicy = w.string();
    else if (field === 3 && wireType === 2) {
      const n = w.uint32();
      if (w.pos + n > w.end) w.fail(`point ${record + 1}: length ${n} runs past the end`);
      const end = w.pos + n;
      record++;
      decodePoint(new Wire(bytes, w.pos, end), record, options.defaultTime, out.batch);
      w.pos = end;
    } else if (field === 4 && wireType === 0) {
      w.varint64();
      out.atomic = w.lo !== 0 || w.hi !== 0;
    } else w.skip(wireType);
  }
  return out;
}

function decodePoint(w: Wire, record: number, defaultTime: Instant, batch: DecodedBatch): void {
  let measurement = "";
  const tags: Tag[] = [];
  const fields: Field[] = [];
  let time: Instant | undefined = defaultTime;
  let problem: IngestIssue | undefined;
  while (w.pos < w.end) {
    const tag = w.uint32();
    const field = tag >>> 3, wireType = tag & 7;
    if (field === 1 && wireType === 2) measurement = w.string();
    else if (field === 2 && wireType === 2) {
      const sub = new Wire(w.bytes());
      let key = "", value = "";
      while (sub.pos < sub.end) {
        const tt = sub.uint32();
        if (tt === 10) key = sub.string();
        else if (tt === 18) value = sub.string();
        else sub.skip(tt & 7);
      }
      if (key === "") problem ??= { record, field: "tags", reason: "a tag has an empty key" };
      else if (value !== "") tags.push({ key, value });
    } else if (field === 3 && wireType === 2) {
      const sub = new Wire(w.bytes());
      let key = "";
      let f: Field | undefined;
      while (sub.pos < sub.end) {
        const tt = sub.uint32();
        switch (tt) {
          case 10:
            key = sub.string();
            break;
          case 17: // float_value, fixed64
            f = { key: "", type: FieldType.Float, value: sub.double() };
            break;
          case 24: // int_value
            sub.varint64();
            f = { key: "", type: FieldType.Integer, value: int64Value(sub.hi, sub.lo, true) };
            break;
          case 32: // uint_value
            sub.varint64();
            f = { key: "", type: FieldType.Unsigned, value: int64Value(sub.hi, sub.lo, false) };
            break;
          case 42:
            f = { key: "", type: FieldType.String, value: sub.string() };
            break;
          case 48:
            sub.varint64();
            f = { key: "", type: FieldType.Boolean, value: sub.lo !== 0 || sub.hi !== 0 };
            break;
          default:
            sub.skip(tt & 7);
        }
      }
      if (key === "") {
        problem ??= { record, field: "fields", reason: "a field has an empty key" };
      } else if (!f) {
        problem ??= { record, field: key, reason: `field ${JSON.stringify(key)} has no value` };
      } else if (f.type === FieldType.Float && !Number.isFinite(f.value as number)) {
        problem ??= {
          record,
          field: key,
          reason: `field ${JSON.stringify(key)}: ${f.value} is not a finite float`,
        };
      } else {
        f.key = key;
        fields.push(f);
      }
    } else if (field === 4 && wireType === 0) {
      w.varint64();
      time = instantOf(w.hi, w.lo);
      if (!time) {
        problem ??= {
          record,
          field: "time_unix_nano",
          reason: "time outside range -9223372036854775806 - 9223372036854775806",
        };
      }
    } else w.skip(wireType);
  }
  if (!problem && measurement === "") {
    problem = { record, field: "measurement", reason: "missing measurement" };
  }
  if (!problem && fields.length === 0) problem = { record, reason: "a point needs a field" };
  if (!problem) {
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.key)) {
        problem = { record, field: f.key, reason: `field ${JSON.stringify(f.key)} given twice` };
        break;
      }
      seen.add(f.key);
    }
  }
  if (!problem) {
    sortTags(tags);
    for (let i = 1; i < tags.length; i++) {
      if (tags[i].key === tags[i - 1].key) {
        problem = {
          record,
          field: tags[i].key,
          reason: `tag ${JSON.stringify(tags[i].key)} given twice`,
        };
        break;
      }
    }
  }
  if (problem) {
    batch.errors.push(problem);
    return;
  }
  batch.points.push({ measurement, tags, fields, timeMs: time!.ms, timeSubMs: time!.subMs });
  batch.origins!.push(record);
}
