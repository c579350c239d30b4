/**
 * Cluster nodes in one process on a {@linkcode MemoryHub} (real engines, real Raft, links that
 * can be cut), each with the HTTP app a node serves: for tests of what the doors answer when
 * part of the cluster is out of reach, without processes.
 * @module
 */
import assert from "node:assert/strict";
import { type Clock, silentLogger } from "../../src/core/mod.ts";
import { ClusterNode, ClusterStore, MemoryHub } from "../../src/cluster/mod.ts";
import { createApp, type Handler } from "../../src/http/mod.ts";
import type { IngestSettings } from "../../src/http/ingest_handler.ts";
import { seededRng } from "../../src/raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../../src/runtime/mod.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One node: its cluster node, store and HTTP app. */
export interface MemoryNode {
  node: ClusterNode;
  store: ClusterStore;
  app: Handler;
}

/** Options of {@linkcode startMemoryCluster}. */
export interface MemoryClusterOptions {
  nodes: number;
  /** Cluster defaults (partitions, replicationFactor). */
  defaults?: { partitions?: number; replicationFactor?: number };
  /** How long a write looks for a partition's leader, and a read waits for its barrier. */
  writeTimeoutMs?: number;
  ingest?: Partial<IngestSettings>;
  clock?: Clock;
  /** Raft's tick (a lease lasts about 6.5 ticks). @default {10} */
  tickMs?: number;
}

/** Starts the nodes (the first founds the cluster, the others are admitted as voters). */
export async function startMemoryCluster(options: MemoryClusterOptions) {
  const hub = new MemoryHub();
  const dirs: string[] = [];
  const nodes: MemoryNode[] = [];
  const clock = options.clock ?? systemClock;
  for (let id = 1; id <= options.nodes; id++) {
    const dir = await Deno.makeTempDir({ prefix: `epochnexus-memcluster-${id}-` });
    dirs.push(dir);
    if (id > 1) {
      await nodes[0].node.admit({
        httpAddress: `node${id}:8080`,
        raftAddress: `node${id}:9000`,
        version: "test",
        clusterId: "",
      });
    }
    const node = await ClusterNode.start({
      dataDir: dir,
      identity: { clusterId: "c", nodeId: id, bootstrap: id === 1 },
      httpAddress: `node${id}:8080`,
      raftAddress: `node${id}:9000`,
      version: "test",
      network: hub.network(id),
      fs: denoFileSystem,
      clock,
      rng: seededRng(id),
      logger: silentLogger,
      sleep,
      tickMs: options.tickMs ?? 10,
      maintenanceIntervalMs: 0,
      defaults: options.defaults,
    });
    const store = new ClusterStore(node, {
      clock,
      sleep,
      writeTimeoutMs: options.writeTimeoutMs,
      readTimeoutMs: options.writeTimeoutMs,
    });
    const app = createApp({
      engine: store,
      clock,
      logger: silentLogger,
      defaultDatabase: "epochnexus",
      maxBodyBytes: 1_000_000,
      ingest: options.ingest,
    });
    nodes.push({ node, store, app });
  }
  // Learners become voters one at a time, as the metadata leader's maintenance does it.
  for (let round = 0; round < 50; round++) {
    const { voters } = nodes[0].node.meta.raft.raft.currentConf();
    if (voters.length === options.nodes) break;
    await nodes[0].node.maintain();
    await sleep(20);
  }
  return {
    hub,
    nodes,
    async close() {
      for (const { node } of nodes) await node.close();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Polls `condition` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  condition: () => boolean | Promise<boolean>,
) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000 && !(await condition()); i++) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

const T0 = 1_700_000_000_000_000_000n;

/**
 * Writes `body` (line protocol, database `db`) through `node` until a 204 acknowledges it. A 503
 * (a partition electing or moving its leader: new groups, an isolated node's groups) is sent
 * again, as a client does (writes are idempotent), within 10 s; any other answer fails at once.
 */
export async function writeAcknowledged(node: MemoryNode, body: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0;; attempt++) {
    const r = await node.app(new Request("http://node/write?db=db", { method: "POST", body }));
    const text = await r.text();
    if (r.status === 503 && Date.now() < deadline && attempt < 100) continue;
    assert.equal(r.status, 204, text);
    return;
  }
}

/** Writes points `cpu v=from .. from+n-1` over 5 hosts, 1 ns apart (see writeAcknowledged). */
export function writeCpuPoints(node: MemoryNode, from: number, n: number): Promise<void> {
  const body = Array.from(
    { length: n },
    (_, i) => `cpu,host=h${(from + i) % 5} v=${from + i} ${T0 + BigInt(from + i)}`,
  ).join("\n");
  return writeAcknowledged(node, body);
}

/** `SELECT count(v) FROM cpu` through a node, with `consistency` when given; errors as text. */
export async function countCpu(node: MemoryNode, consistency?: string): Promise<number | string> {
  const params = new URLSearchParams({ db: "db", q: "SELECT count(v) FROM cpu" });
  if (consistency) params.set("consistency", consistency);
  const r = await node.app(new Request(`http://node/query?${params}`));
  const answer = await r.json();
  if (r.status !== 200) return `HTTP ${r.status}: ${answer.error}`;
  const result = answer.results[0];
  return result.error ?? result.series?.[0]?.values[0][1] ?? 0;
}
