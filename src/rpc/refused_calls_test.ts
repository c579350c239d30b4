import assert from "node:assert/strict";
import type { Clock, Logger } from "../core/mod.ts";
import { ConnectClusterNetwork } from "./cluster_network.ts";
import { PEER_STREAM_PATH, PEER_STREAM_PROTOCOL } from "./peer_stream.ts";

const CLUSTER_PATH = "/epochnexus.cluster.v1.ClusterService/WritePartition";
const RAFT_PATH = "/epochnexus.raft.v1.RaftService/Send";

Deno.test("refused node-to-node calls: 1,000 give one line and one summary, counted, on all three doors", async () => {
  let now = 0;
  const clock: Clock = { nowMs: () => now, nowNanos: () => 0n, monotonicMs: () => now };
  const warnings: string[] = [];
  const logger: Logger = {
    info() {},
    warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    error() {},
  };
  const pending: (() => void)[] = [];
  const network = new ConnectClusterNetwork({
    clusterId: "c1",
    nodeId: 1,
    secret: "s",
    clock,
    logger,
    later: (fn) => pending.push(fn),
  });
  try {
    const remoteAddr = "203.0.113.7:40000";
    for (let i = 0; i < 1_000; i++) {
      const door = i % 3;
      if (door === 2) {
        const answer = network.upgradeHandler({
          path: PEER_STREAM_PATH,
          protocol: PEER_STREAM_PROTOCOL,
          headers: new Headers(),
          remoteAddr,
        });
        assert.equal(answer.status, 401);
        continue;
      }
      const path = door === 0 ? CLUSTER_PATH : RAFT_PATH;
      const response = await network.fetchHandler(
        new Request(`http://node1${path}`, { method: "POST", body: "x" }),
        { remoteAddr },
      );
      assert.equal(response.status, 401);
      await response.body?.cancel();
      now += 5; // 1,000 calls in 5 s
    }
    assert.deepEqual(warnings, [
      `node-to-node call without the cluster secret refused ${
        JSON.stringify({ path: CLUSTER_PATH, remote: remoteAddr })
      }`,
    ]);
    assert.equal(pending.length, 1, "one summary due, not one per call");
    now = 10_000;
    pending.shift()!();
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(
      warnings[1],
      /^999 more node-to-node calls without the cluster secret refused in the last 10 s /,
    );
    assert.match(
      warnings[1],
      /"last_path":"\/epochnexus\.cluster\.v1\.ClusterService\/WritePartition"/,
    );
    assert.match(warnings[1], /"last_remote":"203\.0\.113\.7:40000"/);
    assert.equal(network.refusedCalls(), 1_000);
  } finally {
    network.close();
  }
});
