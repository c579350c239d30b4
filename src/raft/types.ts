/**
 * The data that flows in and out of the Raft state machine: log entries, messages, hard state,
 * snapshots and the {@linkcode Ready} batch of work. Plain objects, so that the transport and the
 * log storage can encode them without knowing the state machine.
 *
 * Node ids are positive safe integers; 0 means "none".
 *
 * @module
 */

/** The id that means "no node" (no leader known, no vote cast). */
export const NONE = 0;

/** What an entry carries. */
export const EntryType = {
  /** An application command (or the empty entry a new leader appends). */
  Normal: 0,
  /** A membership configuration: `data` is an encoded {@linkcode ConfState} (see conf.ts). */
  Conf: 1,
} as const;
/** One of {@linkcode EntryType}. */
export type EntryType = typeof EntryType[keyof typeof EntryType];

/** One log entry. `index` and `term` identify it (log matching, Raft §5.3). */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** A membership configuration: who votes and who only receives the log. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/** What a snapshot covers: the log up to `index` (whose entry had `term`) and the config then. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** The application's state at `metadata.index`, as opaque bytes from the state machine. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/**
 * The state that must survive a crash before a node answers anything that depends on it:
 * the current term, the vote cast in it, and (for a faster restart) the commit index.
 */
export interface HardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
}

/** The hard state of a node that has never run. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/** Message kinds. The numbers are the wire values (proto/epochnexus/raft/v1/raft.proto). */
export const MessageType = {
  App: 1,
  AppResp: 2,
  Vote: 3,
  VoteResp: 4,
  PreVote: 5,
  PreVoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  TransferLeader: 10,
  TimeoutNow: 11,
  ReadIndex: 12,
  ReadIndexResp: 13,
} as const;
/** One of {@linkcode MessageType}. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** The name of a message type, for traces and errors. */
export function messageTypeName(type: MessageType): string {
  for (const [name, value] of Object.entries(MessageType)) if (value === type) return name;
  return `Unknown(${type})`;
}

/**
 * A message between two nodes. Every field is always present (defaults 0, false, empty), so all
 * messages share one shape; the meaning of `index`, `logTerm` and `rejectHint` depends on `type`
 * exactly as in etcd's raftpb.Message.
 */
export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** App: the term of the entry at `index` (the entry before `entries`). Votes: last log term. */
  logTerm: number;
  /** App: index preceding `entries`. AppResp: the index acknowledged or rejected. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  /** AppResp with reject: the follower's guess of the last index that may match. */
  rejectHint: number;
  /** ReadIndex request contexts, and the transfer marker on forced elections. */
  context: Uint8Array | null;
}

/** A message with every field defaulted, then overridden by `fields`. */
export function newMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    type: fields.type,
    to: fields.to ?? NONE,
    from: fields.from ?? NONE,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot ?? null,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? null,
  };
}

/** The role a node plays in its current term. */
export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** Volatile state that is useful to observe and needs no persistence. */
export interface SoftState {
  readonly leaderId: number;
  readonly role: Role;
}

/** A linearizable read point: once `index` is applied, a read tagged `context` may be served. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * One batch of work the caller must do, in this order, then call `advance()`:
 *
 * 0. send `earlyMessages` at once: a leader's appends and heartbeats may go out while it
 *    persists the same entries (thesis §10.2.1); it counts its own copy toward commit only
 *    after `advance()`;
 * 1. persist `snapshot` (if any), `entries` (truncating any stored suffix from
 *    `entries[0].index` on) and `hardState` (if any); fsync when `mustSync`;
 * 2. send `messages` (after step 1: a vote or an append acknowledgement must be durable first);
 * 3. restore the state machine from `snapshot` (if any), then apply `committedEntries`;
 * 4. serve `readStates` once their index is applied.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: Entry[];
  readonly messages: Message[];
  readonly earlyMessages: Message[];
  readonly readStates: ReadState[];
  /** True when there are entries or a snapshot, or the term or vote changed: fsync before step 2. */
  readonly mustSync: boolean;
}

/** A membership change proposed by the application. Promote a learner with `addVoter`. */
export interface ConfChange {
  readonly type: "addVoter" | "addLearner" | "removeNode";
  readonly nodeId: number;
}

/** Approximate bytes an entry takes in a message (for flow control). */
export function entrySize(entry: Entry): number {
  return entry.data.length + 24;
}
