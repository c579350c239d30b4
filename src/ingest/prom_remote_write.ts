/**
 * Prometheus remote_write (protocol 1.0): a snappy-compressed (block format) protobuf
 * `prometheus.WriteRequest` from the published remote.proto and types.proto:
 *
 * ```proto
 * message WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 * message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; ... }
 * message Label { string name = 1; string value = 2; }
 * message Sample { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 * ```
 *
 * Mapping (the InfluxDB 1.x / VictoriaMetrics convention): the `__name__` label is the
 * measurement, the other labels are tags (sorted; empty values dropped), each sample is one
 * point with the float field `value` at its millisecond timestamp. Metadata, exemplars and
 * native histograms are ignored. NaN and ±Inf samples (Prometheus' staleness markers are
 * NaNs) cannot be stored as InfluxDB floats: they are skipped and counted, not errors. A
 * series without `__name__`, or with a label given twice, is rejected with its 1-based series
 * number.
 * @module
 */
import { snappyLength, snappyUncompressBlock } from "./_snappy.ts";
import {
  FieldLayouts,
  FieldType,
  PackedPoint,
  ParseError,
  sortTags,
  type Tag,
  TooLargeError,
} from "../core/mod.ts";
import type { DecodedBatch } from "./batches.ts";
import { Wire } from "./_wire.ts";

/** A decoded remote_write request. */
export interface PromWrite {
  batch: DecodedBatch;
  /** NaN/±Inf samples skipped (staleness markers). */
  skipped: number;
}

/**
 * Uncompresses a snappy block, refusing one that declares more than `maxBytes` (a snappy
 * bomb is refused before anything is allocated).
 * `what` names the body in the error (remote_write's and remote_read's share this).
 * @throws {TooLargeError} beyond `maxBytes`.
 * @throws {ParseError} for bytes that are not snappy.
 */
export function uncompressSnappy(
  data: Uint8Array,
  maxBytes: number,
  what = "remote_write body",
): Uint8Array {
  const length = snappyLength(data);
  if (length < 0) throw new ParseError("malformed snappy data: no valid length header");
  if (length > maxBytes) {
    throw new TooLargeError(
      `${what} too large: it expands to ${length} bytes, the limit is ${maxBytes}`,
      { details: { limit: maxBytes } },
    );
  }
  try {
    return snappyUncompressBlock(data);
  } catch (error) {
    throw new ParseError(`malformed snappy data: ${(error as Error).message}`, { cause: error });
  }
}

const MAX_SAFE_MS = 9223372036854; // |ms| * 1e6 stays inside InfluxDB's int64 nanosecond range

/** Options of {@linkcode decodePromWrite}. */
export interface PromWriteOptions {
  /**
   * The shared field layouts of the points decoded (one per database on a server): every
   * sample's point has the layout of one float field `value`, found here once per request.
   */
  layouts?: FieldLayouts;
}

/** The keys and types of a sample's one field. */
const VALUE_KEYS = ["value"], VALUE_TYPES = [FieldType.Float];

/**
 * Decodes an uncompressed remote_write WriteRequest into points.
 *
 * @example
 * ```ts
 * const { batch } = decodePromWrite(uncompressSnappy(body, 25_000_000));
 * ```
 * @throws {ParseError} when the bytes are not a WriteRequest.
 */
export function decodePromWrite(bytes: Uint8Array, options: PromWriteOptions = {}): PromWrite {
  const w = new Wire(bytes, 0, bytes.length, "remote_write WriteRequest");
  const out: PromWrite = {
    batch: { points: [], errors: [], origins: [], originKind: "record", bytes: bytes.length },
    skipped: 0,
  };
  let series = 0;
  const layout = (options.layouts ?? new FieldLayouts()).find(VALUE_KEYS, VALUE_TYPES, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (w.pos < w.end) {
    const tag = w.uint32();
    if (tag !== 10) {
      w.skip(tag & 7);
      continue;
    }
    series++;
    const n = w.uint32();
    const end = w.pos + n;
    if (end > w.end) w.fail(`series ${series}: length ${n} runs past the end`);
    const ts = new Wire(bytes, w.pos, end, "remote_write WriteRequest");
    w.pos = end;
    let measurement = "", names = 0;
    const tags: Tag[] = [];
    const samples: number[] = []; // offsets of Sample messages
    while (ts.pos < ts.end) {
      const t = ts.uint32();
      if (t === 10) {
        const label = new Wire(ts.bytes(), 0, undefined, "remote_write Label");
        let name = "", value = "";
        while (label.pos < label.end) {
          const lt = label.uint32();
          if (lt === 10) name = label.string();
          else if (lt === 18) value = label.string();
          else label.skip(lt & 7);
        }
        if (name === "__name__") {
          measurement = value;
          names++;
        } else if (name !== "" && value !== "") tags.push({ key: name, value });
      } else if (t === 18) {
        const len = ts.uint32();
        samples.push(ts.pos, ts.pos + len);
        ts.pos += len;
        if (ts.pos > ts.end) ts.fail(`series ${series}: a sample runs past the end`);
      } else ts.skip(t & 7);
    }
    if (measurement === "") {
      out.batch.errors.push({
        record: series,
        field: "__name__",
        reason: "series has no __name__ label",
      });
      continue;
    }
    sortTags(tags);
    // A label given twice has no one value (Prometheus refuses such a series too).
    let twice = names > 1 ? "__name__" : undefined;
    for (let i = 1; i < tags.length && twice === undefined; i++) {
      if (tags[i].key === tags[i - 1].key) twice = tags[i].key;
    }
    if (twice !== undefined) {
      out.batch.errors.push({
        record: series,
        field: twice,
        reason: `label ${JSON.stringify(twice)} given twice (series ${measurement})`,
      });
      continue;
    }
    // Every sample of the series shares one tag array (Point.tags is read-only): no copy per
    // sample. One exact-size copy, not the array the labels were pushed to, whose spare
    // capacity would be kept. Not frozen: Object.freeze costs more per series than the copies
    // it would guard, where line protocol freezes once per series its cache holds across
    // requests.
    const seriesTags = tags.slice();
    for (let i = 0; i < samples.length; i += 2) {
      const s = new Wire(bytes, samples[i], samples[i + 1], "remote_write Sample");
      let value = 0, ms = 0, bad = false;
      while (s.pos < s.end) {
        const st = s.uint32();
        if (st === 9) {
          if (s.pos + 8 > s.end) s.fail("truncated sample value");
          value = view.getFloat64(s.pos, true);
          s.pos += 8;
        } else if (st === 16) {
          s.varint64();
          const negative = s.hi >= 0x80000000;
          let hi = s.hi, lo = s.lo;
          if (negative) {
            lo = (~lo + 1) >>> 0;
            hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
          }
          const magnitude = hi * 4294967296 + lo;
          if (magnitude > MAX_SAFE_MS) bad = true;
          ms = negative ? -magnitude : magnitude;
        } else s.skip(st & 7);
      }
      if (bad) {
        out.batch.errors.push({
          record: series,
          field: "timestamp",
          reason: `sample time outside range (series ${measurement})`,
        });
        continue;
      }
      if (!Number.isFinite(value)) {
        out.skipped++;
        continue;
      }
      out.batch.points.push(
        new PackedPoint(measurement, seriesTags, layout, [value], { ms, subMs: 0 }),
      );
      out.batch.origins!.push(series);
    }
  }
  return out;
}
