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
  FieldLayouts,
  FieldType,
  type FieldValue,
  type Instant,
  sortTags,
  type Tag,
} from "../core/mod.ts";
import type { DecodedBatch, IngestIssue } from "./batches.ts";
import { instantOf, int64Value, Wire } from "./_wire.ts";
import { FieldCollector } from "./_packed_fields.ts";
import { TagInterner } from "./json_points.ts";

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
  /**
   * The shared field layouts of the points decoded (see `PackedPoint`; one per database on a
   * server); the request's own when absent.
   */
  layouts?: FieldLayouts;
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
  const scope: RequestScope = {
    layouts: options.layouts ?? new FieldLayouts(),
    tags: new TagInterner(),
    fields: new FieldCollector(),
    defaultTime: options.defaultTime,
  };
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
      decodePoint(new Wire(bytes, w.pos, end), record, scope, out.batch);
      w.pos = end;
    } else if (field === 4 && wireType === 0) {
      w.varint64();
      out.atomic = w.lo !== 0 || w.hi !== 0;
    } else w.skip(wireType);
  }
  return out;
}

/** What the points of one request share. */
interface RequestScope {
  layouts: FieldLayouts;
  /** One Tag object per key and value: the points of a series share theirs. */
  tags: TagInterner;
  /** The scratch of a point's fields. */
  fields: FieldCollector;
  defaultTime: Instant;
}

function decodePoint(w: Wire, record: number, scope: RequestScope, batch: DecodedBatch): void {
  let measurement = "";
  const tags: Tag[] = [];
  const fields = scope.fields;
  fields.begin();
  let time: Instant | undefined = scope.defaultTime;
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
      else if (value !== "") tags.push(scope.tags.tag(key, value));
    } else if (field === 3 && wireType === 2) {
      const sub = new Wire(w.bytes());
      let key = "";
      // The last value given wins, as with any repeated proto3 scalar.
      let type: FieldType | 0 = 0, value: FieldValue = 0;
      while (sub.pos < sub.end) {
        const tt = sub.uint32();
        switch (tt) {
          case 10:
            key = sub.string();
            break;
          case 17: // float_value, fixed64
            type = FieldType.Float;
            value = sub.double();
            break;
          case 24: // int_value
            sub.varint64();
            type = FieldType.Integer;
            value = int64Value(sub.hi, sub.lo, true);
            break;
          case 32: // uint_value
            sub.varint64();
            type = FieldType.Unsigned;
            value = int64Value(sub.hi, sub.lo, false);
            break;
          case 42:
            type = FieldType.String;
            value = sub.string();
            break;
          case 48:
            sub.varint64();
            type = FieldType.Boolean;
            value = sub.lo !== 0 || sub.hi !== 0;
            break;
          default:
            sub.skip(tt & 7);
        }
      }
      if (key === "") {
        problem ??= { record, field: "fields", reason: "a field has an empty key" };
      } else if (type === 0) {
        problem ??= { record, field: key, reason: `field ${JSON.stringify(key)} has no value` };
      } else if (type === FieldType.Float && !Number.isFinite(value as number)) {
        problem ??= {
          record,
          field: key,
          reason: `field ${JSON.stringify(key)}: ${value} is not a finite float`,
        };
      } else fields.add(key, type, value);
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
  if (!problem) problem = repeatedField(fields, record);
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
  batch.points.push(fields.point(scope.layouts, measurement, tags, time!));
  batch.origins!.push(record);
}

/**
 * Fields per point up to which a repeated key is looked for pairwise (cheaper than a Set for the
 * few fields of real points); past it a Set keeps a point of 100,000 fields linear.
 */
const FEW_FIELDS = 16;

/** The problem of a key given twice among `fields` (the first repeat, in order), or undefined. */
function repeatedField(fields: FieldCollector, record: number): IngestIssue | undefined {
  const twice = (key: string): IngestIssue => ({
    record,
    field: key,
    reason: `field ${JSON.stringify(key)} given twice`,
  });
  const n = fields.length;
  if (n <= FEW_FIELDS) {
    for (let a = 1; a < n; a++) {
      const key = fields.keyAt(a);
      for (let b = 0; b < a; b++) if (key === fields.keyAt(b)) return twice(key);
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const key = fields.keyAt(i);
    if (seen.has(key)) return twice(key);
    seen.add(key);
  }
  return undefined;
}
