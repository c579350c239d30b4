/**
 * The points of a body said in the other write formats, for the benches that compare formats
 * (format_heap_bench.ts, ingest_cores_bench.ts): native JSON records (timestamps in seconds),
 * CSV, protobuf, and Prometheus remote_write (a series per measurement, tag set and field).
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FieldType, type Point, sortTags } from "../src/core/mod.ts";
import {
  FieldSchema,
  PointSchema,
  TagSchema,
  WriteRequestSchema,
} from "../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const enc = new TextEncoder();

/** A native JSON record of a point (its timestamp in seconds). */
export function jsonRecord(p: Point): string {
  return JSON.stringify({
    measurement: p.measurement,
    tags: Object.fromEntries(p.tags.map((t) => [t.key, t.value])),
    fields: Object.fromEntries(p.fields.map((f) => [f.key, f.value])),
    timestamp: p.timeMs / 1000,
  });
}

/** A CSV body: time (seconds), measurement, tags, fields; every point with the first's keys. */
export function csvBody(points: Point[]): Uint8Array {
  const header = [
    "time",
    "measurement",
    ...points[0].tags.map((t) => t.key),
    ...points[0].fields.map((f) => f.key),
  ];
  const row = (p: Point) =>
    [p.timeMs / 1000, p.measurement, ...p.tags.map((t) => t.value), ...p.fields.map((f) => f.value)]
      .join(",");
  return enc.encode(header.join(",") + "\n" + points.map(row).join("\n") + "\n");
}

/** A protobuf field value of the field's own type. */
function protobufValue(f: Point["fields"][number]) {
  switch (f.type) {
    case FieldType.Integer:
      return { case: "intValue" as const, value: BigInt(f.value as number) };
    case FieldType.Unsigned:
      return { case: "uintValue" as const, value: BigInt(f.value as number) };
    case FieldType.String:
      return { case: "stringValue" as const, value: f.value as string };
    case FieldType.Boolean:
      return { case: "boolValue" as const, value: f.value as boolean };
    default:
      return { case: "floatValue" as const, value: f.value as number };
  }
}

/** An `epochnexus.ingest.v1.WriteRequest` of the points, each field of its own type. */
export function protobufBody(points: Point[]): Uint8Array {
  return toBinary(
    WriteRequestSchema,
    create(WriteRequestSchema, {
      points: points.map((p) =>
        create(PointSchema, {
          measurement: p.measurement,
          tags: p.tags.map((t) => create(TagSchema, t)),
          fields: p.fields.map((f) => create(FieldSchema, { key: f.key, value: protobufValue(f) })),
          timeUnixNano: BigInt(p.timeMs) * 1_000_000n + BigInt(p.timeSubMs),
        })
      ),
    }),
  );
}

/** A protobuf writer just big enough for remote_write (length-delimited fields, varints). */
class ProtoWriter {
  readonly bytes: number[] = [];
  varint(v: number): this {
    for (; v >= 0x80; v = Math.floor(v / 128)) this.bytes.push((v % 128) | 0x80);
    this.bytes.push(v);
    return this;
  }
  message(field: number, body: number[]): this {
    this.bytes.push((field << 3) | 2);
    this.varint(body.length);
    for (const b of body) this.bytes.push(b);
    return this;
  }
  string(field: number, text: string): this {
    return this.message(field, [...enc.encode(text)]);
  }
}

/**
 * An uncompressed remote_write WriteRequest: a series per measurement, tag set and float field
 * (`<measurement>_<field>`), a sample per point (positive millisecond times).
 */
export function promBody(points: Point[]): Uint8Array {
  const series = new Map<string, { labels: [string, string][]; samples: number[][] }>();
  for (const p of points) {
    for (const f of p.fields) {
      const name = `${p.measurement}_${f.key}`;
      const key = `${name},${p.tags.map((t) => t.value).join(",")}`;
      let s = series.get(key);
      if (!s) {
        const labels = sortTags([{ key: "__name__", value: name }, ...p.tags]);
        series.set(key, s = { labels: labels.map((t) => [t.key, t.value]), samples: [] });
      }
      const sample = new ProtoWriter();
      sample.bytes.push(0x09, ...new Uint8Array(new Float64Array([f.value as number]).buffer));
      sample.bytes.push(0x10);
      sample.varint(p.timeMs);
      s.samples.push(sample.bytes);
    }
  }
  const out = new ProtoWriter();
  for (const { labels, samples } of series.values()) {
    const ts = new ProtoWriter();
    for (const [k, v] of labels) ts.message(1, new ProtoWriter().string(1, k).string(2, v).bytes);
    for (const s of samples) ts.message(2, s);
    out.message(1, ts.bytes);
  }
  return Uint8Array.from(out.bytes);
}
