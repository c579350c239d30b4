/** The same records in every `/ingest` format, for tests that compare the formats. @module */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  FieldSchema,
  PointSchema,
  WriteRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const NDJSON = "application/x-ndjson";
const PROTOBUF = "application/x-protobuf";

/** A field value as the formats below can say it. */
export type Value = number | string | boolean;

/** A protobuf point of `m` with float/string/bool fields at `ns`. */
export function pbPoint(fields: Record<string, Value>, ns: bigint) {
  return create(PointSchema, {
    measurement: "m",
    fields: Object.entries(fields).map(([key, v]) =>
      create(FieldSchema, {
        key,
        value: typeof v === "number"
          ? { case: "floatValue", value: v }
          : typeof v === "string"
          ? { case: "stringValue", value: v }
          : { case: "boolValue", value: v },
      })
    ),
    timeUnixNano: ns,
  });
}

export function pbBody(points: ReturnType<typeof pbPoint>[]): Uint8Array<ArrayBuffer> {
  return toBinary(WriteRequestSchema, create(WriteRequestSchema, { points })) as Uint8Array<
    ArrayBuffer
  >;
}

/**
 * The same two records in every format: the first `good`, the second `bad`. `where` is how
 * the answer must name the second record.
 */
export function bodies(
  good: Record<string, Value>,
  bad: Record<string, Value>,
): [type: string, body: BodyInit, where: RegExp, query: string][] {
  const json = (f: Record<string, Value>, t: number) =>
    JSON.stringify({ measurement: "m", fields: f, timestamp: t });
  const lp = (f: Record<string, Value>, t: number) =>
    `m ${
      Object.entries(f).map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : v}`)
        .join(",")
    } ${t}`;
  const keys = [...new Set([...Object.keys(good), ...Object.keys(bad)])];
  const types = keys.map((k) => {
    const v = bad[k] ?? good[k];
    return `${k}:${typeof v === "number" ? "float" : typeof v === "string" ? "string" : "boolean"}`;
  });
  const csvRow = (f: Record<string, Value>, t: number) =>
    ["m", ...keys.map((k) => f[k] === undefined ? "" : String(f[k])), t].join(",");
  const csv = [["measurement", ...keys, "time"].join(","), csvRow(good, 1), csvRow(bad, 2)]
    .join("\n");
  return [
    ["application/json", `[${json(good, 1)},${json(bad, 2)}]`, /record 2: /, "precision=s"],
    [NDJSON, `${json(good, 1)}\n${json(bad, 2)}\n`, /line 2: /, "precision=s"],
    ["text/plain", `${lp(good, 1)}\n${lp(bad, 2)}\n`, /line 2: /, "precision=s"],
    ["text/csv", csv, /record 2: /, `precision=s&types=${types.join(",")}`],
    [
      PROTOBUF,
      pbBody([pbPoint(good, 1_000_000_000n), pbPoint(bad, 2_000_000_000n)]),
      /record 2: /,
      "",
    ],
  ];
}
