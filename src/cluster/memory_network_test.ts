import assert from "node:assert/strict";
import { plainPoints } from "../core/testing/mod.ts";
import { parseLineProtocol } from "../ingest/mod.ts";
import { partitionWriteOverTheWire } from "./memory_network.ts";

Deno.test("memory network: a partition write of packed points arrives with every field", () => {
  const body = 'cpu,host=a u=1.5,n=2i,s="x",b=t,c=3u 1000\ncpu,host=a u=2.5 2000\nmem v=1 3000\n';
  const { points, errors } = parseLineProtocol(new TextEncoder().encode(body), {
    defaultTime: { ms: 0, subMs: 0 },
  });
  assert.deepEqual(errors, []);
  const write = {
    groupId: 3,
    database: "db",
    retentionPolicy: "rp",
    points,
    consistency: "one" as const,
  };
  const arrived = partitionWriteOverTheWire(write);
  assert.equal(arrived.groupId, 3);
  assert.equal(arrived.consistency, "one");
  assert.deepEqual(plainPoints(arrived.points), plainPoints(points));
});
