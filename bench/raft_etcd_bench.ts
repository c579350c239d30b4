/**
 * The yardstick: etcd 3.4 (apt's etcd-server) as a 3-member cluster on 127.0.0.1 with temporary
 * data directories, put requests through its v3 JSON gateway, 1 and 64 concurrent clients: the
 * same closed loop as bench/raft_cluster_bench.ts, so the figures compare put-per-proposal.
 *
 *   deno run --allow-all bench/raft_etcd_bench.ts [seconds]
 * @module
 */

import { closedLoop, formatLoad } from "./raft_load.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts etcd members, runs both loads, stops etcd; returns the report lines. */
export async function etcdFigures(seconds = 5): Promise<string[]> {
  const root = await Deno.makeTempDir({ prefix: "etcd_bench_" });
  const members = [1, 2, 3].map((i) => ({ name: `e${i}`, client: freePort(), peer: freePort() }));
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const procs = members.map((m) =>
    new Deno.Command("etcd", {
      args: [
        "--name",
        m.name,
        "--data-dir",
        `${root}/${m.name}`,
        "--listen-client-urls",
        `http://127.0.0.1:${m.client}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${m.client}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${m.peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${m.peer}`,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--log-level",
        "error",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  try {
    const url = `http://127.0.0.1:${members[0].client}/v3/kv/put`;
    const b64 = (s: string) => btoa(s);
    const put = async (w: number, seq: number) => {
      const res = await fetch(url, {
        method: "POST",
        body: JSON.stringify({ key: b64(`k${w % 16}`), value: b64(`${w}.${seq}`) }),
      });
      await res.body?.cancel();
      return res.status === 200;
    };
    const deadline = performance.now() + 20_000;
    while (!(await put(0, 0).catch(() => false))) {
      if (performance.now() > deadline) throw new Error("etcd did not come up");
      await new Promise((r) => setTimeout(r, 100));
    }
    await closedLoop(8, 1_000, put);
    const one = await closedLoop(1, seconds * 1000, put);
    const many = await closedLoop(64, seconds * 1000, put);
    return [
      formatLoad("etcd 3.4 (3 procs, fsync)", one),
      formatLoad("etcd 3.4 (3 procs, fsync)", many),
    ];
  } finally {
    for (const p of procs) {
      p.kill("SIGKILL");
      await p.status;
    }
    await Deno.remove(root, { recursive: true });
  }
}

function etcdInstalled(): boolean {
  try {
    return new Deno.Command("etcd", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  for (const line of await etcdFigures(Number(Deno.args[0] ?? 5))) console.log(line);
} else {
  Deno.bench({
    name: "etcd 3.4: 3-process cluster, puts with 1 and 64 clients (see console for p50/p99)",
    n: 1,
    warmup: 0,
    ignore: !etcdInstalled(),
    async fn() {
      for (const line of await etcdFigures(3)) console.log(line);
    },
  });
}
