/**
 * Connect-RPC: the public ingest service, and the node-to-node network of a cluster (Raft
 * messages and ClusterService calls; Raft sends and forwarded writes go on one long-lived
 * connection per peer when it is open, peer_stream.ts and FORMAT.md). Code generated from proto/ lives in gen/ and is imported
 * only by the files of this room.
 * @module
 */
export { CLUSTER_SECRET_HEADER, fetchWithSecret, requireSecret } from "./cluster_secret.ts";
export { ConnectClusterNetwork, type ConnectClusterNetworkOptions } from "./cluster_network.ts";
export {
  type IngestHandlerOptions,
  ingestHandlers,
  type IngestWriter,
  registerIngestService,
} from "./ingest_service.ts";
export { readClusterMeta, type ReadClusterMetaOptions } from "./meta_reader.ts";
export { ConnectRaftTransport, type ConnectRaftTransportOptions } from "./raft_transport.ts";
