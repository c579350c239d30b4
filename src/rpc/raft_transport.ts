/**
 * The Raft {@linkcode Transport} over Connect-RPC (proto/epochnexus/raft/v1/raft.proto).
 *
 * One {@linkcode ConnectRaftTransport} per node serves every Raft group on the node: `group(id)`
 * gives the transport of one group to its driver, and `fetchHandler` answers RaftService calls
 * (mount it in the node's HTTP server). Per destination, messages produced while a call is in
 * flight are batched into the next call. Snapshots go as a sequence of chunk calls, checked by
 * length and CRC-32C before delivery. Calls from another cluster, to another node, or from a
 * node that is not a known peer are rejected.
 *
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
import { concatBytes, crc32c } from "../core/mod.ts";
import type { Logger, LogLimiter } from "../core/mod.ts";
import { silentLogger } from "../core/mod.ts";
import type {
  Entry,
  EntryType,
  Message,
  MessageType,
  Snapshot,
  SnapshotMetadata,
} from "../raft/mod.ts";
import {
  isLeaseRoundContext,
  MessageType as Type,
  newMessage,
  type Transport,
  type TransportHandler,
} from "../raft/mod.ts";
import {
  type Message as PbMessage,
  MessageSchema,
  RaftService,
  type SendRequest,
  SendRequestSchema,
  SendResponseSchema,
  type SendSnapshotChunkRequest,
  SendSnapshotChunkRequestSchema,
  SendSnapshotChunkResponseSchema,
} from "./gen/epochnexus/raft/v1/raft_pb.ts";
import {
  fetchWithSecret,
  type NodeHandler,
  refusalFields,
  requireSecret,
} from "./cluster_secret.ts";

/** Options of {@linkcode ConnectRaftTransport}. */
export interface ConnectRaftTransportOptions {
  /** Calls carrying another cluster id are rejected. */
  clusterId: string;
  /** This node's id. */
  nodeId: number;
  /** Base URL of each peer's RaftService (`http://127.0.0.1:7001`). */
  peers?: Record<number, string>;
  /** Bytes of snapshot data per chunk call. @default {1 MiB} */
  snapshotChunkBytes?: number;
  /** Per-call timeout. @default {5000} */
  timeoutMs?: number;
  /** The fetch used by clients (tests pass one that calls a handler directly). */
  fetch?: typeof globalThis.fetch;
  /**
   * How long a heartbeat's answer may wait for other traffic to the same node (see
   * {@linkcode ConnectRaftTransport.enqueue}). @default {100} (one Raft tick)
   */
  heartbeatResponseHoldMs?: number;
  /**
   * The cluster secret: sent on every call, and required of every call served (401 without
   * it). Undefined: calls are neither signed nor checked (a cluster made before secrets).
   */
  secret?: string;
  /**
   * Sends a `SendRequest`'s bytes over the peer's stream (peer_stream.ts); undefined when it has
   * none open now: the call goes over Connect.
   */
  stream?: (to: number, payload: Uint8Array, timeoutMs: number) => Promise<unknown> | undefined;
  logger?: Logger;
  /**
   * Where calls without the secret are logged and counted (the network's shared
   * `refusedCallsLog`); absent (a lone transport in tests): each is logged.
   */
  refusals?: LogLimiter;
}

type RaftClient = Client<typeof RaftService>;

/** The path of RaftService.Send, whose calls skip the generic Connect client and router. */
const SEND_PATH = `/${RaftService.typeName}/${RaftService.method.send.name}`;
const EMPTY = new Uint8Array(0);

interface Assembly {
  message: Message;
  parts: Uint8Array[];
  received: number;
  total: number;
}

/** The Connect-RPC transport of one node, shared by all its Raft groups. */
export class ConnectRaftTransport {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Answers RaftService calls: `(request) => response`. */
  readonly fetchHandler: NodeHandler;
  private readonly peers = new Map<number, string>();
  private readonly clients = new Map<number, RaftClient>();
  private readonly groups = new Map<number, GroupTransport>();
  private readonly assemblies = new Map<string, Assembly>();
  readonly chunkBytes: number;
  readonly timeoutMs: number;
  readonly heartbeatResponseHoldMs: number;
  private readonly fetchFn?: typeof globalThis.fetch;
  private readonly stream: ConnectRaftTransportOptions["stream"];
  readonly logger: Logger;

  constructor(options: ConnectRaftTransportOptions) {
    this.clusterId = options.clusterId;
    this.nodeId = options.nodeId;
    this.chunkBytes = options.snapshotChunkBytes ?? 1 << 20;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.heartbeatResponseHoldMs = options.heartbeatResponseHoldMs ?? 100;
    this.fetchFn = fetchWithSecret(options.fetch, options.secret);
    this.logger = options.logger ?? silentLogger;
    this.stream = options.stream;
    for (const [id, url] of Object.entries(options.peers ?? {})) this.setPeer(Number(id), url);
    const refusals = options.refusals;
    this.fetchHandler = requireSecret(
      this.buildHandler(),
      options.secret,
      (path, info) =>
        refusals ? refusals.warn(refusalFields(path, info)) : this.logger.warn(
          "node-to-node call without the cluster secret refused",
          refusalFields(path, info),
        ),
    );
  }

  /** Adds or moves a peer. */
  setPeer(id: number, baseUrl: string): void {
    if (this.peers.get(id) === baseUrl) return;
    this.peers.set(id, baseUrl);
    this.clients.delete(id);
  }

  /** Forgets a peer: its calls are rejected from now on. */
  removePeer(id: number): void {
    this.peers.delete(id);
    this.clients.delete(id);
  }

  /** The transport of one Raft group (for its driver). */
  group(groupId: number): Transport {
    return new GroupTransport(this, groupId);
  }

  /** @internal */
  register(groupId: number, g: GroupTransport | null): void {
    if (g) this.groups.set(groupId, g);
    else this.groups.delete(groupId);
  }

  readonly #unreachable = new Set<number>();

  /**
   * @internal Records whether a send to `to` worked; logs when a peer becomes unreachable and
   * when it answers again (not every failed send: a node that is down fails many per second).
   */
  reachable(to: number, error: unknown): void {
    if (error === undefined) {
      if (this.#unreachable.delete(to)) this.logger.info("raft peer reachable again", { to });
    } else if (!this.#unreachable.has(to)) {
      this.#unreachable.add(to);
      this.logger.warn("raft peer unreachable", { to, error: String(error) });
    }
  }

  /** Per destination: messages of every group waiting for the next call, and whether one is out. */
  readonly #outbox = new Map<number, Outbox>();
  readonly #calls = new Set<Promise<unknown>>();

  /**
   * @internal Queues one group's messages for `to`; sent with every other group's.
   *
   * A call between nodes costs far more CPU than its messages (fetch, Connect, the peer's HTTP
   * server: ~1 ms on both sides together, while a tick's heartbeats of every group are a few
   * bytes), and an idle cluster's traffic is heartbeats: every tick each node sends its groups'
   * heartbeats to each peer, and each peer answers in a call of its own. So an answer to a
   * heartbeat (a plain or lease round's, not a read's) waits, at most
   * `heartbeatResponseHoldMs`, for the next call to that node (its own tick's heartbeats, an
   * append) and goes with it: half the calls of an idle cluster. Raft needs nothing of it sooner: the answer only tells the leader the
   * follower is alive (check-quorum looks back an election timeout), lets it resend to a lagging
   * one and renews its lease from the round's send (a round goes every tick; the lease lasts
   * several); appends' answers and everything of a read go at once.
   */
  enqueue(groupId: number, to: number, messages: Message[]): void {
    let box = this.#outbox.get(to);
    if (!box) this.#outbox.set(to, box = { pending: new Map(), inFlight: false, urgent: false });
    const list = box.pending.get(groupId);
    if (list) list.push(...messages);
    else box.pending.set(groupId, messages);
    if (!messages.every(canWait)) box.urgent = true;
    this.#pump(to);
  }

  /**
   * One call per destination at a time; what queued meanwhile goes in the next one. Messages that
   * can wait go when something urgent joins them or when their hold ends (`force`).
   */
  #pump(to: number, force = false): void {
    const box = this.#outbox.get(to)!;
    if (box.inFlight || box.pending.size === 0) return;
    if (!box.urgent && !force) {
      box.hold ??= setTimeout(() => {
        box.hold = undefined;
        this.#pump(to, true);
      }, this.heartbeatResponseHoldMs);
      return;
    }
    if (box.hold !== undefined) clearTimeout(box.hold);
    box.hold = undefined;
    box.urgent = false;
    const batch = box.pending;
    box.pending = new Map();
    const baseUrl = this.peers.get(to);
    if (!baseUrl) {
      for (const groupId of batch.keys()) this.groups.get(groupId)?.handler?.reportUnreachable(to);
      return;
    }
    box.inFlight = true;
    const req = create(SendRequestSchema, {
      clusterId: this.clusterId,
      from: BigInt(this.nodeId),
      to: BigInt(to),
      groups: [...batch].map(([groupId, messages]) => ({
        groupId: BigInt(groupId),
        messages: messages.map(toProto),
      })),
    });
    const call = this.#send(to, baseUrl, req).then(
      () => this.reachable(to, undefined),
      (error) => {
        for (const groupId of batch.keys()) {
          this.groups.get(groupId)?.handler?.reportUnreachable(to);
        }
        this.reachable(to, error);
      },
    ).finally(() => {
      box.inFlight = false;
      this.#pump(to);
    });
    this.#calls.add(call);
    call.finally(() => this.#calls.delete(call));
  }

  /**
   * RaftService.Send as a Connect unary call in binary, made by hand: the generic client's
   * machinery (its interceptors, linked abort signals, streams) costs more CPU than the call's
   * messages, and Send is most of the calls between nodes. The wire is the same.
   */
  async #send(to: number, baseUrl: string, req: SendRequest): Promise<void> {
    const body = toBinary(SendRequestSchema, req);
    const streamed = this.stream?.(to, body, this.timeoutMs);
    if (streamed) {
      await streamed;
      return;
    }
    const fetchFn = this.fetchFn ?? globalThis.fetch;
    const response = await fetchFn(`${baseUrl.replace(/\/+$/, "")}${SEND_PATH}`, {
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        "connect-timeout-ms": String(this.timeoutMs),
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const answer = await response.text();
    if (response.status !== 200) {
      throw new Error(`raft send: HTTP ${response.status} ${answer.slice(0, 300)}`);
    }
  }

  /** @internal Sends what waits, then waits for the calls in flight (a group stopping). */
  settled(): Promise<unknown> {
    for (const [to, box] of this.#outbox) {
      if (box.hold === undefined) continue;
      clearTimeout(box.hold);
      box.hold = undefined;
      box.urgent = true; // sent now, or as soon as the call in flight ends
      this.#pump(to);
    }
    return Promise.allSettled([...this.#calls]);
  }

  /** @internal The client for a peer, or undefined when unknown. */
  client(id: number): RaftClient | undefined {
    let c = this.clients.get(id);
    if (c) return c;
    const baseUrl = this.peers.get(id);
    if (!baseUrl) return undefined;
    c = createClient(
      RaftService,
      createConnectTransport({ baseUrl, useBinaryFormat: true, fetch: this.fetchFn }),
    );
    this.clients.set(id, c);
    return c;
  }

  /**
   * Delivers a `SendRequest` that came over `peer`'s stream (peer_stream.ts): checked as a
   * Connect call is, and its sender must be the stream's node. Throws a ConnectError.
   */
  receiveStreamed(payload: Uint8Array, peer: number): void {
    const req = fromBinary(SendRequestSchema, payload);
    if (Number(req.from) !== peer) {
      throw new ConnectError(
        `raft: node ${peer}'s stream carries a call from node ${req.from}`,
        Code.PermissionDenied,
      );
    }
    this.deliver(req);
  }

  /** Checks a SendRequest and hands each group its messages. */
  private deliver(req: SendRequest): void {
    this.check(req.clusterId, req.to, req.from);
    for (const g of req.groups) {
      // A group this node does not run (yet, or any more) loses its messages: Raft resends.
      const target = this.groups.get(Number(g.groupId));
      target?.handler?.receive(g.messages.map(fromProto));
    }
  }

  private check(clusterId: string, to: bigint, from: bigint): number {
    if (clusterId !== this.clusterId) {
      throw new ConnectError(
        `raft: cluster id mismatch: call is for cluster ${
          JSON.stringify(clusterId)
        }, this node is in ${JSON.stringify(this.clusterId)}`,
        Code.PermissionDenied,
      );
    }
    if (Number(to) !== this.nodeId) {
      throw new ConnectError(
        `raft: call addressed to node ${to}, this is node ${this.nodeId}`,
        Code.InvalidArgument,
      );
    }
    const sender = Number(from);
    if (!this.peers.has(sender)) {
      throw new ConnectError(`raft: node ${sender} is not a known member`, Code.PermissionDenied);
    }
    return sender;
  }

  private target(groupId: bigint): GroupTransport {
    const g = this.groups.get(Number(groupId));
    if (!g || !g.handler) {
      throw new ConnectError(`raft: no group ${groupId} on node ${this.nodeId}`, Code.NotFound);
    }
    return g;
  }

  private buildHandler(): (request: Request) => Promise<Response> {
    const router = createConnectRouter();
    const receive = (req: SendRequest) => this.deliver(req);
    router.service(RaftService, {
      send: (req: SendRequest) => {
        receive(req);
        return create(SendResponseSchema);
      },
      sendSnapshotChunk: (req: SendSnapshotChunkRequest) => {
        const from = this.check(req.clusterId, req.to, req.from);
        const g = this.target(req.groupId);
        const key = `${req.groupId}:${from}`;
        if (req.offset === 0n) {
          if (!req.message) {
            throw new ConnectError(
              "raft: first snapshot chunk lacks its message",
              Code.InvalidArgument,
            );
          }
          this.assemblies.set(key, {
            message: fromProto(req.message),
            parts: [],
            received: 0,
            total: Number(req.totalSize),
          });
        }
        const a = this.assemblies.get(key);
        if (!a || a.received !== Number(req.offset)) {
          this.assemblies.delete(key);
          throw new ConnectError(
            `raft: snapshot chunk at offset ${req.offset}, expected ${a?.received ?? 0}`,
            Code.FailedPrecondition,
          );
        }
        a.parts.push(req.data);
        a.received += req.data.length;
        if (a.received > a.total) {
          this.assemblies.delete(key);
          throw new ConnectError(
            `raft: snapshot exceeds its size ${a.total}`,
            Code.InvalidArgument,
          );
        }
        if (req.last) {
          this.assemblies.delete(key);
          const data = concatBytes(a.parts);
          if (data.length !== a.total || crc32c(data) !== req.crc32c) {
            throw new ConnectError(
              `raft: snapshot of ${data.length} bytes (want ${a.total}) fails its checksum`,
              Code.DataLoss,
            );
          }
          const meta = a.message.snapshot!.metadata;
          g.handler!.receive([{ ...a.message, snapshot: { metadata: meta, data } }]);
        }
        return create(SendSnapshotChunkResponseSchema);
      },
    });
    const byPath = new Map<string, (req: Request) => Promise<Response>>();
    for (const h of router.handlers) byPath.set(h.requestPath, createFetchHandler(h));
    return async (request: Request) => {
      const path = new URL(request.url).pathname;
      const h = byPath.get(path);
      if (!h) return new Response("not found", { status: 404 });
      // Send in binary, uncompressed (what every node sends): decoded and answered here, as the
      // router would but without its machinery; anything else, and every error, is the router's.
      if (
        path === SEND_PATH && request.headers.get("content-type") === "application/proto" &&
        !request.headers.has("content-encoding")
      ) {
        const bytes = new Uint8Array(await request.arrayBuffer());
        try {
          receive(fromBinary(SendRequestSchema, bytes));
          return new Response(EMPTY, {
            status: 200,
            headers: { "content-type": "application/proto" },
          });
        } catch {
          return await h(
            new Request(request.url, { method: "POST", headers: request.headers, body: bytes }),
          );
        }
      }
      return await h(request);
    };
  }
}

/** The messages waiting for the next call to one node. */
interface Outbox {
  pending: Map<number, Message[]>;
  inFlight: boolean;
  /** Something pending may not wait (anything but a heartbeat's plain answer). */
  urgent: boolean;
  /** The timer that ends the wait of messages that can wait. */
  hold?: ReturnType<typeof setTimeout>;
}

/**
 * True for a message that may wait for the next call: a heartbeat's answer that no read waits
 * on (a plain one, or a lease round's: the lease is timed from the round's send, not from its
 * acks, and a round goes every tick, so acks a hold late keep it continuous).
 */
function canWait(m: Message): boolean {
  if (m.type !== Type.HeartbeatResp) return false;
  return m.context === null || m.context.length === 0 || isLeaseRoundContext(m.context);
}

/** The transport of one group on one node. */
class GroupTransport implements Transport {
  handler: TransportHandler | null = null;
  private stopped = false;
  private readonly inFlightCalls = new Set<Promise<unknown>>();

  constructor(private readonly parent: ConnectRaftTransport, private readonly groupId: number) {}

  start(handler: TransportHandler): void {
    this.handler = handler;
    this.parent.register(this.groupId, this);
  }

  send(messages: readonly Message[]): void {
    if (this.stopped) return;
    const byPeer = new Map<number, Message[]>();
    for (const m of messages) {
      if (m.type === 7 /* Snap */ && m.snapshot) {
        this.track(this.sendSnapshot(m));
        continue;
      }
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, list] of byPeer) this.parent.enqueue(this.groupId, to, list);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.parent.register(this.groupId, null);
    await Promise.allSettled([...this.inFlightCalls]);
    await this.parent.settled();
  }

  private track(p: Promise<unknown>): void {
    this.inFlightCalls.add(p);
    p.finally(() => this.inFlightCalls.delete(p));
  }

  private async sendSnapshot(m: Message): Promise<void> {
    const snap = m.snapshot!;
    const client = this.parent.client(m.to);
    let ok = false;
    try {
      if (!client) throw new Error(`no address for node ${m.to}`);
      const data = snap.data;
      const crc = crc32c(data);
      const step = this.parent.chunkBytes;
      let offset = 0;
      do {
        const end = Math.min(offset + step, data.length);
        const req = create(SendSnapshotChunkRequestSchema, {
          clusterId: this.parent.clusterId,
          groupId: BigInt(this.groupId),
          from: BigInt(this.parent.nodeId),
          to: BigInt(m.to),
          message: offset === 0
            ? toProto({ ...m, snapshot: { metadata: snap.metadata, data: new Uint8Array(0) } })
            : undefined,
          snapshotIndex: BigInt(snap.metadata.index),
          offset: BigInt(offset),
          totalSize: BigInt(data.length),
          data: data.subarray(offset, end),
          last: end === data.length,
          crc32c: crc,
        });
        if (this.stopped) return;
        await client.sendSnapshotChunk(req, { timeoutMs: this.parent.timeoutMs * 4 });
        offset = end;
      } while (offset < snap.data.length);
      ok = true;
    } catch (error) {
      this.parent.logger.warn("raft snapshot send failed", { to: m.to, error: String(error) });
    }
    if (!this.stopped) this.handler?.reportSnapshot(m.to, ok);
  }
}

/** A Raft message as its protobuf form (Snap messages carry metadata only). */
export function toProto(m: Message): PbMessage {
  return create(MessageSchema, {
    type: m.type,
    to: BigInt(m.to),
    from: BigInt(m.from),
    term: BigInt(m.term),
    logTerm: BigInt(m.logTerm),
    index: BigInt(m.index),
    entries: m.entries.map((e) => ({
      index: BigInt(e.index),
      term: BigInt(e.term),
      type: e.type,
      data: e.data,
    })),
    commit: BigInt(m.commit),
    reject: m.reject,
    rejectHint: BigInt(m.rejectHint),
    context: m.context ?? new Uint8Array(0),
    snapshot: m.snapshot ? metadataToProto(m.snapshot.metadata) : undefined,
  });
}

function metadataToProto(meta: SnapshotMetadata) {
  return {
    index: BigInt(meta.index),
    term: BigInt(meta.term),
    confState: {
      voters: meta.confState.voters.map(BigInt),
      learners: meta.confState.learners.map(BigInt),
    },
  };
}

/** A protobuf message back to a Raft message (a Snap message gets empty data). */
export function fromProto(p: PbMessage): Message {
  const entries: Entry[] = p.entries.map((e) => ({
    index: Number(e.index),
    term: Number(e.term),
    type: e.type as number as EntryType,
    data: e.data,
  }));
  let snapshot: Snapshot | null = null;
  if (p.snapshot) {
    snapshot = {
      metadata: {
        index: Number(p.snapshot.index),
        term: Number(p.snapshot.term),
        confState: {
          voters: (p.snapshot.confState?.voters ?? []).map(Number),
          learners: (p.snapshot.confState?.learners ?? []).map(Number),
        },
      },
      data: new Uint8Array(0),
    };
  }
  return newMessage({
    type: p.type as number as MessageType,
    to: Number(p.to),
    from: Number(p.from),
    term: Number(p.term),
    logTerm: Number(p.logTerm),
    index: Number(p.index),
    entries,
    commit: Number(p.commit),
    reject: p.reject,
    rejectHint: Number(p.rejectHint),
    context: p.context.length > 0 ? p.context : null,
    snapshot,
  });
}
