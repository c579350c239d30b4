/**
 * Reads a node's copy of the cluster metadata over Connect (`ClusterService.ReadMeta`), for
 * callers that are not members: a stateless gateway knows node addresses and the cluster
 * secret, nothing else. Uses only `fetch`, so it runs wherever fetch handlers run.
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  decodeWire,
  type MetaView,
  type PartitionHash,
  type PartitionKey,
} from "../cluster/mod.ts";
import type { QueryLimits } from "../query/mod.ts";
import { ClusterService } from "./gen/epochnexus/cluster/v1/cluster_pb.ts";
import { fetchWithSecret } from "./cluster_secret.ts";

/** Options of {@linkcode readClusterMeta}. */
export interface ReadClusterMetaOptions {
  /** Sent on the call when set (the cluster's node-to-node secret). */
  secret?: string;
  /** The cluster the caller expects ("" or absent: any, learnt from the answer). */
  clusterId?: string;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

/** Asks the node whose node-to-node services answer at `baseUrl` (`http://host:port`). */
export async function readClusterMeta(
  baseUrl: string,
  options: ReadClusterMetaOptions = {},
): Promise<MetaView> {
  const fetchFn = fetchWithSecret(options.fetch, options.secret) ?? globalThis.fetch;
  const client = createClient(
    ClusterService,
    createConnectTransport({ baseUrl, useBinaryFormat: true, fetch: fetchFn }),
  );
  const answer = await client.readMeta(
    { clusterId: options.clusterId ?? "" },
    { timeoutMs: options.timeoutMs ?? 5000 },
  );
  return {
    clusterId: answer.clusterId,
    nodeId: Number(answer.nodeId),
    appliedIndex: Number(answer.appliedIndex),
    queryLimits: answer.queryLimits.length > 0
      ? decodeWire<QueryLimits>(answer.queryLimits)
      : undefined,
    nodes: answer.nodes.map((n) => ({
      id: Number(n.id),
      httpAddress: n.httpAddress,
      raftAddress: n.raftAddress,
    })),
    databases: answer.databases.map((db) => ({
      name: db.name,
      partitions: db.partitions.map((p) => ({
        groupId: Number(p.groupId),
        replicas: p.replicas.map(Number),
        leaderHint: Number(p.leaderHint),
      })),
      defaultRetentionPolicy: db.defaultRetentionPolicy,
      retentionPolicies: db.retentionPolicies.map((rp) => ({
        name: rp.name,
        durationNs: rp.durationNs,
        shardGroupDurationNs: rp.shardGroupDurationNs,
        replicaN: rp.replicaN,
      })),
      // "" from a node older than the field: the gateway then forwards writes whole.
      hash: db.hash as PartitionHash,
      hashKey: db.hashKey as PartitionKey,
    })),
  };
}
