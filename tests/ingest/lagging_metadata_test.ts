/**
 * A write may reach a cluster node before the database its client just created through another
 * node is in this node's copy of the metadata: every write route asks the metadata again
 * (`knowsDatabase`) before it answers 404 (CI saw `404 !== 204` for a write sent to another node
 * right after CREATE DATABASE, under load).
 */
import assert from "node:assert/strict";
import type { DataStore } from "../../src/http/app.ts";
import type { StorageEngine } from "../../src/storage/mod.ts";
import { setup } from "./_app.ts";

/** The engine as a node whose metadata has not applied "late" until it catches up. */
function lagging(engine: StorageEngine): DataStore & { caughtUp: number } {
  let known = false;
  const store = Object.create(engine) as DataStore & { caughtUp: number };
  store.caughtUp = 0;
  store.hasDatabase = (name) => (name === "late" && !known ? false : engine.hasDatabase(name));
  store.knowsDatabase = async (name) => {
    await Promise.resolve();
    known = true;
    store.caughtUp++;
    return store.hasDatabase(name);
  };
  // Methods of the engine run on the engine itself (its private fields).
  for (const key of ["write", "createDatabase", "stats", "figures"] as const) {
    (store as unknown as Record<string, unknown>)[key] = (engine[key] as CallableFunction).bind(
      engine,
    );
  }
  return store;
}

Deno.test("a write to a database this node's metadata lacks asks the metadata again, then writes", async () => {
  const routes: [string, string, string][] = [
    ["/write?db=late", "text/plain", "m v=1 1700000000000000000"],
    ["/ingest?db=late", "application/json", '{"measurement":"m","value":2,"timestamp":1700000001}'],
  ];
  for (const [path, type, body] of routes) {
    let store: ReturnType<typeof lagging> | undefined;
    const node = await setup({ store: (engine) => store = lagging(engine) });
    try {
      await node.engine.createDatabase("late");
      const r = await node.post(path, type, body);
      assert.ok(r.status === 204 || r.status === 200, `${path}: ${r.status} ${r.text}`);
      assert.equal(store!.caughtUp, 1, path);
      // A database nobody created is still 404, after asking.
      const missing = await node.post(path.replace("late", "nope"), type, body);
      assert.equal(missing.status, 404, `${path}: ${missing.text}`);
    } finally {
      await node.close();
    }
  }
});
