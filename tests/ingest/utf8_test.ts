/**
 * `/ingest` refuses bytes that are not UTF-8 the same way in every text format: the line or
 * record holding them is reported, every other one is written, and no U+FFFD is stored.
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";

const enc = new TextEncoder();
const BAD = [0xff, 0xfe];

/** `good 1`, a record holding BAD, `good 3`, in a format's framing. */
function body(format: "ndjson" | "json" | "csv" | "lp"): Uint8Array<ArrayBuffer> {
  const parts: (string | number[])[] = {
    ndjson: [
      '{"measurement":"u","value":1,"timestamp":1}\n{"measurement":"u","tags":{"h":"',
      BAD,
      '"},"value":2,"timestamp":2}\n{"measurement":"u","value":3,"timestamp":3}\n',
    ],
    json: [
      '[{"measurement":"u","value":1,"timestamp":1},{"measurement":"u","tags":{"h":"',
      BAD,
      '"},"value":2,"timestamp":2},{"measurement":"u","value":3,"timestamp":3}]',
    ],
    csv: ["time,measurement,h,value\n1,u,,1\n2,u,", BAD, ",2\n3,u,,3\n"],
    lp: ["u value=1 1000000000\nu,h=", BAD, " value=2 2000000000\nu value=3 3000000000\n"],
  }[format];
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? enc.encode(p) : p));
  return new Uint8Array(out);
}

Deno.test("/ingest: bytes that are not UTF-8 are refused where they are, in every text format", async () => {
  const { post, rows, close } = await setup();
  try {
    const cases = [
      ["ndjson", "application/x-ndjson", { line: 2, column: 33 }],
      ["json", "application/json", { record: 2 }],
      ["csv", "text/csv?tags=h&types=value:float", { record: 2 }],
      ["lp", "text/plain", { line: 2, column: 5 }],
    ] as const;
    for (const [format, type, where] of cases) {
      const [contentType, query] = type.split("?");
      const precision = format === "lp" ? "" : "precision=s";
      const path = `/ingest?db=epochnexus&${[precision, query].filter(Boolean).join("&")}`;
      const answer = await post(path, contentType, body(format));
      assert.equal(answer.status, 400, `${format}: ${answer.text}`);
      assert.equal(answer.json.error.accepted, 2, format);
      const [issue] = answer.json.error.errors;
      for (const [k, v] of Object.entries(where)) assert.equal(issue[k], v, `${format} ${k}`);
      assert.match(issue.reason, /UTF-8/, format);
    }
    // The good records of every format: value 1 at 1 s and 3 at 3 s; no tag h was stored.
    assert.deepEqual(await rows("SELECT * FROM u"), [
      [1_000_000_000, 1],
      [3_000_000_000, 3],
    ]);
  } finally {
    await close();
  }
});
