/**
 * Native JSON ingest throughput: JSON.parse plus record decoding, for 5,000 records per body.
 * values/s is `fieldValues / (time per iteration)`; the counts are printed once.
 *
 *   npx deno@2.9.6 bench --allow-all bench/json_bench.ts
 */

import { decodeJsonPoints } from "../src/ingest/mod.ts";

const RECORDS = 5_000;
const defaultTime = { ms: 1_700_000_000_000, subMs: 0 };

/** The seed's shape: one `value`, two tags, a timestamp in seconds. */
function seedShape(): { text: string; values: number } {
  const records = [];
  for (let i = 0; i < RECORDS; i++) {
    records.push({
      timestamp: 1678886400 + i,
      measurement: "cpu_usage",
      value: (i % 1000) / 1000,
      tags: { host: `server${i % 100}`, region: i % 2 ? "us-east" : "eu-west" },
    });
  }
  return { text: JSON.stringify(records), values: RECORDS };
}

/** Ten float fields, five tags, nanosecond timestamps as JSON numbers (exact path). */
function wideNanos(): { text: string; values: number } {
  const parts = [];
  for (let i = 0; i < RECORDS; i++) {
    const fields = Array.from({ length: 10 }, (_, k) => `"f${k}": ${(i * 31 + k) % 977 / 7}`);
    parts.push(
      `{"measurement": "cpu", "tags": {"host": "h${i % 100}", "dc": "d${i % 3}", "rack": "r${
        i % 7
      }", "os": "linux", "team": "t${i % 5}"}, "fields": {${fields.join(", ")}}, ` +
        `"timestamp": ${1678886400000000000n + BigInt(i) * 1_000_000_007n}}`,
    );
  }
  return { text: `[${parts.join(",")}]`, values: RECORDS * 10 };
}

/** Integers as {"integer": "..."}, strings and booleans, RFC3339 timestamps. */
function mixed(): { text: string; values: number } {
  const records = [];
  for (let i = 0; i < RECORDS; i++) {
    records.push({
      measurement: "procstat",
      tags: { host: `server${i % 50}`, process: "nginx" },
      fields: {
        pid: { integer: String(1000 + (i % 300)) },
        rss: { integer: String(i * 4096) },
        cpu: (i % 100) / 10,
        status: "running",
        up: true,
      },
      timestamp: new Date(1678886400000 + i * 1000).toISOString(),
    });
  }
  return { text: JSON.stringify(records), values: RECORDS * 5 };
}

const bodies = [["seed shape", seedShape()], ["wide, ns numbers", wideNanos()], [
  "mixed, rfc3339",
  mixed(),
]] as const;

for (const [name, body] of bodies) {
  const r = decodeJsonPoints(body.text, { defaultTime });
  const got = r.points.reduce((n, p) => n + p.fields.length, 0);
  if (r.errors.length > 0 || got !== body.values) {
    throw new Error(`BUG: ${name}: ${JSON.stringify(r.errors[0])}, ${got}/${body.values} values`);
  }
  Deno.bench({
    name: `${name}: ${RECORDS} records, ${body.values} values, ${body.text.length} bytes`,
    fn: () => {
      decodeJsonPoints(body.text, { defaultTime });
    },
  });
  Deno.bench({
    name: `${name}: JSON.parse alone (reference)`,
    fn: () => {
      JSON.parse(body.text);
    },
  });
}
