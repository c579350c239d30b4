/**
 * This node's member of the metadata group: a Raft node replicating {@linkcode MetaState}.
 * Reads are served from the local copy; {@linkcode MetaGroup.propose} runs a command on the
 * leader (here, or forwarded to the node that leads) and resolves once the local copy has
 * applied it, so a caller sees its own change.
 * @module
 */
import { type Clock, EpochError, type Logger, type Rng } from "../../core/mod.ts";
import {
  type ConfChange,
  type Entry,
  NotLeaderError,
  RaftNode,
  type RaftStorage,
  type RecoveredState,
  type ReplicatedStateMachine,
  type Timers,
  type Transport,
} from "../../raft/mod.ts";
import {
  decodeMetaCommand,
  encodeMetaCommand,
  type MetaCommand,
  type MetaResult,
  MetaState,
} from "./meta_state.ts";

/** Forwards a metadata command to the node that leads the group (over the network). */
export type ForwardMeta = (leader: number, command: MetaCommand) => Promise<MetaForwardAnswer>;

/** What the leader answers a forwarded command: its result and the index it was applied at. */
export interface MetaForwardAnswer {
  result: MetaResult;
  index: number;
}

/** Options of {@linkcode MetaGroup.start}. */
export interface MetaGroupOptions {
  nodeId: number;
  /** Voters of a brand-new group (the bootstrap node alone); none when joining. */
  peers?: readonly number[];
  storage: RaftStorage;
  recovered: RecoveredState;
  transport: Transport;
  rng: Rng;
  clock: Clock;
  /** Waits between retries (tests pass a fake). */
  sleep: (ms: number) => Promise<void>;
  timers?: Timers;
  logger: Logger;
  forward: ForwardMeta;
  tickMs?: number;
  electionTicks?: number;
  requestTimeoutMs?: number;
}

/** The metadata group as one node runs it. */
export class MetaGroup implements ReplicatedStateMachine {
  readonly state = new MetaState();
  raft!: RaftNode;
  #applied = 0;
  #waiters: { index: number; resolve: () => void }[] = [];
  readonly #options: MetaGroupOptions;

  private constructor(options: MetaGroupOptions) {
    this.#options = options;
  }

  /** Starts the node (restoring the stored snapshot and log). */
  static async start(options: MetaGroupOptions): Promise<MetaGroup> {
    const group = new MetaGroup(options);
    group.raft = await RaftNode.start({
      id: options.nodeId,
      peers: options.peers,
      storage: options.storage,
      recovered: options.recovered,
      transport: options.transport,
      stateMachine: group,
      rng: options.rng,
      timers: options.timers,
      logger: options.logger,
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      // Leader leases: a leader's read barrier needs no round while a quorum heard from it.
      monotonicMs: () => options.clock.monotonicMs(),
      requestTimeoutMs: options.requestTimeoutMs,
      snapshotEntries: 1_000,
      retainEntries: 200,
      onApplied: (index) => group.#appliedTo(index),
    });
    // A stored snapshot was restored before the node started: the copy is applied up to it.
    group.#appliedTo(group.raft.appliedIndex);
    return group;
  }

  /**
   * The Raft node applied up to `index`: entries without a command (a leader's first) and
   * snapshots too, which reach no {@linkcode apply}; a start waits for its commit index.
   */
  #appliedTo(index: number): void {
    if (index <= this.#applied) return;
    this.#applied = index;
    this.#release();
  }

  // --- ReplicatedStateMachine ----------------------------------------------------------------

  apply(entry: Entry): MetaForwardAnswer {
    const result = this.state.apply(decodeMetaCommand(entry.data));
    this.#applied = entry.index;
    this.#release();
    return { result, index: entry.index };
  }

  snapshot(): Uint8Array {
    return this.state.snapshot();
  }

  restore(data: Uint8Array): void {
    this.state.restore(data);
  }

  // --- use -------------------------------------------------------------------------------------

  /** Starts an election at once when this node is the group's only voter (after a restart). */
  campaignIfAlone(): void {
    const { voters } = this.raft.raft.currentConf();
    if (voters.length === 1 && voters[0] === this.#options.nodeId && !this.raft.isLeader()) {
      this.raft.campaign();
    }
  }

  /**
   * Snapshots the metadata as applied now and compacts its log behind it (keeping what lagging
   * members lack): the node's shared log asks when the metadata's entries keep a segment alive.
   */
  async snapshotNow(): Promise<void> {
    await this.raft.snapshotAt(this.raft.appliedIndex, this.state.snapshot());
  }

  /** The highest index applied to the local copy. */
  get applied(): number {
    return this.#applied;
  }

  /** True when this node leads the metadata group. */
  isLeader(): boolean {
    return this.raft.isLeader();
  }

  /** The leader this node knows of (0 = none). */
  leader(): number {
    return this.raft.status().leaderId;
  }

  /**
   * Runs a command through the group and waits until the local copy applied it.
   * @throws {EpochError} `unavailable` when no leader answers in time.
   */
  async propose(command: MetaCommand): Promise<MetaResult> {
    const { clock, sleep } = this.#options;
    const deadline = clock.monotonicMs() + (this.#options.requestTimeoutMs ?? 10_000);
    let hint = 0;
    for (let attempt = 0;; attempt++) {
      try {
        if (this.isLeader()) {
          const answer = await this.raft.propose(encodeMetaCommand(command)) as MetaForwardAnswer;
          return answer.result;
        }
        // A node that does not know the leader (it restarted at another address, which the
        // leader does not reach yet) asks the members in turn: a refusal names the leader.
        const target = this.leader() || hint || this.#member(attempt);
        if (target === 0) throw new NotLeaderError(this.#options.nodeId, 0);
        const answer = await this.#options.forward(target, command);
        await this.waitApplied(answer.index, deadline - clock.monotonicMs());
        return answer.result;
      } catch (error) {
        const retry = error instanceof NotLeaderError ||
          (error instanceof EpochError && error.code === "unavailable");
        hint = error instanceof EpochError
          ? Number((error.details as { leaderId?: number }).leaderId ?? 0)
          : 0;
        if (!retry || clock.monotonicMs() >= deadline || attempt >= 100) {
          throw retry
            ? new EpochError("unavailable", "the metadata group has no leader; try again", {
              retryAfterSeconds: 1,
              cause: error,
            })
            : error;
        }
        await sleep(Math.min(20 * (attempt + 1), 250));
      }
    }
  }

  /** Proposes a command here (this node leads); used for commands forwarded by other nodes. */
  async proposeAsLeader(command: MetaCommand): Promise<MetaForwardAnswer> {
    if (!this.isLeader()) throw new NotLeaderError(this.#options.nodeId, this.leader());
    return await this.raft.propose(encodeMetaCommand(command)) as MetaForwardAnswer;
  }

  /** Changes the group's membership (leader only). */
  async changeMembership(change: ConfChange): Promise<void> {
    if (!this.isLeader()) throw new NotLeaderError(this.#options.nodeId, this.leader());
    await this.raft.proposeConfChange(change);
  }

  /** A member other than this node, chosen by `attempt` in turn (0 when there is none). */
  #member(attempt: number): number {
    const { voters, learners } = this.raft.raft.currentConf();
    const others = [...voters, ...learners].filter((id) => id !== this.#options.nodeId);
    return others.length === 0 ? 0 : others[attempt % others.length];
  }

  /**
   * Resolves once the local copy has applied `index`.
   * @throws {EpochError} `unavailable` when it has not within `timeoutMs` (no bound when absent).
   */
  waitApplied(index: number, timeoutMs?: number): Promise<void> {
    if (this.#applied >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { index, resolve };
      this.#waiters.push(waiter);
      if (timeoutMs === undefined) return;
      this.#options.sleep(Math.max(0, timeoutMs)).then(() => {
        if (!this.#waiters.includes(waiter)) return;
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new EpochError(
            "unavailable",
            `this node's metadata copy did not apply index ${index} in time`,
            { retryAfterSeconds: 1 },
          ),
        );
      });
    });
  }

  /**
   * Waits until the local copy is current with the leader (a linearizable read point); retries
   * while no leader is known, up to `timeoutMs` (the request timeout by default).
   */
  async sync(timeoutMs = this.#options.requestTimeoutMs ?? 10_000): Promise<void> {
    const { clock, sleep } = this.#options;
    const deadline = clock.monotonicMs() + timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await this.raft.readBarrier();
      } catch (error) {
        if (!(error instanceof NotLeaderError) || clock.monotonicMs() >= deadline) throw error;
        await sleep(Math.min(10 * (attempt + 1), 100));
      }
    }
  }

  #release(): void {
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.index <= this.#applied);
    this.#waiters = this.#waiters.filter((w) => w.index > this.#applied);
    for (const w of ready) w.resolve();
  }

  async stop(): Promise<void> {
    await this.raft.stop();
  }
}
