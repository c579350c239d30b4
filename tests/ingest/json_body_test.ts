/**
 * JSON bodies through `/ingest` as the handler decodes them, in slices: a big array (parsed
 * piece by piece) writes what a small one writes, malformed JSON anywhere still refuses the
 * whole body before anything is written, and a point the engine refuses is named by its record
 * (not by its index among the points that decoded).
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";

const record = (i: number, value: unknown = i) => ({
  measurement: "big",
  tags: { host: `h${i % 7}` },
  fields: { v: value },
  timestamp: 1_600_000_000 + i,
});

Deno.test("json: a 3 MB array is parsed piece by piece and written whole", async () => {
  const { post, rows, close } = await setup({ maxBodyBytes: 25_000_000 });
  try {
    const records = Array.from({ length: 30_000 }, (_, i) => record(i));
    const body = JSON.stringify(records, null, 1);
    assert.ok(body.length > 2 * 1024 * 1024);
    const answer = await post("/ingest?precision=s", "application/json", body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { accepted: 30_000, rejected: 0 });
    assert.deepEqual(await rows("SELECT count(v) FROM big"), [[0, 30_000]]);
  } finally {
    await close();
  }
});

Deno.test("json: malformed JSON at the end of a big array refuses it whole, naming the place", async () => {
  const { post, call, close } = await setup({ maxBodyBytes: 25_000_000 });
  try {
    const good = Array.from({ length: 30_000 }, (_, i) => JSON.stringify(record(i)));
    const body = `[\n${good.join(",\n")},\n{"measurement": "big", "value": 1,}\n]`;
    const answer = await post("/ingest?precision=s", "application/json", body);
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.code, "invalid_argument");
    assert.match(
      answer.json.error.message,
      /^malformed JSON at line 30002, column 35: expected a string \(an object key\), found "}"/,
    );
    const after = await call("/query?db=epochnexus&q=SHOW%20MEASUREMENTS", { method: "POST" });
    assert.equal(after.json.results[0].series, undefined, "nothing was written");
  } finally {
    await close();
  }
});

Deno.test("json: a point the engine refuses is named by its record, past records that failed", async () => {
  const { post, close } = await setup();
  try {
    await post("/ingest", "application/json", JSON.stringify(record(0, 1.5)));
    const answer = await post(
      "/ingest?precision=s",
      "application/json",
      JSON.stringify([7, record(1, 2.5), "x", record(2, "a string now")]),
    );
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.json.error.errors.map((e: { record: number }) => e.record), [1, 3, 4]);
    assert.match(answer.json.error.errors[2].reason, /^field type conflict: input field "v"/);
  } finally {
    await close();
  }
});
