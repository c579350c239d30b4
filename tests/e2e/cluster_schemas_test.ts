/**
 * Schemas are cluster metadata: a schema PUT through one node of a three-node cluster of real
 * processes is applied by every node (a write through another node is validated and transformed
 * by it, with the script and lookup files only the first node's folder holds), a node restarted
 * on its data folder has it, and a DELETE through that node removes it everywhere; each node
 * starts the script's sandbox and stops it as the schema comes and goes.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query, writeLines } from "../_server.ts";
import { eventually, sandboxChildren } from "../schema/_processes.ts";

/** Made once every node is there: its partitions need no move (the default database's do). */
const DB = "w";

/** The schema: a bound, a transformation, a lookup file and a script file. */
const SCHEMA = {
  unknown_fields: "reject",
  fields: {
    temp: { type: "float", min: -50, max: 60 },
    marked: { type: "integer" },
  },
  pipeline: [
    { scale: { field: "temp", factor: 0.5, offset: -10 } },
    { lookup: { tag: "station", file: "lookups/stations.csv" } },
    // Generous: the first batch starts the sandbox child, slow on a loaded machine.
    { script: { file: "mark.ts", timeout_ms: 30_000 } },
  ],
};

/**
 * The schema as the node at `url` answers it, whatever the status. A request the node does not
 * answer within 10 s (a loaded machine, a node just restarted) is asked again, 6 times at most:
 * one slow answer outside a retry loop failed the test once ("operation was aborted due to
 * timeout") at load ~7.
 */
async function schemaOf(url: string): Promise<{ status: number; body: string }> {
  for (let attempt = 1;; attempt++) {
    try {
      const r = await fetch(`${url}/api/v1/schemas/weather`, {
        signal: AbortSignal.timeout(10_000),
      });
      return { status: r.status, body: await r.text() };
    } catch (error) {
      if (attempt === 6) {
        throw new Error(`GET ${url}/api/v1/schemas/weather: no answer in 6 tries of 10 s`, {
          cause: error,
        });
      }
    }
  }
}

Deno.test({
  name: "e2e: a schema PUT on one node holds on every node, survives a restart, DELETE anywhere",
  sanitizeResources: false,
  fn: async () => {
    // Only node 0 has a schema folder: the others get the files' texts with the schema.
    const folder = await Deno.makeTempDir({ prefix: "epochnexus-cluster-schemas-" });
    await Deno.mkdir(`${folder}/lookups`);
    await Deno.writeTextFile(`${folder}/lookups/stations.csv`, "station,region\ns1,north\n");
    await Deno.writeTextFile(
      `${folder}/mark.ts`,
      "export default (ps: any[]) => ps.map((p) => ({ ...p, fields: { ...p.fields, marked: 7 }, " +
        "types: { ...p.types, marked: 'integer' } }));\n",
    );
    const cluster = await TestCluster.start({
      nodeEnv: (i): Record<string, string> => (i === 0 ? { EPOCHNEXUS_SCHEMA_DIR: folder } : {}),
    });
    const [a, b, c] = [0, 1, 2];
    const sandboxes = (i: number) => sandboxChildren(cluster.node(i).process.pid);
    try {
      await query(cluster.url(a), `CREATE DATABASE ${DB}`);
      // Stored data a schema contradicts is known cluster-wide (the metadata's field types).
      assert.equal((await writeLines(cluster.url(b), DB, 'other v="text" 1')).status, 204);
      const contradicts = await fetch(`${cluster.url(c)}/api/v1/schemas/other`, {
        method: "PUT",
        body: JSON.stringify({ fields: { v: { type: "integer" } } }),
      });
      const why = await contradicts.text();
      assert.equal(contradicts.status, 409, why);
      assert.match(why, /stored as string in database w, the schema declares integer/);
      const put = await fetch(`${cluster.url(a)}/api/v1/schemas/weather`, {
        method: "PUT",
        body: JSON.stringify(SCHEMA),
      });
      assert.equal(put.status, 200, await put.text());
      // The PUT answers once node A applied it; the others apply it with their next metadata
      // entries (a heartbeat later at most).
      for (const i of [b, c]) {
        await cluster.waitFor(`node ${i} has the schema`, 20_000, async () => {
          return (await schemaOf(cluster.url(i))).status === 200;
        });
      }

      // Through B: 150 becomes 65 (scale), past the schema's max: refused with its rule.
      const refused = await writeLines(cluster.url(b), DB, "weather,station=s1 temp=150 1000");
      assert.equal(refused.status, 400, `a point violating the schema, through B: ${refused.body}`);
      assert.match(refused.body, /field_max on \\"temp\\": expected <= 60, got 65/);
      // A good point through B and through C: transformed by the scale, lookup and script.
      for (const [i, t] of [[b, 2000], [c, 3000]]) {
        const ok = await writeLines(cluster.url(i), DB, `weather,station=s1 temp=40 ${t}`);
        assert.equal(ok.status, 204, `a valid point through node ${i}: ${ok.body}`);
      }
      const rows = await query(
        cluster.url(a),
        "SELECT temp, marked, region FROM weather",
        { db: DB, epoch: "ns" },
      );
      assert.deepEqual(
        rows.results[0].series?.[0].values,
        [[2000, 10, 7, "north"], [3000, 10, 7, "north"]],
        JSON.stringify(rows),
      );
      for (const i of [b, c]) {
        const pids = await eventually(() => sandboxes(i), (p) => p.length === 1);
        assert.equal(pids.length, 1, `node ${i} runs the schema's script sandbox: ${pids}`);
      }

      // C restarted on its data folder has the schema, validates with it, and can delete it.
      await cluster.node(c).stop();
      cluster.nodes[c] = undefined;
      const again = await cluster.restart(c);
      const there = await schemaOf(again.url);
      assert.equal(there.status, 200, `the schema on the restarted node: ${there.body}`);
      assert.equal(JSON.parse(there.body).schema.fields.temp.max, 60);
      const stillRefused = await writeLines(again.url, DB, "weather,station=s1 temp=150 4000");
      assert.equal(stillRefused.status, 400, stillRefused.body);

      const del = await fetch(`${again.url}/api/v1/schemas/weather`, { method: "DELETE" });
      assert.equal(del.status, 200, await del.text());
      for (const i of [a, b, c]) {
        let last = await schemaOf(cluster.url(i));
        await cluster.waitFor(`node ${i} drops the schema`, 20_000, async () => {
          last = await schemaOf(cluster.url(i));
          return last.status === 404;
        }).catch((error) => {
          throw new Error(`${error.message}: ${last.status} ${last.body}`);
        });
        const pids = await eventually(() => sandboxes(i), (p) => p.length === 0);
        assert.deepEqual(pids, [], `node ${i} stopped the script sandbox`);
      }
      const free = await writeLines(cluster.url(b), DB, "weather,station=s1 temp=150 5000");
      assert.equal(free.status, 204, `no schema any more: ${free.body}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-20_000)}`);
    } finally {
      await cluster.stop();
      await Deno.remove(folder, { recursive: true });
    }
  },
});
