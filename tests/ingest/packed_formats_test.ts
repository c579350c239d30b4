/**
 * The formats whose decoders hand out packed points (a layout shared by the points of the same
 * fields, values of their own) keep every answer of plain points: a schema's renames, drops
 * and casts keep each value with its key, and a field type that changes between two records of
 * one body is refused at the second record's number, in partial and atomic writes.
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";
import { bodies, pbBody, pbPoint, type Value } from "./_bodies.ts";
import { promWriteRequest } from "../../src/ingest/_prom_test_util.ts";

const NDJSON = "application/x-ndjson";
const PROTOBUF = "application/x-protobuf";
const T = 1_700_000_000;

/**
 * `m` keeps a, b (renamed from x) and c (cast to integer) and drops the rest; remote_write's
 * `pm` renames `value` to v, an integer.
 */
const SCHEMAS = {
  m: {
    unknown_fields: "drop",
    fields: { a: { type: "float" }, b: { type: "float" }, c: { type: "integer" } },
    pipeline: [{ rename_field: { from: "x", to: "b" } }, { cast: { field: "c", to: "integer" } }],
  },
  pm: {
    fields: { v: { type: "integer" } },
    pipeline: [{ rename_field: { from: "value", to: "v" } }, {
      cast: { field: "v", to: "integer" },
    }],
  },
};

/**
 * Three records of `m` with the same keys in two orders and fewer keys: a layout kept past a
 * rename or drop, or values matched to the wrong layout, moves a value to another key.
 */
const RECORDS: Record<string, number>[] = [
  { a: 1.5, junk: 100.5, x: 200.5, c: 300 },
  { c: 302, x: 202.5, a: 2.5, junk: 102.5 },
  { x: 203.5, a: 3.5 },
];
/** What `SELECT a, b, c FROM m` must answer (times in ns, as JSON numbers read them). */
const EXPECTED = [
  [Number(`${T + 1}000000000`), 1.5, 200.5, 300],
  [Number(`${T + 2}000000000`), 2.5, 202.5, 302],
  [Number(`${T + 3}000000000`), 3.5, 203.5, null],
];

function recordsIn(type: string): BodyInit {
  const json = (f: Record<string, number>, i: number) =>
    JSON.stringify({ measurement: "m", fields: f, timestamp: T + i + 1 });
  switch (type) {
    case "application/json":
      return `[${RECORDS.map(json).join(",")}]`;
    case NDJSON:
      return RECORDS.map(json).join("\n") + "\n";
    case PROTOBUF:
      return pbBody(RECORDS.map((f, i) => pbPoint(f, BigInt(T + i + 1) * 1_000_000_000n)));
    case "text/csv": {
      // Columns have one order; the rows differ by their empty cells. `300.0` reads as a float.
      const keys = ["a", "junk", "x", "c"];
      const cell = (v: number | undefined) =>
        v === undefined ? "" : Number.isInteger(v) ? v.toFixed(1) : String(v);
      const rows = RECORDS.map((f, i) => ["m", T + i + 1, ...keys.map((k) => cell(f[k]))]);
      return [["measurement", "time", ...keys], ...rows].map((r) => r.join(",")).join("\n");
    }
  }
  throw new Error(`BUG: no body for ${type}`);
}

Deno.test("packed formats: a schema's renames, drops and casts keep each value with its key", async () => {
  for (const type of ["application/json", NDJSON, "text/csv", PROTOBUF]) {
    const { post, rows, close } = await setup({ schemas: SCHEMAS });
    try {
      const r = await post("/ingest?precision=s", type, recordsIn(type));
      assert.equal(r.status, 200, `${type}: ${r.text}`);
      assert.deepEqual(await rows("SELECT a, b, c FROM m"), EXPECTED, type);
      assert.deepEqual(await rows("SELECT junk, x FROM m"), [], `${type}: dropped`);
    } finally {
      await close();
    }
  }
  const { post, rows, close } = await setup({ schemas: SCHEMAS });
  try {
    const body = Uint8Array.from([
      ...promWriteRequest([["__name__", "pm"], ["job", "a"]], 2),
      ...promWriteRequest([["__name__", "up"], ["job", "a"]], 1),
    ]);
    const r = await post("/api/v1/prom/write", PROTOBUF, body, { "content-encoding": "identity" });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(await rows("SELECT v FROM pm"), [[1000000, 1], [2000000, 2]]);
    assert.deepEqual(await rows("SELECT value FROM up"), [[1000000, 1]]);
  } finally {
    await close();
  }
});

Deno.test("packed formats: a field type that changes within one body is refused at its record", async () => {
  const { post, rows, close } = await setup();
  try {
    // `f` a float, then a string, keys in another order; CSV is left out: a column has one type.
    const good: Record<string, Value> = { f: 1.5, g: 1 },
      bad: Record<string, Value> = {
        g: 2,
        f: "s",
      };
    let n = 0;
    for (const [type, body, where, query] of bodies(good, bad)) {
      if (type === "text/csv") continue;
      for (const atomic of [false, true]) {
        const db = `db${n++}`;
        assert.equal((await post(`/query?q=CREATE+DATABASE+${db}`, "text/plain", "")).status, 200);
        const r = await post(`/ingest?db=${db}&atomic=${atomic}&${query}`, type, body);
        const what = `${type}${atomic ? " atomic" : ""}`;
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.json.error.accepted, atomic ? 0 : 1, what);
        // An atomic refusal says so first, then names each bad record as a partial write does.
        const errors = r.json.error.errors;
        const conflict = 'field type conflict: input field "f" on measurement "m" is type ' +
          "string, already exists as type float";
        if (atomic) {
          assert.match(errors[0].reason, new RegExp(`first: ${where.source}${conflict}`), what);
        }
        const refusal = errors[atomic ? 1 : 0];
        assert.equal(refusal.line ?? refusal.record, 2, `${what}: ${JSON.stringify(refusal)}`);
        assert.equal(refusal.reason, conflict, what);
        assert.deepEqual(
          await rows("SELECT f, g FROM m", db),
          atomic ? [] : [
            [1000000000, 1.5, 1],
          ],
          what,
        );
      }
    }
    // remote_write: series 2's float `value` against the string stored before.
    const stored = await post("/ingest", "application/json", '{"measurement":"up","value":"x"}');
    assert.equal(stored.status, 200, stored.text);
    const body = Uint8Array.from([
      ...promWriteRequest([["__name__", "ok"]], 1),
      ...promWriteRequest([["__name__", "up"]], 1),
    ]);
    const r = await post("/api/v1/prom/write", PROTOBUF, body, { "content-encoding": "identity" });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.accepted, 1);
    assert.equal(r.json.error.errors[0].record, 2);
    assert.match(r.json.error.errors[0].reason, /^field type conflict: input field "value"/);
  } finally {
    await close();
  }
});
