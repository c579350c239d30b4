/**
 * The leader's view of one follower: how much of the log it has (`match`), what to send next
 * (`next`), and the flow-control state (etcd's tracker.Progress, thesis §10.2.1):
 *
 * - `probe`: we do not know where the follower's log matches; send one append per heartbeat
 *   interval and wait for the answer before sending more.
 * - `replicate`: the follower accepts appends; send optimistically (`next` advances on send),
 *   at most `maxInflight` unacknowledged messages at once.
 * - `snapshot`: a snapshot is on its way; send nothing until it is reported done or failed.
 *
 * @module
 */

/** The flow-control state of a follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * A ring of the last index carried by each unacknowledged append, oldest first. When full the
 * leader stops sending appends to that follower.
 */
export class Inflights {
  private readonly buffer: Float64Array;
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.buffer = new Float64Array(capacity);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error("BUG: add to a full inflights window");
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start] <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

/** The leader's record of one peer. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe state: an append was sent and its answer has not come back (or a heartbeat passed). */
  probeSent = false;
  /** Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Whether the peer answered since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Records an acknowledgement of `index`; false when it is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Records that an append ending at `lastIndex` was sent. */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejected append of `rejected` with the follower's hint; false when stale.
   * `matchHint` is the leader's best guess of an index where the logs agree.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending appends is paused (flow control). */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}
