/**
 * One long-lived connection per peer for the node-to-node calls that are most of the traffic
 * (Raft `Send` batches and forwarded `WritePartition`s): an HTTP/1.1 `Upgrade` on the peer's
 * node-to-node port, then frames (peer_frames.ts, FORMAT.md "Peer stream") that carry each
 * call's protobuf request and answer, correlated by a call id, many calls in flight at once.
 * A request through fetch, Connect and the peer's HTTP server costs ~1 ms of CPU on the two
 * nodes together; a frame costs a few µs beside its message.
 *
 * The client's side ({@linkcode PeerStreams}) never makes a call wait for a connection: while
 * the stream to a peer is not open (opening, backing off after a failure, or refused by an older
 * node that does not know the upgrade) {@linkcode PeerStreams.call} answers `undefined` and the
 * caller makes the Connect call it always made. A call on a connection that ends fails at once
 * with `unavailable` (it may or may not have run: as a fetch that fails after sending); a call
 * not answered in its time fails with `deadline_exceeded`, as a Connect call does.
 *
 * Backpressure: frames wait in memory while the connection writes; when more than
 * `maxQueuedBytes` wait, a call fails at once (`unavailable`, retry after 1 s) rather than
 * queueing more. Raft sends one batch per peer at a time and writes are bounded by the
 * coordinator's admission, so the bound only trips on a peer that stopped reading.
 *
 * The server's side ({@linkcode servePeerSession}) answers each call as it completes, in any
 * order; a frame over the size bound or of a kind that has no place ends the connection.
 * @module
 */
import {
  type ByteChannel,
  concatBytes,
  EpochError,
  type ErrorCode,
  type Logger,
  silentLogger,
  type UpgradeDialer,
} from "../core/mod.ts";
import { decodeWire, encodeWire } from "../cluster/mod.ts";
import { CLUSTER_SECRET_HEADER } from "./cluster_secret.ts";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameKind,
  FrameReader,
} from "./peer_frames.ts";

/** The `Upgrade` protocol name. */
export const PEER_STREAM_PROTOCOL = "epochnexus-peer/1";
/** The path of the upgrade request. */
export const PEER_STREAM_PATH = "/epochnexus.peer.v1/stream";
/** Request headers of the upgrade: the caller's cluster and node. */
export const CLUSTER_ID_HEADER = "x-epochnexus-cluster-id";
export const NODE_ID_HEADER = "x-epochnexus-node-id";
/** Default bound of one frame's payload (a Raft batch or a forwarded part is far smaller). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Options of {@linkcode PeerStreams}. */
export interface PeerStreamsOptions {
  clusterId: string;
  nodeId: number;
  /** Presented in the upgrade request (undefined: a cluster without a secret). */
  secret?: string;
  dial: UpgradeDialer;
  /** Longest wait for a connection and the upgrade's answer. @default {5000} */
  connectTimeoutMs?: number;
  /** A larger payload goes by the Connect call (a peer drops a stream that sends one). */
  maxFrameBytes?: number;
  /** Bytes waiting to be written to one peer beyond which calls fail. @default {32 MiB} */
  maxQueuedBytes?: number;
  /**
   * After a refused upgrade, calls go over Connect this long before a new try: short, as most
   * refusals pass (a peer starting: 503; one that does not know this new member yet: 403), and a
   * try costs one small request. @default {1000}
   */
  refusedRetryMs?: number;
  /** Longest wait before opening again after a connection failed. @default {5000} */
  maxBackoffMs?: number;
  /** Counts the bytes of frames sent to and received from a peer, by its base URL. */
  count?: (baseUrl: string, sent: number, received: number) => void;
  logger?: Logger;
}

/** The client's side: one connection per peer, opened on first use. */
export class PeerStreams {
  readonly #peers = new Map<number, PeerConnection>();

  constructor(readonly options: PeerStreamsOptions) {}

  /** Adds or moves a peer (a moved peer's connection is closed). */
  setPeer(node: number, baseUrl: string): void {
    const known = this.#peers.get(node);
    if (known?.baseUrl === baseUrl) return;
    known?.close();
    this.#peers.set(node, new PeerConnection(node, baseUrl, this.options));
  }

  removePeer(node: number): void {
    this.#peers.get(node)?.close();
    this.#peers.delete(node);
  }

  /**
   * Calls `node` over its stream: the answer's payload, or a rejection (an EpochError). Undefined
   * when there is no open stream to it now (one is opened meanwhile) or the payload is over the
   * frame bound: the caller makes the call over Connect.
   */
  call(
    node: number,
    kind: number,
    payload: Uint8Array,
    timeoutMs: number,
  ): Promise<Uint8Array> | undefined {
    return this.#peers.get(node)?.call(kind, payload, timeoutMs);
  }

  /** Whether the stream to `node` is open now. */
  isOpen(node: number): boolean {
    return this.#peers.get(node)?.state === "open";
  }

  /** Closes every connection (calls in flight fail). */
  close(): void {
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
  }
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const MIN_BACKOFF_MS = 100;

/** The connection to one peer and its calls in flight. */
class PeerConnection {
  state: "idle" | "opening" | "open" | "waiting" | "closed" = "idle";
  #channel: ByteChannel | undefined;
  #writer: FrameWriter | undefined;
  readonly #calls = new Map<number, PendingCall>();
  #nextId = 1;
  #backoffMs = MIN_BACKOFF_MS;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** The status of the last refused upgrade (logged once in a row). */
  #lastRefusal: number | undefined;
  /** A try to open failed since the last open (logged once). */
  #failing = false;
  /** Frames read on the open connection: a call timing out with none read since it began. */
  #framesRead = 0;
  readonly #logger: Logger;

  constructor(
    readonly node: number,
    readonly baseUrl: string,
    private readonly options: PeerStreamsOptions,
  ) {
    this.#logger = options.logger ?? silentLogger;
  }

  call(kind: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> | undefined {
    if (this.state !== "open") {
      if (this.state === "idle") this.#open();
      return undefined;
    }
    if (payload.length > (this.options.maxFrameBytes ?? MAX_FRAME_BYTES)) return undefined;
    const writer = this.#writer!;
    const bound = this.options.maxQueuedBytes ?? 32 * 1024 * 1024;
    const size = FRAME_HEADER_BYTES + payload.length;
    if (writer.queued > 0 && writer.queued + size > bound) {
      return Promise.reject(
        new EpochError(
          "unavailable",
          `${writer.queued} bytes wait to be written to node ${this.node} (bound ${bound}): ` +
            "call not made; retry",
          { retryAfterSeconds: 1 },
        ),
      );
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_ffff ? 1 : this.#nextId + 1;
    const channel = this.#channel!;
    const framesAtStart = this.#framesRead;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(
          new EpochError(
            "deadline_exceeded",
            `node ${this.node} did not answer a call within ${timeoutMs} ms`,
          ),
        );
        // Not a frame in a whole call's time, where a live peer answers Raft every tick: the
        // peer is gone without a word (a host powered off): drop it, so calls go over Connect
        // and a new connection is tried, instead of every call waiting out its timeout.
        if (this.#framesRead === framesAtStart) {
          this.#drop(channel, new Error(`no frame from node ${this.node} in ${timeoutMs} ms`));
        }
      }, timeoutMs);
      this.#calls.set(id, { resolve, reject, timer });
      writer.send(encodeFrame(kind, id, payload));
      this.options.count?.(this.baseUrl, size, 0);
    });
  }

  close(): void {
    this.state = "closed";
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (this.#channel) this.#drop(this.#channel, new Error("the peer was removed or moved"));
  }

  /** Closed meanwhile (an await's other side may have closed it). */
  #isClosed(): boolean {
    return this.state === "closed";
  }

  async #open(): Promise<void> {
    this.state = "opening";
    const headers: Record<string, string> = {
      [CLUSTER_ID_HEADER]: this.options.clusterId,
      [NODE_ID_HEADER]: String(this.options.nodeId),
    };
    if (this.options.secret !== undefined) headers[CLUSTER_SECRET_HEADER] = this.options.secret;
    let outcome;
    try {
      outcome = await this.options.dial({
        url: `${this.baseUrl.replace(/\/+$/, "")}${PEER_STREAM_PATH}`,
        protocol: PEER_STREAM_PROTOCOL,
        headers,
        timeoutMs: this.options.connectTimeoutMs ?? 5_000,
      });
    } catch (error) {
      if (this.#isClosed()) return;
      this.#waitThenOpen(this.#nextBackoff());
      if (!this.#failing) {
        // Once until it opens: a peer that is down fails every try.
        this.#failing = true;
        this.#logger.info("peer stream not opened; calls go over Connect meanwhile", {
          to: this.node,
          error: String(error),
        });
      }
      return;
    }
    if (this.#isClosed()) {
      outcome.channel?.close();
      return;
    }
    if (outcome.channel === undefined) {
      const fields = { to: this.node, status: outcome.status, answer: outcome.body };
      const repeated = this.#lastRefusal === outcome.status;
      this.#lastRefusal = outcome.status;
      if (repeated) {
        // said already (an older node refuses every try)
      } else if (outcome.status === 401) {
        this.#logger.warn(
          "peer stream refused: the peer does not take this cluster secret",
          fields,
        );
      } else {
        this.#logger.info("peer stream refused (an older node?); calls go over Connect", fields);
      }
      this.#waitThenOpen(this.options.refusedRetryMs ?? 1_000);
      return;
    }
    const channel = outcome.channel;
    this.#lastRefusal = undefined;
    this.#failing = false;
    this.#channel = channel;
    this.#writer = new FrameWriter(channel, (error) => this.#drop(channel, error));
    this.state = "open";
    this.#logger.info("peer stream open", { to: this.node });
    const reader = new FrameReader(
      this.options.maxFrameBytes ?? MAX_FRAME_BYTES,
      (kind, id, payload) => this.#answered(kind, id, payload),
    );
    channel.start((chunk) => {
      if (this.#channel !== channel) return; // read before the connection was dropped
      this.options.count?.(this.baseUrl, 0, chunk.length);
      try {
        reader.push(chunk);
      } catch (error) {
        this.#logger.warn("peer stream dropped", { to: this.node, error: String(error) });
        this.#drop(channel, error as Error);
      }
    }, (error) => this.#drop(channel, error ?? new Error(`node ${this.node} closed it`)));
  }

  #answered(kind: number, id: number, payload: Uint8Array): void {
    if (kind !== FrameKind.Answer && kind !== FrameKind.Failure) {
      throw new FrameError(`peer stream: node ${this.node} answered with a frame of kind ${kind}`);
    }
    this.#framesRead++;
    this.#backoffMs = MIN_BACKOFF_MS; // it answers: a later failure starts backing off anew
    const call = this.#calls.get(id);
    if (!call) return; // timed out meanwhile
    this.#calls.delete(id);
    clearTimeout(call.timer);
    if (kind === FrameKind.Answer) call.resolve(payload);
    else call.reject(decodeFailure(payload, this.node));
  }

  /** Ends a connection: its calls fail, and the next call after a backoff opens another. */
  #drop(channel: ByteChannel, error: Error): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#writer = undefined;
    channel.close();
    const lost = new EpochError(
      "unavailable",
      `the connection to node ${this.node} ended (${error.message}); the call may or may not ` +
        "have run",
      { retryAfterSeconds: 1, cause: error },
    );
    for (const call of this.#calls.values()) {
      clearTimeout(call.timer);
      call.reject(lost);
    }
    this.#calls.clear();
    if (this.state === "closed") return;
    this.#logger.info("peer stream ended", { to: this.node, error: error.message });
    this.#waitThenOpen(this.#nextBackoff());
  }

  #nextBackoff(): number {
    const ms = this.#backoffMs;
    this.#backoffMs = Math.min(this.options.maxBackoffMs ?? 5_000, ms * 2);
    return ms;
  }

  #waitThenOpen(ms: number): void {
    this.state = "waiting";
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.state === "waiting") this.state = "idle";
    }, ms);
  }
}

/** Frames waiting for one connection: written together, one write at a time. */
class FrameWriter {
  #queue: Uint8Array[] = [];
  /** Bytes waiting, and being written. */
  queued = 0;
  #flushing = false;

  constructor(
    private readonly channel: ByteChannel,
    private readonly onFailure: (error: Error) => void,
  ) {}

  send(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.queued += frame.length;
    if (this.#flushing) return;
    this.#flushing = true;
    // After this task: the frames sent in it go in one write.
    queueMicrotask(() => this.#flush());
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const frames = this.#queue;
      this.#queue = [];
      const bytes = concatBytes(frames);
      try {
        await this.channel.write(bytes);
      } catch (error) {
        this.onFailure(error instanceof Error ? error : new Error(String(error)));
        return; // this writer is done: its connection is dropped
      } finally {
        this.queued -= bytes.length;
      }
    }
    this.#flushing = false;
  }
}

/** Options of {@linkcode servePeerSession}. */
export interface PeerSessionOptions {
  /** The calling node (checked by the upgrade). */
  peer: number;
  maxFrameBytes?: number;
  /** Answers one call: the answer's payload; throws an EpochError to fail it. */
  answer(kind: number, payload: Uint8Array): Promise<Uint8Array>;
  /** Counts the bytes of frames sent to and received from the peer. */
  count?: (sent: number, received: number) => void;
  /** Called once when the connection ends. */
  onEnd?: () => void;
  logger?: Logger;
}

/** The server's side of one peer's stream. Returns its closer. */
export function servePeerSession(channel: ByteChannel, options: PeerSessionOptions): () => void {
  const logger = options.logger ?? silentLogger;
  let ended = false;
  const writer = new FrameWriter(channel, () => channel.close());
  const reply = (kind: number, id: number, payload: Uint8Array) => {
    if (ended) return;
    const frame = encodeFrame(kind, id, payload);
    writer.send(frame);
    options.count?.(frame.length, 0);
  };
  const reader = new FrameReader(options.maxFrameBytes ?? MAX_FRAME_BYTES, (kind, id, payload) => {
    if (kind >= FrameKind.Answer) {
      throw new FrameError(`peer stream: node ${options.peer} sent an answer (kind ${kind})`);
    }
    let answering: Promise<Uint8Array>;
    try {
      answering = options.answer(kind, payload);
    } catch (error) {
      answering = Promise.reject(error);
    }
    answering.then(
      (answer) => reply(FrameKind.Answer, id, answer),
      (error) => reply(FrameKind.Failure, id, encodeFailure(error)),
    );
  });
  channel.start((chunk) => {
    options.count?.(0, chunk.length);
    if (ended) return;
    try {
      reader.push(chunk);
    } catch (error) {
      logger.warn("peer stream dropped", { from: options.peer, error: String(error) });
      ended = true;
      channel.close();
    }
  }, () => {
    ended = true;
    options.onEnd?.();
  });
  return () => {
    ended = true;
    channel.close();
  };
}

/** A failure's payload: the EpochError the caller is to see. */
function encodeFailure(error: unknown): Uint8Array {
  if (error instanceof EpochError) {
    return encodeWire({
      code: error.code,
      message: error.message,
      details: error.details ?? {},
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  return encodeWire({ code: "internal", message: String((error as Error)?.message ?? error) });
}

function decodeFailure(payload: Uint8Array, node: number): EpochError {
  try {
    const f = decodeWire<{
      code: ErrorCode;
      message: string;
      details?: Record<string, unknown>;
      retryAfterSeconds?: number;
    }>(payload);
    return new EpochError(f.code, f.message, {
      details: f.details,
      retryAfterSeconds: f.retryAfterSeconds,
    });
  } catch (error) {
    return new EpochError("internal", `node ${node} answered a failure that cannot be read`, {
      cause: error,
    });
  }
}
