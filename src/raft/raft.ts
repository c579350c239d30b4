/**
 * Raft as a pure, deterministic state machine, after etcd-io/raft and Ongaro's thesis
 * ("Consensus: Bridging Theory and Practice", 2014; section numbers below refer to it).
 *
 * The caller drives it with four calls and does all IO itself:
 *
 * - `tick()` advances logical time by one tick (elections, heartbeats, check-quorum);
 * - `step(message)` feeds a message from a peer;
 * - `ready()` returns the work to do (persist, send, apply) as data;
 * - `advance()` says that work is done.
 *
 * Nothing here reads a clock, a random source, a disk or a socket: the randomised election
 * timeout draws from the injected {@linkcode Rng}, so a seeded Rng makes a run reproducible.
 *
 * ## Membership changes: single-server changes, effective on append
 *
 * A configuration is carried by a Conf entry holding the whole new {@linkcode ConfState}, and a
 * node uses the latest configuration in its log whether or not it is committed (§4.1); if a
 * conflicting suffix is truncated the configuration reverts with it. The leader accepts a change
 * only when (a) the previous configuration entry is committed and (b) it has committed an entry
 * of its own term. Each change adds or removes one voter, so any majority of the old
 * configuration overlaps any majority of the new one and at no time can two leaders be elected
 * in one term; (b) closes the hole Ongaro described in 2015 (raft-dev, "bug in single-server
 * membership changes"), where a leader of a new term could otherwise commit a change that
 * conflicts with an uncommitted change of an earlier leader.
 *
 * Joint consensus (§4.3, etcd's ConfChangeV2) allows arbitrary changes in one step but needs two
 * log entries per change, a second "joint" quorum rule in every commit and election count, and
 * auto-leave logic; a shard group that moves a replica does it as add-learner, catch-up,
 * promote, remove: all single-server steps. So single-server changes cover every need of the
 * cluster layer with the smaller and better-understood mechanism. Learners (non-voting members)
 * receive the log but never count in a quorum; promoting one is `addVoter` of its id.
 *
 * A leader that removes itself keeps leading (without counting itself) until the change commits,
 * then steps down (§4.2.2). A leader cannot demote itself to learner: transfer leadership first.
 *
 * @module
 */

import type { Rng } from "../core/mod.ts";
import { ValidationError } from "../core/mod.ts";
import { applyConfChange, decodeConfState, EMPTY_CONF, encodeConfState } from "./conf.ts";
import { NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { Progress } from "./progress.ts";
import { RaftLog } from "./raft_log.ts";
import {
  type ConfChange,
  type ConfState,
  EMPTY_HARD_STATE,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  newMessage,
  NONE,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from "./types.ts";

/** The stored state a node restarts from (see the log storage). */
export interface RaftStoredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
}

/** Options of {@linkcode Raft}. */
export interface RaftOptions {
  /** This node's id: a positive safe integer, unique in the group. */
  id: number;
  /** The source of the randomised election timeouts. */
  rng: Rng;
  /** Ticks without hearing from a leader before a follower campaigns. @default {10} */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. @default {1} */
  heartbeatTicks?: number;
  /** Run a pre-vote round before a real election (§9.6). @default {true} */
  preVote?: boolean;
  /**
   * A leader steps down when it has not heard from a quorum for an election timeout, and a
   * follower that heard from its leader within that time ignores vote requests (§6.2). @default {true}
   */
  checkQuorum?: boolean;
  /** Upper bound of entry bytes in one append message. @default {1 MiB} */
  maxSizePerMsg?: number;
  /** Upper bound of unacknowledged append messages per follower. @default {256} */
  maxInflightMsgs?: number;
  /** Upper bound of committed entry bytes in one Ready. @default {64 MiB} */
  maxCommittedSizePerReady?: number;
  /** What was stored before a restart. Omit for a new node. */
  stored?: RaftStoredState;
  /**
   * The initial voters of a brand-new group (only used when `stored` is empty). Every initial
   * member must be given the same list. A node joining an existing group passes nothing and
   * waits for the leader.
   */
  peers?: readonly number[];
  /** The index the application has applied (at least the snapshot's). @default snapshot index */
  applied?: number;
  /**
   * After storage found corruption (see RecoveredState.recoverUntil): neither vote nor campaign
   * until the commit index reaches this, i.e. until the leader has repaired the log. @default {0}
   */
  nonVotingUntil?: number;
  /**
   * Leader leases (§6.4.1, see {@linkcode LeaseOptions}); needs `checkQuorum`. Omit: every read
   * takes a ReadIndex round of heartbeats.
   */
  lease?: LeaseOptions;
}

/**
 * A leader lease: a leader whose heartbeat round sent at time `s` (its clock) was acknowledged
 * by a quorum serves reads from its commit index until `s + durationMs` without another round.
 *
 * Why no other leader exists meanwhile: a follower that received that heartbeat (at or after
 * `s`) grants no vote and no pre-vote for `electionTicks` of its own ticks (check-quorum's
 * "leader is alive" rule in {@linkcode Raft.step}), and neither does a node restarted with
 * stored state (it may have acknowledged the round before it stopped); a new leader needs the
 * vote of one node of that quorum. So `durationMs` must be below `electionTicks` of a follower's
 * ticks as the leader's clock measures them, allowing for clock drift: see
 * {@linkcode leaseDurationMs}. A leader that sent TimeoutNow (a transfer: voters grant it
 * inside the window) serves no lease read again in that term.
 */
export interface LeaseOptions {
  /** This node's monotonic clock, in milliseconds. */
  readonly nowMs: () => number;
  /** How long a quorum's acknowledgement of a heartbeat round holds, from the round's send. */
  readonly durationMs: number;
}

/**
 * The written bound on clock drift between nodes the lease allows for: one node's clock (and
 * the timers that tick it) may run up to this fraction faster or slower than another's.
 * Quartz drifts ~1e-4; this also covers a virtual machine's timer slack.
 */
export const CLOCK_DRIFT_BOUND = 0.1;

/**
 * The longest safe lease for ticks of `tickMs` and an election timeout of `electionTicks`: a
 * follower's guard is at least `electionTicks - 1` of its ticks (its first tick may come right
 * after the heartbeat), one more tick is left for timers that fire up to a millisecond early,
 * and the follower's clock may run `CLOCK_DRIFT_BOUND` fast while the leader's runs as slow.
 */
export function leaseDurationMs(tickMs: number, electionTicks: number): number {
  const guardMs = (electionTicks - 2) * tickMs;
  return Math.max(0, Math.floor(guardMs * (1 - CLOCK_DRIFT_BOUND) / (1 + CLOCK_DRIFT_BOUND)));
}

/** A summary of a node's state, for metrics, tests and the simulator. */
export interface RaftStatus {
  id: number;
  term: number;
  vote: number;
  leaderId: number;
  role: Role;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  /** Leader only: match index per member. */
  matches: Record<number, number>;
  /**
   * Leader only: the other members it heard from since the last check-quorum round (an election
   * timeout); a member missing here for long is down or cut off.
   */
  active: number[];
  /** The newest configuration entry is not yet committed (no other change may start). */
  confPending: boolean;
}

/** Where a proposal was appended; it is applied iff the applied entry at `index` has `term`. */
export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}

const TRANSFER_CONTEXT = new TextEncoder().encode("raft-transfer");
/** The context of a tick's heartbeat round: a lease needs to know which round an ack answers. */
const LEASE_ROUND_PREFIX = "\u0000lease:";
const LEASE_ROUND_BYTES = new TextEncoder().encode(LEASE_ROUND_PREFIX);

/**
 * True for the context of a tick's lease round (no read waits on it). Its acknowledgement may
 * reach the leader late without shortening the lease, which is timed from the round's send: a
 * transport may hold it (up to a tick, well inside {@linkcode leaseDurationMs}) so the lease stays
 * continuous. A ReadIndex context is never one.
 */
export function isLeaseRoundContext(context: Uint8Array | null): boolean {
  if (context === null || context.length <= LEASE_ROUND_BYTES.length) return false;
  for (let i = 0; i < LEASE_ROUND_BYTES.length; i++) {
    if (context[i] !== LEASE_ROUND_BYTES[i]) return false;
  }
  return true;
}

function isTransfer(context: Uint8Array | null): boolean {
  if (context === null || context.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < context.length; i++) if (context[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

function contextKey(context: Uint8Array): string {
  let s = "";
  for (let i = 0; i < context.length; i++) s += String.fromCharCode(context[i]);
  return s;
}

function voteRespType(type: MessageType): MessageType {
  return type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

interface PendingRead {
  readonly index: number;
  readonly from: number;
  readonly context: Uint8Array;
  readonly acks: Set<number>;
}

interface InFlightReady {
  lastEntry: { index: number; term: number } | null;
  lastCommitted: number;
  snapshotIndex: number;
}

/**
 * One Raft node's protocol state. Not thread-safe; not re-entrant.
 *
 * @example
 * ```ts
 * const raft = new Raft({ id: 1, rng, peers: [1, 2, 3] });
 * setInterval(() => raft.tick(), 100);
 * transport.onMessage((m) => raft.step(m));
 * while (raft.hasReady()) {
 *   const rd = raft.ready();
 *   send(rd.earlyMessages);
 *   await storage.save(rd); // fsync when rd.mustSync
 *   send(rd.messages);
 *   for (const e of rd.committedEntries) apply(e);
 *   raft.advance();
 * }
 * ```
 */
export class Raft {
  readonly id: number;
  private term = 0;
  private vote = NONE;
  private lead = NONE;
  private role: Role = "follower";
  private readonly log: RaftLog;

  private readonly rng: Rng;
  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxCommittedSize: number;
  private readonly nonVotingUntil: number;
  private readonly lease: LeaseOptions | null;
  /**
   * Set on a node restarted with stored state while leases are on: it may have acknowledged a
   * leader's heartbeat before it stopped, so it grants no vote for an election timeout.
   */
  private restartGuard = false;
  /** Heartbeat rounds of this leader term, by context key: when each was sent (lease clock). */
  private heartbeatSentAt = new Map<string, number>();
  private heartbeatRound = 0;
  /** Per voter: the send time of the newest heartbeat round it acknowledged in this term. */
  private leaseAcks = new Map<number, number>();
  /** This leader sent TimeoutNow in its term: voters may elect the transferee at any time. */
  private transferStarted = false;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private voters = new Set<number>();
  private learners = new Set<number>();
  /** Configuration at the log's compaction boundary. */
  private baseConf: ConfState = EMPTY_CONF;
  /** Conf entries after the compaction boundary, in index order. */
  private confLog: { index: number; conf: ConfState }[] = [];

  private progress = new Map<number, Progress>();
  private votes = new Map<number, boolean>();
  private leadTransferee = NONE;

  private pendingReads: PendingRead[] = [];
  private pendingReadKeys = new Map<string, PendingRead>();
  /** Read requests that wait for the leader's first commit in its term (§6.4 step 1). */
  private readsAwaitingCommit: Message[] = [];
  private readStates: ReadState[] = [];

  private msgs: Message[] = [];
  /** Index in `msgs` from which messages were produced as leader (sendable before persisting). */
  private leaderMsgStart = 0;
  /** Set when new entries or a new commit index should go to every follower at ready(). */
  private pendingBroadcast = false;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: InFlightReady | null = null;

  constructor(options: RaftOptions) {
    if (!Number.isSafeInteger(options.id) || options.id <= 0) {
      throw new ValidationError(`raft: node id must be a positive integer, got ${options.id}`);
    }
    this.id = options.id;
    this.rng = options.rng;
    this.electionTimeout = options.electionTicks ?? 10;
    this.heartbeatTimeout = options.heartbeatTicks ?? 1;
    if (this.heartbeatTimeout <= 0 || this.electionTimeout <= this.heartbeatTimeout) {
      throw new ValidationError(
        `raft: need 0 < heartbeatTicks < electionTicks, got ${this.heartbeatTimeout} and ${this.electionTimeout}`,
      );
    }
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    this.maxSizePerMsg = options.maxSizePerMsg ?? 1 << 20;
    this.maxInflight = options.maxInflightMsgs ?? 256;
    this.maxCommittedSize = options.maxCommittedSizePerReady ?? 64 << 20;
    this.nonVotingUntil = options.nonVotingUntil ?? 0;
    this.lease = options.lease && this.checkQuorum ? options.lease : null;

    const stored = options.stored;
    const isEmpty = stored === undefined ||
      (stored.snapshot === null && stored.entries.length === 0 && stored.hardState.term === 0);
    this.prevHard = stored?.hardState ?? EMPTY_HARD_STATE;
    if (isEmpty && options.peers && options.peers.length > 0) {
      // Bootstrap: every initial member writes the same first entry, a Conf entry at term 1.
      const voters = [...new Set(options.peers)].sort((a, b) => a - b);
      const first: Entry = {
        index: 1,
        term: 1,
        type: EntryType.Conf,
        data: encodeConfState({ voters, learners: [] }),
      };
      this.log = new RaftLog(null, [], 0);
      this.term = 1;
      this.appendToLog([first]);
      this.log.commitTo(1);
      this.prevHard = EMPTY_HARD_STATE;
    } else {
      const hs = stored?.hardState ?? EMPTY_HARD_STATE;
      this.log = new RaftLog(stored?.snapshot ?? null, stored?.entries ?? [], hs.commit);
      this.term = hs.term;
      this.vote = hs.vote;
      this.baseConf = stored?.snapshot?.metadata.confState ?? EMPTY_CONF;
      for (const e of stored?.entries ?? []) {
        if (e.type === EntryType.Conf && e.index > this.log.firstIndex() - 1) {
          this.confLog.push({ index: e.index, conf: decodeConfState(e.data) });
        }
      }
      this.switchConfig(this.currentConf());
      if (options.applied !== undefined) {
        const applied = Math.min(Math.max(options.applied, this.log.applied), this.log.committed);
        this.log.applied = applied;
        this.log.appliedHandedOut = applied;
      }
    }
    this.becomeFollower(this.term, NONE);
    this.prevSoft = { leaderId: NONE, role: "follower" };
    this.restartGuard = this.lease !== null && !isEmpty;
  }

  // ---------------------------------------------------------------- observation

  /** A snapshot of the node's state. */
  status(): RaftStatus {
    const matches: Record<number, number> = {};
    const active: number[] = [];
    if (this.role === "leader") {
      for (const [id, pr] of this.progress) {
        matches[id] = pr.match;
        if (id !== this.id && pr.recentActive) active.push(id);
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      leaderId: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      conf: this.currentConf(),
      matches,
      active,
      confPending: this.confPending(),
    };
  }

  get currentTerm(): number {
    return this.term;
  }
  get currentRole(): Role {
    return this.role;
  }
  get leaderId(): number {
    return this.lead;
  }
  get committed(): number {
    return this.log.committed;
  }
  get lastIndex(): number {
    return this.log.lastIndex();
  }
  /** The term of the entry at `index`, or undefined when not held. */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }
  /** The entries in [lo, hi) that are held (lo at least the first index). */
  entries(lo: number, hi: number): Entry[] {
    return this.log.slice(Math.max(lo, this.log.firstIndex()), hi);
  }
  /** The latest snapshot this node holds. */
  snapshot(): Snapshot | null {
    return this.log.snapshot;
  }
  /** The configuration in use (the latest in the log, committed or not). */
  currentConf(): ConfState {
    return this.confLog.length > 0 ? this.confLog[this.confLog.length - 1].conf : this.baseConf;
  }
  /**
   * True when this node leads and is the configuration's only voter: no other node can commit
   * or lead, so its commit index is a linearizable read point without a round of heartbeats
   * (what {@linkcode readIndex} answers such a leader at once).
   */
  soleVoterLeader(): boolean {
    return this.role === "leader" && this.voters.size === 1 && this.voters.has(this.id);
  }
  /** Whether this node leads alone: the only voter, and no learner to send entries to. */
  leadsAlone(): boolean {
    return this.soleVoterLeader() && this.learners.size === 0;
  }
  /**
   * The commit index when this node leads under a valid lease (see {@linkcode LeaseOptions}) and
   * has committed an entry of its term (§6.4 step 1): a linearizable read point now, without a
   * round. Null otherwise: take a ReadIndex round.
   */
  leaseReadIndex(): number | null {
    if (this.role !== "leader") return null;
    if (this.soleVoterLeader()) return this.log.committed;
    if (this.lease === null || this.transferStarted || this.leadTransferee !== NONE) return null;
    if (!this.voters.has(this.id)) return null;
    if (this.log.term(this.log.committed) !== this.term) return null;
    const now = this.lease.nowMs();
    const sent: number[] = [];
    for (const id of this.voters) {
      sent.push(id === this.id ? now : this.leaseAcks.get(id) ?? -Infinity);
    }
    sent.sort((a, b) => b - a);
    return now < sent[this.quorum() - 1] + this.lease.durationMs ? this.log.committed : null;
  }

  /** Whether this node may campaign: a voter with no snapshot being installed. */
  promotable(): boolean {
    return this.voters.has(this.id) && this.log.pendingSnapshot === null && !this.recovering();
  }

  /**
   * Whether the node knows its group's members (a configuration from its log or a snapshot).
   * One that does not is a replica opened empty, waiting for its leader's snapshot (a move
   * target), and grants no vote: its node may have held the group before, been removed, and
   * voted in a term this empty copy no longer remembers (its hard state went with the dropped
   * copy). Members always learn the configuration before they count as voters: a new group's
   * start with their Conf entry, a move adds a learner and promotes it once it caught up.
   */
  knowsMembership(): boolean {
    return this.voters.size > 0 || this.learners.size > 0;
  }

  /** Whether the node is being repaired after log corruption (it does not vote meanwhile). */
  recovering(): boolean {
    return this.log.committed < this.nonVotingUntil;
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (tests, or an operator forcing one). */
  campaign(): void {
    this.hup(false);
  }

  /**
   * Appends one command to the log.
   * @throws {NotLeaderError} when this node is not the leader.
   * @throws {ProposalDroppedError} during a leadership transfer or after removal.
   */
  propose(data: Uint8Array): ProposalPosition {
    return this.proposeEntries([data], EntryType.Normal);
  }

  /** Appends several commands as consecutive entries; returns the position of the first. */
  proposeBatch(data: readonly Uint8Array[]): ProposalPosition {
    if (data.length === 0) throw new Error("BUG: proposeBatch of nothing");
    return this.proposeEntries(data, EntryType.Normal);
  }

  /**
   * Proposes a membership change (see the module doc for the rules).
   * @throws {ValidationError} for a change that makes no sense (adding a voter twice, ...).
   * @throws {ProposalDroppedError} while an earlier change is uncommitted.
   */
  proposeConfChange(change: ConfChange): ProposalPosition {
    this.checkCanPropose();
    const lastConf = this.confLog.length > 0 ? this.confLog[this.confLog.length - 1].index : 0;
    if (this.confPending()) {
      throw new ProposalDroppedError(
        `configuration change at index ${lastConf} is not yet committed (commit ${this.log.committed})`,
      );
    }
    if (this.log.term(this.log.committed) !== this.term) {
      throw new ProposalDroppedError(
        `leader of term ${this.term} has not yet committed an entry of its term`,
      );
    }
    if (change.nodeId === this.id && change.type === "addLearner") {
      throw new ValidationError(`raft: leader ${this.id} cannot demote itself; transfer first`);
    }
    const next = applyConfChange(this.currentConf(), change);
    return this.proposeEntries([encodeConfState(next)], EntryType.Conf);
  }

  private confPending(): boolean {
    const lastConf = this.confLog.length > 0 ? this.confLog[this.confLog.length - 1].index : 0;
    return lastConf > this.log.committed;
  }

  /**
   * Asks the leader (here or, from a follower, forwarded) to transfer leadership to `transferee`.
   * Proposals are refused until the transfer ends or times out after an election timeout.
   */
  transferLeadership(transferee: number): void {
    const m = newMessage({
      type: MessageType.TransferLeader,
      from: transferee,
      to: this.role === "leader" ? this.id : this.lead,
    });
    if (this.role === "leader") this.stepLeader(m);
    else if (this.lead !== NONE) this.msgs.push(m);
    else throw new NotLeaderError(this.id, NONE);
  }

  /**
   * Requests a linearizable read point (§6.4, ReadIndex). When the leader has confirmed its
   * leadership with a quorum, a {@linkcode ReadState} with this `context` appears in a Ready;
   * serve the read once the application has applied up to its index. `context` must be unique
   * among outstanding requests. Requests can be lost (leader change): time out and retry.
   * @throws {NotLeaderError} when no leader is known.
   */
  readIndex(context: Uint8Array): void {
    const m = newMessage({ type: MessageType.ReadIndex, from: this.id, context });
    if (this.role === "leader") {
      m.to = this.id;
      this.leaderReadIndex(m);
    } else if (this.lead !== NONE) {
      m.to = this.lead;
      this.msgs.push(m);
    } else {
      throw new NotLeaderError(this.id, NONE);
    }
  }

  /** The transport reports that a snapshot to `to` was delivered (`ok`) or failed. */
  reportSnapshot(to: number, ok: boolean): void {
    const pr = this.role === "leader" ? this.progress.get(to) : undefined;
    if (!pr || pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat answer before probing (etcd: MsgAppFlowPaused).
    pr.probeSent = true;
  }

  /** The transport could not reach `to`: stop optimistic replication to it. */
  reportUnreachable(to: number): void {
    const pr = this.role === "leader" ? this.progress.get(to) : undefined;
    if (pr && pr.state === "replicate") pr.becomeProbe();
  }

  /**
   * Records a snapshot of the application's state at `index` (at most the applied index) and
   * returns it; the caller persists it. Entries are not dropped: see {@linkcode compactLog}.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    if (index > this.log.applied) {
      throw new Error(`BUG: snapshot at ${index} beyond applied index ${this.log.applied}`);
    }
    const term = this.log.term(index);
    if (term === undefined) {
      throw new Error(`BUG: snapshot at ${index} outside the held log [${this.log.firstIndex()}]`);
    }
    const snapshot: Snapshot = { metadata: { index, term, confState: this.confAt(index) }, data };
    if (!this.log.snapshot || this.log.snapshot.metadata.index < index) {
      this.log.snapshot = snapshot;
    }
    return snapshot;
  }

  /** Drops entries up to `index`, which the latest snapshot must cover. */
  compactLog(index: number): void {
    const snap = this.log.snapshot;
    if (!snap || snap.metadata.index < index) {
      throw new Error(`BUG: compact to ${index} not covered by a snapshot`);
    }
    if (index < this.log.firstIndex()) return;
    this.baseConf = this.confAt(index);
    this.confLog = this.confLog.filter((c) => c.index > index);
    this.log.compactTo(index);
  }

  /** Feeds one message from a peer (or a forwarded local request). */
  step(m: Message): void {
    if (m.term === 0) {
      // Forwarded requests (ReadIndex, TransferLeader) carry no term.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const inLease = this.checkQuorum && (this.lead !== NONE || this.restartGuard) &&
          this.electionElapsed < this.electionTimeout;
        if (inLease && !isTransfer(m.context)) return; // §4.2.3: do not disrupt a live leader
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term we will campaign in.
      } else if (
        m.type === MessageType.App || m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.App || m.type === MessageType.Heartbeat)
      ) {
        // A stale leader (perhaps cut off and back): tell it our term so it steps down. Without
        // this, pre-vote could leave it and us stuck (etcd issue 5451).
        this.send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, to: m.from, reject: true });
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      const canVote = this.vote === m.from ||
        (this.vote === NONE && this.lead === NONE) ||
        (m.type === MessageType.PreVote && m.term > this.term);
      if (
        canVote && this.log.isUpToDate(m.index, m.logTerm) && !this.recovering() &&
        this.knowsMembership()
      ) {
        // §5.2, §5.4.1: grant to a candidate whose log is at least as up to date as ours.
        this.send({ type: voteRespType(m.type), to: m.from, term: m.term });
        if (m.type === MessageType.Vote) {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ type: voteRespType(m.type), to: m.from, reject: true });
      }
      return;
    }

    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "precandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  // ---------------------------------------------------------------- outputs

  /** Whether {@linkcode ready} has work. */
  hasReady(): boolean {
    if (this.inFlight) return false;
    if (this.pendingBroadcast || this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.pendingSnapshot !== null) return true;
    if (this.log.unstableFrom <= this.log.lastIndex()) return true;
    if (this.log.hasNextCommitted()) return true;
    const s = this.prevSoft;
    if (s.leaderId !== this.lead || s.role !== this.role) return true;
    const h = this.prevHard;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed;
  }

  /** The work to do now; call {@linkcode advance} when done. At most one Ready is in flight. */
  ready(): Ready {
    if (this.inFlight) throw new Error("BUG: ready() called again before advance()");
    if (this.pendingBroadcast) {
      this.pendingBroadcast = false;
      if (this.role === "leader") this.bcastAppend();
    }
    let softState: SoftState | null = null;
    if (this.prevSoft.leaderId !== this.lead || this.prevSoft.role !== this.role) {
      softState = { leaderId: this.lead, role: this.role };
      this.prevSoft = softState;
    }
    let hardState: HardState | null = null;
    const h = this.prevHard;
    const termOrVoteChanged = h.term !== this.term || h.vote !== this.vote;
    if (termOrVoteChanged || h.commit !== this.log.committed) {
      hardState = { term: this.term, vote: this.vote, commit: this.log.committed };
      this.prevHard = hardState;
    }
    const entries = this.log.unstableEntries();
    const snapshot = this.log.pendingSnapshot;
    const committedEntries = this.log.nextCommitted(this.maxCommittedSize);
    let messages = this.msgs;
    let earlyMessages: Message[] = [];
    if (this.role === "leader" && this.leaderMsgStart < messages.length) {
      earlyMessages = messages.slice(this.leaderMsgStart);
      messages = messages.slice(0, this.leaderMsgStart);
    }
    this.msgs = [];
    this.leaderMsgStart = 0;
    const readStates = this.readStates;
    this.readStates = [];
    const last = entries.length > 0 ? entries[entries.length - 1] : null;
    const lastCommitted = committedEntries.length > 0
      ? committedEntries[committedEntries.length - 1].index
      : this.log.appliedHandedOut;
    this.log.appliedHandedOut = lastCommitted;
    this.inFlight = {
      lastEntry: last ? { index: last.index, term: last.term } : null,
      lastCommitted,
      snapshotIndex: snapshot ? snapshot.metadata.index : 0,
    };
    return {
      softState,
      hardState,
      entries,
      snapshot,
      committedEntries,
      messages,
      earlyMessages,
      readStates,
      mustSync: entries.length > 0 || snapshot !== null || termOrVoteChanged,
    };
  }

  /** Marks the last Ready done: its entries persisted, its committed entries applied. */
  advance(): void {
    const r = this.inFlight;
    if (!r) throw new Error("BUG: advance() without a ready()");
    this.inFlight = null;
    if (r.snapshotIndex > 0) {
      const pending = this.log.pendingSnapshot;
      if (pending && pending.metadata.index === r.snapshotIndex) this.log.pendingSnapshot = null;
      this.log.applied = Math.max(this.log.applied, r.snapshotIndex);
    }
    if (r.lastEntry) this.log.stableTo(r.lastEntry.index, r.lastEntry.term);
    this.log.applied = Math.max(this.log.applied, r.lastCommitted);
    if (this.role === "leader") {
      const self = this.progress.get(this.id);
      const stable = Math.min(this.log.unstableFrom - 1, this.log.lastIndex());
      if (self && self.maybeUpdate(stable) && this.maybeCommit() && this.role === "leader") {
        this.pendingBroadcast = true;
      }
    }
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout +
      Math.floor(this.rng.next() * this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.progress.clear();
    this.pendingReads = [];
    this.pendingReadKeys.clear();
    this.readsAwaitingCommit = [];
    this.pendingBroadcast = false;
    this.heartbeatSentAt.clear();
    this.leaseAcks.clear();
    this.transferStarted = false;
  }

  private becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  private becomePreCandidate(): void {
    if (this.role === "leader") throw new Error("BUG: leader cannot become pre-candidate");
    // No term change and no vote: a pre-candidate only asks whether it could win (§9.6).
    this.votes.clear();
    this.lead = NONE;
    this.role = "precandidate";
  }

  private becomeCandidate(): void {
    if (this.role === "leader") throw new Error("BUG: leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    if (this.role === "follower") throw new Error("BUG: follower cannot become leader");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const last = this.log.lastIndex();
    // Messages queued before this point were produced before we led: they wait for persistence.
    this.leaderMsgStart = this.msgs.length;
    for (const id of this.members()) {
      const pr = new Progress(last + 1, this.maxInflight);
      if (id === this.id) {
        // Count only what is persisted; advance() adds the rest once stored.
        pr.match = Math.min(last, this.log.unstableFrom - 1);
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
    // §5.4.2, §6.4: an empty entry of the new term commits everything before it, and marks
    // the point after which reads and configuration changes are safe.
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.pendingBroadcast = true;
  }

  private members(): number[] {
    return [...this.voters, ...this.learners];
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) this.restartGuard = false;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.checkQuorumActive();
      if (this.role === "leader" && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== "leader") return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(
        this.lease === null
          ? null
          : new TextEncoder().encode(`${LEASE_ROUND_PREFIX}${++this.heartbeatRound}`),
      );
    }
  }

  private checkQuorumActive(): void {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    if (active < this.quorum()) this.becomeFollower(this.term, NONE); // §6.2
  }

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.preVote && !transfer) this.campaignRound(MessageType.PreVote, false);
    else this.campaignRound(MessageType.Vote, transfer);
  }

  private campaignRound(type: MessageType, transfer: boolean): void {
    let term: number;
    if (type === MessageType.PreVote) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // A single voter wins at once.
      if (type === MessageType.PreVote) this.campaignRound(MessageType.Vote, false);
      else this.becomeLeader();
      return;
    }
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send({
        type,
        to: id,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: transfer ? TRANSFER_CONTEXT : null,
      });
    }
  }

  private poll(from: number, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return "won";
    if (no > this.voters.size - q) return "lost";
    return "pending";
  }

  // ---------------------------------------------------------------- per-role steps

  private stepCandidate(m: Message): void {
    const myResp = this.role === "precandidate" ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myResp: {
        const result = this.poll(m.from, !m.reject);
        if (result === "won") {
          if (this.role === "precandidate") this.campaignRound(MessageType.Vote, false);
          else this.becomeLeader();
        } else if (result === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return; // TimeoutNow, ReadIndex, ...: no leader to act for
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
      case MessageType.ReadIndex:
        if (this.lead !== NONE) this.msgs.push({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.TimeoutNow:
        // §3.10: the leader asks us to start an election now, skipping pre-vote and leases.
        this.hup(true);
        return;
      case MessageType.ReadIndexResp:
        if (m.context) this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m);
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m.from);
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower side

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = m.index + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        if (conflict <= this.log.committed) {
          throw new Error(
            `BUG: entry ${conflict} conflicts with committed index ${this.log.committed}`,
          );
        }
        this.appendToLog(m.entries.slice(conflict - m.index - 1));
      }
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
      return;
    }
    // Reject with a hint: the last index at or before m.index whose term is <= m.logTerm. The
    // leader skips every entry of a conflicting term in one round trip (§5.3).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: MessageType.AppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint,
      logTerm: this.log.term(hint) ?? 0,
    });
  }

  private handleHeartbeat(m: Message): void {
    const last = this.log.lastIndex();
    if (m.commit > last) {
      // The leader thinks we have entries we do not: our log lost them (corruption cut it).
      // Reject so that the leader probes from what we really have and repairs us.
      this.send({
        type: MessageType.AppResp,
        to: m.from,
        index: m.commit,
        reject: true,
        rejectHint: last,
        logTerm: this.log.lastTerm(),
      });
    }
    this.log.commitTo(Math.min(m.commit, last));
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s && this.restore(s)) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.log.committed });
    }
  }

  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have the entry: just fast-forward the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.log.appliedHandedOut = index;
    this.baseConf = s.metadata.confState;
    this.confLog = [];
    this.switchConfig(this.baseConf);
    return true;
  }

  // ---------------------------------------------------------------- leader side

  private checkCanPropose(): void {
    if (this.role !== "leader") throw new NotLeaderError(this.id, this.lead);
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(`leadership transfer to ${this.leadTransferee} in progress`);
    }
    if (!this.voters.has(this.id) && !this.learners.has(this.id)) {
      throw new ProposalDroppedError(`leader ${this.id} is being removed from the group`);
    }
  }

  private proposeEntries(data: readonly Uint8Array[], type: EntryType): ProposalPosition {
    this.checkCanPropose();
    const index = this.log.lastIndex() + 1;
    this.appendEntries(data.map((d) => ({ type, data: d })));
    this.pendingBroadcast = true; // batched: one append per follower at the next ready()
    return { index, term: this.term };
  }

  private appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): void {
    let index = this.log.lastIndex();
    const ents: Entry[] = items.map((it) => ({
      index: ++index,
      term: this.term,
      type: it.type,
      data: it.data,
    }));
    // The leader's own copy counts toward commit only once persisted (see advance()).
    this.appendToLog(ents);
  }

  /** Appends to the log and keeps the configuration in step (it takes effect on append). */
  private appendToLog(ents: readonly Entry[]): void {
    const truncatedAt = this.log.append(ents);
    let confChanged = false;
    if (truncatedAt >= 0) {
      while (
        this.confLog.length > 0 && this.confLog[this.confLog.length - 1].index >= truncatedAt
      ) {
        this.confLog.pop();
        confChanged = true;
      }
    }
    for (const e of ents) {
      if (e.type === EntryType.Conf) {
        this.confLog.push({ index: e.index, conf: decodeConfState(e.data) });
        confChanged = true;
      }
    }
    if (confChanged) this.switchConfig(this.currentConf());
  }

  private confAt(index: number): ConfState {
    for (let i = this.confLog.length - 1; i >= 0; i--) {
      if (this.confLog[i].index <= index) return this.confLog[i].conf;
    }
    return this.baseConf;
  }

  private switchConfig(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    if (this.role !== "leader") return;
    const last = this.log.lastIndex();
    for (const id of this.members()) {
      if (!this.progress.has(id)) {
        const pr = new Progress(last + 1, this.maxInflight);
        pr.recentActive = true; // give a new member time to answer before check-quorum counts it
        this.progress.set(id, pr);
        this.pendingBroadcast = true;
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (id !== this.id && !this.voters.has(id) && !this.learners.has(id)) {
        this.progress.delete(id);
      }
    }
    if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) {
      this.leadTransferee = NONE;
    }
    if (this.maybeCommit()) this.pendingBroadcast = true;
  }

  /** §5.3, §5.4.2: commit the highest index a quorum of voters has, if it is of our term. */
  private maybeCommit(): boolean {
    if (this.role !== "leader" || this.voters.size === 0) return false;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    const candidate = matches[this.quorum() - 1];
    if (candidate <= this.log.committed || this.log.term(candidate) !== this.term) return false;
    this.log.commitTo(candidate);
    this.afterCommit();
    return true;
  }

  private afterCommit(): void {
    if (this.readsAwaitingCommit.length > 0 && this.log.term(this.log.committed) === this.term) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const m of waiting) this.leaderReadIndex(m);
    }
    const lastConf = this.confLog.length > 0 ? this.confLog[this.confLog.length - 1].index : 0;
    if (!this.voters.has(this.id) && lastConf <= this.log.committed) {
      // §4.2.2: our removal is committed. Tell the followers the commit index, then step down.
      this.bcastAppend();
      this.becomeFollower(this.term, NONE);
    }
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(context: Uint8Array | null): void {
    if (this.lease !== null && context !== null) this.recordHeartbeatRound(context);
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        type: MessageType.Heartbeat,
        to: id,
        commit: Math.min(pr.match, this.log.committed),
        context,
      });
    }
  }

  /** Sends an append (or a snapshot) to `to` if flow control allows; true if sent. */
  private sendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxSizePerMsg);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: MessageType.App,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1].index : prevIndex);
    return true;
  }

  private sendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot;
    if (!snapshot) {
      throw new Error(`BUG: entries before ${this.log.firstIndex()} compacted without snapshot`);
    }
    this.send({ type: MessageType.Snap, to, snapshot });
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }

  private handleAppendResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      if (m.rejectHint < pr.match) {
        // Only a follower that lost acknowledged entries (storage corruption, see
        // RaftOptions.nonVotingUntil) answers below its match: start over from what it has.
        pr.match = m.rejectHint;
        pr.becomeProbe();
        this.sendAppend(m.from, true);
        return;
      }
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      if (this.role !== "leader") return; // stepped down after its own removal
      this.pendingBroadcast = true;
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    while (this.sendAppend(m.from, false)) { /* fill the inflight window */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context && m.context.length > 0) {
      this.ackLease(m.from, m.context);
      this.ackRead(m.from, m.context);
    }
  }

  // ---------------------------------------------------------------- leases (§6.4.1)

  /** Remembers when a heartbeat round left, dropping rounds too old to extend any lease. */
  private recordHeartbeatRound(context: Uint8Array): void {
    const now = this.lease!.nowMs();
    for (const [key, sentAt] of this.heartbeatSentAt) {
      if (sentAt + this.lease!.durationMs > now && this.heartbeatSentAt.size < 1024) break;
      this.heartbeatSentAt.delete(key); // insertion order is send order: oldest first
    }
    this.heartbeatSentAt.set(contextKey(context), now);
  }

  /** A voter acknowledged a heartbeat round: its lease share starts at that round's send. */
  private ackLease(from: number, context: Uint8Array): void {
    if (this.lease === null || !this.voters.has(from)) return;
    const sentAt = this.heartbeatSentAt.get(contextKey(context));
    if (sentAt === undefined) return;
    if (sentAt > (this.leaseAcks.get(from) ?? -Infinity)) this.leaseAcks.set(from, sentAt);
  }

  /** TimeoutNow lets the transferee win votes inside the lease window: no lease after it. */
  private sendTimeoutNow(to: number): void {
    this.transferStarted = true;
    this.send({ type: MessageType.TimeoutNow, to });
  }

  private handleTransferLeader(transferee: number): void {
    if (!this.voters.has(transferee) || transferee === this.id) return;
    if (this.leadTransferee === transferee) return;
    const pr = this.progress.get(transferee);
    if (!pr) return;
    this.leadTransferee = transferee;
    this.electionElapsed = 0; // the transfer times out after one election timeout
    if (pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(transferee);
    } else this.sendAppend(transferee, true);
  }

  // ---------------------------------------------------------------- ReadIndex (§6.4)

  private leaderReadIndex(m: Message): void {
    if (!m.context) return;
    const leased = this.leaseReadIndex();
    if (leased !== null) {
      // The only voter, or a valid lease: the commit index is the read point, no round.
      this.releaseRead({ index: leased, from: m.from, context: m.context, acks: new Set() });
      return;
    }
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsAwaitingCommit.push(m); // step 1: wait for our first commit
      return;
    }
    const key = contextKey(m.context);
    if (this.pendingReadKeys.has(key)) return; // duplicate
    const read: PendingRead = {
      index: this.log.committed,
      from: m.from,
      context: m.context,
      acks: new Set([this.id]),
    };
    this.pendingReads.push(read);
    this.pendingReadKeys.set(key, read);
    this.bcastHeartbeat(m.context); // step 2: confirm we are still the leader
  }

  private ackRead(from: number, context: Uint8Array): void {
    const key = contextKey(context);
    const read = this.pendingReadKeys.get(key);
    if (!read) return;
    read.acks.add(from);
    let n = 0;
    for (const id of read.acks) if (this.voters.has(id)) n++;
    if (n < this.quorum()) return;
    // A quorum confirmed us at or after every earlier request too: release them in order.
    const at = this.pendingReads.indexOf(read);
    const released = this.pendingReads.splice(0, at + 1);
    for (const r of released) {
      this.pendingReadKeys.delete(contextKey(r.context));
      this.releaseRead(r);
    }
  }

  private releaseRead(r: PendingRead): void {
    if (r.from === this.id) {
      this.readStates.push({ index: r.index, context: r.context });
    } else {
      this.send({
        type: MessageType.ReadIndexResp,
        to: r.from,
        index: r.index,
        context: r.context,
      });
    }
  }

  // ---------------------------------------------------------------- plumbing

  private send(fields: Partial<Message> & { type: MessageType; to: number }): void {
    const m = newMessage(fields);
    m.from = this.id;
    if (fields.term === undefined) m.term = this.term;
    this.msgs.push(m);
  }
}
