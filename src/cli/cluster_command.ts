/**
 * `epochnexus cluster status|remove NODE`: the cluster as a node sees it (`GET /api/v1/cluster`)
 * printed as tables, and the removal of a node (`DELETE /api/v1/cluster/nodes/<id>`): its
 * replicas move away, then it leaves; unless `--no-wait`, the command follows the moves until the
 * node is gone.
 * @module
 */
import { formatBytes } from "../core/mod.ts";
import { httpFetch, systemClock, writeStderr, writeStdout } from "../runtime/mod.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { CONNECTION_OPTIONS } from "./query_command.ts";
import { formatColumns, type WireSeries } from "./result_table.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Options of the cluster command. */
export interface ClusterCommandOptions {
  url: string;
  token?: string;
  /** `remove`: follow the drain until the node has left. @default {true} */
  wait?: boolean;
  /** `remove`: how long to follow it. @default {1 hour} */
  waitMs?: number;
}

interface NodeStatus {
  id: number;
  httpAddress: string;
  raftAddress: string;
  version: string;
  meta: string;
  draining?: boolean;
  live?: boolean;
  /** Bytes of the replicas it holds, as last measured (absent from older nodes). */
  bytes?: number;
}
interface PartitionStatus {
  index: number;
  groupId: number;
  replicas: number[];
  target?: number[];
  leader: number;
  /** Bytes of one replica's data, as last measured. */
  bytes?: number;
  commit?: number;
  applied?: number;
}
interface MoveStatus {
  database: string;
  index: number;
  groupId: number;
  from: number[];
  to: number[];
  learners?: { id: number; match: number; commit: number }[];
}
/** What `GET /api/v1/cluster` answers. */
export interface ClusterStatus {
  clusterId: string;
  nodeId: number;
  metaLeader: number;
  nodes: NodeStatus[];
  moves?: MoveStatus[];
  databases: { name: string; replicationFactor: number; partitions: PartitionStatus[] }[];
}

/** The status as a person reads it: nodes, moves under way, then partitions per database. */
export function formatClusterStatus(status: ClusterStatus): string {
  const leads = new Map<number, number>();
  const holds = new Map<number, number>();
  for (const db of status.databases) {
    for (const p of db.partitions) {
      leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
      for (const n of p.replicas) holds.set(n, (holds.get(n) ?? 0) + 1);
    }
  }
  const state = (n: NodeStatus) =>
    n.draining ? "draining" : n.live === false ? "lost" : n.live ? "live" : "member";
  const series: WireSeries[] = [{
    name: "nodes",
    columns: [
      "node",
      "http",
      "raft",
      "version",
      "state",
      "metadata",
      "replicas",
      "leads",
      "bytes",
    ],
    values: status.nodes.map((n) => [
      n.id,
      n.httpAddress,
      n.raftAddress,
      n.version,
      state(n),
      n.meta,
      holds.get(n.id) ?? 0,
      leads.get(n.id) ?? 0,
      formatBytes(n.bytes),
    ]),
  }];
  const moves = status.moves ?? [];
  if (moves.length > 0) {
    series.push({
      name: "moves in progress",
      columns: ["database", "partition", "group", "from", "to", "copied"],
      values: moves.map((m) => [
        m.database,
        m.index,
        m.groupId,
        m.from.join(",") || "-",
        m.to.join(",") || "-",
        (m.learners ?? []).map((l) => `node ${l.id}: ${l.match}/${l.commit}`).join(" ") || "-",
      ]),
    });
  }
  for (const db of status.databases) {
    series.push({
      name: `database ${db.name} (replication factor ${db.replicationFactor})`,
      columns: [
        "partition",
        "group",
        "leader",
        "replicas",
        "target",
        "bytes",
        "commit",
        "applied",
      ],
      values: db.partitions.map((p) => [
        p.index,
        p.groupId,
        p.leader || "-",
        p.replicas.join(","),
        (p.target ?? p.replicas).join(","),
        formatBytes(p.bytes),
        p.commit ?? "-",
        p.applied ?? "-",
      ]),
    });
  }
  return `cluster ${status.clusterId}, seen from node ${status.nodeId}, metadata leader ${
    status.metaLeader || "none"
  }, ${moves.length} move(s) in progress\n\n` + formatColumns([{ statement_id: 0, series }]);
}

function headers(options: ClusterCommandOptions): Record<string, string> {
  if (!options.token) return {};
  return {
    authorization: options.token.includes(":")
      ? `Token ${options.token}`
      : `Bearer ${options.token}`,
  };
}

async function fetchStatus(options: ClusterCommandOptions): Promise<ClusterStatus> {
  const response = await httpFetch(`${options.url.replace(/\/$/, "")}/api/v1/cluster`, {
    headers: headers(options),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Runs `cluster status` or `cluster remove`; returns the exit code (0 ok, 1 refused, 2 no answer). */
export async function runClusterCommand(
  action: string,
  args: string[],
  options: ClusterCommandOptions,
): Promise<number> {
  try {
    if (action === "status") {
      await writeStdout(formatClusterStatus(await fetchStatus(options)));
      return 0;
    }
    const id = Number(args[0]);
    const base = options.url.replace(/\/$/, "");
    const response = await httpFetch(`${base}/api/v1/cluster/nodes/${args[0]}`, {
      method: "DELETE",
      headers: headers(options),
    });
    const text = await response.text();
    if (!response.ok) {
      await writeStderr(`node ${args[0]} not removed: ${response.status} ${text}\n`);
      return 1;
    }
    await writeStdout(`node ${id} is draining: its replicas move to the other nodes\n`);
    if (options.wait === false) return 0;
    const deadline = systemClock.monotonicMs() + (options.waitMs ?? 3_600_000);
    let last = "";
    while (systemClock.monotonicMs() < deadline) {
      const status = await fetchStatus(options);
      if (!status.nodes.some((n) => n.id === id)) {
        await writeStdout(`node ${id} has left the cluster\n`);
        return 0;
      }
      const held = status.databases.flatMap((d) => d.partitions)
        .filter((p) => p.replicas.includes(id) || (p.target ?? []).includes(id)).length;
      const line = `node ${id}: ${held} replica(s) still to move, ` +
        `${(status.moves ?? []).length} move(s) in progress\n`;
      if (line !== last) await writeStdout(line);
      last = line;
      await sleep(1000);
    }
    await writeStderr(`node ${id} is still draining; see epochnexus cluster status\n`);
    return 1;
  } catch (error) {
    await writeStderr(`cannot reach ${options.url}: ${(error as Error).message}\n`);
    return 2;
  }
}

/** The `cluster` command. */
export const clusterCommand: Command = {
  name: "cluster",
  summary: "Show the cluster's nodes, partitions and moves, or remove a node.",
  usage: "cluster [options] status | remove <node id>",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "no-wait", switch: true, help: "remove: return once the drain has started" },
  ],
  details: `remove drains the node: its replicas move to the other nodes (a few partitions at a
time, at rebalance_bytes_per_sec), then it leaves the cluster; stop its process afterwards.
examples:
  epochnexus cluster status --url http://10.0.0.1:8080
  epochnexus cluster remove 3`,
  async run({ flags, positional }, context) {
    const [action, ...args] = positional;
    const valid = (action === "status" && args.length === 0) ||
      (action === "remove" && args.length === 1 && /^\d+$/.test(args[0]));
    if (!valid) throw new UsageError("cluster takes status, or remove and a node id");
    return await runClusterCommand(action, args, {
      url: flags.url ?? context.defaultUrl,
      token: flags.token,
      wait: flags["no-wait"] !== "true",
    });
  },
};
