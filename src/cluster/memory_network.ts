/**
 * An in-process network of cluster nodes, for tests and the cluster simulation: Raft messages
 * and peer calls are delivered asynchronously between nodes registered on one hub, and links can
 * be cut. Messages are copied on delivery, as a real network would.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { type Message, MessageType, type Transport, type TransportHandler } from "../raft/mod.ts";
import { decodeWriteBatch, encodeWriteBatch } from "../storage/mod.ts";
import type { ClusterNetwork, PartitionWrite, PeerClient, PeerService } from "./network.ts";
import { decodeWire, encodeWire } from "./wire_json.ts";

/** The nodes of one in-process cluster. */
export class MemoryHub {
  readonly #nodes = new Map<number, MemoryNetwork>();
  /** Links that drop everything, as `${from}>${to}` (one direction). */
  readonly cut = new Set<string>();

  /** The network of node `id` (created on first use). */
  network(id: number): MemoryNetwork {
    let n = this.#nodes.get(id);
    if (!n) this.#nodes.set(id, n = new MemoryNetwork(this, id));
    return n;
  }

  /** Cuts (or restores) both directions between two nodes. */
  partition(a: number, b: number, cut = true): void {
    for (const key of [`${a}>${b}`, `${b}>${a}`]) {
      if (cut) this.cut.add(key);
      else this.cut.delete(key);
    }
  }

  /** Cuts a node off from every other node (or heals it). */
  isolate(id: number, cut = true): void {
    for (const other of this.#nodes.keys()) if (other !== id) this.partition(id, other, cut);
  }

  /** @internal */
  reachable(from: number, to: number): MemoryNetwork | undefined {
    if (this.cut.has(`${from}>${to}`)) return undefined;
    const n = this.#nodes.get(to);
    return n?.up ? n : undefined;
  }
}

/** One node's view of a {@linkcode MemoryHub}. */
export class MemoryNetwork implements ClusterNetwork {
  readonly #groups = new Map<number, TransportHandler>();
  #service: PeerService | undefined;
  /** False while the node is down: nothing is delivered to it. */
  up = true;
  readonly peers: PeerClient;

  constructor(private readonly hub: MemoryHub, readonly id: number) {
    this.peers = {
      proposeMeta: (node, command) => this.#call(node, (s) => s.proposeMeta(command)),
      writePartition: (node, write) =>
        this.#call(node, (s) => s.writePartition(partitionWriteOverTheWire(write))),
      fetchSnapshot: (node, request) => this.#stream(node, (s) => s.fetchSnapshot(request)),
      deletePartition: (node, request) =>
        this.#call(node, (s) => s.deletePartition(decodeWire(encodeWire(request)))),
      partitionSizes: (node, request) =>
        this.#call(node, (s) => s.partitionSizes(request)).then((a) => decodeWire(encodeWire(a))),
      readIndexes: (node, groupIds) =>
        this.#call(node, (s) => Promise.resolve(s.readIndexes([...groupIds]))),
      partitionBytes: (node, request) =>
        this.#call(node, (s) => Promise.resolve(s.partitionBytes(structuredClone(request)))),
      describe: (node, request) =>
        this.#call(node, (s) => s.describe(request)).then((d) => decodeWire(encodeWire(d))),
      select: (node, request) =>
        this.#call(node, (s) => s.select(decodeWire(encodeWire(request)))).then((p) =>
          decodeWire(encodeWire(p))
        ),
    };
  }

  transport(groupId: number): Transport {
    return {
      start: (handler: TransportHandler) => {
        this.#groups.set(groupId, handler);
      },
      send: (messages: readonly Message[]) => {
        for (const m of messages) this.#deliver(groupId, m);
      },
      stop: () => {
        this.#groups.delete(groupId);
        return Promise.resolve();
      },
    };
  }

  setPeer(): void {}
  removePeer(): void {}

  serve(service: PeerService): void {
    this.#service = service;
  }

  /** Forgets the groups and service of a stopped node (a restart registers them again). */
  reset(): void {
    this.#groups.clear();
    this.#service = undefined;
  }

  #deliver(groupId: number, m: Message): void {
    const target = this.hub.reachable(this.id, m.to);
    const copy = structuredClone(m);
    setTimeout(() => {
      const handler = target === undefined ? undefined : target.#groups.get(groupId);
      // A snapshot's sender is told how it went (the Transport contract): until then its
      // leader sends that follower nothing.
      const snap = m.type === MessageType.Snap;
      if (!handler || !target!.up) {
        this.#groups.get(groupId)?.reportUnreachable(m.to);
        if (snap) this.#groups.get(groupId)?.reportSnapshot(m.to, false);
        return;
      }
      handler.receive([copy]);
      if (snap) this.#groups.get(groupId)?.reportSnapshot(m.to, true);
    }, 0);
  }

  async *#stream<T>(node: number, fn: (s: PeerService) => AsyncIterable<T>): AsyncGenerator<T> {
    await Promise.resolve();
    const target = this.hub.reachable(this.id, node);
    if (target === undefined || target.#service === undefined) {
      throw new EpochError("unavailable", `node ${node} is unreachable from node ${this.id}`);
    }
    for await (const item of fn(target.#service)) {
      if (this.hub.reachable(this.id, node) === undefined) {
        throw new EpochError("unavailable", `node ${node} became unreachable from node ${this.id}`);
      }
      yield structuredClone(item);
    }
  }

  async #call<T>(node: number, fn: (s: PeerService) => Promise<T>): Promise<T> {
    await Promise.resolve();
    const target = this.hub.reachable(this.id, node);
    if (target === undefined || target.#service === undefined) {
      throw new EpochError("unavailable", `node ${node} is unreachable from node ${this.id}`);
    }
    return await fn(target.#service);
  }
}

/**
 * A partition write as the peer receives it: its points encoded and decoded as the Connect
 * network sends them (a structured clone would keep none of a packed point's fields). The
 * in-process networks of tests (the cluster simulation's too) send writes through it.
 */
export function partitionWriteOverTheWire(write: PartitionWrite): PartitionWrite {
  const { database, retentionPolicy } = write;
  const bytes = encodeWriteBatch({ database, retentionPolicy, points: write.points });
  return { ...write, points: decodeWriteBatch(bytes, "writePartition", 0).points };
}
