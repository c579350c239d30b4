/**
 * `epochnexus cluster status|remove NODE [--url URL] [--token T] [--wait false]`: the cluster as
 * a node sees it (`GET /api/v1/cluster`) printed as tables, and the removal of a node
 * (`DELETE /api/v1/cluster/nodes/<id>`): its replicas move away, then it leaves; by default the
 * command follows the moves until the node is gone.
 * @module
 */
import { httpFetch, systemClock, writeStdout } from "../runtime/mod.ts";

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
}
interface PartitionStatus {
  index: number;
  groupId: number;
  replicas: number[];
  target?: number[];
  leader: number;
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

/** Lays out rows under a header, each column as wide as its widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd() + "\n";
  return line(header) + line(widths.map((w) => "-".repeat(w))) + rows.map(line).join("");
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
  let out = `cluster ${status.clusterId}, seen from node ${status.nodeId}, ` +
    `metadata leader ${status.metaLeader || "none"}\n\n`;
  out += formatTable(
    ["NODE", "HTTP", "RAFT", "VERSION", "STATE", "METADATA", "REPLICAS", "LEADS"],
    status.nodes.map((n) => [
      String(n.id),
      n.httpAddress,
      n.raftAddress,
      n.version,
      state(n),
      n.meta,
      String(holds.get(n.id) ?? 0),
      String(leads.get(n.id) ?? 0),
    ]),
  );
  const moves = status.moves ?? [];
  out += `\n${moves.length} move(s) in progress\n`;
  if (moves.length > 0) {
    out += formatTable(
      ["DATABASE", "PARTITION", "GROUP", "FROM", "TO", "COPY"],
      moves.map((m) => [
        m.database,
        String(m.index),
        String(m.groupId),
        m.from.join(",") || "-",
        m.to.join(",") || "-",
        (m.learners ?? []).map((l) => `${l.id}: ${l.match}/${l.commit}`).join(" ") || "-",
      ]),
    );
  }
  for (const db of status.databases) {
    out += `\ndatabase ${db.name} (replication factor ${db.replicationFactor})\n`;
    out += formatTable(
      ["PARTITION", "GROUP", "LEADER", "REPLICAS", "TARGET", "COMMIT", "APPLIED"],
      db.partitions.map((p) => [
        String(p.index),
        String(p.groupId),
        String(p.leader || "-"),
        p.replicas.join(","),
        (p.target ?? p.replicas).join(","),
        p.commit === undefined ? "-" : String(p.commit),
        p.applied === undefined ? "-" : String(p.applied),
      ]),
    );
  }
  return out;
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
      console.error(`node ${args[0]} not removed: ${response.status} ${text}`);
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
    console.error(`node ${id} is still draining; see epochnexus cluster status`);
    return 1;
  } catch (error) {
    console.error(`cannot reach ${options.url}: ${(error as Error).message}`);
    return 2;
  }
}
