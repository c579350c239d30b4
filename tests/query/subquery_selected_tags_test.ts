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
