import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeJson } from "./encode_json.ts";
import { jsonChunks } from "./encode_json_bytes.ts";
import type { ResultSeries, StatementResult } from "./result.ts";

const valueArb = fc.oneof(
  fc.double(),
  fc.constantFrom(-0, 0, 1e21, 1e-7, 123456789.125, NaN, Infinity),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("<a&b>", "tab\there", 'q"uote\\', "\u2028", "\ud800x", "héllo wörld"),
  fc.boolean(),
  fc.constant(null),
);
const instantArb = fc.record({
  ms: fc.integer({ min: -86_400_000 * 365, max: 4_000_000_000_000 }),
  subMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999 })),
});
const seriesArb: fc.Arbitrary<ResultSeries> = fc.record({
  name: fc.oneof(fc.constant(""), fc.string()),
  tags: fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), { nil: undefined }),
  columns: fc.array(fc.string(), { maxLength: 4 }),
  values: fc.array(fc.tuple(instantArb, fc.array(valueArb, { maxLength: 4 })), { maxLength: 8 })
    .map((rows) => rows.map(([t, cells]) => [t, ...cells])),
  timeColumn: fc.constant(true),
  timezone: fc.option(fc.constantFrom("Asia/Kolkata", "America/New_York"), { nil: undefined }),
}).map((s) => {
  const out: ResultSeries = { ...s };
  if (s.tags === undefined) delete out.tags;
  if (s.timezone === undefined) delete out.timezone;
  return out;
});
const resultArb: fc.Arbitrary<StatementResult> = fc.record({
  statementId: fc.nat(5),
  series: fc.option(fc.array(seriesArb, { maxLength: 3 }), { nil: undefined }),
  messages: fc.option(
    fc.array(fc.record({ level: fc.constant("warning"), text: fc.string() }), { maxLength: 2 }),
    { nil: undefined },
  ),
  error: fc.option(fc.string(), { nil: undefined }),
}).map((r) => {
  const out: StatementResult = { statementId: r.statementId };
  if (r.series !== undefined) out.series = r.series;
  if (r.messages !== undefined) out.messages = r.messages;
  if (r.error !== undefined) out.error = r.error;
  return out;
});

function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of list) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("jsonChunks: the chunks are encodeJson's bytes, for any results, epoch and chunk size", () => {
  fc.assert(
    fc.property(
      fc.array(resultArb, { maxLength: 3 }),
      fc.constantFrom(undefined, "ns", "ms", "s", "h") as fc.Arbitrary<"ns" | undefined>,
      fc.integer({ min: 1, max: 200 }),
      (results, epoch, chunkBytes) => {
        const want = new TextEncoder().encode(encodeJson(results, { epoch }));
        const got = concat(jsonChunks(results, { epoch, chunkBytes }));
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("jsonChunks: a large answer comes in bounded chunks and releases rows as it goes", () => {
  const values = Array.from(
    { length: 50_000 },
    (_, i) => [{ ms: 1_700_000_000_000 + i * 1000, subMs: 0 }, i / 7, "host_" + (i % 100)],
  );
  const series: ResultSeries = {
    name: "cpu",
    columns: ["time", "v", "host"],
    values,
    timeColumn: true,
  };
  const want = new TextEncoder().encode(encodeJson([{ statementId: 0, series: [series] }]));
  const sizes: number[] = [];
  const chunks: Uint8Array[] = [];
  let released = 0;
  for (const chunk of jsonChunks([{ statementId: 0, series: [series] }], { consume: true })) {
    sizes.push(chunk.length);
    chunks.push(chunk);
    if (chunks.length === 2) released = values.filter((r) => r === undefined).length;
  }
  assert.deepEqual(concat(chunks), want);
  assert.ok(sizes.length > 10, `${sizes.length} chunks`);
  assert.ok(Math.max(...sizes) < 64 * 1024 + 1024, `largest chunk ${Math.max(...sizes)}`);
  assert.ok(released > 0 && released < values.length, `${released} rows released mid-way`);
  assert.equal(series.values.length, 0);
});
