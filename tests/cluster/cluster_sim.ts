/**
 * A deterministic simulation of an EpochNexus cluster: 3 to 5 real {@linkcode ClusterNode}s
 * (metadata group, partition replicas on real storage engines, the shared Raft log) on
 * in-memory crashable disks and a simulated network, in virtual time, under faults, with
 * clients writing and reading through {@linkcode ClusterStore} and the query executor.
 *
 * One seed decides everything: the cluster's shape (nodes, partitions, replication factor,
 * flush budget), the clients' operations, network delays, drops, duplicates and partitions,
 * slow disks, crashes (a power loss: `CrashFileSystem.crash` keeps a random part of what was
 * not fsynced and may tear the last write) and restarts. The same seed gives the same trace
 * hash.
 *
 * After a chaos phase everything heals; the run then checks that every group settles, that
 * every replica of a partition holds the same data, that no acknowledged write is lost, and
 * that the register history (writes and default-consistency reads) is linearizable. Raft
 * safety (one leader per term, one entry per index) is checked after every instant.
 * @module
 */
import { ClusterStore } from "../../src/cluster/cluster_store.ts";
import { partitionOf } from "../../src/cluster/hash.ts";
import { MetaGroup } from "../../src/cluster/meta/meta_group.ts";
import { META_GROUP_ID } from "../../src/cluster/meta/meta_state.ts";
import { ClusterNode } from "../../src/cluster/node.ts";
import { PartitionReplica } from "../../src/cluster/partition/replica.ts";
import { CLOCK_DRIFT_BOUND, type Entry, type RaftNode } from "../../src/raft/mod.ts";
import { RaftNode as RaftNodeClass } from "../../src/raft/driver.ts";
import { FieldType, type Logger, type Point, sortTags } from "../../src/core/mod.ts";
import { CrashedError, CrashFileSystem } from "../../src/core/testing/crash_fs.ts";
import { executeQuery } from "../../src/query/mod.ts";
import { SimDisk } from "./sim_disk.ts";
import { SimHub } from "./sim_network.ts";
import { EPOCH_MS, Process, SimScheduler } from "./sim_scheduler.ts";
import { Prng } from "../raft/sim_support.ts";
import {
  checkRegisters,
  type ClientOp,
  dumpReplica,
  firstDifference,
  GroupSafety,
} from "./sim_checks.ts";

const DB = "db";
const TICK_MS = 100;
const DEAD_NODE_TIMEOUT_MS = 3_000;
const ELECTION_TICKS = 10;
const RPC_TIMEOUT_MS = 10_000;
/** A client gives up on an operation after this long (its outcome is then unknown). */
const OP_TIMEOUT_MS = 25_000;
const WEEK_MS = 7 * 24 * 3_600_000;
const REGISTERS_PER_CLIENT = 3;
const LOG_SERIES = 8;

/**
 * Events a run may take: a seed takes 10 000-40 000; a run past this is spinning (messages
 * answered by messages without delay) and is stopped as a liveness failure.
 */
const MAX_EVENTS = 1_000_000;

class EventStorm extends Error {}

/** A deliberate bug, to show that the checks catch it. */
export type SimBug =
  /** Partition writes acknowledged once queued by the leader, not committed. */
  | "ackQueued"
  /** Reads skip the ReadIndex barrier (served from whatever the replica holds). */
  | "noReadBarrier"
  /**
   * A query's read round (src/cluster/read_round.ts) does not wait for the read points the
   * leaders' nodes confirm: the replicas are read as they are.
   */
  | "noReadRoundWait"
  /** The shared Raft log's fdatasyncs make nothing durable. */
  | "noLogFsync";

/** Options of one run. */
export interface ClusterSimOptions {
  seed: number;
  /** Virtual ms of chaos before healing. @default {30_000} */
  chaosMs?: number;
  /** Keep a readable trace. */
  trace?: boolean;
  bug?: SimBug;
}

/** Counters of one run. */
export interface ClusterSimStats {
  nodes: number;
  partitions: number;
  replicationFactor: number;
  events: number;
  messages: number;
  dropped: number;
  calls: number;
  crashes: number;
  restarts: number;
  partitionsCut: number;
  slowDisks: number;
  /** Process stalls (timers, messages and calls held for seconds). */
  stalls: number;
  ops: number;
  acked: number;
  unknown: number;
  reads: number;
  flushes: number;
  /** Targets the rebalancer set, and membership steps partition leaders took toward them. */
  newTargets: number;
  moveSteps: number;
  simulatedMs: number;
}

/** The outcome of one run. */
export interface ClusterSimResult {
  seed: number;
  violations: string[];
  traceHash: string;
  trace: string[];
  stats: ClusterSimStats;
}

/** A node of the run: its disk survives its incarnations. */
class SimNode {
  disk = new CrashFileSystem();
  process = new Process("none");
  simDisk: SimDisk | undefined;
  node: ClusterNode | undefined;
  store: ClusterStore | undefined;
  up = false;
  /** A clean shutdown under way (restarts when it is done). */
  closing: Promise<void> | undefined;
  incarnation = 0;
  constructor(readonly id: number) {}
}

interface Client {
  id: number;
  busy: boolean;
}

/** One simulated cluster run. */
export class ClusterSimulation {
  readonly sched: SimScheduler;
  readonly hub: SimHub;
  readonly safety = new GroupSafety();
  readonly nodes: SimNode[] = [];
  readonly ops: ClientOp[] = [];
  readonly #violations: string[] = [];
  readonly #trace: string[] | undefined;
  readonly #clients: Client[] = [];
  readonly #nodeCount: number;
  readonly #partitions: number;
  readonly #rf: number;
  readonly #flushHeadBytes: number;
  /** Draws of the stall fault (see #stall). */
  readonly #stallRng: Prng;
  #clientsRunning = false;
  #nextOpId = 1;
  #nextPointTime = EPOCH_MS - 3_600_000;
  #outstanding = 0;
  #lastPut = "";
  #healed = false;
  /** Replicas (`group:node`) that needed a snapshot to catch up (not implemented yet). */
  /**
   * What the run met of the missing snapshot installation. Such a run still checks safety
   * (no acknowledged write lost, linearizable, replicas equal) on the healthy replicas, but
   * not liveness: a replica that cannot catch up, or a node that cannot start, is expected.
   */
  readonly stats: ClusterSimStats;

  constructor(readonly options: ClusterSimOptions) {
    this.sched = new SimScheduler(options.seed);
    this.#stallRng = new Prng(options.seed ^ 0x5eed_57a1);
    const rng = this.sched.rng;
    this.hub = new SimHub(this.sched, RPC_TIMEOUT_MS);
    this.#trace = options.trace ? [] : undefined;
    this.#nodeCount = rng.int(3, 5);
    this.#partitions = rng.int(2, 6);
    this.#rf = rng.int(1, 3);
    this.#flushHeadBytes = rng.pick([4 * 1024, 32 * 1024, 25 * 1024 * 1024]);
    for (let id = 1; id <= this.#nodeCount; id++) this.nodes.push(new SimNode(id));
    for (let c = 1; c <= rng.int(3, 5); c++) this.#clients.push({ id: c, busy: false });
    this.stats = {
      nodes: this.#nodeCount,
      partitions: this.#partitions,
      replicationFactor: this.#rf,
      events: 0,
      messages: 0,
      dropped: 0,
      calls: 0,
      crashes: 0,
      restarts: 0,
      partitionsCut: 0,
      slowDisks: 0,
      stalls: 0,
      ops: 0,
      acked: 0,
      unknown: 0,
      reads: 0,
      flushes: 0,
      newTargets: 0,
      moveSteps: 0,
      simulatedMs: 0,
    };
  }

  #log(text: string): void {
    this.#trace?.push(`${String(this.sched.now).padStart(7)}ms ${text}`);
  }

  #violation(text: string): void {
    this.#violations.push(`t=${this.sched.now}ms: ${text}`);
  }

  /** A liveness failure: a violation, unless the run met the missing snapshot installation. */
  #liveness(text: string): void {
    this.#violation(`liveness: ${text}`);
  }

  // ---------------------------------------------------------------- running

  /** Runs the whole scenario and its checks. */
  async run(): Promise<ClusterSimResult> {
    const restore = this.#instrument();
    try {
      await this.#scenario();
    } catch (error) {
      if (error instanceof EventStorm) {
        this.#violation(
          `liveness: over ${MAX_EVENTS} events (a loop without delay?): ${error.message}`,
        );
      } else {
        this.#violation(`the run failed: ${error instanceof Error ? error.stack : error}`);
      }
    } finally {
      restore();
      for (const n of this.nodes) n.process.alive = false;
    }
    return this.#result();
  }

  async #scenario(): Promise<void> {
    const rng = this.sched.rng;
    this.#log(
      `cluster: ${this.#nodeCount} nodes, ${this.#partitions} partitions, RF ${this.#rf}, flush at ${this.#flushHeadBytes} B`,
    );
    await this.#setup();
    const chaosMs = this.options.chaosMs ?? 30_000;
    const end = this.sched.now + chaosMs;
    this.#clientsRunning = true;
    for (const c of this.#clients) this.sched.after(rng.int(1, 50), () => this.#issue(c));
    this.sched.after(rng.int(500, 2_000), () => this.#chaos(end));
    await this.#runUntil(end);
    // Heal: calm network, fast disks, every node up; clients stop issuing.
    this.#clientsRunning = false;
    this.#healed = true;
    this.hub.heal();
    this.#log("heal");
    for (const n of this.nodes) {
      if (n.simDisk) n.simDisk.fsyncMs = [0, 2];
      if (!n.up && !n.closing) this.#start(n);
    }
    // Operations still under way finish (or time out) first.
    await this.#runUntil(this.sched.now + 2 * OP_TIMEOUT_MS, () => this.#outstanding === 0);
    if (!await this.#quiesce(60_000)) return;
    await this.#finalReads();
    await this.#finalChecks();
  }

  async #runUntil(until: number, stop?: () => boolean): Promise<boolean> {
    let storm = false;
    const stopped = await this.sched.runUntil(until, () => {
      this.#checkInstant();
      storm = this.sched.events > MAX_EVENTS;
      return storm || (stop?.() ?? false);
    });
    if (storm) throw new EventStorm(this.#describeGroups());
    return stopped;
  }

  /** Runs until `promise` settles (or `limitMs` pass); its value, or undefined. */
  async #await<T>(promise: Promise<T>, limitMs: number, what: string): Promise<T> {
    let settled = false;
    let value: T | undefined;
    let failure: unknown;
    promise.then((v) => {
      settled = true;
      value = v;
    }, (e) => {
      settled = true;
      failure = e ?? new Error("rejected");
    });
    await this.sched.settle();
    if (!settled) await this.#runUntil(this.sched.now + limitMs, () => settled);
    if (!settled) throw new Error(`${what}: not done after ${limitMs} virtual ms`);
    if (failure !== undefined) throw failure;
    return value as T;
  }

  // ---------------------------------------------------------------- nodes

  async #setup(): Promise<void> {
    const first = this.nodes[0];
    this.#start(first);
    await this.#await(this.#starting.get(first)!, 30_000, "bootstrap node 1");
    for (const n of this.nodes.slice(1)) {
      await this.#await(
        first.node!.admit({
          httpAddress: `node${n.id}:8086`,
          raftAddress: `node${n.id}:8089`,
          version: "sim",
          clusterId: "",
        }),
        30_000,
        `admit node ${n.id}`,
      );
      this.#start(n);
      await this.#await(this.#starting.get(n)!, 30_000, `start node ${n.id}`);
    }
    await this.#await(
      first.store!.createDatabase(DB, {
        partitions: this.#partitions,
        replicationFactor: this.#rf,
      }),
      30_000,
      "create database",
    );
    // Every partition has a leader before the clients start.
    const settled = await this.#runUntil(this.sched.now + 30_000, () => this.#allLed());
    if (!settled) throw new Error("setup: partitions without a leader after 30 s");
    this.#log("setup done");
  }

  readonly #starting = new Map<SimNode, Promise<void>>();

  /** Starts a node's next incarnation on what its disk holds. */
  #start(n: SimNode): void {
    const process = new Process(`node${n.id}#${++n.incarnation}`, this.#driftRate(n));
    n.process = process;
    n.up = true;
    const disk = new SimDisk(n.disk, this.sched, process, {
      skipLogFsync: this.options.bug === "noLogFsync",
    });
    n.simDisk = disk;
    const sleep = this.sched.sleep(process);
    const network = this.hub.attach(n.id, process);
    this.#log(`start node ${n.id} (incarnation ${n.incarnation})`);
    const starting = ClusterNode.start({
      dataDir: "/data",
      identity: { clusterId: "sim", nodeId: n.id, bootstrap: n.id === 1 },
      httpAddress: `node${n.id}:8086`,
      raftAddress: `node${n.id}:8089`,
      version: "sim",
      network,
      fs: disk,
      clock: this.sched.clockOf(process),
      rng: this.sched.rng.fork(),
      logger: this.#logger(n, process),
      sleep,
      timers: this.sched.timers(process),
      defaults: { metaVoters: 3 },
      engine: {
        flushIdleMs: 5_000,
        flushHeadBytes: Number.MAX_SAFE_INTEGER,
        compactionFanout: 2,
      },
      flushHeadBytes: this.#flushHeadBytes,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      maintenanceIntervalMs: 1_000,
      // Down a few seconds is lost: crashes then start moves (repair, and back again), so the
      // move protocol runs under the same faults as everything else.
      deadNodeTimeoutMs: DEAD_NODE_TIMEOUT_MS,
      maxMoves: 2,
    }).then((node) => {
      if (!process.alive) return;
      n.node = node;
      n.store = new ClusterStore(node, { clock: this.sched.clockOf(process), sleep });
      this.#log(`node ${n.id} started`);
    }, (error) => {
      if (!process.alive || error instanceof CrashedError) return;
      n.up = false;
      process.alive = false;
      this.#violation(`node ${n.id} failed to start: ${error?.stack ?? error}`);
    });
    this.#starting.set(n, starting);
  }

  /**
   * How fast an incarnation's clock runs: within the drift bound the leader lease allows for
   * (`CLOCK_DRIFT_BOUND`), half the time at one of its ends, so that a lease computed on a slow
   * clock meets a follower whose fast clock ends its guard early. Drawn from its own generator
   * (seed, node, incarnation): the run's other draws stay as they were.
   */
  #driftRate(n: SimNode): number {
    const draw = new Prng((this.options.seed * 1_000 + n.id) * 1_000 + n.incarnation);
    const side = draw.chance(0.5) ? 1 : -1;
    const fraction = draw.chance(0.5) ? 1 : draw.next();
    return 1 + side * fraction * CLOCK_DRIFT_BOUND;
  }

  /** A power loss: the process dies, the disk keeps what a crash keeps. */
  #crash(n: SimNode): void {
    if (!n.up) return;
    this.stats.crashes++;
    n.process.alive = false;
    n.up = false;
    n.node = undefined;
    n.store = undefined;
    n.disk.failAfter(0);
    const rng = this.sched.rng;
    n.disk = n.disk.crash(() => rng.next());
    this.sched.mix(3, n.id);
    this.#log(`crash node ${n.id}`);
  }

  /** A clean restart: close (heads flushed at close), then start again on the same disk. */
  #restartCleanly(n: SimNode): void {
    const node = n.node;
    if (!n.up || node === undefined || n.closing) return;
    n.up = false;
    n.node = undefined;
    n.store = undefined;
    const process = n.process;
    this.stats.restarts++;
    this.#log(`close node ${n.id}`);
    n.closing = node.close().then(() => {
      this.#log(`node ${n.id} closed`);
    }, (error) => {
      this.#violation(`node ${n.id} failed to close: ${error?.stack ?? error}`);
    }).finally(() => {
      process.alive = false; // whatever it left behind is gone with the process
      n.closing = undefined;
      const start = () => {
        if (!n.up && !n.closing) this.#start(n);
      };
      if (this.#healed) start();
      else this.sched.after(this.sched.rng.int(100, 3_000), start);
    });
  }

  #logger(n: SimNode, process: Process): Logger {
    const line = (level: string, message: string, fields?: Record<string, unknown>) => {
      if (!process.alive) return;
      if (message.includes("flushed heads")) this.stats.flushes++;
      if (message.startsWith("rebalance:")) this.stats.newTargets++;
      if (message === "partition move step") this.stats.moveSteps++;
      if (this.#trace && /^(rebalance|partition (move|voters|replica moved))/.test(message)) {
        this.#log(`node ${n.id}: ${message} ${JSON.stringify(fields ?? {})}`);
      }
      if (level === "error") {
        const text = `${message} ${JSON.stringify(fields ?? {})}`;
        this.#log(`node ${n.id} ${level}: ${text}`);
        if (message.startsWith("raft node stopped") || text.includes("BUG")) {
          this.#violation(`node ${n.id} logged: ${text}`);
        }
      } else if (this.#trace && level === "warn") {
        this.#log(`node ${n.id} ${level}: ${message} ${JSON.stringify(fields ?? {})}`);
      }
    };
    return {
      info: (m, f) => line("info", m, f),
      warn: (m, f) => line("warn", m, f),
      error: (m, f) => line("error", m, f),
    };
  }

  /** Every group of every live node, with its Raft node. */
  *#groups(): Generator<{ node: SimNode; group: number; raft: RaftNode }> {
    for (const n of this.nodes) {
      const node = n.node;
      if (!n.up || node === undefined) continue;
      yield { node: n, group: META_GROUP_ID, raft: node.meta.raft };
      for (const [group, replica] of node.replicas) yield { node: n, group, raft: replica.raft };
    }
  }

  #checkInstant(): void {
    for (const { node, group, raft } of this.#groups()) {
      if (raft.isLeader()) {
        this.safety.leader(group, raft.raft.currentTerm, node.id, this.sched.now);
      }
    }
  }

  /** True when every partition of the database has a leader its replicas agree on. */
  #allLed(): boolean {
    const meta = this.nodes.find((n) => n.node !== undefined)?.node?.meta.state;
    const db = meta?.databases.get(DB);
    if (!db) return false;
    return db.partitions.every((p) => this.#settledGroup(p.groupId, p.replicas, false));
  }

  /**
   * A group is settled when one live member leads and every member agrees; with `applied`,
   * every member has also applied everything the leader committed, which is its whole log.
   */
  #settledGroup(group: number, members: readonly number[], applied: boolean): boolean {
    let leader: RaftNode | undefined;
    const rafts: RaftNode[] = [];
    for (const id of members) {
      const n = this.nodes[id - 1];
      const node = n.node;
      if (!n.up || !node) return false;
      const raft = group === META_GROUP_ID ? node.meta.raft : node.replicas.get(group)?.raft;
      if (!raft) return false;
      rafts.push(raft);
      if (raft.isLeader()) leader = raft;
    }
    if (!leader) return false;
    const s = leader.status();
    for (const r of rafts) {
      if (r.raft.leaderId !== s.id || r.raft.currentTerm !== s.term) return false;
      if (applied && (r.appliedIndex < s.commit || s.commit < s.lastIndex)) return false;
    }
    return true;
  }

  /** Waits until every group has a leader and every member applied its whole log. */
  async #quiesce(limitMs: number): Promise<boolean> {
    const done = () => {
      const meta = this.nodes.find((n) => n.node !== undefined)?.node?.meta;
      if (!meta) return false;
      const conf = meta.raft.raft.currentConf();
      if (!this.#settledGroup(META_GROUP_ID, conf.voters, true)) return false;
      const db = meta.state.databases.get(DB);
      return db !== undefined &&
        db.partitions.every((p) => this.#settledGroup(p.groupId, p.replicas, true));
    };
    if (await this.#runUntil(this.sched.now + limitMs, done)) {
      this.#log("quiescent");
      return true;
    }
    this.#liveness(
      `the cluster did not settle within ${limitMs} ms of healing: ${this.#describeGroups()}`,
    );
    return false;
  }

  #describeGroups(): string {
    const parts: string[] = [];
    for (const n of this.nodes) {
      if (n.closing) parts.push(`node ${n.id} still closing;`);
      else if (!n.up) parts.push(`node ${n.id} down;`);
    }
    for (const { node, group, raft } of this.#groups()) {
      const s = raft.status();
      parts.push(
        `g${group}@n${node.id}:${
          s.role[0]
        }${s.term}/l${s.leaderId}/c${s.commit}/a${raft.appliedIndex}/f${s.firstIndex}-${s.lastIndex}`,
      );
    }
    return parts.join(" ");
  }

  // ---------------------------------------------------------------- clients

  #register(client: number, k: number): { key: string; timeMs: number } {
    return { key: `c${client}r${k}`, timeMs: EPOCH_MS - (1 + (k % 3)) * WEEK_MS };
  }

  #issue(c: Client): void {
    if (!this.#clientsRunning || c.busy) return;
    const rng = this.sched.rng;
    const roll = rng.int(0, 99);
    const node = rng.pick(this.nodes);
    const op: ClientOp = {
      id: this.#nextOpId++,
      client: c.id,
      kind: roll < 45 ? "put" : roll < 80 ? "get" : "append",
      key: "",
      value: 0,
      points: [],
      node: node.id,
      call: this.sched.now,
      ret: Infinity,
      status: "pending",
      output: undefined,
      acked: [],
    };
    if (op.kind === "put") {
      op.key = this.#register(c.id, rng.int(0, REGISTERS_PER_CLIENT - 1)).key;
      op.value = op.id;
      this.#lastPut = op.key;
    } else if (op.kind === "get") {
      // Any client's register, often the one written last: a read must see other clients'
      // acknowledged writes, and a stale one shows best right after a write.
      const owner = rng.pick(this.#clients).id;
      op.key = rng.chance(0.5) && this.#lastPut !== ""
        ? this.#lastPut
        : this.#register(owner, rng.int(0, REGISTERS_PER_CLIENT - 1)).key;
    } else {
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++) {
        op.points.push({
          series: `s${rng.int(0, LOG_SERIES - 1)}`,
          value: op.id * 10 + i,
          timeMs: this.#nextPointTime++,
        });
      }
    }
    this.ops.push(op);
    this.stats.ops++;
    c.busy = true;
    this.sched.mix(4, op.id, node.id, roll);
    this.#log(
      `op ${op.id} client ${c.id} ${op.kind} ${op.key}${op.kind === "put" ? `=${op.value}` : ""}${
        op.points.length ? ` ${op.points.length} points` : ""
      } via node ${node.id}`,
    );
    const finish = () => {
      c.busy = false;
      this.sched.after(rng.int(1, 100), () => this.#issue(c));
    };
    const store = node.store;
    const process = node.process;
    if (!node.up || store === undefined) {
      op.status = "failed"; // refused at once: never reached the node
      op.ret = this.sched.now;
      finish();
      return;
    }
    this.#outstanding++;
    let over = false;
    this.sched.after(OP_TIMEOUT_MS, () => {
      if (over) return;
      over = true;
      this.#outstanding--;
      op.status = op.kind === "get" ? "failed" : "unknown";
      if (op.status === "unknown") this.stats.unknown++;
      this.#log(`op ${op.id} timed out`);
      finish();
    });
    this.#perform(store, process, op).then((outcome) => {
      if (over) return;
      over = true;
      this.#outstanding--;
      // A coordinator that died meanwhile answered nobody.
      if (!process.alive) {
        op.status = op.kind === "get" ? "failed" : "unknown";
      } else {
        op.status = outcome;
        op.ret = this.sched.now;
        if (outcome === "ok") this.stats.acked++;
        if (outcome === "unknown") this.stats.unknown++;
      }
      this.sched.mix(5, op.id, op.status.length);
      this.#log(
        `op ${op.id} ${op.status}${op.kind === "get" ? ` ${op.output}` : ""}${
          op.error ? ` (${op.error.slice(0, 160)})` : ""
        }`,
      );
      finish();
    });
  }

  /** Runs an operation through the node's store; never rejects. */
  async #perform(
    store: ClusterStore,
    process: Process,
    op: ClientOp,
  ): Promise<ClientOp["status"]> {
    if (process.stalledUntil > this.sched.now) {
      // A stalled node reads the request when it runs again.
      await new Promise<void>((resolve) => this.sched.whenRunning(process, resolve));
    }
    try {
      if (op.kind === "get") {
        this.stats.reads++;
        const results = await executeQuery(store, `SELECT v FROM reg WHERE k = '${op.key}'`, {
          database: DB,
          nowNs: this.sched.clock.nowNanos(),
          monotonicMs: this.sched.clock.monotonicMs,
        });
        const r = results[0];
        if (r.error !== undefined) {
          op.error = r.error;
          return "failed";
        }
        const rows = r.series?.[0]?.values ?? [];
        if (rows.length > 1) {
          op.error = `register ${op.key} has ${rows.length} points`;
          this.#violation(op.error);
        }
        op.output = rows.length === 0 ? null : String(rows[0][1]);
        return "ok";
      }
      const points = op.kind === "put"
        ? [
          regPoint(
            op.key,
            this.#register(op.client, Number(op.key.split("r")[1])).timeMs,
            op.value,
          ),
        ]
        : op.points.map((p) => logPoint(p.series, p.timeMs, p.value));
      const outcome = await store.write(DB, undefined, points);
      const refused = new Set(outcome.rejected.map((r) => r.index));
      op.acked = points.map((_, i) => !refused.has(i));
      if (outcome.rejected.length > 0) op.error = outcome.rejected[0].reason;
      for (const r of outcome.rejected) {
        if (!r.reason.startsWith("not written")) {
          this.#violation(`op ${op.id}: point refused: ${r.reason}`);
        }
      }
      if (outcome.rejected.length === 0) return "ok";
      // Refused for want of a leader: the part may still have been proposed (unknown).
      return "unknown";
    } catch (error) {
      op.error = error instanceof Error ? error.message : String(error);
      return op.kind === "get" ? "failed" : "unknown";
    }
  }

  // ---------------------------------------------------------------- chaos

  #chaos(until: number): void {
    if (this.sched.now >= until) return;
    const rng = this.sched.rng;
    const roll = rng.int(0, 99);
    const ids = this.nodes.map((n) => n.id);
    if (roll < 20) {
      this.#randomPartition(ids);
    } else if (roll < 38) {
      if (rng.chance(0.4)) {
        this.hub.heal();
        this.#log("network healed");
      } else {
        const links = [...this.hub.cut, ...this.hub.clog.keys()];
        const k = rng.int(0, links.length);
        for (let i = 0; i < k; i++) {
          const link = rng.pick(links);
          this.hub.cut.delete(link);
          this.hub.clog.delete(link);
        }
        this.#log(`restored ${k} links`);
      }
    } else if (roll < 51) {
      const up = this.nodes.filter((n) => n.up);
      // Keep most of the cluster alive: at most two nodes down at once.
      if (up.length > this.#nodeCount - 2) {
        const victim = rng.chance(0.5) ? this.#busiestLeader(up) : rng.pick(up);
        this.#crash(victim);
        this.sched.after(rng.int(500, 8_000), () => {
          if (!victim.up && !victim.closing) {
            this.stats.restarts++;
            this.#start(victim);
          }
        });
      }
    } else if (roll < 55) {
      const up = this.nodes.filter((n) => n.up);
      if (up.length > this.#nodeCount - 2) this.#restartCleanly(rng.pick(up));
    } else if (roll < 65) {
      const n = rng.pick(this.nodes);
      if (n.simDisk) {
        const slow: [number, number] = rng.pick([[10, 50], [50, 300], [200, 1_500]]);
        n.simDisk.fsyncMs = slow;
        this.stats.slowDisks++;
        const disk = n.simDisk;
        this.sched.after(rng.int(1_000, 8_000), () => disk.fsyncMs = [0, 2]);
        this.#log(`node ${n.id} disk slow: ${slow[0]}-${slow[1]} ms per fsync`);
      }
    } else if (roll < 85) {
      const drop = rng.pick([0, 0, 0.01, 0.05, 0.2]);
      const duplicate = rng.pick([0, 0, 0.01, 0.05]);
      const [lo, hi] = rng.pick([[1, 5], [1, 20], [5, 100], [1, 300]]);
      this.hub.weather = { drop, duplicate, minDelayMs: lo, maxDelayMs: hi };
      this.#log(`weather: drop ${drop} dup ${duplicate} delay ${lo}-${hi} ms`);
    } else if (roll < 92) {
      this.#stall();
    }
    this.sched.mix(6, roll);
    this.sched.after(rng.int(300, 3_000), () => this.#chaos(until));
  }

  /**
   * Stalls a node's process for longer than an election timeout (a GC pause, a starved CPU):
   * the others elect new leaders meanwhile, and it wakes believing it still leads, with a
   * lease its clock says has lapsed. Drawn from its own generator: the other faults' draws stay
   * as they were.
   */
  #stall(): void {
    const up = this.nodes.filter((n) => n.up);
    if (up.length === 0) return;
    const draw = this.#stallRng;
    const victim = draw.chance(0.5) ? this.#busiestLeader(up) : up[draw.int(0, up.length - 1)];
    const ms = draw.int(1_500, 5_000);
    victim.process.stalledUntil = Math.max(victim.process.stalledUntil, this.sched.now + ms);
    this.stats.stalls++;
    this.#log(`node ${victim.id} stalls for ${ms} ms`);
  }

  /** The node leading the most groups (leaders are where acknowledgements come from). */
  #busiestLeader(among: SimNode[]): SimNode {
    let best = among[0], most = -1;
    for (const n of among) {
      let led = 0;
      if (n.node?.meta.isLeader()) led++;
      for (const r of n.node?.replicas.values() ?? []) if (r.isLeader()) led++;
      if (led > most) [best, most] = [n, led];
    }
    return best;
  }

  #randomPartition(ids: number[]): void {
    const rng = this.sched.rng;
    this.stats.partitionsCut++;
    switch (rng.int(0, 3)) {
      case 0: {
        const victim = rng.chance(0.5) ? this.#busiestLeader(this.nodes).id : rng.pick(ids);
        for (const other of ids) if (other !== victim) this.hub.partition(victim, other);
        this.#log(`isolate node ${victim}`);
        break;
      }
      case 1: {
        const shuffled = [...ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const k = rng.int(1, shuffled.length - 1);
        for (const a of shuffled.slice(0, k)) {
          for (const b of shuffled.slice(k)) this.hub.partition(a, b);
        }
        this.#log(`split {${shuffled.slice(0, k)}} {${shuffled.slice(k)}}`);
        break;
      }
      case 2: {
        const k = rng.int(1, ids.length);
        for (let i = 0; i < k; i++) {
          const a = rng.pick(ids), b = rng.pick(ids);
          if (a !== b) this.hub.cut.add(a * 64 + b);
        }
        this.#log(`${k} one-way cuts`);
        break;
      }
      default: {
        const k = rng.int(1, ids.length);
        for (let i = 0; i < k; i++) {
          const a = rng.pick(ids), b = rng.pick(ids);
          if (a !== b) this.hub.clog.set(a * 64 + b, rng.int(100, 2_000));
        }
        this.#log(`${k} clogged links`);
      }
    }
  }

  // ---------------------------------------------------------------- final checks

  /** One read of every register through a random node, at the end (part of the history). */
  async #finalReads(): Promise<void> {
    const rng = this.sched.rng;
    for (const c of this.#clients) {
      for (let k = 0; k < REGISTERS_PER_CLIENT; k++) {
        const key = this.#register(c.id, k).key;
        let done = false;
        for (let attempt = 0; attempt < 5 && !done; attempt++) {
          const node = rng.pick(this.nodes.filter((n) => n.store !== undefined));
          const op: ClientOp = {
            id: this.#nextOpId++,
            client: 100 + c.id,
            kind: "get",
            key,
            value: 0,
            points: [],
            node: node.id,
            call: this.sched.now,
            ret: Infinity,
            status: "pending",
            output: undefined,
            acked: [],
          };
          this.ops.push(op);
          op.status = await this.#await(
            this.#perform(node.store!, node.process, op),
            OP_TIMEOUT_MS,
            "read",
          );
          op.ret = this.sched.now;
          done = op.status === "ok";
          this.#log(`final read ${key} via node ${node.id}: ${op.status} ${op.output}`);
        }
        if (!done) this.#liveness(`register ${key} cannot be read after healing`);
      }
    }
  }

  async #finalChecks(): Promise<void> {
    const meta = this.nodes.find((n) => n.node !== undefined)!.node!.meta.state;
    const db = meta.databases.get(DB)!;
    // Every replica of a partition holds the same data.
    const held = new Map<string, { value: number; partition: number }>();
    const checked = new Set<number>();
    for (const p of db.partitions) {
      let reference: string[] | undefined;
      let from = 0;
      for (const id of p.replicas) {
        const replica = this.nodes[id - 1].node?.replicas.get(p.groupId);
        if (!replica) {
          this.#violation(`partition ${p.index}: node ${id} holds no replica`);
          continue;
        }
        const dump = await this.#await(dumpReplica(replica, DB), 10_000, "dump");
        if (reference === undefined) {
          reference = dump;
          from = id;
        } else if (reference.join("\n") !== dump.join("\n")) {
          this.#violation(
            `partition ${p.index} (group ${p.groupId}): replicas on nodes ${from} and ${id} differ: ${
              firstDifference(reference, dump)
            }`,
          );
        }
      }
      if (reference !== undefined) checked.add(p.index);
      for (const line of reference ?? []) {
        // `rp/shard/series/field: time=value ...`
        const [path, values] = line.split(": ");
        const series = path.split("/")[2];
        for (const tv of values.split(" ")) {
          const [t, v] = tv.split("=");
          held.set(`${series}@${t.split(".")[0]}`, {
            value: Number(v.replace(/i$/, "")),
            partition: p.index,
          });
        }
      }
    }
    // No acknowledged append lost; nothing present that no client wrote.
    const written = new Map<string, { value: number; acked: boolean }>();
    for (const op of this.ops) {
      if (op.kind !== "append" || op.status === "failed") continue;
      op.points.forEach((p, i) => {
        written.set(`log,s=${p.series}@${p.timeMs}`, {
          value: p.value,
          acked: op.status === "ok" || op.acked[i] === true,
        });
      });
    }
    for (const [key, w] of written) {
      const series = key.split("@")[0];
      if (!checked.has(partitionOf(db.hash, series, db.partitions.length))) continue;
      const h = held.get(key);
      if (w.acked && h === undefined) {
        this.#violation(`acknowledged point ${key}=${w.value} is lost`);
      } else if (h !== undefined && h.value !== w.value) {
        this.#violation(`point ${key} holds ${h.value}, written ${w.value}`);
      }
    }
    for (const key of held.keys()) {
      if (key.startsWith("log,") && !written.has(key)) {
        this.#violation(`point ${key} is present but no client wrote it`);
      }
    }
    // Registers: the final reads are in the history; acknowledged writes are visible there.
    const lin = checkRegisters(this.ops);
    if (lin) this.#violation(lin);
  }

  // ---------------------------------------------------------------- instrumentation

  /**
   * Records every entry applied by every group (state machine safety), installs the bug
   * under test, and trips on any use of the host's time, timers or randomness during the run.
   */
  #instrument(): () => void {
    const safety = this.safety;
    const undo: (() => void)[] = [];
    const patch = <T extends object, K extends keyof T>(obj: T, key: K, value: T[K]) => {
      const old = obj[key];
      obj[key] = value;
      undo.push(() => obj[key] = old);
    };
    const replicaApply = PartitionReplica.prototype.apply;
    patch(PartitionReplica.prototype, "apply", function (this: PartitionReplica, e: Entry) {
      safety.applied(this.groupId, e.index, e.term, e.data, this.raft?.id ?? 0);
      return replicaApply.call(this, e);
    });
    const metaApply = MetaGroup.prototype.apply;
    patch(MetaGroup.prototype, "apply", function (this: MetaGroup, e: Entry) {
      safety.applied(META_GROUP_ID, e.index, e.term, e.data, this.raft?.id ?? 0);
      return metaApply.call(this, e);
    });
    if (this.options.bug === "noReadBarrier") {
      patch(PartitionReplica.prototype, "readBarrier", () => Promise.resolve());
    }
    if (this.options.bug === "noReadRoundWait") {
      patch(RaftNodeClass.prototype, "waitApplied", () => Promise.resolve());
    }
    if (this.options.bug === "ackQueued") {
      const propose = RaftNodeClass.prototype.propose;
      // Partition writes pass "applied" (quorum) explicitly; the metadata group never does.
      patch(RaftNodeClass.prototype, "propose", function (this: RaftNode, data, wait) {
        return propose.call(this, data, wait === "applied" ? "queued" : wait);
      });
    }
    const trip = (what: string) => {
      if (this.#violations.some((v) => v.includes(what))) return;
      this.#violation(`nondeterminism: the host's ${what} was used: ${new Error().stack}`);
    };
    const g = globalThis as unknown as Record<string, unknown>;
    for (const name of ["setTimeout", "setInterval"]) {
      const real = g[name] as (...args: unknown[]) => unknown;
      patch(g, name, (...args: unknown[]) => {
        trip(name);
        return real(...args);
      });
    }
    const dateNow = Date.now;
    patch(Date, "now", () => {
      trip("Date.now");
      return dateNow();
    });
    const perfNow = performance.now.bind(performance);
    patch(performance, "now", () => {
      trip("performance.now");
      return perfNow();
    });
    const random = Math.random;
    patch(Math, "random", () => {
      trip("Math.random");
      return random();
    });
    const onRejection = (event: PromiseRejectionEvent) => {
      event.preventDefault();
      const reason = event.reason;
      // A killed process's pending work fails on its powered-off disk: no process is left to see.
      if (reason instanceof CrashedError) return;
      this.#violation(`unhandled rejection: ${reason?.stack ?? reason}`);
    };
    globalThis.addEventListener("unhandledrejection", onRejection);
    undo.push(() => globalThis.removeEventListener("unhandledrejection", onRejection));
    return () => {
      for (const u of undo.reverse()) u();
    };
  }

  #result(): ClusterSimResult {
    Object.assign(this.stats, {
      events: this.sched.events,
      messages: this.hub.stats.messages,
      dropped: this.hub.stats.dropped,
      calls: this.hub.stats.calls,
      simulatedMs: this.sched.now,
    });
    return {
      seed: this.options.seed,
      violations: [...this.#violations, ...this.safety.violations, ...this.sched.errors],
      traceHash: this.sched.hash.hex(),
      trace: this.#trace ?? [],
      stats: this.stats,
    };
  }
}

function regPoint(key: string, timeMs: number, value: number): Point {
  return {
    measurement: "reg",
    tags: sortTags([{ key: "k", value: key }]),
    fields: [{ key: "v", type: FieldType.Integer, value }],
    timeMs,
    timeSubMs: 0,
  };
}

function logPoint(series: string, timeMs: number, value: number): Point {
  return {
    measurement: "log",
    tags: sortTags([{ key: "s", value: series }]),
    fields: [{ key: "v", type: FieldType.Integer, value }],
    timeMs,
    timeSubMs: 0,
  };
}

/** Runs one seed. */
export function runClusterSeed(
  seed: number,
  options: Partial<ClusterSimOptions> = {},
): Promise<ClusterSimResult> {
  return new ClusterSimulation({ seed, ...options }).run();
}
