/**
 * Timestamp traps on the write doors: digits of one precision read in another land decades from
 * now. `/write` keeps InfluxDB's answers (204, or its error) and adds a warning header or a hint
 * to the reason; `/ingest` answers a `warnings` list. The server's clock says 2023-11-14.
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";

const SECONDS = "timestamps look like seconds: pass precision=s";

Deno.test("/write: seconds sent as nanoseconds are written with a warning header; the 204 stays a 204", async () => {
  const { post, rows, call, close } = await setup();
  try {
    const w = await post(
      "/write?db=epochnexus",
      "text/plain",
      "m v=1 1700000000\nm v=2 1700000001",
    );
    assert.equal(w.status, 204);
    assert.equal(w.text, "");
    assert.equal(
      w.headers.get("x-epochnexus-warning"),
      `2 points have timestamps more than 30 years from now; ${SECONDS}`,
    );
    assert.deepEqual(await rows("SELECT v FROM m"), [[1_700_000_000, 1], [1_700_000_001, 2]]);
    // Plausible times, and tiny ones that are 1970 in any unit, get no warning.
    for (const body of ["m v=1 1700000000000000000", "m v=1 1", "m v=1"]) {
      const ok = await post("/write?db=epochnexus", "text/plain", body);
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get("x-epochnexus-warning"), null, body);
    }
    const metrics = (await call("/metrics")).text;
    // The two in 1970 by mistake, and `m v=1 1` (1970 too, but no unit would make it now).
    assert.match(metrics, /^epochnexus_points_far_timestamp_total\{format="line_protocol"\} 3$/m);
  } finally {
    await close();
  }
});

Deno.test("/write: milliseconds with precision=s are out of range, and the reason says what they look like", async () => {
  const { post, close } = await setup();
  try {
    const w = await post(
      "/write?db=epochnexus&precision=s",
      "text/plain",
      "m v=1 1700000000\nm v=2 1700000000000",
    );
    assert.equal(w.status, 400);
    assert.equal(
      w.json.error,
      "partial write: unable to parse 'm v=2 1700000000000': time outside range " +
        "-9223372036854775806 - 9223372036854775806; timestamps look like milliseconds: pass " +
        "precision=ms (line 2, column 7) dropped=0",
    );
  } finally {
    await close();
  }
});

Deno.test("/ingest: warnings in the answer for line protocol, CSV and protobuf-free JSON; hints in errors", async () => {
  const { post, rows, close } = await setup();
  try {
    const lp = await post("/ingest", "text/plain", "a v=1 1700000000\n");
    assert.equal(lp.status, 200);
    assert.deepEqual(lp.json, {
      accepted: 1,
      rejected: 0,
      warnings: [`1 points have timestamps more than 30 years from now; ${SECONDS}`],
    });
    assert.equal(lp.headers.get("x-epochnexus-warning"), lp.json.warnings[0]);
    // precision=auto reads line protocol as JSON is read: by magnitude.
    const auto = await post("/ingest?precision=auto", "text/plain", "b v=1 1700000000\n");
    assert.deepEqual(auto.json, { accepted: 1, rejected: 0 });
    assert.deepEqual(await rows("SELECT v FROM b"), [[1_700_000_000_000_000_000, 1]]);
    // CSV with an explicit precision that is wrong: milliseconds read as microseconds.
    const csv = await post(
      "/ingest?precision=u&measurement=c",
      "text/csv",
      "time,v\n1700000000000,1\n",
    );
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.json.warnings[0], /timestamps look like milliseconds: pass precision=ms$/);
    // JSON with precision=s and milliseconds: out of range, and said so in the error.
    const json = await post(
      "/ingest?precision=s",
      "application/json",
      '{"measurement":"d","value":1,"timestamp":1700000000000}',
    );
    assert.equal(json.status, 400);
    assert.match(
      json.json.error.errors[0].reason,
      /outside the valid range .*; timestamps look like milliseconds: pass precision=ms$/,
    );
    // JSON's default (auto) has no trap: no warning.
    const fine = await post(
      "/ingest",
      "application/json",
      '{"measurement":"d","value":1,"timestamp":1700000000000}',
    );
    assert.deepEqual(fine.json, { accepted: 1, rejected: 0 });
  } finally {
    await close();
  }
});
