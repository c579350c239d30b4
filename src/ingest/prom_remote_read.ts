/**
 * Prometheus remote_read (the SAMPLES response type): the protobuf messages of the published
 * remote.proto and types.proto (tests/ingest/testdata/prometheus/), snappy-compressed in block
 * format both ways:
 *
 * ```proto
 * message ReadRequest { repeated Query queries = 1;
 *                       repeated ResponseType accepted_response_types = 2; }
 * message Query { int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2;
 *                 repeated LabelMatcher matchers = 3; ReadHints hints = 4; }
 * message LabelMatcher { Type type = 1; string name = 2; string value = 3; }  // EQ NEQ RE NRE
 * message ReadResponse { repeated QueryResult results = 1; }
 * message QueryResult { repeated TimeSeries timeseries = 1; }
 * message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
 * message Label { string name = 1; string value = 2; }
 * message Sample { double value = 1; int64 timestamp = 2; }
 * ```
 *
 * Hints are ignored (they only let a store answer less precisely). The encoders of the request
 * and decoders of the response are here too: tests and clients speak the same wire code.
 * @module
 */
import { ParseError } from "../core/mod.ts";
import { snappyCompressBlock } from "./_snappy.ts";
import { int64Value, Wire } from "./_wire.ts";

/** A label matcher's type, by its protobuf number. */
export const MATCH_TYPES = ["EQ", "NEQ", "RE", "NRE"] as const;
/** `=`, `!=`, `=~`, `!~`. */
export type MatchType = typeof MATCH_TYPES[number];

/** The response types of remote.proto: SAMPLES = 0, STREAMED_XOR_CHUNKS = 1. */
export const RESPONSE_SAMPLES = 0;

/** One label matcher of a query. */
export interface LabelMatcher {
  type: MatchType;
  name: string;
  value: string;
}

/** One query of a ReadRequest: matchers over `[startMs, endMs]` (both ends included). */
export interface PromReadQuery {
  startMs: number;
  endMs: number;
  matchers: LabelMatcher[];
}

/** A decoded ReadRequest. */
export interface PromReadRequest {
  queries: PromReadQuery[];
  /** Empty means SAMPLES only (clients before 2.13). */
  acceptedResponseTypes: number[];
}

/** One series of an answer: labels sorted by name (with `__name__`), samples by time. */
export interface PromReadSeries {
  labels: { name: string; value: string }[];
  timestampsMs: number[];
  values: number[];
}

// Timestamps beyond this many ms lie outside InfluxDB's int64 nanosecond range: clamped.
const MAX_MS = 9223372036854;

function clampMs(v: number | bigint): number {
  if (typeof v === "bigint") return v < 0n ? -MAX_MS : MAX_MS;
  return Math.max(-MAX_MS, Math.min(MAX_MS, v));
}

/**
 * Decodes an uncompressed ReadRequest.
 * @throws {ParseError} when the bytes are not one (byte offset and what was wrong).
 */
export function decodePromReadRequest(bytes: Uint8Array): PromReadRequest {
  const w = new Wire(bytes, 0, bytes.length, "remote_read ReadRequest");
  const out: PromReadRequest = { queries: [], acceptedResponseTypes: [] };
  while (w.pos < w.end) {
    const tag = w.uint32();
    if (tag === 10) {
      const n = w.uint32();
      if (w.pos + n > w.end) {
        w.fail(`query ${out.queries.length + 1}: length ${n} runs past the end`);
      }
      out.queries.push(decodeQuery(new Wire(bytes, w.pos, w.pos + n, "remote_read Query")));
      w.pos += n;
    } else if (tag === 16) {
      out.acceptedResponseTypes.push(w.uint32());
    } else if (tag === 18) {
      // Packed repeated enum.
      const packed = new Wire(w.bytes(), 0, undefined, "remote_read ReadRequest");
      while (packed.pos < packed.end) out.acceptedResponseTypes.push(packed.uint32());
    } else w.skip(tag & 7);
  }
  return out;
}

function decodeQuery(w: Wire): PromReadQuery {
  const q: PromReadQuery = { startMs: 0, endMs: 0, matchers: [] };
  while (w.pos < w.end) {
    const tag = w.uint32();
    if (tag === 8 || tag === 16) {
      w.varint64();
      const ms = clampMs(int64Value(w.hi, w.lo, true));
      if (tag === 8) q.startMs = ms;
      else q.endMs = ms;
    } else if (tag === 26) {
      const m = new Wire(w.bytes(), 0, undefined, "remote_read LabelMatcher");
      let type = 0, name = "", value = "";
      while (m.pos < m.end) {
        const t = m.uint32();
        if (t === 8) type = m.uint32();
        else if (t === 18) name = m.string();
        else if (t === 26) value = m.string();
        else m.skip(t & 7);
      }
      if (type >= MATCH_TYPES.length) m.fail(`unknown matcher type ${type} for label ${name}`);
      q.matchers.push({ type: MATCH_TYPES[type], name, value });
    } else w.skip(tag & 7);
  }
  return q;
}

/** Builds protobuf bytes; a nested message is written in place, then its length put in front. */
class WireWriter {
  buf = new Uint8Array(1024);
  pos = 0;
  readonly #scratch = new Float64Array(1);
  readonly #scratchBytes = new Uint8Array(this.#scratch.buffer);
  readonly #encoder = new TextEncoder();

  #room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  uint32(n: number): void {
    this.#room(5);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  /** A safe integer as int64 (negative ones in two's complement, 10 bytes). */
  int64(n: number): void {
    const m = Math.abs(n);
    let lo = m % 4294967296, hi = Math.floor(m / 4294967296);
    if (n < 0) {
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    this.#room(10);
    while (hi !== 0 || lo >= 0x80) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }

  double(v: number): void {
    this.#room(8);
    this.#scratch[0] = v;
    this.buf.set(this.#scratchBytes, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    this.#room(5 + s.length * 3);
    const start = this.begin();
    this.pos += this.#encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
    this.end(start);
  }

  begin(): number {
    return this.pos;
  }

  /** Puts the length of what was written since `start` in front of it. */
  end(start: number): void {
    const len = this.pos - start;
    let size = 1;
    for (let n = len; n >= 0x80; n >>>= 7) size++;
    this.#room(size);
    this.buf.copyWithin(start + size, start, this.pos);
    const body = this.pos;
    this.pos = start;
    this.uint32(len);
    this.pos = body + size;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Encodes a ReadResponse (one result per query, in order), uncompressed. */
export function encodePromReadResponse(results: PromReadSeries[][]): Uint8Array {
  const w = new WireWriter();
  for (const series of results) {
    w.uint32(10);
    const result = w.begin();
    for (const s of series) {
      w.uint32(10);
      const ts = w.begin();
      for (const label of s.labels) {
        w.uint32(10);
        const l = w.begin();
        w.uint32(10);
        w.string(label.name);
        w.uint32(18);
        w.string(label.value);
        w.end(l);
      }
      for (let i = 0; i < s.values.length; i++) {
        w.uint32(18);
        const sample = w.begin();
        w.uint32(9);
        w.double(s.values[i]);
        w.uint32(16);
        w.int64(s.timestampsMs[i]);
        w.end(sample);
      }
      w.end(ts);
    }
    w.end(result);
  }
  return w.bytes();
}

/** Encodes a ReadRequest, uncompressed (tests and clients). */
export function encodePromReadRequest(request: PromReadRequest): Uint8Array {
  const w = new WireWriter();
  for (const q of request.queries) {
    w.uint32(10);
    const query = w.begin();
    w.uint32(8);
    w.int64(q.startMs);
    w.uint32(16);
    w.int64(q.endMs);
    for (const m of q.matchers) {
      w.uint32(26);
      const matcher = w.begin();
      w.uint32(8);
      w.uint32(MATCH_TYPES.indexOf(m.type));
      w.uint32(18);
      w.string(m.name);
      w.uint32(26);
      w.string(m.value);
      w.end(matcher);
    }
    w.end(query);
  }
  for (const t of request.acceptedResponseTypes) {
    w.uint32(16);
    w.uint32(t);
  }
  return w.bytes();
}

/**
 * Decodes an uncompressed ReadResponse (tests and clients).
 * @throws {ParseError} when the bytes are not one.
 */
export function decodePromReadResponse(bytes: Uint8Array): PromReadSeries[][] {
  const w = new Wire(bytes, 0, bytes.length, "remote_read ReadResponse");
  const results: PromReadSeries[][] = [];
  while (w.pos < w.end) {
    const tag = w.uint32();
    if (tag !== 10) {
      w.skip(tag & 7);
      continue;
    }
    const r = new Wire(w.bytes(), 0, undefined, "remote_read QueryResult");
    const series: PromReadSeries[] = [];
    while (r.pos < r.end) {
      const t = r.uint32();
      if (t !== 10) {
        r.skip(t & 7);
        continue;
      }
      const ts = new Wire(r.bytes(), 0, undefined, "remote_read TimeSeries");
      const s: PromReadSeries = { labels: [], timestampsMs: [], values: [] };
      while (ts.pos < ts.end) {
        const f = ts.uint32();
        const inner = f === 10 || f === 18
          ? new Wire(ts.bytes(), 0, undefined, "remote_read TimeSeries")
          : undefined;
        if (inner === undefined) {
          ts.skip(f & 7);
          continue;
        }
        let name = "", value = "", v = 0, ms = 0;
        while (inner.pos < inner.end) {
          const g = inner.uint32();
          if (f === 10 && g === 10) name = inner.string();
          else if (f === 10 && g === 18) value = inner.string();
          else if (f === 18 && g === 9) v = inner.double();
          else if (f === 18 && g === 16) {
            inner.varint64();
            ms = Number(int64Value(inner.hi, inner.lo, true));
          } else inner.skip(g & 7);
        }
        if (f === 10) s.labels.push({ name, value });
        else {
          s.values.push(v);
          s.timestampsMs.push(ms);
        }
      }
      series.push(s);
    }
    results.push(series);
  }
  return results;
}

/** Snappy-compresses (block format) a remote_read answer. */
export function compressSnappy(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return snappyCompressBlock(data);
}

/** The ParseError for a request that accepts no response type this server answers. */
export function unsupportedResponseTypes(types: number[]): ParseError {
  return new ParseError(
    `remote_read: only the SAMPLES response type (0) is served; the request accepts only ${
      types.join(", ")
    } (STREAMED_XOR_CHUNKS is 1)`,
    { details: { acceptedResponseTypes: types } },
  );
}
