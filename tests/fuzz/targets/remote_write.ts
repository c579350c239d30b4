/**
 * Prometheus remote_write (src/ingest/prom_remote_write.ts): a snappy block is uncompressed
 * (`uncompressSnappy`, bounded) and decoded (`decodePromWrite`); only a `ParseError` (not snappy,
 * not a WriteRequest) or a `TooLargeError` (expands past the limit) may be thrown; the points keep
 * core's contract (tags sorted and unique) and refused series are numbered.
 * @module
 */
import fc from "fast-check";
import snappy from "snappyjs";
import { ParseError, TooLargeError } from "../../../src/core/mod.ts";
import { decodePromWrite, uncompressSnappy } from "../../../src/ingest/mod.ts";
import { mutatedSamples, structuredAndMutated } from "../_mutate.ts";
import { checkPoints } from "../_points.ts";
import { count, demand, expectOnly, type FuzzTarget } from "../_target.ts";
import { rarely } from "../_random.ts";
import { ProtoWriter } from "./_proto.ts";

const compress = (snappy as { compress(b: Uint8Array): Uint8Array }).compress;
/** The uncompressed size allowed (the handler passes max_body_bytes). */
const LIMIT = 4 * 1024 * 1024;

const label = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("__name__", "job", "instance", "le", "") },
  { weight: 2, arbitrary: fc.string({ maxLength: 8, unit: "binary" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | Uint8Array>(Uint8Array.of(0xff), "x".repeat(5000)),
  },
);

const sampleValue = fc.oneof(
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE),
  // Prometheus' staleness marker, a NaN with a payload.
  fc.constant(new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]),
);

const sampleTime = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, 1678886400000n, 9223372036854n, 9223372036855n, -9223372036854n, -1n),
);

const series = fc.record({
  labels: fc.array(fc.tuple(label, label), { maxLength: 6 }),
  samples: fc.array(fc.tuple(sampleValue, sampleTime), { maxLength: 4 }),
  odd: rarely(fc.constantFrom(1, 2, 3), 10),
}).map(({ labels, samples, odd }) => {
  const w = new ProtoWriter();
  for (const [n, v] of labels) w.bytes(1, new ProtoWriter().bytes(1, n).bytes(2, v));
  for (const [v, t] of samples) w.bytes(2, new ProtoWriter().double(1, v).int(2, t));
  if (odd === 1) w.bytes(3, "exemplar"); // exemplars and histograms are ignored
  if (odd === 2) w.int(2, 7n); // a sample field with the wrong wire type
  if (odd === 3) w.bytes(2, new ProtoWriter().raw([9, 1, 2])); // a truncated double
  return w;
});

/** Uncompressed remote_write WriteRequest bytes. */
export const promRequests: fc.Arbitrary<Uint8Array> = fc.record({
  series: fc.array(series, { maxLength: 8 }),
  metadata: fc.boolean(),
}).map(({ series, metadata }) => {
  const w = new ProtoWriter();
  for (const s of series) w.bytes(1, s);
  if (metadata) w.bytes(3, new ProtoWriter().int(1, 1).bytes(2, "m"));
  return w.finish();
});

const sample = new ProtoWriter().bytes(
  1,
  new ProtoWriter().bytes(1, new ProtoWriter().bytes(1, "__name__").bytes(2, "up"))
    .bytes(1, new ProtoWriter().bytes(1, "job").bytes(2, "node"))
    .bytes(2, new ProtoWriter().double(1, 1).int(2, 1678886400000n)),
).finish();

/** Inputs of the remote_write fuzzer: snappy blocks of requests, mutated before or after. */
export const promInputs: fc.Arbitrary<Uint8Array> = fc.oneof(
  structuredAndMutated(promRequests, [sample], []).map((b) => compress(b)),
  mutatedSamples([compress(sample)], []),
  // A block that declares more than the limit, or a length that never ends.
  fc.constantFrom(
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00),
    Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80),
    Uint8Array.of(),
  ),
);

export const remoteWriteTarget: FuzzTarget = {
  name: "remote-write",
  about: "snappy + decodePromWrite throw only ParseError/TooLargeError; points valid",
  inputs: promInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        const r = expectOnly(() => decodePromWrite(uncompressSnappy(input, LIMIT)), [
          ParseError,
          TooLargeError,
        ]);
        if (r === undefined) return void count(outcomes, "refused");
        count(outcomes, r.batch.points.length > 0 ? "points" : "no points");
        checkPoints(r.batch.points, "remote_write");
        demand(Number.isInteger(r.skipped) && r.skipped >= 0, "bad skipped count");
        for (const e of r.batch.errors) {
          demand(
            Number.isInteger(e.record) && e.record! >= 1 && e.reason !== "",
            () => `a malformed series error ${JSON.stringify(e)}`,
          );
        }
      },
      close: () => Promise.resolve(),
    });
  },
};
