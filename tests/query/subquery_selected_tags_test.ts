/**
 * A tag an inner query selects is a column of its result that InfluxDB 1.6 types Tag: the
 * outer query reads it by `name` and by `name::tag` (answers checked against influxd 1.6.7).
 */
import assert from "node:assert/strict";
import { setup } from "../ingest/_app.ts";

const S = 1_000_000_000;
const LINES = [`cpu v=1 ${S}`, `cpu,host=a v=3 ${S}`, `cpu,host=b v=5 ${2 * S}`].join("\n");

Deno.test("subquery: name::tag reads a tag the inner query selected", async () => {
  const n = await setup();
  try {
    const w = await n.post("/write?db=epochnexus", "text/plain", LINES);
    assert.equal(w.status, 204, w.text);
    const rows = async (q: string) => {
      const r = await n.call(`/query?db=epochnexus&q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200, r.text);
      const result = r.json.results[0];
      assert.equal(result.error, undefined, result.error);
      return (result.series?.[0]?.values ?? []).map((row: unknown[]) => row.slice(1));
    };
    const inner = "(SELECT host, v FROM cpu)";
    assert.deepEqual(await rows(`SELECT host::tag, v FROM ${inner}`), [
      [null, 1],
      ["a", 3],
      ["b", 5],
    ]);
    assert.deepEqual(await rows(`SELECT v FROM ${inner} WHERE host::tag = 'a'`), [[3]]);
    assert.deepEqual(await rows(`SELECT host, v FROM ${inner} WHERE host = 'b'`), [["b", 5]]);
  } finally {
    await n.close();
  }
});

Deno.test("subquery: an outer SLIMIT with GROUP BY /re/ windows the tags the regex names", async () => {
  const n = await setup();
  try {
    const lines = [`cpu v=1 ${S}`, `cpu,dc=y v=7 ${2 * S}`, `cpu,host=a v=3 ${S}`].join("\n");
    const w = await n.post("/write?db=epochnexus", "text/plain", lines);
    assert.equal(w.status, 204, w.text);
    const q = "SELECT mean(v) FROM (SELECT v FROM cpu GROUP BY *) GROUP BY /h.*/ SLIMIT 1";
    const r = await n.call(`/query?db=epochnexus&q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, r.text);
    // influxd 1.6.7: the first tag set of host is host="", both of its series (dc "" and "y").
    const series = r.json.results[0].series;
    assert.deepEqual(series.map((s: { tags: object }) => s.tags), [{ host: "" }]);
    assert.deepEqual(series[0].values[0].slice(1), [4]);
  } finally {
    await n.close();
  }
});
