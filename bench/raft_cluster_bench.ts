/**
 * Committed proposals per second and commit latency (p50/p99) of a 3-process EpochNexus Raft KV
 * cluster on 127.0.0.1, with the log fsynced on every node, for 1 and 64 concurrent proposers.
 * Each proposal is one HTTP put to the leader that returns once applied on a quorum.
 *
 *   deno run --allow-all bench/raft_cluster_bench.ts [seconds]     # prints the figures
 *   deno bench --allow-all bench/raft_cluster_bench.ts              # same runs under Deno.bench
 * @module
 */

import { RealCluster } from "../tests/raft/real_cluster.ts";
import { closedLoop, formatLoad, type LoadResult } from "./raft_load.ts";

async function putLoad(
  c: RealCluster,
  concurrency: number,
  durationMs: number,
): Promise<LoadResult> {
  let leader = await c.waitLeader();
  return await closedLoop(concurrency, durationMs, async (w, seq) => {
    const res = await fetch(c.url(leader, "/kv/put"), {
      method: "POST",
      body: JSON.stringify({ key: `k${w % 16}`, value: `${w}.${seq}`, id: `${w}.${seq}` }),
    });
    await res.body?.cancel();
    if (res.status === 421) leader = await c.waitLeader();
    return res.status === 200;
  });
}

/** Runs both loads on one fresh cluster and returns the lines of the report. */
export async function raftClusterFigures(seconds = 5): Promise<string[]> {
  const c = await RealCluster.start({ tickMs: 50, snapshotEntries: 20_000 });
  try {
    await c.waitLeader();
    await putLoad(c, 8, 1_000); // warm up (JIT, connections)
    const one = await putLoad(c, 1, seconds * 1000);
    const many = await putLoad(c, 64, seconds * 1000);
    return [
      formatLoad("epochnexus raft (3 procs, fsync)", one),
      formatLoad("epochnexus raft (3 procs, fsync)", many),
    ];
  } finally {
    await c.stop();
  }
}

if (import.meta.main) {
  for (const line of await raftClusterFigures(Number(Deno.args[0] ?? 5))) console.log(line);
} else {
  Deno.bench({
    name: "raft: 3-process cluster, puts with 1 and 64 proposers (see console for p50/p99)",
    n: 1,
    warmup: 0,
    async fn() {
      for (const line of await raftClusterFigures(3)) console.log(line);
    },
  });
}
