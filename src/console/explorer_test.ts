import assert from "node:assert/strict";
import { parseLineProtocol } from "../ingest/mod.ts";
import { parseQuery, printStatement } from "../query/mod.ts";
import { replicaLag } from "./cluster_view.ts";
import { fieldQuery, quoteIdent, quoteString } from "./explorer.ts";
import { sampleLine } from "./schemas_view.ts";
import { applyTimeMacros } from "./time_range.ts";

const fill = (q: string) =>
  applyTimeMacros(q, { range: { kind: "relative", last: "1h" }, nowMs: 0, maxBuckets: 100 });

Deno.test("the explorer's queries parse, with any measurement, field or tag names", () => {
  for (const name of ["cpu", 'we"ird', "back\\slash", "with space", "it's"]) {
    for (const type of ["float", "string"]) {
      const q = fill(fieldQuery(name, name, type));
      const [statement] = parseQuery(q);
      assert.ok(printStatement(statement).includes(type === "float" ? "mean(" : "LIMIT 1000"), q);
    }
    const where = `SELECT * FROM ${quoteIdent(name)} WHERE ${quoteIdent(name)} = ${
      quoteString(name)
    } AND time > now() - 1h`;
    assert.doesNotThrow(() => parseQuery(where), where);
  }
});

Deno.test("the dry run's sample line satisfies the schema's required tags and fields", () => {
  const line = sampleLine("cpu", {
    tags: { host: { required: true }, region: { required: true, values: ["eu", "us"] } },
    fields: {
      usage: { type: "float", required: true, min: 0, max: 100 },
      cores: { type: "integer", required: true, min: 1 },
      note: { type: "string" },
    },
  });
  assert.equal(line, "cpu,host=example,region=eu usage=50,cores=1i");
  const { points, errors } = parseLineProtocol(new TextEncoder().encode(line), {
    defaultTime: { ms: 0, subMs: 0 } as never,
  });
  assert.deepEqual(errors, []);
  assert.equal(points.length, 1);
  assert.equal(sampleLine("a b", {}), "a\\ b value=1");
});

Deno.test("a replica's lag is the leader's last index minus its match", () => {
  const p = { index: 0, groupId: 1, replicas: [1, 2, 3], leader: 1, lastIndex: 50 };
  assert.equal(replicaLag({ ...p, matched: { "1": 50, "2": 48, "3": 12 } }, 3), 38);
  assert.equal(replicaLag({ ...p, matched: { "1": 50 } }, 2), undefined);
  assert.equal(replicaLag({ ...p, lastIndex: undefined }, 2), undefined);
});
