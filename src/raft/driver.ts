/**
 * The driver of one Raft group member: it owns the {@linkcode Raft} state machine and runs its
 * Ready loop against the log storage, the transport and the replicated state machine, ticks it
 * on a timer, and turns proposals and reads into promises.
 *
 * The Ready loop is sequential: persist (fsync when asked) → send → restore/apply → advance.
 * Messages that arrive while a Ready is being persisted are stepped at once (Raft allows it);
 * their effects go out in the next Ready. Proposals made while a Ready is in flight are batched
 * into the next one, so many concurrent proposers share one fsync (group commit).
 *
 * @module
 */

import type { Logger, Rng } from "../core/mod.ts";
import { silentLogger } from "../core/mod.ts";
import {
  NotLeaderError,
  ProposalDroppedError,
  RaftStoppedError,
  RaftTimeoutError,
} from "./errors.ts";
import { leaseDurationMs, type ProposalPosition, Raft, type RaftStatus } from "./raft.ts";
import type { ReplicatedStateMachine } from "./state_machine.ts";
import type { RaftStorage, RecoveredState } from "./storage/raft_storage.ts";
import { globalTimers, type TimerId, type Timers } from "./timers.ts";
import type { Transport, TransportHandler } from "./transport.ts";
import { type ConfChange, type ConfState, type Entry, EntryType, type Message } from "./types.ts";

/** Options of {@linkcode RaftNode.start}. */
export interface RaftNodeOptions {
  id: number;
  /** Initial voters of a brand-new group (ignored when storage has state). */
  peers?: readonly number[];
  /** The group's durable storage: a `RaftLogStorage`, or a `SharedRaftLog` group. */
  storage: RaftStorage;
  /** What the storage recovered on open. */
  recovered: RecoveredState;
  transport: Transport;
  stateMachine: ReplicatedStateMachine;
  /** The source of election jitter. */
  rng: Rng;
  /**
   * The node's time source: ticks and request timeouts. A host running many groups passes one
   * `SharedTicker`'s timers to all of them, so that they share one tick timer.
   * @default {globalThis timers}
   */
  timers?: Timers;
  logger?: Logger;
  /** Milliseconds per Raft tick. @default {100} */
  tickMs?: number;
  /**
   * The node's monotonic clock (ms), for leader leases: with it, a leader that a quorum heard
   * from recently serves a read barrier from its commit index without a round (raft.ts,
   * `LeaseOptions`). It must measure the same time the tick timers do. Omit: no lease.
   */
  monotonicMs?: () => number;
  /** Ticks per election timeout. @default {10} */
  electionTicks?: number;
  /** Take a snapshot after this many applied entries. @default {10000} */
  snapshotEntries?: number;
  /** Entries kept behind a snapshot for slow followers. @default {1000} */
  retainEntries?: number;
  /** Proposal and read timeout. @default {10000} */
  requestTimeoutMs?: number;
  /** Called after a configuration entry is applied. */
  onConfChange?: (conf: ConfState) => void;
  /**
   * Called with `appliedIndex` after each round that applied entries or a snapshot: entries
   * without a command and snapshots move it too, and reach no `stateMachine.apply`.
   */
  onApplied?: (index: number) => void;
}

/**
 * What a proposal's promise waits for: `applied` (committed and applied here: the default),
 * `persisted` (in this node's fsynced log, not yet committed), `replicated` (applied here and in
 * the log of every member), `queued` (accepted by this leader, nothing durable yet).
 */
export type ProposalWait = "applied" | "persisted" | "replicated" | "queued";

interface PendingWait {
  index: number;
  term: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: TimerId;
}

interface PendingProposal {
  term: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: TimerId;
}

interface PendingRead {
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: TimerId;
  index: number;
}

/**
 * One member of a Raft group, running.
 *
 * @example
 * ```ts
 * const { storage, state } = await RaftLogStorage.open({ fs: denoFileSystem, dir: "data/raft/1" });
 * const node = await RaftNode.start({
 *   id: 1, peers: [1, 2, 3], storage, recovered: state,
 *   transport: connectTransport.group(1), stateMachine: kv, rng: systemRng,
 * });
 * await node.propose(encodeCommand({ put: ["k", "v"] })); // applied on a quorum
 * await node.readBarrier(); // then read kv locally: linearizable
 * ```
 */
export class RaftNode {
  readonly id: number;
  readonly raft: Raft;
  private readonly opts: RaftNodeOptions;
  private readonly timers: Timers;
  private readonly logger: Logger;
  /** The tick subscription; undefined while the node leads alone (nothing to tick for). */
  private tickTimer: TimerId | undefined;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly waitingReads: PendingRead[] = [];
  /** `persisted` and `replicated` proposals, by index. */
  private readonly persistWaits: PendingWait[] = [];
  /** Counts for metrics: proposals made here, leaders seen change, snapshots installed. */
  readonly counters = { proposals: 0, leaderChanges: 0, snapshotsInstalled: 0 };
  private lastLeader = 0;
  private readonly replicateWaits: PendingWait[] = [];
  /** The last index in this node's durable log (entries of the latest save). */
  private persistedTo: number;
  private running = false;
  private again = false;
  private stopped = false;
  private readSeq = 0;
  /** The leader of the last Ready's soft state (pending reads were asked of it). */
  private knownLeader = 0;
  private applied: number;
  private snapshotIndex: number;
  private idle: Promise<void> = Promise.resolve();

  private constructor(opts: RaftNodeOptions, raft: Raft) {
    this.opts = opts;
    this.id = opts.id;
    this.raft = raft;
    this.timers = opts.timers ?? globalTimers;
    this.logger = opts.logger ?? silentLogger;
    const snap = opts.recovered.snapshot;
    this.applied = snap?.metadata.index ?? 0;
    this.snapshotIndex = this.applied;
    const entries = opts.recovered.entries;
    this.persistedTo = entries.length > 0 ? entries[entries.length - 1].index : this.applied;
    this.tickTimer = this.timers.setInterval(() => this.tick(), opts.tickMs ?? 100);
  }

  /**
   * Ticks only while some other member exists or this node does not lead: a lone leader has no
   * one to heartbeat and no election to lose, and a node's idle ticks cost CPU (a lone server's
   * groups all lead alone). Anything that changes the role or the members passes through
   * {@linkcode kick} or the Ready loop, which call this.
   */
  private syncTicking(): void {
    if (this.stopped) return;
    const alone = this.raft.leadsAlone();
    if (alone && this.tickTimer !== undefined) {
      this.timers.clearInterval(this.tickTimer);
      this.tickTimer = undefined;
    } else if (!alone && this.tickTimer === undefined) {
      this.tickTimer = this.timers.setInterval(() => this.tick(), this.opts.tickMs ?? 100);
    }
  }

  /** Whether the tick timer runs (a lone leader's does not). */
  get ticking(): boolean {
    return this.tickTimer !== undefined;
  }

  /** Restores the state machine from the stored snapshot and starts the node. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const rec = opts.recovered;
    if (rec.snapshot) await opts.stateMachine.restore(rec.snapshot.data);
    if (rec.corruption) {
      (opts.logger ?? silentLogger).error("raft log corruption: not voting until repaired", {
        node: opts.id,
        file: rec.corruption.file,
        offset: rec.corruption.offset,
        recoverUntil: rec.recoverUntil,
      });
    }
    const raft = new Raft({
      id: opts.id,
      rng: opts.rng,
      electionTicks: opts.electionTicks ?? 10,
      heartbeatTicks: 1,
      stored: rec,
      peers: opts.peers,
      nonVotingUntil: rec.recoverUntil,
      lease: opts.monotonicMs === undefined ? undefined : {
        nowMs: opts.monotonicMs,
        durationMs: leaseDurationMs(opts.tickMs ?? 100, opts.electionTicks ?? 10),
      },
    });
    const node = new RaftNode(opts, raft);
    const handler: TransportHandler = {
      receive: (messages: Message[]) => node.receive(messages),
      reportUnreachable: (to) => node.guard(() => raft.reportUnreachable(to)),
      reportSnapshot: (to, ok) => node.guard(() => raft.reportSnapshot(to, ok)),
    };
    opts.transport.start(handler);
    node.kick();
    return node;
  }

  /** The index of the last entry applied (or skipped: empty and configuration entries). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The node's Raft status. */
  status(): RaftStatus {
    return this.raft.status();
  }

  /** True when this node believes it is the leader. */
  isLeader(): boolean {
    return this.raft.currentRole === "leader";
  }

  /**
   * Proposes a command; resolves with the state machine's result once applied here.
   * @throws {NotLeaderError} on a follower (with a hint of the leader).
   * @throws {ProposalDroppedError} when the entry was overwritten (it will never apply).
   * @throws {RaftTimeoutError} when not applied in time (the outcome is unknown).
   */
  propose(data: Uint8Array, wait: ProposalWait = "applied"): Promise<unknown> {
    if (this.stopped) {
      return Promise.reject(new RaftStoppedError(`raft node ${this.id} is stopped`));
    }
    let pos: ProposalPosition;
    try {
      pos = this.raft.propose(data);
    } catch (error) {
      return Promise.reject(error);
    }
    this.counters.proposals++;
    if (wait === "queued") {
      this.kick();
      return Promise.resolve(undefined);
    }
    if (wait === "persisted") return this.waitFor(this.persistWaits, pos);
    const applied = this.track(pos);
    if (wait === "applied") return applied;
    return applied.then((result) => this.waitFor(this.replicateWaits, pos).then(() => result));
  }

  /** Proposes a membership change; resolves when it is applied here. */
  proposeConfChange(change: ConfChange): Promise<unknown> {
    let pos: ProposalPosition;
    try {
      pos = this.raft.proposeConfChange(change);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.track(pos);
  }

  /**
   * Waits until a linearizable read may be served from the local state machine (ReadIndex):
   * the leader confirmed its leadership with a quorum after the call, and this node has applied
   * everything committed before it.
   */
  readBarrier(): Promise<void> {
    if (this.stopped) {
      return Promise.reject(new RaftStoppedError(`raft node ${this.id} is stopped`));
    }
    // The only voter, or a leader under a lease, that has applied all it committed: the read
    // point is here already (what a ReadIndex round would answer, without its messages, timer,
    // context and Ready cycle; a lone node pays this on every query, once per partition).
    const leased = this.raft.leaseReadIndex();
    if (leased !== null && this.applied >= leased) return Promise.resolve();
    const context = new TextEncoder().encode(`${this.id}:${++this.readSeq}`);
    const key = `${this.id}:${this.readSeq}`;
    return new Promise<void>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.reads.delete(key);
        const i = this.waitingReads.findIndex((r) => r.timer === timer);
        if (i >= 0) this.waitingReads.splice(i, 1);
        reject(new RaftTimeoutError(`read barrier on raft node ${this.id} timed out`));
      }, this.opts.requestTimeoutMs ?? 10_000);
      this.reads.set(key, { resolve, reject, timer, index: 0 });
      try {
        this.raft.readIndex(context);
      } catch (error) {
        this.timers.clearTimeout(timer);
        this.reads.delete(key);
        reject(error);
        return;
      }
      this.kick();
    });
  }

  /**
   * Waits until this node has applied everything up to `index`: the second half of a ReadIndex
   * read whose first half (the leader confirming `index` as its commit index while it led)
   * was asked of the leader outside Raft's messages (a batched call between nodes).
   */
  waitApplied(index: number, timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<void> {
    if (this.stopped) {
      return Promise.reject(new RaftStoppedError(`raft node ${this.id} is stopped`));
    }
    if (this.applied >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        const i = this.waitingReads.findIndex((r) => r.timer === timer);
        if (i >= 0) this.waitingReads.splice(i, 1);
        reject(new RaftTimeoutError(`raft node ${this.id} did not apply index ${index} in time`));
      }, timeoutMs);
      this.waitingReads.push({ resolve, reject, timer, index });
    });
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeadership(transferee: number): void {
    this.raft.transferLeadership(transferee);
    this.kick();
  }

  /** Starts an election now. */
  campaign(): void {
    this.raft.campaign();
    this.kick();
  }

  /** Stops ticking and the transport; pending requests fail with RaftStoppedError. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== undefined) this.timers.clearInterval(this.tickTimer);
    await this.idle;
    await this.opts.transport.stop();
    this.opts.storage.close();
    this.failAll(new RaftStoppedError(`raft node ${this.id} stopped`));
  }

  // ---------------------------------------------------------------- internals

  private track(pos: ProposalPosition): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.proposals.delete(pos.index);
        reject(new RaftTimeoutError(`proposal at index ${pos.index} not applied in time`));
      }, this.opts.requestTimeoutMs ?? 10_000);
      this.proposals.set(pos.index, { term: pos.term, resolve, reject, timer });
      this.kick();
    });
  }

  private waitFor(list: PendingWait[], pos: ProposalPosition): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: PendingWait = {
        ...pos,
        resolve,
        reject,
        timer: this.timers.setTimeout(() => {
          const i = list.indexOf(w);
          if (i >= 0) list.splice(i, 1);
          reject(new RaftTimeoutError(`entry ${pos.index} not durable in time`));
        }, this.opts.requestTimeoutMs ?? 10_000),
      };
      list.push(w);
      this.kick();
    });
  }

  /** Settles the `persisted` and `replicated` waits that the log now satisfies. */
  private releaseWaits(): void {
    const persistedTo = this.persistedTo;
    const release = (list: PendingWait[], done: (w: PendingWait) => boolean | Error) => {
      for (let i = 0; i < list.length;) {
        const w = list[i];
        const outcome = done(w);
        if (outcome === false) {
          i++;
          continue;
        }
        list.splice(i, 1);
        this.timers.clearTimeout(w.timer);
        if (outcome === true) w.resolve();
        else w.reject(outcome);
      }
    };
    const overwritten = (w: PendingWait) =>
      new ProposalDroppedError(`entry ${w.index} of term ${w.term} was overwritten`);
    if (this.persistWaits.length > 0) {
      release(this.persistWaits, (w) => {
        const term = this.raft.termAt(w.index);
        if (term !== undefined && term !== w.term) return overwritten(w);
        return w.index <= persistedTo && term === w.term;
      });
    }
    if (this.replicateWaits.length > 0) {
      const { matches, conf, role } = this.raft.status();
      release(this.replicateWaits, (w) => {
        const term = this.raft.termAt(w.index);
        if (term !== undefined && term !== w.term) return overwritten(w);
        if (role !== "leader") return false;
        const members = [...conf.voters, ...conf.learners];
        return members.every((id) => id === this.id || (matches[id] ?? 0) >= w.index);
      });
    }
  }

  /**
   * Records a snapshot of the application's state as of `index` (already applied) and compacts
   * the log behind it. Entries a member still lacks are kept for it, up to `retainEntries`
   * (default: the node's): a leader knows who lags; a follower keeps none (were it to lead, a
   * member that lags would get a snapshot). For state machines whose state is durable elsewhere
   * (a partition's segment files), `data` describes it.
   */
  async snapshotAt(index: number, data: Uint8Array, retainEntries?: number): Promise<void> {
    if (this.stopped || index <= this.snapshotIndex || index > this.applied) return;
    // A snapshot installed from the leader may already cover it (the log starts after it).
    if (index < this.raft.status().firstIndex) return;
    const snapshot = this.raft.createSnapshot(index, data);
    await this.opts.storage.saveSnapshot(snapshot);
    const status = this.raft.status();
    const retain = Math.min(
      retainEntries ?? this.opts.retainEntries ?? 1_000,
      status.role === "leader" ? index - this.slowestMatch(status) : 0,
    );
    const compactTo = Math.max(status.firstIndex - 1, index - Math.max(0, retain));
    if (compactTo >= status.firstIndex) {
      this.raft.compactLog(compactTo);
      await this.opts.storage.compact(compactTo);
    }
    this.snapshotIndex = index;
  }

  /** The lowest index every member of the group is known to hold (a leader's view). */
  private slowestMatch(status: RaftStatus): number {
    let slowest = status.lastIndex;
    for (const id of [...status.conf.voters, ...status.conf.learners]) {
      if (id !== this.id) slowest = Math.min(slowest, status.matches[id] ?? 0);
    }
    return slowest;
  }

  /** When the last tick counted, on the lease clock. */
  private lastTickMs = -Infinity;

  private tick(): void {
    const now = this.opts.monotonicMs?.();
    if (now !== undefined) {
      // Interval callbacks overdue after a stalled event loop may fire in a burst: counted,
      // they would end a follower's lease guard (an election timeout of ticks) early. A tick
      // counts once a tick's time has passed on the clock (less 1 ms of timer granularity,
      // which leaseDurationMs allows for).
      if (now - this.lastTickMs < (this.opts.tickMs ?? 100) - 1) return;
      this.lastTickMs = now;
    }
    this.guard(() => this.raft.tick());
  }

  private receive(messages: Message[]): void {
    this.guard(() => {
      for (const m of messages) this.raft.step(m);
    });
  }

  /** Runs `fn` against Raft unless stopped, then schedules the Ready loop. */
  private guard(fn: () => void): void {
    if (this.stopped) return;
    fn();
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    this.syncTicking();
    if (this.running) {
      this.again = true;
      return;
    }
    // Most ticks of an idle group produce no work: start no loop (and no promise) for them.
    if (!this.raft.hasReady()) return;
    this.running = true;
    this.idle = this.loop().catch((error) => this.fatal(error));
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped && this.raft.hasReady()) await this.handleReady();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
      this.syncTicking();
    }
  }

  private async handleReady(): Promise<void> {
    const rd = this.raft.ready();
    const leader = this.raft.leaderId;
    if (leader !== this.lastLeader) {
      if (leader !== 0) this.counters.leaderChanges++;
      this.lastLeader = leader;
    }
    this.leaderChanged(leader);
    if (rd.earlyMessages.length > 0) this.opts.transport.send(rd.earlyMessages);
    await this.opts.storage.save(rd);
    // A received snapshot is acknowledged only once the state machine holds it: a partition
    // replica fetches its files in restore, and its leader counts the acknowledgement as the
    // learner holding the snapshot when it decides to promote it (move_step.ts).
    if (rd.messages.length > 0 && !rd.snapshot) this.opts.transport.send(rd.messages);
    if (rd.entries.length > 0) this.persistedTo = rd.entries[rd.entries.length - 1].index;
    if (rd.snapshot) {
      await this.opts.stateMachine.restore(rd.snapshot.data);
      if (rd.messages.length > 0) this.opts.transport.send(rd.messages);
      this.counters.snapshotsInstalled++;
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = this.applied;
      for (const [index, p] of this.proposals) {
        if (index <= this.applied) {
          this.settle(
            index,
            p,
            new ProposalDroppedError("replaced by a snapshot; outcome unknown"),
          );
        }
      }
    }
    for (const e of rd.committedEntries) await this.apply(e);
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.context);
      const read = this.reads.get(key);
      if (!read) continue;
      this.reads.delete(key);
      read.index = rs.index;
      this.waitingReads.push(read);
    }
    this.raft.advance();
    if (rd.snapshot || rd.committedEntries.length > 0) this.opts.onApplied?.(this.applied);
    this.releaseReads();
    this.releaseWaits();
    await this.maybeSnapshot();
  }

  private async apply(e: Entry): Promise<void> {
    let result: unknown = undefined;
    if (e.type === EntryType.Normal && e.data.length > 0) {
      result = await this.opts.stateMachine.apply(e);
    } else if (e.type === EntryType.Conf) {
      this.opts.onConfChange?.(this.raft.currentConf());
    }
    this.applied = e.index;
    const p = this.proposals.get(e.index);
    if (!p) return;
    if (p.term === e.term) {
      this.proposals.delete(e.index);
      this.timers.clearTimeout(p.timer);
      p.resolve(result);
    } else {
      this.settle(
        e.index,
        p,
        new ProposalDroppedError(`entry ${e.index} was overwritten by term ${e.term}`),
      );
    }
  }

  private settle(index: number, p: PendingProposal, error: unknown): void {
    this.proposals.delete(index);
    this.timers.clearTimeout(p.timer);
    p.reject(error);
  }

  /**
   * Reads waiting for their index were asked of the leader this node knew (or were confirmed
   * by this node as leader): once the leader changes, no answer may come (a dead leader drops
   * them). Fail them with NotLeaderError at once, naming the new leader, so that callers retry
   * rather than wait out the request timeout (etcd's read loop retries on a leader change too).
   */
  private leaderChanged(leaderId: number): void {
    if (leaderId === this.knownLeader) return;
    this.knownLeader = leaderId;
    for (const r of this.reads.values()) {
      this.timers.clearTimeout(r.timer);
      r.reject(new NotLeaderError(this.id, leaderId));
    }
    this.reads.clear();
  }

  private releaseReads(): void {
    for (let i = 0; i < this.waitingReads.length;) {
      const r = this.waitingReads[i];
      if (r.index <= this.applied) {
        this.waitingReads.splice(i, 1);
        this.timers.clearTimeout(r.timer);
        r.resolve();
      } else {
        i++;
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEntries ?? 10_000;
    if (this.applied - this.snapshotIndex < every) return;
    await this.snapshotAt(this.applied, await this.opts.stateMachine.snapshot());
  }

  private fatal(error: unknown): void {
    this.logger.error("raft node stopped after a fatal error", {
      node: this.id,
      error: error instanceof Error ? error.message : String(error),
    });
    this.stopped = true;
    if (this.tickTimer !== undefined) this.timers.clearInterval(this.tickTimer);
    this.failAll(new RaftStoppedError(`raft node ${this.id} failed`, { cause: error }));
  }

  private failAll(error: unknown): void {
    for (const [index, p] of this.proposals) this.settle(index, p, error);
    for (const w of [...this.persistWaits.splice(0), ...this.replicateWaits.splice(0)]) {
      this.timers.clearTimeout(w.timer);
      w.reject(error);
    }
    for (const r of [...this.reads.values(), ...this.waitingReads]) {
      this.timers.clearTimeout(r.timer);
      r.reject(error);
    }
    this.reads.clear();
    this.waitingReads.length = 0;
  }

  /** Exposed for tests: whether the Ready loop is idle. */
  settled(): Promise<void> {
    return this.idle;
  }
}
