import assert from "node:assert/strict";
import type { PeerService, SelectRequest } from "../cluster/mod.ts";
import type { PlanRequest, SeriesPartial } from "../query/mod.ts";
import { systemClock } from "../runtime/mod.ts";
import { ConnectClusterNetwork } from "./cluster_network.ts";

/** A node serving Select (answering each group's part by its start) and a caller reaching it. */
function pair() {
  const served: SelectRequest[] = [];
  const node = new ConnectClusterNetwork({
    clusterId: "c",
    nodeId: 1,
    secret: "s",
    clock: systemClock,
  });
  node.serve({
    select: (request: SelectRequest) => {
      served.push(request);
      // Enough series for several chunks from the group at 2000 (2 000 per message).
      const n = request.startMs === 2000 ? 4500 : 1;
      return Promise.resolve(
        Array.from({ length: n }, (_, i) =>
          ({
            key: `m,g=${request.startMs},i=${i}`,
            measurements: request.measurements,
          }) as unknown as SeriesPartial),
      );
    },
  } as unknown as PeerService);
  const caller = new ConnectClusterNetwork({
    clusterId: "c",
    nodeId: 0,
    secret: "s",
    clock: systemClock,
    fetch: (input, init) => node.fetchHandler(new Request(input, init)),
  });
  caller.setPeer(1, "node1:9000");
  return { caller, served };
}

const REQUEST = {
  groupId: 5,
  database: "db",
  retentionPolicy: "autogen",
  startMs: 0,
  consistency: "any" as const,
  request: { statement: {}, schemas: [], nowNs: 0n } as unknown as PlanRequest,
  measurements: [],
};

Deno.test("cluster rpc: one Select call answers several shard groups, each its own partials", async () => {
  const { caller, served } = pair();
  const shards = [
    { startMs: 1000, measurements: ["cpu"] },
    { startMs: 2000, measurements: ["cpu", "mem"] },
    { startMs: 3000, measurements: ["mem"] },
  ];
  const answers = await caller.peers.selectShards!(1, REQUEST, shards);
  assert.deepEqual(answers.map((a) => a.length), [1, 4500, 1]);
  for (const [i, shard] of shards.entries()) {
    for (const p of answers[i]) {
      assert.match((p as unknown as { key: string }).key, new RegExp(`g=${shard.startMs},`));
    }
  }
  // Each group was run on the node with its own start and measurements.
  assert.deepEqual(
    served.map((r) => [r.startMs, r.measurements, r.groupId]).sort(),
    shards.map((s) => [s.startMs, s.measurements, 5]),
  );
  // A plain Select still answers its one group.
  const one = await caller.peers.select(1, { ...REQUEST, startMs: 3000, measurements: ["x"] });
  assert.equal(one.length, 1);
});
