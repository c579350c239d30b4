/**
 * Every `/ingest` format through the fetch handler: valid, invalid, mixed, huge lines,
 * truncated bodies, gzip and gzip bombs, atomic writes, 415, and the same partial-failure rules.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { gzip, setup } from "./_app.ts";
import {
  FieldSchema,
  PointSchema,
  TagSchema,
  WriteRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const NDJSON = "application/x-ndjson";

Deno.test("ndjson: good lines are written, bad ones reported by line number", async () => {
  const { post, rows, close } = await setup();
  try {
    const body = [
      '{"measurement":"cpu","tags":{"host":"a"},"value":1.5,"timestamp":1700000000}',
      "",
      '{"measurement":"cpu","tags":{"host":"b"},"fields":{"v":2}', // malformed
      '{"measurement":"cpu","tags":{"host":"c"},"value":"x","timestamp":1700000001}',
      '{"tags":{"host":"d"},"value":1}', // no measurement
      '{"measurement":"cpu","tags":{"host":"e"},"value":2.5,"timestamp":1700000002}\r',
    ].join("\n");
    const r = await post("/ingest", NDJSON, body);
    assert.equal(r.status, 400, r.text);
    // Line 4's string conflicts with line 1's float: a field-type rejection at its line.
    assert.equal(r.json.error.accepted, 2);
    assert.equal(r.json.error.rejected, 3);
    assert.deepEqual(r.json.error.errors.map((e: { line: number }) => e.line), [3, 5, 4]);
    assert.match(r.json.error.errors[0].reason, /malformed JSON at column \d+/);
    assert.equal(r.json.error.errors[1].field, "measurement");
    assert.match(r.json.error.errors[2].reason, /field type conflict/);
    assert.match(r.json.error.message, /^3 of 5 points rejected \(2 written\): line 3: /);
    const values = await rows("SELECT * FROM cpu");
    assert.equal(values.length, 2);
  } finally {
    await close();
  }
});

Deno.test("ndjson: a type conflict is reported at its line; all good is 200", async () => {
  const { post, close } = await setup();
  try {
    const ok = await post(
      "/ingest",
      NDJSON,
      '{"measurement":"m","value":1,"timestamp":1}\n{"measurement":"m","value":2,"timestamp":2}\n',
    );
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { accepted: 2, rejected: 0 });
    const bad = await post(
      "/ingest",
      NDJSON,
      '{"measurement":"m","value":3,"timestamp":3}\n{"measurement":"m","value":"s","timestamp":4}',
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.errors[0].line, 2);
    assert.match(bad.json.error.errors[0].reason, /field type conflict/);
  } finally {
    await close();
  }
});

Deno.test("ndjson: a line past maxLineBytes is skipped without stopping the stream", async () => {
  const { post, rows, close } = await setup({ ingest: { maxLineBytes: 100 } });
  try {
    const long = `{"measurement":"m","value":1,"tags":{"k":"${"x".repeat(500)}"}}`;
    const body = `{"measurement":"m","value":1,"timestamp":1}\n${long}\n` +
      `{"measurement":"m","value":2,"timestamp":2}\n`;
    // Sent in small chunks so the long line spans several.
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 37) c.enqueue(bytes.slice(i, i + 37));
        c.close();
      },
    });
    const r = await post("/ingest", NDJSON, stream);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.accepted, 2);
    assert.deepEqual(r.json.error.errors, [
      { line: 2, reason: "line longer than 100 bytes (the limit): skipped" },
    ]);
    assert.equal((await rows("SELECT * FROM m")).length, 2);
  } finally {
    await close();
  }
});

Deno.test("ndjson: commits in batches of batchPoints while streaming", async () => {
  const { post, rows, close } = await setup({ ingest: { batchPoints: 7 } });
  try {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      lines.push(JSON.stringify({ measurement: "m", value: i, timestamp: 1000 + i }));
    }
    const r = await post("/ingest", NDJSON, lines.join("\n"));
    assert.deepEqual(r.json, { accepted: 100, rejected: 0 });
    assert.equal((await rows("SELECT count(value) FROM m"))[0][1], 100);
  } finally {
    await close();
  }
});

Deno.test("every format: gzip bodies, and gzip bombs stop at the decompressed limit (413)", async () => {
  const { post, rows, close } = await setup({
    maxBodyBytes: 10_000,
    ingest: { maxStreamBytes: 20_000 },
  });
  try {
    const gz = { "content-encoding": "gzip" };
    const cases: [string, string][] = [
      ["application/json", '[{"measurement":"g","value":1,"timestamp":1}]'],
      [NDJSON, '{"measurement":"g","value":2,"timestamp":2}\n'],
      ["text/plain", "g value=3 3000000000\n"],
      ["text/csv", "measurement,value,time\ng,4,4\n"],
    ];
    for (const [type, body] of cases) {
      const r = await post("/ingest?types=value:float", type, await gzip(body), gz);
      assert.equal(r.status, 200, `${type}: ${r.text}`);
    }
    assert.equal((await rows("SELECT * FROM g")).length, 4);
    // 10 MB of zeros compress to ~10 kB: every format stops at its limit.
    const bomb = await gzip(new Uint8Array(10_000_000).fill(0x20));
    for (const type of ["application/json", NDJSON, "text/plain", "text/csv"]) {
      const r = await post("/ingest", type, bomb, gz);
      assert.equal(r.status, 413, `${type}: ${r.text}`);
      assert.equal(r.json.error.code, "resource_exhausted");
    }
    const w = await post("/write?db=epochnexus", "text/plain", bomb, gz);
    assert.equal(w.status, 413, w.text);
    const broken = (await gzip(cases[1][1])).slice(0, 15);
    const t = await post("/ingest", NDJSON, broken, gz);
    assert.equal(t.status, 400, t.text);
    assert.match(t.json.error.message, /cannot read request body/);
  } finally {
    await close();
  }
});

Deno.test("a streamed gzip bomb is stopped by its expansion ratio, far below max_stream_bytes", async () => {
  const { post, close } = await setup(); // max_stream_bytes: the 64 GiB default
  try {
    const bomb = await gzip(new Uint8Array(80 * 1024 * 1024).fill(0x0a)); // ~80 kB
    const r = await post("/ingest", NDJSON, bomb, { "content-encoding": "gzip" });
    assert.equal(r.status, 413, r.text);
    assert.match(
      r.json.error.message,
      /gzip body expands more than 200 times .* decompression bomb/,
    );
  } finally {
    await close();
  }
});

Deno.test("a wrong Content-Type is 415 listing the accepted ones", async () => {
  const { post, close } = await setup();
  try {
    const r = await post("/ingest", "application/xml", "<x/>");
    assert.equal(r.status, 415);
    assert.deepEqual(r.json.error.accepted, [
      "application/json",
      "application/x-ndjson",
      "text/plain",
      "text/csv",
      "application/x-protobuf",
    ]);
  } finally {
    await close();
  }
});

Deno.test("atomic=true: one bad record writes nothing, in every format", async () => {
  const { post, rows, close } = await setup();
  try {
    const cases: [string, string][] = [
      ["application/json", '[{"measurement":"a","value":1,"timestamp":1},{"measurement":""}]'],
      [NDJSON, '{"measurement":"a","value":1,"timestamp":1}\n{"nope":1}\n'],
      ["text/plain", "a value=1 1\na value=\n"],
      ["text/csv", "measurement,value,time\na,1,1\na,x,2\n"],
    ];
    for (const [type, body] of cases) {
      const r = await post("/ingest?atomic=true&types=value:float", type, body);
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.json.error.accepted, 0);
      assert.match(r.json.error.errors[0].reason, /atomic write refused: nothing was written/);
    }
    assert.equal((await rows("SELECT * FROM a")).length, 0);
    // A type conflict with stored data refuses the whole request too.
    assert.equal((await post("/ingest", "text/plain", "a v=1 1\n")).status, 200);
    const c = await post("/ingest?atomic=true", "text/plain", 'a v=2 2\na v="s" 3\n');
    assert.equal(c.status, 400, c.text);
    assert.match(c.text, /field type conflict/);
    assert.equal((await rows("SELECT * FROM a")).length, 1);
    const ok = await post("/ingest?atomic=true", "text/plain", "a v=2 2\na v=3 3\n");
    assert.deepEqual(ok.json, { accepted: 2, rejected: 0 });
    const bad = await post("/ingest?atomic=maybe", "text/plain", "a v=2 2\n");
    assert.equal(bad.status, 400);
  } finally {
    await close();
  }
});

Deno.test("csv: header, time, tags, inferred and declared types, quoting, BOM, CRLF", async () => {
  const { post, rows, close } = await setup();
  try {
    const body = "\ufefftime,measurement,host,region,usage,count,up,note\r\n" +
      '2023-03-15T13:20:00Z,cpu,a,us-east,0.5,3,true,"hello, world"\r\n' +
      '1678886401,cpu,b,"us\nwest",1,4,false,"say ""hi"""\r\n' +
      "1678886402,cpu,c,,2.5,,TRUE,\r\n";
    const r = await post("/ingest?tags=host,region", "text/csv", body);
    assert.deepEqual(r.json, { accepted: 3, rejected: 0 }, r.text);
    const values = await rows("SELECT count, host, note, region, up, usage FROM cpu");
    assert.deepEqual(values, [
      [1678886400000000000, 3, "a", "hello, world", "us-east", true, 0.5],
      [1678886401000000000, 4, "b", 'say "hi"', "us\nwest", false, 1],
      [1678886402000000000, null, "c", null, null, true, 2.5],
    ]);
    // A value that does not fit its column's type rejects the row, naming record and column.
    const bad = await post(
      "/ingest?tags=host&types=usage:float,count:integer",
      "text/csv",
      "time,measurement,host,usage,count\n5,cpu,a,7,1\n6,cpu,a,8,1.5\n7,cpu,a,oops,2\n8,cpu,a\n",
    );
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(bad.json.error.errors, [
      { record: 2, column: "count", reason: 'column "count": "1.5" is not a valid integer' },
      { record: 3, column: "usage", reason: 'column "usage": "oops" is not a valid float' },
      { record: 4, reason: "expected 5 columns (as the header), got 3" },
    ]);
    assert.equal(bad.json.error.accepted, 1);
  } finally {
    await close();
  }
});

Deno.test("csv: measurement parameter, time column name and precision, header problems", async () => {
  const { post, rows, close } = await setup();
  try {
    const r = await post(
      "/ingest?measurement=disk&time_column=ts&precision=ms&types=free:integer",
      "text/csv",
      "ts,free\n1700000000000,10\n1700000000001,11",
    );
    assert.deepEqual(r.json, { accepted: 2, rejected: 0 }, r.text);
    assert.deepEqual(await rows("SELECT free FROM disk"), [
      [1700000000000000000, 10],
      [1700000000001000000, 11],
    ]);
    const noMeasurement = await post("/ingest", "text/csv", "time,v\n1,2\n");
    assert.equal(noMeasurement.status, 400);
    assert.match(noMeasurement.json.error.message, /no measurement/);
    const noTag = await post("/ingest?tags=zone&measurement=m", "text/csv", "time,v\n1,2\n");
    assert.match(noTag.json.error.message, /tag column "zone" is not in the CSV header/);
    const badTime = await post("/ingest?measurement=m", "text/csv", "time,v\nyesterday,2\n");
    assert.equal(badTime.json.error.errors[0].column, "time");
    const unclosed = await post("/ingest?measurement=m", "text/csv", 'time,v\n1,"2\n');
    assert.equal(unclosed.status, 400);
    assert.match(unclosed.json.error.message, /malformed CSV at line \d+: Quote Not Closed/);
    const types = await post("/ingest?measurement=m&types=v:double", "text/csv", "v\n1\n");
    assert.match(types.json.error.message, /invalid types entry "v:double"/);
  } finally {
    await close();
  }
});

Deno.test("line protocol on /ingest and /write: streamed, errors by line", async () => {
  const { post, rows, close } = await setup();
  try {
    const lp = "lp,host=a v=1 1\nlp,host=b v= 2\nlp,host=c v=3 3\n";
    const r = await post("/ingest", "text/plain", lp);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.errors[0].line, 2);
    assert.equal(r.json.error.accepted, 2);
    const w = await post("/write?db=epochnexus", "text/plain", "lp,host=d v=4 4\nlp v=\n");
    assert.equal(w.status, 400);
    assert.match(w.json.error, /^partial write: unable to parse 'lp v=': missing field value/);
    assert.equal((await rows("SELECT * FROM lp")).length, 3);
    const huge = await setup({ ingest: { maxLineBytes: 1000, batchPoints: 1 } });
    try {
      const bytes = new TextEncoder().encode(`lp v=1 1\nlp v=2 2\nlp v="${"x".repeat(5000)}" 3\n`);
      const chunks = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < bytes.length; i += 512) c.enqueue(bytes.slice(i, i + 512));
          c.close();
        },
      });
      const big = await huge.post("/ingest", "text/plain", chunks);
      assert.equal(big.status, 413, big.text);
      assert.match(big.json.error.message, /a line longer than 1000 bytes/);
      assert.equal(big.json.error.accepted, 2); // committed before the long line
    } finally {
      await huge.close();
    }
  } finally {
    await close();
  }
});

Deno.test("protobuf: WriteRequest made by the generated encoder", async () => {
  const { post, rows, close } = await setup();
  try {
    const request = create(WriteRequestSchema, {
      points: [
        create(PointSchema, {
          measurement: "pb",
          tags: [create(TagSchema, { key: "host", value: "a" })],
          fields: [
            create(FieldSchema, { key: "f", value: { case: "floatValue", value: 1.5 } }),
            create(FieldSchema, {
              key: "i",
              value: { case: "intValue", value: -9223372036854775808n },
            }),
            create(FieldSchema, {
              key: "u",
              value: { case: "uintValue", value: 18446744073709551615n },
            }),
            create(FieldSchema, { key: "s", value: { case: "stringValue", value: "ok" } }),
            create(FieldSchema, { key: "b", value: { case: "boolValue", value: true } }),
          ],
          timeUnixNano: -1n,
        }),
        create(PointSchema, { measurement: "pb", fields: [] }),
        create(PointSchema, {
          measurement: "pb",
          fields: [create(FieldSchema, { key: "f", value: { case: "floatValue", value: 2 } })],
          timeUnixNano: 1700000000123456789n,
        }),
      ],
    });
    const r = await post(
      "/ingest",
      "application/x-protobuf",
      toBinary(WriteRequestSchema, request),
    );
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.accepted, 2);
    assert.deepEqual(r.json.error.errors, [{ record: 2, reason: "a point needs a field" }]);
    const got = await rows("SELECT b, f, i, s, u FROM pb");
    assert.equal(got.length, 2);
    assert.equal(got[0][0], -1);
    assert.equal(got[1][0], 1700000000123456789);
    const garbage = await post(
      "/ingest",
      "application/x-protobuf",
      new Uint8Array([0x1a, 0x50, 1]),
    );
    assert.equal(garbage.status, 400);
    assert.match(garbage.json.error.message, /malformed protobuf WriteRequest/);
  } finally {
    await close();
  }
});

Deno.test("overload: beyond maxConcurrentWrites is 429 with Retry-After, then recovers", async () => {
  const { app, post, close } = await setup({
    ingest: { maxConcurrentWrites: 1, retryAfterSeconds: 2 },
  });
  try {
    // A stream that stays open holds the one slot. The server reads a body only once it holds
    // a slot, so its first read (a pull: no chunk is queued ahead) says the slot is taken.
    let finish!: () => void;
    let reading!: () => void;
    const admitted = new Promise<void>((r) => (reading = r));
    let pulls = 0;
    const held = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulls++ > 0) return;
        c.enqueue(new TextEncoder().encode('{"measurement":"o","value":1,"timestamp":1}\n'));
        finish = () => c.close();
        reading();
      },
    }, { highWaterMark: 0 });
    const first = app(
      new Request("http://node/ingest", {
        method: "POST",
        headers: { "content-type": NDJSON },
        body: held,
      }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      admitted,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("the held body was not read within 10 s")),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const refused = await post("/ingest", NDJSON, '{"measurement":"o","value":2}\n');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "2");
    const refusedWrite = await post("/write?db=epochnexus", "text/plain", "o value=1 1\n");
    assert.equal(refusedWrite.status, 429);
    finish();
    assert.equal((await first).status, 200);
    const again = await post("/ingest", NDJSON, '{"measurement":"o","value":2,"timestamp":2}\n');
    assert.equal(again.status, 200, again.text);
  } finally {
    await close();
  }
});
