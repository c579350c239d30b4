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
import { EpochError, type Logger, type UpgradeDialer, ValidationError } from "../core/mod.ts";
import { INFLUX_VERSION } from "../http/mod.ts";
import { CLUSTER_SECRET_HEADER, ConnectClusterNetwork } from "../rpc/mod.ts";
import {
  backgroundTimeout,
  denoFileSystem,
  httpFetch,
  newSecret,
  randomUuid,
  systemClock,
  systemRng,
} from "../runtime/mod.ts";
import { coldStoreFromConfig } from "./cold_store_config.ts";

/** This node's addresses as other nodes and clients reach them. */
export interface NodeAddresses {
  httpAddress: string;
  raftAddress: string;
}

/** How this node talks to others: HTTPS (trusting the cluster's CA) or plain HTTP. */
export interface PeerTransport {
  scheme: "http" | "https";
  /** The fetch of node-to-node calls and joins (HTTPS: one that trusts tls_ca). */
  fetch?: typeof globalThis.fetch;
  /** Opens peer streams (src/rpc/peer_stream.ts); without it every call is a request. */
  dial?: UpgradeDialer;
}

/** A started cluster node and the secret its node-to-node calls present. */
export interface StartedNode {
  node: ClusterNode;
  /** Undefined only for a cluster made before secrets existed, without `cluster_secret`. */
  secret: string | undefined;
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
  peers: PeerTransport = { scheme: "http" },
): Promise<StartedNode> {
  const fs = denoFileSystem;
  const stored = await loadIdentity(fs, config.data_dir);
  let identity: NodeIdentity;
  let members: JoinAnswer["members"] = [];
  let secret: string | undefined;
  if (stored) {
    secret = config.cluster_secret || stored.secret;
    if (secret === undefined) {
      logger.warn(
        "this cluster was made before node-to-node secrets: its node-to-node calls are not " +
          "authenticated; set the same cluster_secret on every node",
        { data_dir: config.data_dir },
      );
    }
    if (config.join_address) {
      const status = await clusterStatus(config, peers).catch((error) => {
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
      const answer = await join(config, addresses, peers);
      members = answer.members;
      identity = { clusterId: answer.clusterId, nodeId: answer.nodeId, bootstrap: false };
      if (config.cluster_secret && answer.clusterSecret !== config.cluster_secret) {
        throw new ValidationError(
          `the cluster at ${config.join_address} uses another cluster_secret than this node's`,
        );
      }
      secret = config.cluster_secret || answer.clusterSecret;
      logger.info("joined cluster", {
        cluster: answer.clusterId,
        node: answer.nodeId,
        via: config.join_address,
      });
    } else {
      identity = { clusterId: randomUuid(), nodeId: 1, bootstrap: true };
      secret = config.cluster_secret || newSecret();
      logger.info("founding a new cluster", { cluster: identity.clusterId, node: 1 });
    }
    await saveIdentity(fs, config.data_dir, {
      clusterId: identity.clusterId,
      nodeId: identity.nodeId,
      secret,
    });
  }
  const network = new ConnectClusterNetwork({
    clusterId: identity.clusterId,
    nodeId: identity.nodeId,
    secret,
    scheme: peers.scheme,
    fetch: peers.fetch ?? httpFetch,
    dial: peers.dial,
    logger,
    clock: systemClock,
    later: backgroundTimeout,
  });
  for (const m of members) if (m.id !== identity.nodeId) network.setPeer(m.id, m.raftAddress);
  onNetwork(network);
  const node = await ClusterNode.start({
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
      maxFieldsPerMeasurement: config.max_fields_per_measurement,
      flushIdleMs: config.flush_idle_ms,
      maxBytesPerDatabase: config.max_bytes_per_database,
      coldStore: coldStoreFromConfig(config, fs, httpFetch),
      coldBlockCacheValues: config.cold_block_cache_values,
      blockCacheBytes: config.block_cache_bytes,
      // The node flushes its replicas together within flush_head_bytes (ClusterNode.maintain).
      flushHeadBytes: Number.MAX_SAFE_INTEGER,
    },
    flushHeadBytes: config.flush_head_bytes,
    deadNodeTimeoutMs: config.dead_node_timeout_ms,
    maxMoves: config.max_moves,
    rebalance: config.max_moves > 0,
    rebalanceBytesPerSec: config.rebalance_bytes_per_sec,
  });
  return { node, secret };
}

/** Times a node asks to be admitted while the answer is 503. */
const JOIN_ATTEMPTS = 5;

/**
 * Asks the node at join_address (its HTTP API) to admit this one, presenting `join_token` (an
 * admin's `user:password` or an admin API token) and the configured cluster secret, if any.
 */
async function join(
  config: Config,
  addresses: NodeAddresses,
  peers: PeerTransport,
): Promise<JoinAnswer> {
  const url = `${baseUrl(config.join_address, peers.scheme)}/api/v1/cluster/join`;
  let response: Response | undefined;
  let body: { error?: { message?: string } } = {};
  // A 503 (no metadata leader yet, or the registration not yet applied) is asked again: a node
  // that asks again keeps the id it was given, so a repeat admits it once.
  for (let attempt = 1; attempt <= JOIN_ATTEMPTS; attempt++) {
    try {
      response = await (peers.fetch ?? httpFetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...joinHeaders(config) },
        body: JSON.stringify({ ...addresses, version: INFLUX_VERSION, clusterId: "" }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new EpochError("unavailable", `cannot reach ${url} to join its cluster: ${error}`);
    }
    body = await response.json().catch(() => ({}));
    if (response.status !== 503 || attempt === JOIN_ATTEMPTS) break;
    const seconds = Math.min(Number(response.headers.get("retry-after")) || 1, 5);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
  if (!response!.ok) {
    throw new EpochError(
      "unavailable",
      `${url} refused to admit this node (HTTP ${response!.status}): ` +
        (body?.error?.message ?? JSON.stringify(body)),
    );
  }
  return body as JoinAnswer;
}

async function clusterStatus(
  config: Config,
  peers: PeerTransport,
): Promise<{ clusterId: string }> {
  const response = await (peers.fetch ?? httpFetch)(
    `${baseUrl(config.join_address, peers.scheme)}/api/v1/cluster`,
    { headers: joinHeaders(config), signal: AbortSignal.timeout(10_000) },
  );
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return await response.json();
}

/** The credentials a joining node presents (see `join`). */
function joinHeaders(config: Config): Record<string, string> {
  const headers: Record<string, string> = {};
  const token = config.join_token;
  if (token.includes(":")) headers.authorization = `Token ${token}`;
  else if (token !== "") headers.authorization = `Bearer ${token}`;
  if (config.cluster_secret) headers[CLUSTER_SECRET_HEADER] = config.cluster_secret;
  return headers;
}

function baseUrl(address: string, scheme: string): string {
  return address.includes("://") ? address : `${scheme}://${address}`;
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
