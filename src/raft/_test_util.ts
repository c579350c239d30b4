/**
 * Test helpers: a seeded Rng and an in-memory network that delivers messages synchronously
 * between {@linkcode Raft} nodes, after etcd's raft_test.go `network`.
 * @module
 */

import type { Rng } from "../core/mod.ts";
import { seededRandom } from "../core/testing/mod.ts";
import { Raft, type RaftOptions, type RaftStoredState } from "./raft.ts";
import {
  EMPTY_HARD_STATE,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageType,
  type ReadState,
  type Snapshot,
} from "./types.ts";

/** A seeded {@linkcode Rng} (mulberry32), good enough for election jitter in tests. */
export function seededRng(seed: number): Rng {
  return { next: seededRandom(seed) };
}

/** Entries (term list) for stored logs: `ents(1, 1, 2)` is indexes 1..3 with those terms. */
export function ents(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    index: i + 1,
    term,
    type: EntryType.Normal,
    data: new Uint8Array([i + 1, term]),
  }));
}

/** What one node persisted and applied, as the network saw it. */
export interface NodeRecord {
  hardState: HardState;
  stored: Entry[];
  snapshot: Snapshot | null;
  applied: Entry[];
  readStates: ReadState[];
}

/** Options of {@linkcode TestNetwork}. */
export interface TestNetworkOptions {
  ids: number[];
  seed?: number;
  /** Per-node overrides (stored state, options). */
  nodes?: Record<number, Partial<RaftOptions>>;
  /** Shared option overrides. */
  common?: Partial<RaftOptions>;
}

/** A synchronous network of Raft nodes for scripted tests. */
export class TestNetwork {
  readonly nodes = new Map<number, Raft>();
  readonly records = new Map<number, NodeRecord>();
  /** Links that drop: `${from}-${to}`. */
  readonly cut = new Set<string>();
  /** Message types that are dropped everywhere. */
  readonly ignored = new Set<MessageType>();
  /** Every message delivered, in order. */
  readonly delivered: Message[] = [];
  /** Messages held back (not yet delivered), when `hold` is set. */
  held: Message[] = [];
  hold = false;

  constructor(options: TestNetworkOptions) {
    let seed = options.seed ?? 1;
    for (const id of options.ids) {
      const per = options.nodes?.[id] ?? {};
      const stored = per.stored;
      const raft = new Raft({
        id,
        rng: seededRng(seed++),
        peers: stored ? undefined : options.ids,
        ...options.common,
        ...per,
      });
      this.nodes.set(id, raft);
      this.records.set(id, {
        hardState: stored?.hardState ?? EMPTY_HARD_STATE,
        stored: stored ? [...stored.entries] : [],
        snapshot: stored?.snapshot ?? null,
        applied: [],
        readStates: [],
      });
    }
    this.flush();
  }

  node(id: number): Raft {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Adds a node (joining an existing group: no peers). */
  add(id: number, options: Partial<RaftOptions> = {}): Raft {
    const raft = new Raft({ id, rng: seededRng(1000 + id), ...options });
    this.nodes.set(id, raft);
    this.records.set(id, {
      hardState: EMPTY_HARD_STATE,
      stored: [],
      snapshot: null,
      applied: [],
      readStates: [],
    });
    return raft;
  }

  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}-${other}`);
      this.cut.add(`${other}-${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
    this.ignored.clear();
  }

  /** Processes every node's Ready and delivers messages until the network is quiet. */
  flush(limit = 100_000): void {
    const queue: Message[] = [];
    for (let round = 0; round < limit; round++) {
      for (const [id, raft] of this.nodes) {
        while (raft.hasReady()) queue.push(...this.handleReady(id, raft));
      }
      const m = queue.shift();
      if (!m) return;
      if (this.hold) {
        this.held.push(m);
        continue;
      }
      this.deliver(m);
    }
    throw new Error("network did not quiesce");
  }

  /** Delivers one message now (unless its link is cut). */
  deliver(m: Message): void {
    if (this.cut.has(`${m.from}-${m.to}`) || this.ignored.has(m.type)) return;
    const target = this.nodes.get(m.to);
    if (!target) return;
    this.delivered.push(m);
    target.step(m);
    if (m.type === 7 /* Snap */) {
      const sender = this.nodes.get(m.from);
      sender?.reportSnapshot(m.to, true);
    }
  }

  /** Ticks every node (or the given ones) `n` times, flushing after each tick. */
  tick(n: number, ids?: number[]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids ?? this.nodes.keys()) this.node(id).tick();
      this.flush();
    }
  }

  leader(): number {
    const leaders = [...this.nodes.values()].filter((n) => n.currentRole === "leader");
    if (leaders.length === 0) return 0;
    const maxTerm = Math.max(...leaders.map((n) => n.currentTerm));
    return leaders.find((n) => n.currentTerm === maxTerm)!.id;
  }

  storedState(id: number): RaftStoredState {
    const r = this.records.get(id)!;
    return { hardState: r.hardState, snapshot: r.snapshot, entries: [...r.stored] };
  }

  private handleReady(id: number, raft: Raft): Message[] {
    const rec = this.records.get(id)!;
    const rd = raft.ready();
    if (rd.snapshot) {
      rec.snapshot = rd.snapshot;
      rec.stored = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      rec.stored = rec.stored.filter((e) => e.index < first);
      rec.stored.push(...rd.entries);
    }
    if (rd.hardState) rec.hardState = rd.hardState;
    for (const e of rd.committedEntries) rec.applied.push(e);
    rec.readStates.push(...rd.readStates);
    raft.advance();
    return [...rd.earlyMessages, ...rd.messages];
  }
}

/** The data of applied Normal entries (skipping empty leader entries). */
export function appliedData(rec: NodeRecord): string[] {
  return rec.applied
    .filter((e) => e.type === EntryType.Normal && e.data.length > 0)
    .map((e) => new TextDecoder().decode(e.data));
}
