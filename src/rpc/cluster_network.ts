/**
 * The cluster's network over Connect-RPC: Raft messages (RaftService, through
 * {@linkcode ConnectRaftTransport}) and node-to-node calls (ClusterService) on each node's
 * `raft_address`. Errors cross the wire with their code and details (a leader hint), so a caller
 * sees the {@linkcode EpochError} the callee threw.
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  createConnectRouter,
} from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  type ClusterNetwork,
  decodeWire,
  type DescribeRequest,
  encodeWire,
  type MetaCommand,
  type MetaResult,
  type MetaView,
  type PartitionBytesAnswer,
  type PartitionBytesRequest,
  type PartitionDelete,
  type PartitionSizes,
  type PartitionSizesRequest,
  type PartitionWrite,
  type PeerClient,
  type PeerService,
  type ReadConsistency,
  type SelectRequest,
  type SelectShard,
  type ShardDescription,
  type SnapshotChunk,
  type SnapshotRequest,
} from "../cluster/mod.ts";
import type { PlanRequest, QueryLimits, SeriesPartial } from "../query/mod.ts";
import {
  type Clock,
  EpochError,
  type ErrorCode,
  type Logger,
  type LogLimiter,
  silentLogger,
  type UpgradeDialer,
  type UpgradeHandler,
  type UpgradeRequest,
} from "../core/mod.ts";
import type { Transport } from "../raft/mod.ts";
import { decodeWriteBatch, encodeWriteBatch, type WriteConsistency } from "../storage/mod.ts";
import {
  ClusterService,
  DeletePartitionResponseSchema,
  DescribeResponseSchema,
  FetchSnapshotResponseSchema,
  PartitionBytesResponseSchema,
  PartitionSizesResponseSchema,
  ProposeMetaResponseSchema,
  ReadIndexesResponseSchema,
  ReadMetaResponseSchema,
  SelectResponseSchema,
  type WritePartitionRequest,
  WritePartitionRequestSchema,
  type WritePartitionResponse,
  WritePartitionResponseSchema,
} from "./gen/epochnexus/cluster/v1/cluster_pb.ts";
import { ConnectRaftTransport } from "./raft_transport.ts";
import {
  fetchWithSecret,
  type NodeHandler,
  refusalFields,
  refusedCallsLog,
  requireSecret,
  secretPresented,
} from "./cluster_secret.ts";
import { FrameKind } from "./peer_frames.ts";
import {
  CLUSTER_ID_HEADER,
  NODE_ID_HEADER,
  PEER_STREAM_PATH,
  PEER_STREAM_PROTOCOL,
  PeerStreams,
  type PeerStreamsOptions,
  servePeerSession,
} from "./peer_stream.ts";

/** Options of {@linkcode ConnectClusterNetwork}. */
export interface ConnectClusterNetworkOptions {
  clusterId: string;
  nodeId: number;
  /** Per-call timeout of node-to-node calls. @default {10000} */
  timeoutMs?: number;
  /** Timeout of a query's part on another node. @default {60000} */
  queryTimeoutMs?: number;
  /** Timeout of a whole snapshot transfer. @default {600000} */
  snapshotTimeoutMs?: number;
  /** The fetch clients use (tests call handlers directly; HTTPS trusting the cluster's CA). */
  fetch?: typeof globalThis.fetch;
  /** Required of every call served and sent on every call made (`cluster_secret.ts`). */
  secret?: string;
  /** Scheme of peers' addresses given as host:port. @default {"http"} */
  scheme?: "http" | "https";
  /**
   * Opens peer streams (peer_stream.ts) for Raft sends and forwarded writes; without it every
   * call is a Connect request (a gateway; tests that call handlers directly).
   */
  dial?: UpgradeDialer;
  /** Bounds and timings of peer streams (tests). */
  stream?: Pick<
    PeerStreamsOptions,
    "maxFrameBytes" | "maxQueuedBytes" | "refusedRetryMs" | "connectTimeoutMs" | "maxBackoffMs"
  >;
  logger?: Logger;
  /** Times the log of refused calls (one line per 10 s at most, `refusedCallsLog`). */
  clock: Clock;
  /** Writes the summary of refused calls when a flood stops (the runtime's `backgroundTimeout`). */
  later?: (fn: () => void, ms: number) => void;
}

type ClusterClient = Client<typeof ClusterService>;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
/** Response header carrying an error's details as JSON. */
const DETAILS_HEADER = "epochnexus-error-details";

/** The Connect network of one node. */
export class ConnectClusterNetwork implements ClusterNetwork {
  readonly raft: ConnectRaftTransport;
  readonly peers: PeerClient;
  /** Answers RaftService and ClusterService calls (mount it on the node-to-node server). */
  readonly fetchHandler: NodeHandler;
  /** Calls refused for want of the cluster secret: logged at most once per 10 s, all counted. */
  readonly #refusals: LogLimiter;
  readonly #addresses = new Map<number, string>();
  readonly #clients = new Map<number, ClusterClient>();
  #service: PeerService | undefined;
  readonly #options: ConnectClusterNetworkOptions;

  /** Bytes sent to and received from each node, by its base URL. */
  readonly #traffic = new Map<string, { sent: number; received: number }>();
  readonly #fetch: typeof globalThis.fetch;
  /** Streams to peers (undefined: Connect calls only). */
  readonly #streams: PeerStreams | undefined;
  /** The closers of the streams peers opened to this node, by peer. */
  readonly #sessions = new Map<number, Set<() => void>>();
  /** Decides the peer stream upgrades on the node-to-node port (mount it with the handler). */
  readonly upgradeHandler: UpgradeHandler;

  constructor(options: ConnectClusterNetworkOptions) {
    this.#options = options;
    const refusals = this.#refusals = refusedCallsLog({
      logger: options.logger ?? silentLogger,
      clock: options.clock,
      later: options.later,
    });
    // Every call carries the cluster secret and is counted (bytes to and from each peer).
    this.#fetch = countingFetch(
      fetchWithSecret(options.fetch, options.secret) ?? globalThis.fetch,
      this.#traffic,
    );
    this.#streams = options.dial
      ? new PeerStreams({
        ...options.stream,
        clusterId: options.clusterId,
        nodeId: options.nodeId,
        secret: options.secret,
        dial: options.dial,
        logger: options.logger,
        count: (url, sent, received) => count(this.#traffic, url, sent, received),
      })
      : undefined;
    const streams = this.#streams;
    this.raft = new ConnectRaftTransport({
      clusterId: options.clusterId,
      nodeId: options.nodeId,
      fetch: this.#fetch,
      secret: options.secret,
      logger: options.logger,
      refusals,
      stream: streams
        ? (to, payload, timeoutMs) => streams.call(to, FrameKind.RaftSend, payload, timeoutMs)
        : undefined,
    });
    this.upgradeHandler = (request) => this.#upgrade(request);
    this.peers = {
      proposeMeta: (node, command) => this.#proposeMeta(node, command),
      writePartition: (node, write) => this.#writePartition(node, write),
      describe: (node, request) => this.#describe(node, request),
      select: (node, request) => this.#select(node, request),
      selectShards: (node, request, shards) => this.#selectShards(node, request, shards),
      deletePartition: (node, request) => this.#deletePartition(node, request),
      fetchSnapshot: (node, request) => this.#fetchSnapshot(node, request),
      partitionSizes: (node, request) => this.#partitionSizes(node, request),
      readIndexes: (node, groupIds, timeoutMs) => this.#readIndexes(node, groupIds, timeoutMs),
      partitionBytes: (node, request) => this.#partitionBytes(node, request),
    };
    const cluster = requireSecret(
      this.#clusterHandler(),
      options.secret,
      (path, info) => refusals.warn(refusalFields(path, info)),
    );
    // The Raft handler checks the secret itself.
    this.fetchHandler = (request, info) => {
      const path = new URL(request.url).pathname;
      if (path.startsWith("/epochnexus.cluster.v1.ClusterService/")) return cluster(request, info);
      return this.raft.fetchHandler(request, info);
    };
  }

  transport(groupId: number): Transport {
    return this.raft.group(groupId);
  }

  setPeer(nodeId: number, raftAddress: string): void {
    const url = baseUrl(raftAddress, this.#options.scheme ?? "http");
    if (this.#addresses.get(nodeId) === url) return;
    this.#addresses.set(nodeId, url);
    this.#clients.delete(nodeId);
    this.raft.setPeer(nodeId, url);
    this.#streams?.setPeer(nodeId, url);
  }

  removePeer(nodeId: number): void {
    this.#addresses.delete(nodeId);
    this.#clients.delete(nodeId);
    this.raft.removePeer(nodeId);
    this.#streams?.removePeer(nodeId);
    for (const close of this.#sessions.get(nodeId) ?? []) close();
    this.#sessions.delete(nodeId);
  }

  /** Closes the peer streams, both ways (calls in flight on them fail). */
  close(): void {
    this.#streams?.close();
    for (const sessions of this.#sessions.values()) for (const close of sessions) close();
    this.#sessions.clear();
  }

  /** Whether this node's stream to `nodeId` is open now (tests, metrics). */
  streamOpen(nodeId: number): boolean {
    return this.#streams?.isOpen(nodeId) ?? false;
  }

  /**
   * A peer asks to open its stream: it must present the secret (401 as a Connect call without
   * it, logged alike), be of this cluster and a known member (403).
   */
  #upgrade(request: UpgradeRequest): ReturnType<UpgradeHandler> {
    const { path, protocol, headers } = request;
    if (path !== PEER_STREAM_PATH || protocol !== PEER_STREAM_PROTOCOL) {
      return { status: 404, body: `no upgrade to ${JSON.stringify(protocol)} at ${path}\n` };
    }
    if (!secretPresented(headers, this.#options.secret)) {
      this.#refusals.warn(refusalFields(path, request));
      return { status: 401, body: "node-to-node call without the cluster secret\n" };
    }
    const clusterId = headers.get(CLUSTER_ID_HEADER) ?? "";
    if (clusterId !== this.#options.clusterId) {
      return {
        status: 403,
        body: `stream for cluster ${JSON.stringify(clusterId)} reached a node of cluster ` +
          `${JSON.stringify(this.#options.clusterId)}\n`,
      };
    }
    const peer = Number(headers.get(NODE_ID_HEADER));
    if (!this.#addresses.has(peer)) {
      return { status: 403, body: `node ${headers.get(NODE_ID_HEADER)} is not a known member\n` };
    }
    return {
      status: 101,
      serve: (channel) => {
        let sessions = this.#sessions.get(peer);
        if (!sessions) this.#sessions.set(peer, sessions = new Set());
        const own = sessions;
        const url = this.#addresses.get(peer)!;
        const close = servePeerSession(channel, {
          peer,
          answer: (kind, payload) => this.#answerStreamed(peer, kind, payload),
          count: (sent, received) => count(this.#traffic, url, sent, received),
          maxFrameBytes: this.#options.stream?.maxFrameBytes,
          logger: this.#options.logger,
          onEnd: () => own.delete(close),
        });
        // One stream per direction: a peer opens another only after giving up its last, which
        // may never have closed here (the peer restarted without a word): close it.
        for (const older of [...own]) older();
        own.add(close);
      },
    };
  }

  /** Answers a call that came over a peer's stream; fails with the error a Connect call gets. */
  async #answerStreamed(peer: number, kind: number, payload: Uint8Array): Promise<Uint8Array> {
    try {
      if (kind === FrameKind.RaftSend) {
        this.raft.receiveStreamed(payload, peer);
        return new Uint8Array(0);
      }
      if (kind === FrameKind.WritePartition) {
        const req = fromBinary(WritePartitionRequestSchema, payload);
        if (Number(req.from) !== peer) {
          throw new ConnectError(
            `node ${peer}'s stream carries a call from node ${req.from}`,
            Code.PermissionDenied,
          );
        }
        return toBinary(WritePartitionResponseSchema, await this.#serveWritePartition(req));
      }
      throw new ConnectError(`no call of kind ${kind} on a peer stream`, Code.Unimplemented);
    } catch (error) {
      // What the caller would have seen over Connect.
      throw toEpochError(toConnectError(error));
    }
  }

  async #serveWritePartition(req: WritePartitionRequest): Promise<WritePartitionResponse> {
    const service = this.#checkCluster(req.clusterId);
    const batch = decodeWriteBatch(req.points, "writePartition", 0);
    const answer = await service.writePartition({
      groupId: Number(req.groupId),
      database: req.database,
      retentionPolicy: req.retentionPolicy,
      points: batch.points,
      consistency: req.consistency as WriteConsistency,
    });
    return create(WritePartitionResponseSchema, {
      accepted: BigInt(answer.accepted),
      rejected: answer.rejected,
    });
  }

  /** Calls (Connect and stream upgrades) refused for want of the cluster secret, since start. */
  refusedCalls(): number {
    return this.#refusals.total;
  }

  /** Bytes this node sent to and received from each peer (Raft and ClusterService calls). */
  traffic(): { node: number; sentBytes: number; receivedBytes: number }[] {
    const out = [];
    for (const [node, url] of this.#addresses) {
      const t = this.#traffic.get(url);
      if (t) out.push({ node, sentBytes: t.sent, receivedBytes: t.received });
    }
    return out;
  }

  serve(service: PeerService): void {
    this.#service = service;
  }

  #client(node: number): ClusterClient {
    let c = this.#clients.get(node);
    if (c) return c;
    const url = this.#addresses.get(node);
    if (!url) throw new EpochError("unavailable", `no address known for node ${node}`);
    c = createClient(
      ClusterService,
      createConnectTransport({ baseUrl: url, useBinaryFormat: true, fetch: this.#fetch }),
    );
    this.#clients.set(node, c);
    return c;
  }

  async #proposeMeta(node: number, command: MetaCommand) {
    const answer = await call(() =>
      this.#client(node).proposeMeta({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        command: textEncoder.encode(JSON.stringify(command)),
      }, { timeoutMs: this.#options.timeoutMs ?? 10_000 })
    );
    return {
      result: JSON.parse(textDecoder.decode(answer.result)) as MetaResult,
      index: Number(answer.index),
    };
  }

  async #writePartition(node: number, write: PartitionWrite) {
    const request = create(WritePartitionRequestSchema, {
      clusterId: this.#options.clusterId,
      from: BigInt(this.#options.nodeId),
      groupId: BigInt(write.groupId),
      database: write.database,
      retentionPolicy: write.retentionPolicy,
      points: encodeWriteBatch({
        database: write.database,
        retentionPolicy: write.retentionPolicy,
        points: write.points,
      }).slice(),
      consistency: write.consistency,
    });
    const timeoutMs = this.#options.timeoutMs ?? 10_000;
    const streamed = this.#streams?.call(
      node,
      FrameKind.WritePartition,
      toBinary(WritePartitionRequestSchema, request),
      timeoutMs,
    );
    const answer = streamed
      ? fromBinary(WritePartitionResponseSchema, await streamed)
      : await call(() => this.#client(node).writePartition(request, { timeoutMs }));
    return {
      accepted: Number(answer.accepted),
      rejected: answer.rejected.map((r) => ({ index: r.index, reason: r.reason })),
    };
  }

  async *#fetchSnapshot(node: number, request: SnapshotRequest): AsyncGenerator<SnapshotChunk> {
    try {
      const stream = this.#client(node).fetchSnapshot({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        minIndex: BigInt(request.minIndex),
        backup: request.backup ? encodeWire(request.backup) : new Uint8Array(0),
      }, { timeoutMs: this.#options.snapshotTimeoutMs ?? 600_000 });
      for await (const m of stream) {
        if (m.manifest.length > 0) yield decodeWire<SnapshotChunk>(m.manifest);
        else if (m.end) yield { kind: "end", file: m.file, crc32c: m.crc32c };
        else yield { kind: "data", file: m.file, offset: Number(m.offset), data: m.data };
      }
    } catch (error) {
      throw toEpochError(error);
    }
  }

  async #deletePartition(node: number, request: PartitionDelete): Promise<void> {
    await call(() =>
      this.#client(node).deletePartition({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        database: request.database,
        request: encodeWire(request),
      }, { timeoutMs: this.#options.timeoutMs ?? 10_000 })
    );
  }

  #readIndexes(node: number, groupIds: readonly number[], timeoutMs?: number): Promise<number[]> {
    return call(async () => {
      const answer = await this.#client(node).readIndexes({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupIds: groupIds.map(BigInt),
      }, { timeoutMs: timeoutMs ?? this.#options.timeoutMs ?? 10_000 });
      return answer.indexes.map(Number);
    });
  }

  #partitionBytes(node: number, request: PartitionBytesRequest): Promise<PartitionBytesAnswer> {
    return call(async () => {
      const answer = await this.#client(node).partitionBytes({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        request: encodeWire(request),
      }, { timeoutMs: this.#options.timeoutMs ?? 10_000 });
      return decodeWire<PartitionBytesAnswer>(answer.answer);
    });
  }

  #partitionSizes(node: number, request: PartitionSizesRequest): Promise<PartitionSizes> {
    return call(async () => {
      const answer = await this.#client(node).partitionSizes({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        database: request.database,
      }, { timeoutMs: this.#options.timeoutMs ?? 10_000 });
      return decodeWire<PartitionSizes>(answer.sizes);
    });
  }

  #describe(node: number, request: DescribeRequest): Promise<ShardDescription[]> {
    return call(async () => {
      const out: ShardDescription[] = [];
      const stream = this.#client(node).describe({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        database: request.database,
        retentionPolicy: request.retentionPolicy,
        minNs: request.minNs,
        maxNs: request.maxNs,
        consistency: request.consistency,
        series: request.series,
        leaderOnly: request.leaderOnly ?? false,
      }, { timeoutMs: this.#options.timeoutMs ?? 10_000 });
      for await (const chunk of stream) out.push(decodeWire<ShardDescription>(chunk.shard));
      return out;
    });
  }

  #select(node: number, request: SelectRequest): Promise<SeriesPartial[]> {
    return call(async () => {
      const out: SeriesPartial[] = [];
      const stream = this.#client(node).select({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        database: request.database,
        retentionPolicy: request.retentionPolicy,
        startMs: BigInt(request.startMs),
        consistency: request.consistency,
        planRequest: encodeWire(request.request),
        measurements: [...request.measurements],
        limits: encodeWire(request.limits ?? {}),
      }, { timeoutMs: this.#options.queryTimeoutMs ?? 60_000 });
      for await (const chunk of stream) {
        for (const s of decodeWire<SeriesPartial[]>(chunk.partials)) out.push(s);
      }
      return out;
    });
  }

  #selectShards(
    node: number,
    request: SelectRequest,
    shards: readonly SelectShard[],
  ): Promise<SeriesPartial[][]> {
    return call(async () => {
      const out: SeriesPartial[][] = shards.map(() => []);
      const stream = this.#client(node).select({
        clusterId: this.#options.clusterId,
        from: BigInt(this.#options.nodeId),
        groupId: BigInt(request.groupId),
        database: request.database,
        retentionPolicy: request.retentionPolicy,
        consistency: request.consistency,
        planRequest: encodeWire(request.request),
        limits: encodeWire(request.limits ?? {}),
        shards: shards.map((s) => ({
          startMs: BigInt(s.startMs),
          measurements: [...s.measurements],
        })),
      }, { timeoutMs: this.#options.queryTimeoutMs ?? 60_000 });
      for await (const chunk of stream) {
        const part = out[chunk.shard - 1];
        if (part === undefined) {
          throw new ConnectError(
            `node ${node} answered a batched Select without naming shards (an older node)`,
            Code.Unimplemented,
          );
        }
        for (const s of decodeWire<SeriesPartial[]>(chunk.partials)) part.push(s);
      }
      return out;
    });
  }

  #checkCluster(clusterId: string): PeerService {
    if (clusterId !== this.#options.clusterId) {
      throw new ConnectError(
        `call for cluster ${JSON.stringify(clusterId)} reached a node of cluster ` +
          JSON.stringify(this.#options.clusterId),
        Code.PermissionDenied,
      );
    }
    if (!this.#service) throw new ConnectError("node is starting", Code.Unavailable);
    return this.#service;
  }

  #clusterHandler(): (request: Request) => Promise<Response> {
    const router = createConnectRouter();
    router.service(ClusterService, {
      proposeMeta: (req) =>
        serveCall(async () => {
          const service = this.#checkCluster(req.clusterId);
          const answer = await service.proposeMeta(JSON.parse(textDecoder.decode(req.command)));
          return create(ProposeMetaResponseSchema, {
            result: textEncoder.encode(JSON.stringify(answer.result)),
            index: BigInt(answer.index),
          });
        }),
      writePartition: (req) => serveCall(() => this.#serveWritePartition(req)),
      readIndexes: (req) =>
        serveCall(() => {
          const service = this.#checkCluster(req.clusterId);
          const indexes = service.readIndexes(req.groupIds.map(Number));
          return Promise.resolve(
            create(ReadIndexesResponseSchema, { indexes: indexes.map(BigInt) }),
          );
        }),
      partitionBytes: (req) =>
        serveCall(() => {
          const service = this.#checkCluster(req.clusterId);
          const answer = service.partitionBytes(decodeWire<PartitionBytesRequest>(req.request));
          return Promise.resolve(
            create(PartitionBytesResponseSchema, { answer: encodeWire(answer) }),
          );
        }),
      partitionSizes: (req) =>
        serveCall(async () => {
          const service = this.#checkCluster(req.clusterId);
          const sizes = await service.partitionSizes({
            groupId: Number(req.groupId),
            database: req.database,
          });
          return create(PartitionSizesResponseSchema, { sizes: encodeWire(sizes) });
        }),
      deletePartition: (req) =>
        serveCall(async () => {
          const service = this.#checkCluster(req.clusterId);
          await service.deletePartition(decodeWire<PartitionDelete>(req.request));
          return create(DeletePartitionResponseSchema);
        }),
      fetchSnapshot: (req) => {
        const service = this.#checkCluster(req.clusterId);
        return serveStream(async function* () {
          const chunks = service.fetchSnapshot({
            groupId: Number(req.groupId),
            minIndex: Number(req.minIndex),
            backup: req.backup.length > 0 ? decodeWire(req.backup) : undefined,
          });
          for await (const c of chunks) {
            yield create(
              FetchSnapshotResponseSchema,
              c.kind === "manifest"
                ? { manifest: encodeWire(c) }
                : c.kind === "end"
                ? { file: c.file, end: true, crc32c: c.crc32c }
                : { file: c.file, offset: BigInt(c.offset), data: c.data },
            );
          }
        });
      },
      readMeta: (req) =>
        serveCall(() => {
          // "" is a gateway that knows addresses and the secret but not yet the cluster's id.
          const service = this.#checkCluster(req.clusterId || this.#options.clusterId);
          return Promise.resolve(readMetaResponse(service.readMeta()));
        }),
      describe: (req) => {
        const service = this.#checkCluster(req.clusterId);
        return serveStream(async function* () {
          const shards = await service.describe({
            groupId: Number(req.groupId),
            database: req.database,
            retentionPolicy: req.retentionPolicy,
            minNs: req.minNs,
            maxNs: req.maxNs,
            consistency: req.consistency as ReadConsistency,
            series: req.series,
            leaderOnly: req.leaderOnly,
          });
          for (const shard of shards) {
            yield create(DescribeResponseSchema, { shard: encodeWire(shard) });
          }
        });
      },
      select: (req) => {
        const service = this.#checkCluster(req.clusterId);
        return serveStream(async function* () {
          const request = decodeWire<PlanRequest>(req.planRequest);
          const limits = req.limits.length > 0 ? decodeWire<QueryLimits>(req.limits) : {};
          // A batched call (several shard groups) answers each shard's partials tagged with it.
          const batched = req.shards.length > 0;
          const shards = batched
            ? req.shards.map((s) => ({ startMs: s.startMs, measurements: s.measurements }))
            : [{ startMs: req.startMs, measurements: req.measurements }];
          // All groups run at once; each is sent as soon as it and those before it are done.
          const running = shards.map((shard) =>
            service.select({
              groupId: Number(req.groupId),
              database: req.database,
              retentionPolicy: req.retentionPolicy,
              startMs: Number(shard.startMs),
              consistency: req.consistency as ReadConsistency,
              request,
              measurements: shard.measurements,
              limits,
            })
          );
          // A later group's failure is reported when its turn comes, not as unhandled.
          for (const r of running) r.catch(() => {});
          for (const [index, answer] of running.entries()) {
            const partials = await answer;
            // Chunks keep each message small whatever the number of series.
            for (let i = 0; i < partials.length || i === 0; i += SELECT_CHUNK) {
              yield create(SelectResponseSchema, {
                partials: encodeWire(partials.slice(i, i + SELECT_CHUNK)),
                shard: batched ? index + 1 : 0,
              });
            }
          }
        });
      },
    });
    const byPath = new Map<string, (req: Request) => Promise<Response>>();
    for (const h of router.handlers) byPath.set(h.requestPath, createFetchHandler(h));
    return (request) => {
      const h = byPath.get(new URL(request.url).pathname);
      return h ? h(request) : Promise.resolve(new Response("not found", { status: 404 }));
    };
  }
}

/** The ReadMeta answer of a node's metadata view. */
function readMetaResponse(view: MetaView) {
  return create(ReadMetaResponseSchema, {
    clusterId: view.clusterId,
    nodeId: BigInt(view.nodeId),
    appliedIndex: BigInt(view.appliedIndex),
    queryLimits: view.queryLimits ? encodeWire(view.queryLimits) : new Uint8Array(0),
    nodes: view.nodes.map((n) => ({
      id: BigInt(n.id),
      httpAddress: n.httpAddress,
      raftAddress: n.raftAddress,
    })),
    databases: view.databases.map((db) => ({
      name: db.name,
      partitions: db.partitions.map((p) => ({
        groupId: BigInt(p.groupId),
        replicas: p.replicas.map(BigInt),
        leaderHint: BigInt(p.leaderHint),
      })),
      defaultRetentionPolicy: db.defaultRetentionPolicy,
      retentionPolicies: db.retentionPolicies,
      hash: db.hash,
      hashKey: db.hashKey,
    })),
  });
}

const trafficKeys = new Map<string, string>();

/** Adds bytes to a peer's counters, by base URL. */
function count(
  traffic: Map<string, { sent: number; received: number }>,
  baseUrl: string,
  sent: number,
  received: number,
): void {
  let key = trafficKeys.get(baseUrl);
  if (key === undefined) {
    const url = new URL(baseUrl);
    trafficKeys.set(baseUrl, key = `${url.protocol}//${url.host}`);
  }
  let t = traffic.get(key);
  if (!t) traffic.set(key, t = { sent: 0, received: 0 });
  t.sent += sent;
  t.received += received;
}

/** A fetch that adds up the bytes of every request body and response body, by base URL. */
function countingFetch(
  inner: typeof globalThis.fetch,
  traffic: Map<string, { sent: number; received: number }>,
): typeof globalThis.fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const key = `${url.protocol}//${url.host}`;
    let t = traffic.get(key);
    if (!t) traffic.set(key, t = { sent: 0, received: 0 });
    const body = init?.body;
    if (body instanceof Uint8Array) t.sent += body.byteLength;
    else if (typeof body === "string") t.sent += body.length;
    const response = await inner(input, init);
    if (!response.body) return response;
    const counter = t;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          counter.received += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

function baseUrl(address: string, scheme: string): string {
  return address.includes("://") ? address : `${scheme}://${address}`;
}

/** Runs a client call, turning a ConnectError back into the EpochError the callee threw. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toEpochError(error);
  }
}

/** Series partials per streamed message. */
const SELECT_CHUNK = 2_000;

/** Runs a streaming service method, turning an EpochError into a ConnectError. */
async function* serveStream<T>(body: () => AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* body();
  } catch (error) {
    throw toConnectError(error);
  }
}

/** Runs a service method, turning an EpochError into a ConnectError with its details. */
async function serveCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toConnectError(error);
  }
}

function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof EpochError) {
    return new ConnectError(
      error.message,
      CODES[error.code] ?? Code.Unknown,
      { [DETAILS_HEADER]: JSON.stringify(error.details ?? {}) },
    );
  }
  return new ConnectError(String(error instanceof Error ? error.message : error), Code.Internal);
}

function toEpochError(error: unknown): unknown {
  const e = ConnectError.from(error);
  const code = (Object.entries(CODES).find(([, c]) => c === e.code)?.[0] ?? "unknown") as ErrorCode;
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(e.metadata.get(DETAILS_HEADER) ?? "{}");
  } catch {
    details = {};
  }
  // A node that cannot be reached is unavailable, whatever the transport called it.
  const unreachable = e.code === Code.Unknown && /fetch|connect|network/i.test(e.rawMessage);
  // A bare 408 is the peer's HTTP server, not its service: it gave up on reading the call (Connect
  // maps the status to "unknown"). The call never ran, so another try is safe.
  if (e.code === Code.Unknown && e.rawMessage === "HTTP 408") {
    return new EpochError(
      "unavailable",
      "the node's HTTP server timed the call out before reading it (HTTP 408)",
      { details, cause: e, retryAfterSeconds: 1 },
    );
  }
  return new EpochError(unreachable ? "unavailable" : code, e.rawMessage, { details, cause: e });
}

const CODES: Record<string, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};
