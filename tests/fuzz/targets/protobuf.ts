/**
 * The protobuf WriteRequest (src/ingest/protobuf_points.ts): `decodeProtobufWrite` throws only a
 * `ParseError` (bytes that are not a WriteRequest); the points it returns keep core's contract
 * and every point it refuses is named by its 1-based record number with a reason.
 * @module
 */
import fc from "fast-check";
import { ParseError } from "../../../src/core/mod.ts";
import { decodeProtobufWrite } from "../../../src/ingest/mod.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { checkPoints, isWellFormed } from "../_points.ts";
import { count, demand, expectOnly, type FuzzTarget } from "../_target.ts";
import { rarely } from "../_random.ts";
import { ProtoWriter } from "./_proto.ts";

const NOW = { ms: 1_700_000_000_000, subMs: 0 };

const text = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("cpu", "host", "a", "usage", "value") },
  { weight: 2, arbitrary: fc.string({ maxLength: 10, unit: "binary" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | Uint8Array>(
      "",
      Uint8Array.of(0xff),
      Uint8Array.of(0xed, 0xa0, 0x80),
      Uint8Array.of(0xc3),
      "k".repeat(70_000),
    ),
  },
);

const int64Edge = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.constantFrom(
    0n,
    -1n,
    2n ** 53n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    9223372036854775806n,
    -9223372036854775806n,
    9223372036854775807n,
    -9223372036854775807n,
    1678886400000000000n,
  ),
);

/** One Field message, sometimes with two values or none. */
const field = fc.record({
  key: fc.option(text, { freq: 10 }),
  values: fc.array(
    fc.oneof(
      fc.double().map((v) => (w: ProtoWriter) => w.double(2, v)),
      int64Edge.map((v) => (w: ProtoWriter) => w.int(3, v)),
      int64Edge.map((v) => (w: ProtoWriter) => w.int(4, v)),
      text.map((v) => (w: ProtoWriter) => w.bytes(5, v)),
      fc.bigInt({ min: 0n, max: 3n }).map((v) => (w: ProtoWriter) => w.int(6, v)),
      fc.constant((w: ProtoWriter) => w.bytes(9, "unknown")),
    ),
    { maxLength: 2 },
  ),
}).map(({ key, values }) => {
  const w = new ProtoWriter();
  if (key !== null) w.bytes(1, key);
  for (const v of values) v(w);
  return w;
});

const point = fc.record({
  measurement: fc.option(text, { freq: 10 }),
  tags: fc.array(fc.tuple(text, text), { maxLength: 5 }),
  fields: fc.array(field, { maxLength: 5 }),
  time: fc.option(int64Edge, { freq: 2 }),
  extra: rarely(fc.constantFrom(1, 2), 10),
}).map(({ measurement, tags, fields, time, extra }) => {
  const w = new ProtoWriter();
  if (measurement !== null) w.bytes(1, measurement);
  for (const [k, v] of tags) w.bytes(2, new ProtoWriter().bytes(1, k).bytes(2, v));
  for (const f of fields) w.bytes(3, f);
  if (time !== null) w.int(4, time);
  if (extra === 1) w.int(4, 5n); // a second time_unix_nano
  if (extra === 2) w.double(1, 1); // a measurement with the wrong wire type
  return w;
});

/** WriteRequest bytes. */
export const protobufBodies: fc.Arbitrary<Uint8Array> = fc.record({
  database: fc.option(text, { freq: 3 }),
  rp: fc.option(text, { freq: 3 }),
  points: fc.array(point, { maxLength: 8 }),
  atomic: fc.option(fc.boolean(), { freq: 3 }),
  many: rarely(fc.constantFrom(1000, 20_000), 50),
}).map(({ database, rp, points, atomic, many }) => {
  const w = new ProtoWriter();
  if (database !== null) w.bytes(1, database);
  if (rp !== null) w.bytes(2, rp);
  for (const p of points) w.bytes(3, p);
  if (atomic !== null) w.int(4, atomic);
  if (many !== null) {
    // One point of many fields, then many points.
    const p = new ProtoWriter().bytes(1, "m");
    for (let i = 0; i < many; i++) p.bytes(3, new ProtoWriter().bytes(1, `f${i}`).int(3, i));
    w.bytes(3, p);
  }
  return w.finish();
});

/** Inputs of the protobuf fuzzer (also the HTTP fuzzer's protobuf bodies). */
export const protobufInputs = structuredAndMutated(protobufBodies, [
  new ProtoWriter().bytes(1, "db").bytes(
    3,
    new ProtoWriter().bytes(1, "cpu").bytes(2, new ProtoWriter().bytes(1, "host").bytes(2, "a"))
      .bytes(3, new ProtoWriter().bytes(1, "usage").double(2, 0.5)).int(4, 1678886400000000000n),
  ).finish(),
], []);

export const protobufTarget: FuzzTarget = {
  name: "protobuf",
  about: "decodeProtobufWrite throws only ParseError; points valid, refused points numbered",
  inputs: protobufInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        const r = expectOnly(() => decodeProtobufWrite(input, { defaultTime: NOW }), [ParseError]);
        if (r === undefined) return void count(outcomes, "refused");
        count(outcomes, r.batch.points.length > 0 ? "points" : "no points");
        demand(isWellFormed(r.database) && isWellFormed(r.retentionPolicy), "bad database name");
        checkPoints(r.batch.points, "protobuf");
        for (const e of r.batch.errors) {
          demand(
            Number.isInteger(e.record) && e.record! >= 1 && e.reason !== "",
            () => `a malformed point error ${JSON.stringify(e)}`,
          );
        }
      },
      close: () => Promise.resolve(),
    });
  },
};
