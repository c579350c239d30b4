import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger, sortTags } from "../core/mod.ts";
import { formatLineProtocol, parseLineProtocol } from "../ingest/mod.ts";
import { seededRng } from "../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { ClusterNode, ClusterStore, MemoryHub } from "../cluster/mod.ts";
import { planExport, pointFormatter, windowPoints } from "./mod.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const NOW = 1_800_000_000_000_000_000n;

async function oneNode(dir: string): Promise<{ node: ClusterNode; store: ClusterStore }> {
  const node = await ClusterNode.start({
    dataDir: dir,
    identity: { clusterId: "c", nodeId: 1, bootstrap: true },
    httpAddress: "n1:8080",
    raftAddress: "n1:9000",
    version: "test",
    network: new MemoryHub().network(1),
    fs: denoFileSystem,
    clock: systemClock,
    rng: seededRng(1),
    logger: silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
  });
  return { node, store: new ClusterStore(node, { clock: systemClock, sleep }) };
}

/** Points of every type and awkward names, over three days, at nanosecond times. */
function dataset(): Point[] {
  const points: Point[] = [];
  const base = 1_700_000_000_000;
  for (let i = 0; i < 600; i++) {
    const host = `h ${i % 7},x=y`; // a space, a comma and an equals sign to escape
    points.push({
      measurement: "cpu load",
      tags: sortTags([{ key: "host", value: host }, { key: "dc", value: `d${i % 2}` }]),
      fields: [
        { key: "usage", type: FieldType.Float, value: i % 5 === 0 ? 3 : i / 7 },
        {
          key: "n",
          type: FieldType.Integer,
          value: i === 1 ? -(2n ** 63n) : i === 2 ? 2n ** 63n - 1n : i,
        },
        { key: "u", type: FieldType.Unsigned, value: i === 3 ? 2n ** 64n - 1n : i },
      ],
      timeMs: base + i * 431_000,
      timeSubMs: (i * 7919) % 1_000_000,
    });
    if (i % 3 === 0) {
      points.push({
        measurement: "events",
        tags: [],
        fields: [
          { key: "msg", type: FieldType.String, value: `say "hi" \\ ${i}` },
          { key: "ok", type: FieldType.Boolean, value: i % 2 === 0 },
        ],
        timeMs: base + i * 431_000 + 1,
        timeSubMs: 999_999,
      });
    }
  }
  return points;
}

/** Points as sorted lines, fields in key order (storage keeps no field order). */
function lines(points: Point[]): string[] {
  return points.map((p) =>
    formatLineProtocol({ ...p, fields: [...p.fields].sort((a, b) => a.key < b.key ? -1 : 1) })
  ).sort();
}

Deno.test("export: windows within the budget tile the range, and the points come back exact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-export-" });
  const { node, store } = await oneNode(dir);
  try {
    await store.createDatabase("db");
    const points = dataset();
    const outcome = await store.write("db", undefined, points);
    assert.equal(outcome.accepted, points.length, JSON.stringify(outcome.rejected.slice(0, 3)));
    await store.flush(); // some data in segments (block statistics), some written after in heads
    await store.write("db", undefined, points.slice(0, 50));

    const budget = 300;
    const plan = await planExport(store, { database: "db" }, { windowValues: budget, nowNs: NOW });
    const values = points.reduce((n, p) => n + p.fields.length, 0);
    assert.equal(plan.values, values);
    assert.ok(plan.windows.length >= values / budget, `${plan.windows.length} windows`);
    for (const w of plan.windows) assert.ok(w.values <= budget, `window of ${w.values} values`);
    for (const m of ["cpu load", "events"]) {
      const ws = plan.windows.filter((w) => w.measurement === m);
      for (let i = 1; i < ws.length; i++) assert.equal(ws[i].startNs, ws[i - 1].endNs);
      assert.equal(ws[0].startNs, plan.startNs);
      assert.equal(ws[ws.length - 1].endNs, plan.endNs);
    }
    assert.deepEqual(plan.tagKeys.get("cpu load"), ["dc", "host"]);

    const formatter = pointFormatter("lp", plan);
    let text = "";
    for (const w of plan.windows) {
      for await (
        const batch of windowPoints(store, w, {
          database: "db",
          retentionPolicy: plan.retentionPolicy,
          fieldTypes: plan.fieldTypes.get(w.measurement)!,
          nowNs: NOW,
        })
      ) text += formatter.format(batch);
    }
    const parsed = parseLineProtocol(new TextEncoder().encode(text), {
      defaultTime: { ms: 0, subMs: 0 },
    });
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(lines(parsed.points), lines(points));
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});
