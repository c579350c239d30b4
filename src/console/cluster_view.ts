/// <reference lib="dom" />
/**
 * The cluster view, from `GET /api/v1/cluster` of this node: the members (and which one leads
 * the metadata group, and the bytes each holds), and each database's partitions with their
 * replicas, leader, bytes and applied index. A partition this node leads also shows each replica's lag (the leader's last index
 * minus the index up to which that replica's log matches); for the others, the leader's own
 * console has it, linked from the node table.
 * @module
 */
import { formatBytes } from "../core/format_bytes.ts";
import type { Api } from "./api.ts";
import { h, replace } from "./dom.ts";

/** `GET /api/v1/cluster`. */
export interface ClusterStatus {
  clusterId: string;
  nodeId: number;
  metaLeader: number;
  nodes: {
    id: number;
    httpAddress: string;
    raftAddress: string;
    version: string;
    meta: string;
    /** Bytes of the partitions it holds a replica of, as the metadata leader last measured. */
    bytes?: number;
  }[];
  databases: {
    name: string;
    hash: string;
    hashKey: string;
    replicationFactor: number;
    partitions: {
      index: number;
      groupId: number;
      replicas: number[];
      leader: number;
      /** One replica's data, as last measured; absent until measured. */
      bytes?: number;
      applied?: number;
      flushedBefore?: number;
      lastIndex?: number;
      matched?: Record<string, number>;
    }[];
  }[];
}

/** Lag in entries of `replica` in a partition this node leads, or undefined when unknown. */
export function replicaLag(
  partition: ClusterStatus["databases"][number]["partitions"][number],
  replica: number,
): number | undefined {
  const match = partition.matched?.[String(replica)];
  if (partition.lastIndex === undefined || match === undefined) return undefined;
  return Math.max(0, partition.lastIndex - match);
}

/** The cluster view and the shell's handle on it. */
export interface ClusterView {
  element: HTMLElement;
  show(): Promise<void>;
}

/** Builds the view. */
export function createClusterView(api: Api): ClusterView {
  const body = h("div", { class: "cluster-body" });
  const element = h("div", { class: "view cluster-view" }, body);

  const render = (status: ClusterStatus) => {
    const summary = (label: string, value: string) =>
      h(
        "div",
        { class: "stat-card" },
        h("div", { class: "stat-label" }, label),
        h("div", { class: "stat-value small" }, value),
      );
    const leaders = new Map<number, number>();
    for (const db of status.databases) {
      for (const p of db.partitions) leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    }
    replace(
      body,
      h(
        "div",
        { class: "view-head" },
        h("h2", null, "Cluster"),
        h("span", { class: "muted mono" }, status.clusterId),
      ),
      h(
        "div",
        { class: "stat-cards" },
        summary("Nodes", String(status.nodes.length)),
        summary("This node", `#${status.nodeId}`),
        summary("Meta leader", status.metaLeader ? `#${status.metaLeader}` : "none"),
        summary("Databases", String(status.databases.length)),
        summary(
          "Partitions",
          String(status.databases.reduce((n, d) => n + d.partitions.length, 0)),
        ),
      ),
      h(
        "section",
        { class: "panel", "aria-label": "Nodes" },
        h("div", { class: "panel-title" }, "Nodes"),
        h(
          "table",
          { class: "data", "data-table": "nodes" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["node", "HTTP", "Raft", "version", "metadata", "partitions led", "bytes"].map((c) =>
                h("th", null, c)
              ),
            ),
          ),
          h(
            "tbody",
            null,
            status.nodes.map((n) =>
              h(
                "tr",
                null,
                h(
                  "td",
                  null,
                  `#${n.id}`,
                  n.id === status.nodeId && h("span", { class: "badge" }, "this node"),
                ),
                h(
                  "td",
                  null,
                  n.id === status.nodeId
                    ? n.httpAddress
                    : h("a", { href: `http://${n.httpAddress}/#/cluster` }, n.httpAddress),
                ),
                h("td", { class: "mono" }, n.raftAddress),
                h("td", null, n.version),
                h(
                  "td",
                  null,
                  n.meta,
                  n.id === status.metaLeader && h("span", { class: "badge accent" }, "leader"),
                ),
                h("td", { class: "mono" }, String(leaders.get(n.id) ?? 0)),
                h(
                  "td",
                  { class: "mono", "data-bytes": String(n.bytes ?? "") },
                  formatBytes(n.bytes),
                ),
              )
            ),
          ),
        ),
      ),
      status.databases.map((db) =>
        h(
          "section",
          { class: "panel", "aria-label": `Partitions of ${db.name}` },
          h(
            "div",
            { class: "panel-title" },
            db.name,
            h(
              "span",
              { class: "muted" },
              `${db.partitions.length} partitions · replication ${db.replicationFactor} · ` +
                `${db.hash} of ${db.hashKey}`,
            ),
          ),
          h(
            "table",
            { class: "data", "data-table": "partitions" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                [
                  "partition",
                  "group",
                  "leader",
                  "replicas (lag in entries)",
                  "bytes",
                  "applied",
                  "flushed",
                ]
                  .map((c) => h("th", null, c)),
              ),
            ),
            h(
              "tbody",
              null,
              db.partitions.map((p) =>
                h(
                  "tr",
                  null,
                  h("td", { class: "mono" }, String(p.index)),
                  h("td", { class: "mono" }, String(p.groupId)),
                  h("td", null, p.leader ? `#${p.leader}` : h("span", { class: "bad" }, "none")),
                  h(
                    "td",
                    null,
                    p.replicas.map((r) => {
                      const lag = replicaLag(p, r);
                      const cls = r === p.leader
                        ? "replica leader"
                        : lag !== undefined && lag > 0
                        ? "replica lagging"
                        : "replica";
                      return h(
                        "span",
                        { class: cls, title: r === p.leader ? "leader" : "follower" },
                        `#${r}`,
                        lag !== undefined && r !== p.leader && h("small", null, ` ${lag}`),
                      );
                    }),
                  ),
                  h(
                    "td",
                    { class: "mono", "data-bytes": String(p.bytes ?? "") },
                    formatBytes(p.bytes),
                  ),
                  h("td", { class: "mono" }, p.applied === undefined ? "—" : String(p.applied)),
                  h(
                    "td",
                    { class: "mono" },
                    p.flushedBefore === undefined ? "—" : String(p.flushedBefore - 1),
                  ),
                )
              ),
            ),
          ),
        )
      ),
    );
  };

  return {
    element,
    async show() {
      try {
        const status = await api.getJson<ClusterStatus>("api/v1/cluster");
        if (!status) {
          return replace(body, h("div", { class: "panel empty" }, "This node runs no cluster."));
        }
        render(status);
      } catch (error) {
        replace(body, h("div", { class: "error-box" }, (error as Error).message));
      }
    },
  };
}
