/**
 * The simulation's network: Raft messages and peer calls between the nodes of one run, each
 * delivered after a seeded delay (so they reorder), dropped, duplicated (Raft messages), cut
 * by partitions (one-way or both) or slowed on clogged links. Time is the scheduler's.
 *
 * A peer call behaves as a Connect call with a deadline: a lost request or answer surfaces as
 * `deadline_exceeded` at the caller's deadline; a node that is down refuses at once
 * (`unavailable`); a request that arrives after its caller gave up is not served (the stream
 * was cancelled). Values are copied as the wire would (structured clone, or the cluster's own
 * JSON encoding for queries).
 * @module
 */
import { EpochError } from "../../src/core/mod.ts";
import type { ClusterNetwork, PeerClient, PeerService } from "../../src/cluster/network.ts";
import { decodeWire, encodeWire } from "../../src/cluster/wire_json.ts";
import { partitionWriteOverTheWire } from "../../src/cluster/memory_network.ts";
import type { SnapshotChunk } from "../../src/cluster/partition/snapshot.ts";
import {
  type Message,
  MessageType,
  type Transport,
  type TransportHandler,
} from "../../src/raft/mod.ts";
import type { Process, SimScheduler } from "./sim_scheduler.ts";

/** Network weather: applies to every link. */
export interface Weather {
  drop: number;
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const CALM: Weather = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5 };

/** One incarnation of a node on the network. */
interface Endpoint {
  id: number;
  process: Process;
  groups: Map<number, TransportHandler>;
  service: PeerService | undefined;
}

/** Counters of a run's network. */
export interface NetworkStats {
  messages: number;
  dropped: number;
  calls: number;
  callsFailed: number;
}

/** The links between the nodes of one run. */
export class SimHub {
  readonly #endpoints = new Map<number, Endpoint>();
  /** Cut links `from * 64 + to`. */
  readonly cut = new Set<number>();
  /** Extra delay of clogged links. */
  readonly clog = new Map<number, number>();
  weather: Weather = { ...CALM };
  readonly stats: NetworkStats = { messages: 0, dropped: 0, calls: 0, callsFailed: 0 };

  constructor(private readonly sched: SimScheduler, private readonly rpcTimeoutMs: number) {}

  /** The network of a node's new incarnation (replaces the previous one). */
  attach(id: number, process: Process): ClusterNetwork {
    const endpoint: Endpoint = { id, process, groups: new Map(), service: undefined };
    this.#endpoints.set(id, endpoint);
    const call = <T>(to: number, what: string, fn: (s: PeerService) => Promise<T>) =>
      this.#call(endpoint, to, what, fn);
    const peers: PeerClient = {
      proposeMeta: (to, command) =>
        call(to, "proposeMeta", (s) => s.proposeMeta(structuredClone(command))).then(clone),
      writePartition: (to, write) =>
        call(to, "writePartition", (s) => s.writePartition(partitionWriteOverTheWire(write)))
          .then(clone),
      deletePartition: (to, request) =>
        call(to, "deletePartition", (s) => s.deletePartition(wire(request))),
      describe: (to, request) => call(to, "describe", (s) => s.describe(wire(request))).then(wire),
      select: (to, request) => call(to, "select", (s) => s.select(wire(request))).then(wire),
      readIndexes: (to, groupIds) =>
        call(to, "readIndexes", (s) => Promise.resolve(s.readIndexes([...groupIds]))),
      partitionSizes: (to, request) =>
        call(to, "partitionSizes", (s) => s.partitionSizes(wire(request))).then(wire),
      partitionBytes: (to, request) =>
        call(to, "partitionBytes", (s) => Promise.resolve(s.partitionBytes(wire(request))))
          .then(wire),
      // One call for the whole stream: a simulated snapshot is small, and a lost or late
      // answer fails the transfer as a dropped stream would.
      fetchSnapshot: async function* (to, request) {
        const chunks = await call(to, "fetchSnapshot", async (s) => {
          const out: SnapshotChunk[] = [];
          for await (const chunk of s.fetchSnapshot(structuredClone(request))) out.push(chunk);
          return out;
        });
        for (const chunk of chunks) yield structuredClone(chunk);
      },
    };
    return {
      transport: (groupId: number): Transport => ({
        start: (handler) => {
          endpoint.groups.set(groupId, handler);
        },
        send: (messages) => {
          for (const m of messages) this.#send(endpoint, groupId, m);
        },
        stop: () => {
          if (endpoint.groups.get(groupId) !== undefined) endpoint.groups.delete(groupId);
          return Promise.resolve();
        },
      }),
      peers,
      setPeer: () => {},
      removePeer: () => {},
      serve: (service) => {
        endpoint.service = service;
      },
    };
  }

  /** Cuts (or restores) both directions between two nodes. */
  partition(a: number, b: number, cut = true): void {
    for (const link of [a * 64 + b, b * 64 + a]) {
      if (cut) this.cut.add(link);
      else this.cut.delete(link);
    }
  }

  /** Restores every link and calm weather. */
  heal(): void {
    this.cut.clear();
    this.clog.clear();
    this.weather = { ...CALM };
  }

  #delay(link: number): number {
    const w = this.weather;
    return this.sched.rng.int(w.minDelayMs, w.maxDelayMs) + (this.clog.get(link) ?? 0);
  }

  #lost(link: number): boolean {
    return this.cut.has(link) ||
      (this.weather.drop > 0 && this.sched.rng.chance(this.weather.drop));
  }

  #send(from: Endpoint, groupId: number, m: Message): void {
    if (!from.process.alive) return;
    this.stats.messages++;
    const link = from.id * 64 + m.to;
    if (this.#lost(link)) {
      this.stats.dropped++;
      this.#reportSnapshot(from, groupId, m, false, this.rpcTimeoutMs);
      return;
    }
    const copy = structuredClone(m);
    this.sched.after(this.#delay(link), () => this.#deliver(from, groupId, copy));
    if (this.weather.duplicate > 0 && this.sched.rng.chance(this.weather.duplicate)) {
      const again = structuredClone(m);
      this.sched.after(this.#delay(link) * 3, () => this.#deliver(from, groupId, again));
    }
  }

  #deliver(from: Endpoint, groupId: number, m: Message): void {
    const target = this.#endpoints.get(m.to);
    if (target !== undefined && target.process.stalledUntil > this.sched.now) {
      this.sched.at(target.process.stalledUntil + 1, () => this.#deliver(from, groupId, m));
      return;
    }
    this.sched.mix(1, groupId, m.type, m.from, m.to, m.term, m.index);
    if (target === undefined || !target.process.alive) {
      // Connection refused: the sender learns the peer is unreachable.
      if (from.process.alive) from.groups.get(groupId)?.reportUnreachable(m.to);
      this.#reportSnapshot(from, groupId, m, false, 0);
      return;
    }
    target.groups.get(groupId)?.receive([m]);
    if (m.type === MessageType.Snap) {
      const back = m.to * 64 + from.id;
      if (this.#lost(back)) this.#reportSnapshot(from, groupId, m, false, this.rpcTimeoutMs);
      else this.#reportSnapshot(from, groupId, m, true, this.#delay(back));
    }
  }

  /**
   * A snapshot travels as a call of its own (raft_transport.ts), whose outcome the sender's
   * Raft is told (the Transport contract): until then its leader sends that follower nothing.
   */
  #reportSnapshot(from: Endpoint, groupId: number, m: Message, ok: boolean, afterMs: number): void {
    if (m.type !== MessageType.Snap) return;
    this.sched.after(afterMs, () => {
      if (from.process.alive) from.groups.get(groupId)?.reportSnapshot(m.to, ok);
    });
  }

  #call<T>(
    from: Endpoint,
    to: number,
    what: string,
    fn: (s: PeerService) => Promise<T>,
  ): Promise<T> {
    this.stats.calls++;
    const sched = this.sched;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (ok: boolean, value: unknown) => {
        if (done) return;
        done = true;
        if (!ok) this.stats.callsFailed++;
        if (!from.process.alive) return; // the caller's process is gone
        sched.mix(2, to, ok ? 1 : 0);
        if (ok) resolve(value as T);
        else reject(value);
      };
      sched.after(this.rpcTimeoutMs, () => {
        finish(
          false,
          new EpochError("deadline_exceeded", `${what} on node ${to} from ${from.id}: timed out`),
        );
      });
      const out = from.id * 64 + to;
      if (this.#lost(out)) return;
      const arrive = () => {
        if (done) return; // cancelled by the caller before it arrived
        const target = this.#endpoints.get(to);
        if (target !== undefined && target.process.stalledUntil > sched.now) {
          sched.at(target.process.stalledUntil + 1, arrive);
          return;
        }
        if (target === undefined || !target.process.alive || target.service === undefined) {
          finish(false, new EpochError("unavailable", `node ${to} is unreachable from ${from.id}`));
          return;
        }
        const serving = target.process;
        const answer = (ok: boolean, value: unknown) => {
          if (!serving.alive) return; // died while serving: the caller times out
          const back = to * 64 + from.id;
          if (this.#lost(back)) return;
          sched.after(
            this.#delay(back),
            () => sched.whenRunning(from.process, () => finish(ok, value)),
          );
        };
        let served: Promise<T>;
        try {
          served = fn(target.service);
        } catch (error) {
          served = Promise.reject(error);
        }
        served.then((v) => answer(true, v), (e) => answer(false, e));
      };
      sched.after(this.#delay(out), arrive);
    });
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function wire<T>(value: T): T {
  return decodeWire(encodeWire(value)) as T;
}
