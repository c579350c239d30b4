/**
 * A database's write caches (series keys, field layouts shared by every format) go with the
 * database: DROP DATABASE drops them, and a database dropped elsewhere (another node, the engine)
 * has its caches dropped when the next database's are made. Before, they were kept for every
 * database ever written to.
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";
import type { LineProtocolCache } from "../../src/ingest/line_protocol.ts";

Deno.test("DROP DATABASE drops the database's write caches", async () => {
  const caches = new Map<string, LineProtocolCache>();
  const { call, post, engine, close } = await setup({ lineProtocolCaches: caches });
  try {
    for (const db of ["a", "b"]) {
      const created = await call(`/query?q=${encodeURIComponent(`CREATE DATABASE ${db}`)}`, {
        method: "POST",
      });
      assert.equal(created.status, 200);
      const w = await post(`/write?db=${db}`, "text/plain", "m,host=h v=1,w=2 1");
      assert.equal(w.status, 204, w.text);
    }
    assert.deepEqual([...caches.keys()].sort(), ["a", "b"]);
    const dropped = await call(`/query?q=${encodeURIComponent("DROP DATABASE a")}`, {
      method: "POST",
    });
    assert.equal(dropped.status, 200, dropped.text);
    assert.deepEqual([...caches.keys()], ["b"], "the dropped database's caches are kept");
    // Dropped without this app's /query (as a cluster's other node would): gone once another
    // database's caches are made.
    await engine.dropDatabase("b");
    await call(`/query?q=${encodeURIComponent("CREATE DATABASE c")}`, { method: "POST" });
    assert.equal((await post("/write?db=c", "text/plain", "m v=1 1")).status, 204);
    assert.deepEqual([...caches.keys()], ["c"]);
    // A database made again starts from fresh caches and reads back what it is sent.
    await call(`/query?q=${encodeURIComponent("CREATE DATABASE a")}`, { method: "POST" });
    assert.equal((await post("/write?db=a", "text/plain", "m,host=h w=5i 2")).status, 204);
    const r = await call(`/query?db=a&q=${encodeURIComponent("SELECT * FROM m")}`);
    assert.deepEqual(r.json.results[0].series[0].values, [[
      "1970-01-01T00:00:00.000000002Z",
      "h",
      5,
    ]]);
  } finally {
    await close();
  }
});
