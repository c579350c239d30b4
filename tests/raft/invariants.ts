/**
 * The safety properties of Raft (figure 3 of the paper, plus durability across restarts),
 * checked incrementally as the simulation runs so that each check costs O(1) per event or per
 * entry, and a violation is reported at the event that caused it.
 * @module
 */

import type { Entry, HardState, Raft, Snapshot } from "../../src/raft/mod.ts";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface LeaderTrack {
  term: number;
  lastIndex: number;
  lastTerm: number;
}

/** Collects violations; `violations` empty means every property held so far. */
export class InvariantChecker {
  readonly violations: string[] = [];
  private readonly leaderOfTerm = new Map<number, number>();
  /** term -> the highest index its leader committed. */
  private readonly commitByTerm = new Map<number, number>();
  private readonly votes = new Map<string, number>();
  /** (index, term) -> the entry's data and the term of the entry before it (log matching). */
  private readonly entries = new Map<number, { data: Uint8Array; prevTerm: number }>();
  /** index -> term and data of the entry applied there (state machine safety). */
  private readonly appliedTerm: number[] = [];
  private readonly appliedData: Uint8Array[] = [];
  private maxApplied = 0;
  private readonly leaderTrack = new Map<number, LeaderTrack>();
  private readonly lifetime = new Map<number, { term: number; commit: number }>();
  private readonly maxSentTerm = new Map<number, number>();
  private readonly syncedCommit = new Map<number, number>();
  now = 0;

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.now}ms: ${message}`);
  }

  /** Election safety: at most one leader per term. Leader completeness (§5.4). */
  onLeader(raft: Raft): void {
    const term = raft.currentTerm;
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== raft.id) {
      this.fail(`election safety: nodes ${prev} and ${raft.id} both lead term ${term}`);
    }
    this.leaderOfTerm.set(term, raft.id);
    // Every entry committed in an earlier term must be in the new leader's log. (A leader of an
    // older term can still be elected late, e.g. after a pause; it need not have later commits.)
    let c = 0;
    for (const [t, index] of this.commitByTerm) if (t < term && index > c) c = index;
    if (c === 0) return;
    const want = this.appliedTerm[c];
    const t = raft.termAt(c);
    if (t === undefined) {
      if (c > raft.lastIndex) {
        this.fail(
          `leader completeness: leader ${raft.id} of term ${term} lacks index ${c} committed in an earlier term (last ${raft.lastIndex})`,
        );
      }
    } else if (want !== undefined && t !== want) {
      this.fail(
        `leader completeness: leader ${raft.id} of term ${term} has term ${t} at committed index ${c}, applied term ${want}`,
      );
    }
  }

  /** Per node, after each event: monotonic term and commit; leader append-only. */
  afterEvent(raft: Raft): void {
    const life = this.lifetime.get(raft.id);
    const term = raft.currentTerm;
    const commit = raft.committed;
    if (life) {
      if (term < life.term) this.fail(`node ${raft.id}: term went back ${life.term} -> ${term}`);
      if (commit < life.commit) {
        this.fail(`node ${raft.id}: commit went back ${life.commit} -> ${commit}`);
      }
      life.term = term;
      life.commit = commit;
    } else {
      this.lifetime.set(raft.id, { term, commit });
    }
    if (raft.currentRole === "leader") {
      if (commit > (this.commitByTerm.get(term) ?? 0)) this.commitByTerm.set(term, commit);
      const prev = this.leaderTrack.get(raft.id);
      const last = raft.lastIndex;
      if (prev && prev.term === term) {
        const t = raft.termAt(prev.lastIndex);
        if (last < prev.lastIndex || (t !== undefined && t !== prev.lastTerm)) {
          this.fail(
            `leader append-only: leader ${raft.id} term ${term} changed entry ${prev.lastIndex} (term ${prev.lastTerm} -> ${t}, last ${last})`,
          );
        }
      }
      this.leaderTrack.set(raft.id, { term, lastIndex: last, lastTerm: raft.termAt(last)! });
    } else {
      this.leaderTrack.delete(raft.id);
    }
  }

  /** Log matching: equal (index, term) means equal data and equal predecessor. */
  onPersist(raft: Raft, ents: readonly Entry[]): void {
    let prevTerm = ents.length > 0 ? raft.termAt(ents[0].index - 1) : undefined;
    for (const e of ents) {
      const key = e.index * 1048576 + e.term;
      const rec = this.entries.get(key);
      if (rec) {
        if (!sameBytes(rec.data, e.data)) {
          this.fail(`log matching: two different entries at index ${e.index} term ${e.term}`);
        }
        if (prevTerm !== undefined && rec.prevTerm >= 0 && rec.prevTerm !== prevTerm) {
          this.fail(
            `log matching: entry ${e.index}/${e.term} follows term ${prevTerm} on node ${raft.id} but ${rec.prevTerm} elsewhere`,
          );
        }
      } else {
        this.entries.set(key, { data: e.data, prevTerm: prevTerm ?? -1 });
      }
      prevTerm = e.term;
    }
  }

  /** State machine safety: every node applies the same entry at an index. */
  onApply(nodeId: number, e: Entry): void {
    const t = this.appliedTerm[e.index];
    if (t === undefined) {
      this.appliedTerm[e.index] = e.term;
      this.appliedData[e.index] = e.data;
      if (e.index > this.maxApplied) this.maxApplied = e.index;
    } else if (t !== e.term || !sameBytes(this.appliedData[e.index], e.data)) {
      this.fail(
        `state machine safety: node ${nodeId} applied ${e.index}/${e.term}, another node ${e.index}/${t}`,
      );
    }
  }

  onRestoreSnapshot(nodeId: number, s: Snapshot): void {
    const { index, term } = s.metadata;
    const t = this.appliedTerm[index];
    if (t !== undefined && t !== term) {
      this.fail(
        `state machine safety: node ${nodeId} restored snapshot ${index}/${term}, applied term ${t}`,
      );
    }
  }

  /** A node's vote in a term never changes, even across restarts. */
  onVoteGranted(nodeId: number, term: number, candidate: number): void {
    const key = `${nodeId}:${term}`;
    const prev = this.votes.get(key);
    if (prev !== undefined && prev !== candidate) {
      this.fail(`double vote: node ${nodeId} voted for ${prev} and ${candidate} in term ${term}`);
    }
    this.votes.set(key, candidate);
  }

  onSend(nodeId: number, term: number): void {
    if (term > (this.maxSentTerm.get(nodeId) ?? 0)) this.maxSentTerm.set(nodeId, term);
  }

  onSynced(nodeId: number, hs: HardState): void {
    if (hs.commit > (this.syncedCommit.get(nodeId) ?? 0)) this.syncedCommit.set(nodeId, hs.commit);
  }

  /** Term, vote and commit never go back across a restart. */
  onRestart(nodeId: number, hs: HardState, snapshotIndex: number): void {
    const sent = this.maxSentTerm.get(nodeId) ?? 0;
    if (hs.term < sent) {
      this.fail(`restart: node ${nodeId} restarted at term ${hs.term} after sending term ${sent}`);
    }
    const synced = this.syncedCommit.get(nodeId) ?? 0;
    if (Math.max(hs.commit, snapshotIndex) < synced) {
      this.fail(`restart: node ${nodeId} restarted at commit ${hs.commit} after syncing ${synced}`);
    }
    this.lifetime.delete(nodeId);
    const life = { term: hs.term, commit: Math.max(hs.commit, snapshotIndex) };
    this.lifetime.set(nodeId, life);
    this.leaderTrack.delete(nodeId);
  }

  /** The term and data applied at `index` (for acknowledged-proposal checks). */
  appliedAt(index: number): { term: number; data: Uint8Array } | undefined {
    const t = this.appliedTerm[index];
    return t === undefined ? undefined : { term: t, data: this.appliedData[index] };
  }

  get highestApplied(): number {
    return this.maxApplied;
  }
}
