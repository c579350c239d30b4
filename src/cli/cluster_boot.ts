/**
 * Starting a node's cluster side: who the node is (its stored identity, a new cluster, or a
 * join through `EPOCHNEXUS_JOIN_ADDRESS`), its Connect network, and the cluster node itself.
 * @module
 */
import {
  checkSameCluster,
  ClusterNode,
  type JoinAnswer,
  loadIdentity,
  type NodeIdentity,
  saveIdentity,
} from "../cluster/mod.ts";
import type { Config } from "../config/mod.ts";
import { EpochError, type Logger, ValidationError } from "../core/mod.ts";
import { INFLUX_VERSION } from "../http/mod.ts";
import { ConnectClusterNetwork } from "../rpc/mod.ts";
import { denoFileSystem, httpFetch, randomUuid, systemClock, systemRng } from "../runtime/mod.ts";

/** This node's addresses as other nodes and clients reach them. */
export interface NodeAddresses {
  httpAddress: string;
  raftAddress: string;
}

/**
 * Resolves the node's identity, then starts its network and cluster node. `onNetwork` gets the
 * network before the node starts, to serve its node-to-node calls at once (the other members
 * bring a starting node up to date through them).
 */
export async function startClusterNode(
  config: Config,
  logger: Logger,
  addresses: NodeAddresses,
  onNetwork: (network: ConnectClusterNetwork) => void,
): Promise<ClusterNode> {
  const fs = denoFileSystem;
  const stored = await loadIdentity(fs, config.data_dir);
  let identity: NodeIdentity;
  let members: JoinAnswer["members"] = [];
  if (stored) {
    if (config.join_address) {
      const status = await clusterStatus(config.join_address).catch((error) => {
        logger.warn("cannot reach the join address to check the cluster; starting as stored", {
          join_address: config.join_address,
          error: String(error),
        });
        return undefined;
      });
      if (status) checkSameCluster(config.data_dir, stored.clusterId, status.clusterId);
    }
    identity = { ...stored, bootstrap: false };
  } else {
    await refuseSingleNodeFolder(config.data_dir);
    if (config.join_address) {
      const answer = await join(config.join_address, addresses);
      members = answer.members;
      identity = { clusterId: answer.clusterId, nodeId: answer.nodeId, bootstrap: false };
      logger.info("joined cluster", {
        cluster: answer.clusterId,
        node: answer.nodeId,
        via: config.join_address,
      });
    } else {
      identity = { clusterId: randomUuid(), nodeId: 1, bootstrap: true };
      logger.info("founding a new cluster", { cluster: identity.clusterId, node: 1 });
    }
    await saveIdentity(fs, config.data_dir, identity);
  }
  const network = new ConnectClusterNetwork({
    clusterId: identity.clusterId,
    nodeId: identity.nodeId,
    logger,
    fetch: httpFetch,
  });
  for (const m of members) if (m.id !== identity.nodeId) network.setPeer(m.id, m.raftAddress);
  onNetwork(network);
  return await ClusterNode.start({
    dataDir: config.data_dir,
    identity,
    ...addresses,
    version: INFLUX_VERSION,
    network,
    fs,
    clock: systemClock,
    rng: systemRng,
    logger,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    defaults: {
      partitions: config.default_partitions,
      replicationFactor: config.replication_factor,
      hash: config.partition_hash,
      metaVoters: config.meta_voters,
    },
    engine: {
      blockValues: config.segment_block_values,
      compactionCpuShare: config.compaction_cpu_share,
      maxSeriesPerDatabase: config.max_series_per_database,
      maxValuesPerTag: config.max_values_per_tag,
      flushIdleMs: config.flush_idle_ms,
      // The node flushes its replicas together within flush_head_bytes (ClusterNode.maintain).
      flushHeadBytes: Number.MAX_SAFE_INTEGER,
    },
    flushHeadBytes: config.flush_head_bytes,
  });
}

/** Asks the node at `address` (its HTTP API) to admit this one. */
async function join(address: string, addresses: NodeAddresses): Promise<JoinAnswer> {
  const url = `${baseUrl(address)}/api/v1/cluster/join`;
  let response: Response;
  try {
    response = await httpFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...addresses, version: INFLUX_VERSION, clusterId: "" }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new EpochError("unavailable", `cannot reach ${url} to join its cluster: ${error}`);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new EpochError(
      "unavailable",
      `${url} refused to admit this node (HTTP ${response.status}): ` +
        (body?.error?.message ?? JSON.stringify(body)),
    );
  }
  return body as JoinAnswer;
}

async function clusterStatus(address: string): Promise<{ clusterId: string }> {
  const response = await httpFetch(`${baseUrl(address)}/api/v1/cluster`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return await response.json();
}

function baseUrl(address: string): string {
  return address.includes("://") ? address : `http://${address}`;
}

/**
 * A folder written by a single-node version (a WAL and catalog at its top, no cluster identity)
 * is not read by a cluster node: refuse it rather than start empty beside it.
 */
async function refuseSingleNodeFolder(dataDir: string): Promise<void> {
  const fs = denoFileSystem;
  if (!(await fs.stat(`${dataDir}/catalog.json`)) && !(await fs.stat(`${dataDir}/wal`))) return;
  throw new ValidationError(
    `data folder ${dataDir} holds a single-node store (catalog.json, wal/) from an earlier ` +
      `version, which a cluster node does not read: start with an empty folder (export the old ` +
      `data with a previous version's /query and import it)`,
  );
}
