/**
 * A deterministic simulation of a Raft group serving a key-value store under faults.
 *
 * One seed decides everything: a {@linkcode Prng} drives network delays, drops, duplicates
 * (reordering follows from random delays), partitions (isolate one, minority/majority split,
 * one-way cuts, clogged links restored in random order), crashes that lose unsynced writes and
 * tear the tail, pauses, membership changes, leadership transfers, compaction and the clients'
 * operations. Time is virtual: events run in (time, sequence) order from one queue, so the same
 * seed gives the same trace, which is hashed as it runs.
 *
 * After a chaos phase everything is healed; the run then checks liveness (a stable leader within
 * ten election timeouts), that every acknowledged write is applied on every live member, and that
 * the client history is linearizable. Safety invariants are checked after every event.
 *
 * @module
 */

import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  messageTypeName,
  NotLeaderError,
  ProposalDroppedError,
  Raft,
  type Ready,
} from "../../src/raft/mod.ts";
import { ValidationError } from "../../src/core/mod.ts";
import { InvariantChecker } from "./invariants.ts";
import {
  checkLinearizable,
  type KvInput,
  kvModel,
  type KvOutput,
  type Operation,
} from "./linearizability.ts";
import {
  decodeKv,
  decodePut,
  encodeKv,
  encodePut,
  EventQueue,
  Prng,
  SimStorage,
  TraceHash,
} from "./sim_support.ts";

/** Virtual milliseconds per Raft tick. */
export const TICK_MS = 100;
/** Ticks per election timeout. */
export const ELECTION_TICKS = 10;
const ELECTION_MS = TICK_MS * ELECTION_TICKS;
const OP_TIMEOUT_MS = 2_000;
const KEYS = ["a", "b", "c", "d", "e"];

/** Options of one simulation run. */
export interface SimOptions {
  seed: number;
  /** Virtual milliseconds of chaos before healing. @default {300_000} */
  durationMs?: number;
  /** Initial voters; by default the seed picks 3 or 5. */
  voters?: number;
  /** Concurrent clients. @default {3} */
  clients?: number;
  /** Inject faults (off for scripted scenarios). @default {true} */
  faults?: boolean;
  /** Keep a readable trace (replay of one seed). @default {false} */
  trace?: boolean;
  /** Entries applied between local snapshots; by default the seed picks 20..400. */
  snapshotEvery?: number;
  /** Start clients automatically. @default {true} */
  autoClients?: boolean;
  /**
   * A deliberate bug, to prove the checkers catch it: reads served from local state without
   * ReadIndex; a crash that loses synced entries; messages sent before the fsync that they
   * depend on.
   */
  bug?: "staleRead" | "loseSyncedTail" | "ackBeforeSync";
}

/** Counters of one run. */
export interface SimStats {
  events: number;
  messages: number;
  dropped: number;
  crashes: number;
  tornEntries: number;
  partitions: number;
  pauses: number;
  confChanges: number;
  transfers: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  leadersElected: number;
  ops: number;
  acked: number;
  unknown: number;
  maxCommit: number;
  simulatedMs: number;
}

/** The outcome of one run. */
export interface SimResult {
  seed: number;
  violations: string[];
  traceHash: string;
  trace: string[];
  stats: SimStats;
}

interface OpRecord {
  id: number;
  clientId: number;
  input: KvInput;
  output: KvOutput | undefined;
  call: number;
  ret: number;
  status: "pending" | "ok" | "failed" | "unknown";
  /** The request never reached a live node: it cannot have taken effect. */
  noEffect: boolean;
  index: number;
  term: number;
}

interface Client {
  id: number;
  target: number;
  current: OpRecord | null;
}

class SimNode {
  raft: Raft | null = null;
  readonly storage = new SimStorage();
  up = false;
  paused = false;
  removed = false;
  inbox: (() => void)[] = [];
  epoch = 0;
  kv = new Map<string, string>();
  applied = 0;
  inReady: Ready | null = null;
  pendingProps = new Map<number, { op: OpRecord; term: number }>();
  pendingReads = new Map<number, OpRecord>();
  waitingReads: { index: number; op: OpRecord }[] = [];
  constructor(readonly id: number, readonly rng: Prng) {}
}

/** One simulated cluster. Scripted tests drive it through its public methods. */
export class Simulator {
  now = 0;
  readonly rng: Prng;
  readonly checker = new InvariantChecker();
  readonly nodes = new Map<number, SimNode>();
  readonly stats: SimStats = {
    events: 0,
    messages: 0,
    dropped: 0,
    crashes: 0,
    tornEntries: 0,
    partitions: 0,
    pauses: 0,
    confChanges: 0,
    transfers: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    leadersElected: 0,
    ops: 0,
    acked: 0,
    unknown: 0,
    maxCommit: 0,
    simulatedMs: 0,
  };
  readonly ops: OpRecord[] = [];
  private readonly queue = new EventQueue();
  private readonly hash = new TraceHash();
  private readonly traceLines: string[] | null;
  private readonly clients: Client[] = [];
  private clientsRunning = false;
  private nextNodeId: number;
  private nextOpId = 1;
  private readonly snapEvery: number;
  private readonly blocked = new Set<number>();
  private readonly clog = new Map<number, number>();
  private dropP = 0;
  private dupP = 0;
  private minDelay = 1;
  private maxDelay = 5;
  private readonly crashDuringSync = new Set<number>();
  private pendingRemovals: { id: number; index: number; term: number }[] = [];
  private readonly extraViolations: string[] = [];

  constructor(readonly options: SimOptions) {
    this.rng = new Prng(options.seed);
    this.traceLines = options.trace ? [] : null;
    const voters = options.voters ?? (this.rng.chance(0.5) ? 3 : 5);
    this.snapEvery = this.rng.int(20, 400);
    if (options.snapshotEvery !== undefined) this.snapEvery = options.snapshotEvery;
    const ids = Array.from({ length: voters }, (_, i) => i + 1);
    this.nextNodeId = voters + 1;
    for (const id of ids) {
      const node = new SimNode(id, this.rng.fork());
      this.nodes.set(id, node);
      this.startNode(node, ids);
    }
    for (let c = 1; c <= (options.clients ?? 3); c++) {
      this.clients.push({ id: c, target: this.rng.pick(ids), current: null });
    }
  }

  // ---------------------------------------------------------------- running

  /** Runs the full scenario: chaos, heal, liveness, final checks. */
  run(): SimResult {
    const duration = this.options.durationMs ?? 300_000;
    if (this.options.autoClients ?? true) this.startClients();
    if (this.options.faults ?? true) this.at(this.rng.int(500, 2_000), () => this.chaos(duration));
    this.runUntil(duration);
    this.healAll();
    const healedAt = this.now;
    let stableAt = -1;
    const deadline = healedAt + 10 * ELECTION_MS;
    while (this.now < deadline && stableAt < 0) {
      this.runUntil(Math.min(deadline, this.now + TICK_MS));
      if (this.stableLeader() !== null) stableAt = this.now;
    }
    if (stableAt < 0) {
      this.extraViolations.push(
        `t=${this.now}ms: liveness: no stable leader within ${10 * ELECTION_MS}ms after healing`,
      );
    }
    this.runUntil(deadline + 2_000);
    this.stopClients();
    this.runUntil(deadline + 5_000);
    this.finalChecks();
    return this.result();
  }

  /** Runs events up to virtual time `until`. */
  runUntil(until: number): void {
    while (this.queue.peekTime() <= until) {
      const ev = this.queue.pop()!;
      this.now = ev.time;
      this.checker.now = ev.time;
      this.stats.events++;
      ev.run();
    }
    this.now = Math.max(this.now, until);
    this.stats.simulatedMs = this.now;
  }

  /** Runs the final checks (acknowledged writes applied, linearizability) and returns the result. */
  check(): SimResult {
    this.finalChecks();
    return this.result();
  }

  result(): SimResult {
    return {
      seed: this.options.seed,
      violations: [...this.checker.violations, ...this.extraViolations],
      traceHash: this.hash.hex(),
      trace: this.traceLines ?? [],
      stats: this.stats,
    };
  }

  private at(time: number, run: () => void): void {
    this.queue.push(time, run);
  }

  private trace(code: number, a: number, b = 0, c = 0, text?: () => string): void {
    this.hash.mix(this.now);
    this.hash.mix(code);
    this.hash.mix(a);
    this.hash.mix(b);
    this.hash.mix(c);
    if (this.traceLines && text) {
      this.traceLines.push(`${String(this.now).padStart(7)}ms ${text()}`);
    }
  }

  // ---------------------------------------------------------------- nodes

  node(id: number): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: number): Raft {
    const r = this.node(id).raft;
    if (!r) throw new Error(`node ${id} is down`);
    return r;
  }

  private startNode(node: SimNode, peers: number[] | undefined): void {
    const stored = {
      hardState: node.storage.hardState,
      snapshot: node.storage.snapshot,
      entries: node.storage.entries,
    };
    const snapIndex = stored.snapshot?.metadata.index ?? 0;
    node.raft = new Raft({
      id: node.id,
      rng: node.rng,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      stored,
      peers,
      maxSizePerMsg: 64 * 1024,
      maxInflightMsgs: 64,
    });
    node.kv = stored.snapshot ? decodeKv(stored.snapshot.data) : new Map();
    node.applied = snapIndex;
    node.up = true;
    node.paused = false;
    node.inbox = [];
    node.inReady = null;
    node.pendingProps.clear();
    node.pendingReads.clear();
    node.waitingReads = [];
    const epoch = ++node.epoch;
    const tick = () => {
      if (node.epoch !== epoch) return;
      this.at(this.now + TICK_MS, tick);
      if (node.paused) return;
      this.hash.mix(node.id);
      node.raft!.tick();
      this.afterInput(node);
    };
    this.at(this.now + this.rng.int(1, TICK_MS), tick);
    this.afterInput(node);
  }

  /** Crashes a node: unsynced writes are lost (partly), the tail may tear. */
  crash(id: number): void {
    const node = this.node(id);
    if (!node.up) return;
    const { tornEntries } = node.storage.crash(this.rng);
    if (this.options.bug === "loseSyncedTail") {
      node.storage.entries.length = Math.max(0, node.storage.entries.length - this.rng.int(1, 3));
    }
    this.stats.crashes++;
    this.stats.tornEntries += tornEntries;
    node.up = false;
    node.raft = null;
    node.epoch++;
    node.inReady = null;
    node.inbox = [];
    node.paused = false;
    this.trace(1, id, tornEntries, 0, () => `crash node ${id} (torn entries ${tornEntries})`);
  }

  /** Crashes a node and restarts it `downMs` later. */
  crashFor(id: number, downMs: number): void {
    this.crash(id);
    this.at(this.now + downMs, () => this.restart(id));
  }

  /** Restarts a crashed node from its durable state. */
  restart(id: number): void {
    const node = this.node(id);
    if (node.up || node.removed) return;
    const s = node.storage;
    this.checker.onRestart(id, s.hardState, s.snapshot?.metadata.index ?? 0);
    this.trace(
      2,
      id,
      s.hardState.term,
      s.entries.length,
      () =>
        `restart node ${id} term ${s.hardState.term} commit ${s.hardState.commit} entries ${s.entries.length}`,
    );
    this.startNode(node, undefined);
  }

  /** Freezes a node for `ms`: no ticks, messages and disk completions wait. */
  pause(id: number, ms: number): void {
    const node = this.node(id);
    if (!node.up || node.paused) return;
    node.paused = true;
    this.stats.pauses++;
    const epoch = node.epoch;
    this.trace(3, id, ms, 0, () => `pause node ${id} for ${ms}ms`);
    this.at(this.now + ms, () => {
      if (node.epoch === epoch) this.resume(node);
    });
  }

  private resume(node: SimNode): void {
    if (!node.paused) return;
    node.paused = false;
    const inbox = node.inbox;
    node.inbox = [];
    for (const run of inbox) if (node.up && !node.paused) run();
  }

  /** Feeds a Ready loop: persist (async fsync when needed), send, apply, advance. */
  private afterInput(node: SimNode): void {
    const raft = node.raft!;
    while (!node.inReady && raft.hasReady()) {
      const rd = raft.ready();
      node.inReady = rd;
      if (rd.softState) {
        this.trace(
          4,
          node.id,
          raft.currentTerm,
          rd.softState.leaderId,
          () =>
            `node ${node.id} is ${rd.softState!.role} in term ${raft.currentTerm} (leader ${
              rd.softState!.leaderId
            })`,
        );
        if (rd.softState.role === "leader") {
          this.stats.leadersElected++;
          this.checker.onLeader(raft);
        }
      }
      for (const m of rd.earlyMessages) this.send(node, m); // a leader's appends: before its fsync
      node.storage.write(rd);
      this.checker.onPersist(raft, rd.entries);
      if (rd.mustSync) {
        if (this.options.bug === "ackBeforeSync") {
          for (const m of rd.messages) this.send(node, m);
          rd.messages.length = 0;
        }
        const epoch = node.epoch;
        const latency = this.rng.chance(0.02) ? this.rng.int(20, 80) : this.rng.int(1, 3);
        if (this.crashDuringSync.delete(node.id)) {
          const downMs = this.rng.int(200, 8_000);
          this.at(this.now + latency - 0.5, () => {
            if (node.epoch === epoch) this.crashFor(node.id, downMs);
          });
        }
        this.at(this.now + latency, () => {
          if (node.epoch !== epoch) return;
          const done = () => {
            this.finishReady(node);
            this.afterInput(node);
          };
          if (node.paused) node.inbox.push(done);
          else done();
        });
        break;
      }
      this.finishReady(node);
    }
    this.checker.afterEvent(raft);
  }

  private finishReady(node: SimNode): void {
    const raft = node.raft!;
    const rd = node.inReady!;
    if (rd.mustSync) {
      node.storage.sync();
      this.checker.onSynced(node.id, node.storage.hardState);
    }
    for (const m of rd.messages) this.send(node, m);
    if (rd.snapshot) {
      this.stats.snapshotsInstalled++;
      this.checker.onRestoreSnapshot(node.id, rd.snapshot);
      node.kv = decodeKv(rd.snapshot.data);
      node.applied = rd.snapshot.metadata.index;
      this.trace(
        5,
        node.id,
        node.applied,
        0,
        () => `node ${node.id} installs snapshot at ${node.applied}`,
      );
    }
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) {
      const opId = Number(new TextDecoder().decode(rs.context));
      const op = node.pendingReads.get(opId);
      if (op) {
        node.pendingReads.delete(opId);
        node.waitingReads.push({ index: rs.index, op });
      }
    }
    raft.advance();
    node.inReady = null;
    if (node.waitingReads.length > 0) this.serveReads(node);
    this.maybeCompact(node);
    if (raft.committed > this.stats.maxCommit) this.stats.maxCommit = raft.committed;
  }

  private apply(node: SimNode, e: Entry): void {
    this.checker.onApply(node.id, e);
    node.applied = e.index;
    if (e.type === EntryType.Normal) {
      const cmd = decodePut(e.data);
      if (cmd) node.kv.set(cmd.key, cmd.value);
    }
    const p = node.pendingProps.get(e.index);
    if (p) {
      node.pendingProps.delete(e.index);
      if (p.term === e.term) {
        p.op.index = e.index;
        p.op.term = e.term;
        this.respond(p.op, "ok");
      } else {
        this.respondFailed(p.op); // overwritten by another leader's entry: never applied
      }
    }
  }

  private serveReads(node: SimNode): void {
    const still: { index: number; op: OpRecord }[] = [];
    for (const w of node.waitingReads) {
      if (w.index <= node.applied) {
        const key = (w.op.input as { key: string }).key;
        this.respond(w.op, node.kv.get(key) ?? null);
      } else {
        still.push(w);
      }
    }
    node.waitingReads = still;
  }

  private maybeCompact(node: SimNode): void {
    const raft = node.raft!;
    const snapIndex = raft.snapshot()?.metadata.index ?? 0;
    if (node.applied - snapIndex < this.snapEvery) return;
    const snap = raft.createSnapshot(node.applied, encodeKv(node.kv));
    const compactTo = Math.max(raft.status().firstIndex - 1, node.applied - this.rng.int(0, 20));
    raft.compactLog(compactTo);
    node.storage.saveSnapshot(snap, compactTo);
    this.stats.snapshotsTaken++;
  }

  // ---------------------------------------------------------------- network

  private send(from: SimNode, m: Message): void {
    this.stats.messages++;
    if (m.type !== MessageType.PreVote && m.type !== MessageType.PreVoteResp) {
      this.checker.onSend(from.id, m.term); // pre-vote messages carry a future term
    }
    if (m.type === MessageType.VoteResp && !m.reject) {
      this.checker.onVoteGranted(from.id, m.term, m.to);
    }
    const link = m.from * 4096 + m.to;
    if (this.blocked.has(link) || (this.dropP > 0 && this.rng.chance(this.dropP))) {
      this.stats.dropped++;
      if (m.type === MessageType.Snap) {
        this.at(this.now + 200, () => this.reportSnap(m.from, m.to, false));
      }
      return;
    }
    const delay = this.rng.int(this.minDelay, this.maxDelay) + (this.clog.get(link) ?? 0);
    this.at(this.now + delay, () => this.deliver(m));
    if (this.dupP > 0 && this.rng.chance(this.dupP)) {
      this.at(this.now + this.rng.int(this.minDelay, this.maxDelay * 3), () => this.deliver(m));
    }
  }

  private deliver(m: Message): void {
    const target = this.nodes.get(m.to);
    this.trace(
      6,
      m.type,
      m.from,
      m.to,
      () =>
        `${
          messageTypeName(m.type)
        } ${m.from}->${m.to} term ${m.term} index ${m.index} logTerm ${m.logTerm} entries ${m.entries.length} commit ${m.commit}${
          m.reject ? " reject" : ""
        }`,
    );
    this.hash.mix(m.term);
    this.hash.mix(m.index);
    if (!target || !target.up) {
      if (m.type === MessageType.Snap) {
        this.at(this.now + 200, () => this.reportSnap(m.from, m.to, false));
      }
      return;
    }
    const run = () => {
      target.raft!.step(m);
      this.afterInput(target);
      if (m.type === MessageType.Snap) this.reportSnap(m.from, m.to, true);
    };
    if (target.paused) target.inbox.push(run);
    else run();
  }

  private reportSnap(from: number, to: number, ok: boolean): void {
    const node = this.nodes.get(from);
    if (!node || !node.up) return;
    const run = () => {
      node.raft!.reportSnapshot(to, ok);
      this.afterInput(node);
    };
    if (node.paused) node.inbox.push(run);
    else run();
  }

  /** Cuts the link from `a` to `b` (one way). */
  cut(a: number, b: number): void {
    this.blocked.add(a * 4096 + b);
  }

  /** Cuts every link between the groups (both ways). */
  partition(...groups: number[][]): void {
    this.stats.partitions++;
    for (const g of groups) {
      for (const h of groups) {
        if (g === h) continue;
        for (const a of g) for (const b of h) this.cut(a, b);
      }
    }
    this.trace(7, groups.length, 0, 0, () => `partition ${groups.map((g) => `{${g}}`).join(" ")}`);
  }

  /** Isolates one node from every other. */
  isolate(id: number): void {
    const others = [...this.nodes.keys()].filter((n) => n !== id);
    this.partition([id], others);
  }

  /** Restores every link and clears network weather. */
  healNetwork(): void {
    this.blocked.clear();
    this.clog.clear();
    this.dropP = 0;
    this.dupP = 0;
    this.minDelay = 1;
    this.maxDelay = 5;
    this.trace(8, 0, 0, 0, () => "heal network");
  }

  /** Heals the network, restarts crashed nodes and resumes paused ones. */
  healAll(): void {
    this.healNetwork();
    this.crashDuringSync.clear();
    for (const node of this.nodes.values()) {
      if (node.removed) continue;
      if (!node.up) this.restart(node.id);
      else if (node.paused) this.resume(node);
    }
  }

  // ---------------------------------------------------------------- observation

  /** The leader every live member agrees on, or null. */
  stableLeader(): number | null {
    let leader: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.up && !n.paused && n.raft!.currentRole === "leader") {
        if (!leader || n.raft!.currentTerm > leader.raft!.currentTerm) leader = n;
      }
    }
    if (!leader) return null;
    const lr = leader.raft!;
    const conf = lr.currentConf();
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = this.nodes.get(id);
      if (!n || !n.up) continue;
      const r = n.raft!;
      if (r.currentTerm !== lr.currentTerm || r.leaderId !== lr.id) return null;
    }
    return lr.id;
  }

  /** The live leader with the highest term, or 0. */
  leader(): number {
    let best = 0;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (n.up && !n.paused && n.raft!.currentRole === "leader" && n.raft!.currentTerm > bestTerm) {
        best = n.id;
        bestTerm = n.raft!.currentTerm;
      }
    }
    return best;
  }

  /** Adds a fresh node process (not yet a member: propose its addition separately). */
  addNode(): number {
    const id = this.nextNodeId++;
    const node = new SimNode(id, this.rng.fork());
    this.nodes.set(id, node);
    this.startNode(node, undefined);
    return id;
  }

  // ---------------------------------------------------------------- clients

  startClients(): void {
    this.clientsRunning = true;
    for (const c of this.clients) this.at(this.now + this.rng.int(1, 50), () => this.issue(c));
  }

  stopClients(): void {
    this.clientsRunning = false;
  }

  /** Submits one operation from `clientId` to `nodeId` now (scripted tests). */
  submit(clientId: number, nodeId: number, input: KvInput): OpRecord {
    const op: OpRecord = {
      id: this.nextOpId++,
      clientId,
      input,
      output: undefined,
      call: this.now,
      ret: Infinity,
      status: "pending",
      noEffect: false,
      index: 0,
      term: 0,
    };
    this.ops.push(op);
    this.stats.ops++;
    this.at(this.now + this.rng.int(1, 3), () => this.handleRequest(nodeId, op));
    this.at(this.now + OP_TIMEOUT_MS, () => this.timeout(op));
    return op;
  }

  private issue(c: Client): void {
    if (!this.clientsRunning || c.current) return;
    const key = this.rng.pick(KEYS);
    const isPut = this.rng.chance(0.55);
    const input: KvInput = isPut
      ? { kind: "put", key, value: `${c.id}.${this.nextOpId}` }
      : { kind: "get", key };
    // Reads sometimes go to a random node to exercise forwarded ReadIndex.
    const members = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const target = !isPut && this.rng.chance(0.3) ? this.rng.pick(members) : c.target;
    c.current = this.submit(c.id, target, input);
  }

  private handleRequest(nodeId: number, op: OpRecord): void {
    const node = this.nodes.get(nodeId);
    if (op.status !== "pending") return;
    if (!node || !node.up || node.paused) {
      op.noEffect = true;
      return;
    }
    const raft = node.raft!;
    try {
      if (op.input.kind === "put") {
        const pos = raft.propose(encodePut(op.id, op.input.key, op.input.value));
        node.pendingProps.set(pos.index, { op, term: pos.term });
      } else if (this.options.bug === "staleRead") {
        this.respond(op, node.kv.get(op.input.key) ?? null);
        return;
      } else {
        raft.readIndex(new TextEncoder().encode(String(op.id)));
        node.pendingReads.set(op.id, op);
      }
    } catch (error) {
      if (error instanceof NotLeaderError) {
        const c = this.clients.find((x) => x.id === op.clientId);
        if (c) c.target = error.leaderId || this.rng.pick([...this.nodes.keys()]);
        this.respondFailed(op);
        return;
      }
      if (error instanceof ProposalDroppedError) {
        this.respondFailed(op);
        return;
      }
      throw error;
    }
    this.trace(
      9,
      op.id,
      nodeId,
      0,
      () => `op ${op.id} ${JSON.stringify(op.input)} at node ${nodeId}`,
    );
    this.afterInput(node);
  }

  private respond(op: OpRecord, output: KvOutput): void {
    this.at(this.now + this.rng.int(1, 3), () => {
      if (op.status !== "pending") return;
      op.status = "ok";
      op.output = output;
      op.ret = this.now;
      this.stats.acked++;
      this.trace(10, op.id, 0, 0, () => `op ${op.id} ok ${JSON.stringify(output)}`);
      this.next(op);
    });
  }

  private respondFailed(op: OpRecord): void {
    this.at(this.now + this.rng.int(1, 3), () => {
      if (op.status !== "pending") return;
      op.status = "failed";
      this.next(op);
    });
  }

  private timeout(op: OpRecord): void {
    if (op.status !== "pending") return;
    op.status = op.input.kind === "put" && !op.noEffect ? "unknown" : "failed";
    if (op.status === "unknown") this.stats.unknown++;
    const c = this.clients.find((x) => x.id === op.clientId);
    if (c) c.target = this.rng.pick([...this.nodes.keys()]);
    this.trace(11, op.id, 0, 0, () => `op ${op.id} timed out (${op.status})`);
    this.next(op);
  }

  private next(op: OpRecord): void {
    const c = this.clients.find((x) => x.id === op.clientId);
    if (!c || c.current !== op) return;
    c.current = null;
    this.at(this.now + this.rng.int(5, 60), () => this.issue(c));
  }

  /** The history for the linearizability checker. */
  history(): Operation<KvInput, KvOutput>[] {
    return this.ops
      .filter((o) => o.status === "ok" || o.status === "unknown")
      .map((o) => ({
        clientId: o.clientId,
        input: o.input,
        output: o.output,
        call: o.call,
        ret: o.ret,
      }));
  }

  // ---------------------------------------------------------------- chaos

  private chaos(until: number): void {
    if (this.now >= until) return;
    this.completeRemovals();
    const live = [...this.nodes.values()].filter((n) => !n.removed);
    const ids = live.map((n) => n.id);
    const roll = this.rng.int(0, 99);
    if (roll < 18) {
      this.randomPartition(ids);
    } else if (roll < 36) {
      this.healSome();
    } else if (roll < 50) {
      const up = live.filter((n) => n.up);
      if (up.length > 0) {
        const victim = this.rng.chance(0.4) && this.leader()
          ? this.node(this.leader())
          : this.rng.pick(up);
        if (this.rng.chance(0.4)) this.crashDuringSync.add(victim.id); // tear its next write
        else this.crashFor(victim.id, this.rng.int(200, 8_000));
      }
    } else if (roll < 58) {
      const up = live.filter((n) => n.up);
      if (up.length > 0) {
        const victim = this.rng.chance(0.5) && this.leader()
          ? this.node(this.leader())
          : this.rng.pick(up);
        this.pause(victim.id, this.rng.int(300, 4_000));
      }
    } else if (roll < 68) {
      this.membershipChange();
    } else if (roll < 73) {
      const l = this.leader();
      if (l) {
        const voters = this.raft(l).currentConf().voters.filter((v) => v !== l);
        if (voters.length > 0) {
          this.stats.transfers++;
          this.raft(l).transferLeadership(this.rng.pick(voters));
          this.afterInput(this.node(l));
        }
      }
    } else if (roll < 85) {
      this.dropP = this.rng.pick([0, 0, 0.01, 0.05, 0.2]);
      this.dupP = this.rng.pick([0, 0, 0.01, 0.05]);
      const [lo, hi] = this.rng.pick([[1, 5], [1, 20], [5, 100], [1, 300]]);
      this.minDelay = lo;
      this.maxDelay = hi;
      this.trace(
        12,
        Math.round(this.dropP * 100),
        hi,
        0,
        () => `weather drop ${this.dropP} dup ${this.dupP} delay ${lo}-${hi}ms`,
      );
    }
    this.at(this.now + this.rng.int(300, 3_000), () => this.chaos(until));
  }

  private randomPartition(ids: number[]): void {
    if (ids.length < 2) return;
    switch (this.rng.int(0, 3)) {
      case 0:
        this.isolate(this.rng.pick(ids));
        break;
      case 1: {
        const shuffled = [...ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = this.rng.int(0, i);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const k = this.rng.int(1, shuffled.length - 1);
        this.partition(shuffled.slice(0, k), shuffled.slice(k));
        break;
      }
      case 2: {
        const n = this.rng.int(1, ids.length);
        for (let i = 0; i < n; i++) {
          const a = this.rng.pick(ids);
          const b = this.rng.pick(ids);
          if (a !== b) this.cut(a, b);
        }
        this.stats.partitions++;
        this.trace(13, n, 0, 0, () => `one-way cuts ${n}`);
        break;
      }
      default: {
        const n = this.rng.int(1, ids.length);
        for (let i = 0; i < n; i++) {
          const a = this.rng.pick(ids);
          const b = this.rng.pick(ids);
          if (a !== b) this.clog.set(a * 4096 + b, this.rng.int(100, 2_000));
        }
        this.trace(14, n, 0, 0, () => `clogged ${n} links`);
      }
    }
  }

  /** Restores cut and clogged links one by one, in random order. */
  private healSome(): void {
    if (this.rng.chance(0.3)) {
      this.healNetwork();
      return;
    }
    const links = [...this.blocked, ...this.clog.keys()];
    const n = this.rng.int(0, links.length);
    for (let i = 0; i < n; i++) {
      const link = this.rng.pick(links);
      this.blocked.delete(link);
      this.clog.delete(link);
    }
    this.trace(15, n, 0, 0, () => `restored ${n} links`);
  }

  private membershipChange(): void {
    const l = this.leader();
    if (!l) return;
    const raft = this.raft(l);
    const conf: ConfState = raft.currentConf();
    try {
      if (conf.learners.length > 0) {
        const learner = this.rng.pick(conf.learners);
        const match = raft.status().matches[learner] ?? 0;
        if (match + 5 < raft.committed) return;
        raft.proposeConfChange({ type: "addVoter", nodeId: learner });
        this.trace(16, learner, 0, 0, () => `promote ${learner}`);
      } else if (conf.voters.length < 5 && (conf.voters.length <= 3 || this.rng.chance(0.5))) {
        const pos = raft.proposeConfChange({ type: "addLearner", nodeId: this.nextNodeId });
        const id = this.addNode();
        this.trace(17, id, pos.index, 0, () => `add learner ${id}`);
      } else {
        const victim = this.rng.pick(conf.voters);
        const pos = raft.proposeConfChange({ type: "removeNode", nodeId: victim });
        this.pendingRemovals.push({ id: victim, index: pos.index, term: pos.term });
        this.trace(18, victim, pos.index, 0, () => `remove ${victim}`);
      }
      this.stats.confChanges++;
      this.afterInput(this.node(l));
    } catch (error) {
      if (error instanceof ProposalDroppedError || error instanceof ValidationError) return;
      throw error;
    }
  }

  /** Stops nodes whose removal is committed (their process goes away, as an operator would). */
  private completeRemovals(): void {
    const still: { id: number; index: number; term: number }[] = [];
    for (const r of this.pendingRemovals) {
      const applied = this.checker.appliedAt(r.index);
      if (!applied) {
        still.push(r);
        continue;
      }
      if (applied.term !== r.term) continue; // overwritten
      const node = this.node(r.id);
      this.crash(r.id);
      node.removed = true;
      this.trace(19, r.id, 0, 0, () => `node ${r.id} stopped after removal`);
    }
    this.pendingRemovals = still;
  }

  // ---------------------------------------------------------------- final checks

  private finalChecks(): void {
    this.completeRemovals();
    const leaderId = this.stableLeader() ?? this.leader();
    if (leaderId) {
      const conf = this.raft(leaderId).currentConf();
      let maxAcked = 0;
      for (const op of this.ops) {
        if (op.status !== "ok" || op.input.kind !== "put") continue;
        const applied = this.checker.appliedAt(op.index);
        if (!applied || applied.term !== op.term) {
          this.extraViolations.push(
            `acknowledged put op ${op.id} at ${op.index}/${op.term} is not what was applied`,
          );
        }
        maxAcked = Math.max(maxAcked, op.index);
      }
      for (const id of [...conf.voters, ...conf.learners]) {
        const n = this.nodes.get(id);
        if (!n || !n.up) continue;
        if (n.applied < maxAcked) {
          this.extraViolations.push(
            `after healing node ${id} applied ${n.applied} < highest acknowledged index ${maxAcked}`,
          );
        }
      }
    }
    const lin = checkLinearizable(kvModel, this.history());
    if (!lin.ok) {
      this.extraViolations.push(
        `linearizability: history of key ${lin.failedPartition} (${lin.failedOps} ops) is not linearizable`,
      );
    }
    if (lin.timedOut) this.extraViolations.push("linearizability: checker budget exhausted");
  }
}

/** Runs one seed. */
export function runSeed(seed: number, options: Partial<SimOptions> = {}): SimResult {
  return new Simulator({ seed, ...options }).run();
}
