/**
 * The fdatasyncs of the shared Raft log's current segment, run beside its writes: a waiter
 * registered for the first `upTo` bytes written is released by the first fdatasync that starts
 * after they were written (an fdatasync makes durable everything written to the file before it
 * began, whichever descriptor wrote it). While one runs, the next rounds are written, and the
 * next fdatasync covers all of them: group commit with writing and syncing overlapped.
 *
 * Up to `concurrency` fdatasyncs run at once, each on its own descriptor (the runtime may
 * serialise calls on one). One gives the fewest fsyncs; more let a device that serves parallel
 * flushes faster than one stream (many SSDs, virtual disks) carry more bytes per second.
 * @module
 */

import { type FileHandle, Histogram } from "../../core/mod.ts";

/** Who waits for durability. */
export interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Runs the fdatasyncs of one segment at a time (see the module doc). */
export class SegmentSyncer {
  /** Record bytes written since open, and how many of them an fdatasync has covered. */
  private written = 0;
  private durable = 0;
  /** The most bytes an fdatasync already under way will cover. */
  private covering = 0;
  private idle: FileHandle[] = [];
  private handles: FileHandle[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private waiters: { upTo: number; waiter: Waiter }[] = [];
  private failure: Error | null = null;
  /** fdatasyncs completed. */
  count = 0;
  /** How long each took, in seconds (when a clock is given). */
  readonly seconds: Histogram = new Histogram();

  /** @param now a monotonic clock in ms, to time each fdatasync */
  constructor(
    private readonly onSynced: () => void,
    private readonly onError: (error: unknown) => void,
    private readonly now?: () => number,
  ) {}

  /** Bytes written so far. */
  get writtenBytes(): number {
    return this.written;
  }

  /** Whether everything written so far is durable. */
  get allDurable(): boolean {
    return this.durable >= this.written;
  }

  /** Syncs the segment through `handles` from now on (after {@linkcode detach}). */
  attach(handles: FileHandle[]): void {
    this.handles = handles;
    this.idle = handles.slice();
  }

  /** Waits for the fdatasyncs under way, then closes the handles. */
  async detach(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    for (const h of this.handles) h.close();
    this.handles = this.idle = [];
  }

  /** Counts `bytes` more written (call after the write returned). */
  wrote(bytes: number): void {
    this.written += bytes;
  }

  /** Releases `waiters` once the first `upTo` bytes written are durable. */
  after(upTo: number, ...waiters: Waiter[]): void {
    if (this.failure) {
      for (const w of waiters) w.reject(this.failure);
      return;
    }
    if (upTo <= this.durable) {
      for (const w of waiters) w.resolve();
      return;
    }
    for (const waiter of waiters) this.waiters.push({ upTo, waiter });
    this.pump();
  }

  /** Resolves once everything written so far is durable. */
  all(): Promise<void> {
    return new Promise((resolve, reject) => this.after(this.written, { resolve, reject }));
  }

  /** Rejects every waiter, now and later. */
  fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiters.splice(0)) w.waiter.reject(this.failure);
  }

  /** Starts fdatasyncs while someone waits for bytes no fdatasync under way covers. */
  private pump(): void {
    while (
      // Waiters are in the order of their bytes: the last waits for the most.
      !this.failure && this.idle.length > 0 && (this.waiters.at(-1)?.upTo ?? 0) > this.covering
    ) {
      const h = this.idle.pop()!;
      const target = this.written; // everything written before the fdatasync starts
      this.covering = target;
      const started = this.now?.();
      const run = datasync(h).then(
        () => {
          if (started !== undefined) this.seconds.observe((this.now!() - started) / 1000);
          this.completed(h, target);
        },
        (error) => this.onError(error),
      ).finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }

  private completed(h: FileHandle, target: number): void {
    this.count++;
    this.durable = Math.max(this.durable, target);
    if (this.handles.includes(h)) this.idle.push(h);
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].upTo <= this.durable) n++;
    const done = this.waiters.splice(0, n);
    for (const w of done) w.waiter.resolve();
    this.onSynced();
    this.pump();
  }
}

/** `h.datasync()`, failing as a promise even when the handle throws at once. */
function datasync(h: FileHandle): Promise<void> {
  try {
    return h.datasync();
  } catch (error) {
    return Promise.reject(error);
  }
}
