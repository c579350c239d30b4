/**
 * The write path behind the HTTP layer (a one-node cluster's router, partition logs, engine and
 * head) of two checkouts on the bench:peers workload, by CPU time of this thread: the part of a
 * served `/write` that runs on the server's one JavaScript thread after the body is parsed.
 * Each round starts a fresh in-process node per checkout (a real folder, fsynced group commit),
 * parses every body with that checkout's line-protocol decoder (timed apart), then writes the
 * points body by body with `writers` concurrent writers, as bench:peers does; A and B
 * alternate, and the best round of each is printed with B/A.
 *
 *   npx --yes deno@2.9.6 run -A bench/write_path_ab.ts --a /path/to/other/checkout/ \
 *     [--rounds 5] [--hours 4] [--writers 2]
 *
 * B is this checkout. CPU of this thread only: fsyncs and V8's background threads are not in
 * it (bench:peers measures the whole process).
 * @module
 */
import process from "node:process";
import { generateBatches } from "./peers/workload.ts";

const args = Deno.args;
const flag = (name: string, fallback?: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const other = flag("--a");
if (!other) throw new Error("usage: write_path_ab.ts --a /path/to/other/checkout/ [--rounds 5]");
const rounds = Number(flag("--rounds", "5"));
const hours = Number(flag("--hours", "4"));
const writers = Number(flag("--writers", "2"));

const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;
const cpuMs = (start: { user: number; system: number }) => {
  const d = threadCpu(start);
  return (d.user + d.system) / 1000;
};

/** One checkout's modules, loaded from its root. */
async function checkout(root: string) {
  const url = (path: string) => new URL(path, root).href;
  return {
    core: await import(url("src/core/mod.ts")),
    ingest: await import(url("src/ingest/mod.ts")),
    runtime: await import(url("src/runtime/mod.ts")),
    rng: await import(url("src/raft/_test_util.ts")),
    hub: await import(url("src/cluster/memory_network.ts")),
    node: await import(url("src/cluster/node.ts")),
    store: await import(url("src/cluster/cluster_store.ts")),
  };
}
type Checkout = Awaited<ReturnType<typeof checkout>>;

const { bodies, points } = generateBatches({ hosts: 100, hours, batchLines: 5000, seed: 1 });
const values = points * 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU ms of parsing every body and of writing the points, on a fresh node of `c`. */
async function round(c: Checkout): Promise<{ parse: number; write: number }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-write-path-" });
  const { denoFileSystem, systemClock } = c.runtime;
  const node = await c.node.ClusterNode.start({
    dataDir: dir,
    identity: { clusterId: "c1", nodeId: 1, bootstrap: true },
    httpAddress: "node1:8080",
    raftAddress: "node1:9000",
    version: "bench",
    network: new c.hub.MemoryHub().network(1),
    fs: denoFileSystem,
    clock: systemClock,
    rng: c.rng.seededRng(1),
    logger: c.core.silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
  });
  try {
    const store = new c.store.ClusterStore(node, { clock: systemClock, sleep });
    await store.createDatabase("bench");
    const cache = new c.ingest.LineProtocolCache();
    let start = threadCpu();
    const parsed = bodies.map((body) =>
      c.ingest.parseLineProtocol(body, {
        defaultTime: { ms: 0, subMs: 0 },
        precision: "s",
        cache,
      }).points
    );
    const parse = cpuMs(start);
    start = threadCpu();
    let next = 0;
    const writer = async () => {
      while (next < parsed.length) {
        const outcome = await store.write("bench", undefined, parsed[next++]);
        if (outcome.rejected.length > 0) throw new Error(outcome.rejected[0].reason);
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    return { parse, write: cpuMs(start) };
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const A = await checkout(new URL(other.endsWith("/") ? other : other + "/", "file:///").href);
const B = await checkout(new URL("../", import.meta.url).href);
const best = { A: { parse: Infinity, write: Infinity }, B: { parse: Infinity, write: Infinity } };
for (let r = 0; r < rounds; r++) {
  for (
    const [name, c] of r % 2 === 0 ? [["A", A], ["B", B]] as const : [["B", B], ["A", A]] as const
  ) {
    const t = await round(c);
    best[name].parse = Math.min(best[name].parse, t.parse);
    best[name].write = Math.min(best[name].write, t.write);
    const perM = (ms: number) => (ms / (values / 1e6)).toFixed(0);
    console.log(
      `round ${r + 1} ${name}: parse ${perM(t.parse)} ms/1M values, write ${perM(t.write)} ms/1M`,
    );
  }
}
const perM = (ms: number) => ms / (values / 1e6);
console.log(
  `best of ${rounds}, CPU ms per 1M values (${values} values): parse A ${
    perM(best.A.parse).toFixed(0)
  }` +
    ` B ${perM(best.B.parse).toFixed(0)} (B/A ${
      (best.B.parse / best.A.parse).toFixed(2)
    }); write A ` +
    `${perM(best.A.write).toFixed(0)} B ${perM(best.B.write).toFixed(0)} (B/A ` +
    `${(best.B.write / best.A.write).toFixed(2)})`,
);
