/**
 * Time for Raft drivers: the {@linkcode Timers} a {@linkcode RaftNode} takes, and a
 * {@linkcode SharedTicker} through which the many groups of one node tick on one interval
 * timer instead of one each.
 * @module
 */

/** Timer functions (injected so that tests and simulations control time). */
export interface Timers {
  setInterval(fn: () => void, ms: number): TimerId;
  clearInterval(id: TimerId): void;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** An opaque timer handle. */
export type TimerId = unknown;

/** The host's timers (`globalThis.setInterval` and friends). */
export const globalTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (id) => clearInterval(id as number),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** One period's subscribers and the underlying interval that fires them. */
interface Beat {
  readonly fns: Set<Subscription>;
  readonly id: TimerId;
}

interface Subscription {
  readonly ms: number;
  readonly fn: () => void;
}

/**
 * Shares one underlying interval timer per period among every `setInterval` made through
 * {@linkcode SharedTicker.timers}, so that a node hosting a thousand Raft groups runs one tick
 * timer, not a thousand, and all its groups tick in the same turn (their heartbeats leave
 * together, which lets the transport batch them per peer). Timeouts pass through to the
 * underlying timers unchanged. A node given these timers behaves as with its own interval:
 * it ticks every `ms`, from the first tick of the shared beat after it starts.
 *
 * @example
 * ```ts
 * const ticker = new SharedTicker();
 * for (const group of groups) {
 *   nodes.push(await RaftNode.start({ ...group, timers: ticker.timers, tickMs: 100 }));
 * }
 * ```
 */
export class SharedTicker {
  /** The timers to hand to each node. */
  readonly timers: Timers;
  private readonly underlying: Timers;
  private readonly beats = new Map<number, Beat>();

  constructor(options: { timers?: Timers } = {}) {
    this.underlying = options.timers ?? globalTimers;
    this.timers = {
      setInterval: (fn, ms) => this.subscribe(fn, ms),
      clearInterval: (id) => this.unsubscribe(id as Subscription),
      setTimeout: (fn, ms) => this.underlying.setTimeout(fn, ms),
      clearTimeout: (id) => this.underlying.clearTimeout(id),
    };
  }

  /** Underlying interval timers running (one per distinct period in use). */
  get timerCount(): number {
    return this.beats.size;
  }

  /** Interval subscriptions (one per running node). */
  get subscriberCount(): number {
    let n = 0;
    for (const beat of this.beats.values()) n += beat.fns.size;
    return n;
  }

  private subscribe(fn: () => void, ms: number): Subscription {
    const sub: Subscription = { ms, fn };
    let beat = this.beats.get(ms);
    if (!beat) {
      const fns = new Set<Subscription>();
      beat = { fns, id: this.underlying.setInterval(() => fire(fns), ms) };
      this.beats.set(ms, beat);
    }
    beat.fns.add(sub);
    return sub;
  }

  private unsubscribe(sub: Subscription | undefined): void {
    const beat = sub && this.beats.get(sub.ms);
    if (!beat || !beat.fns.delete(sub)) return;
    if (beat.fns.size > 0) return;
    this.underlying.clearInterval(beat.id);
    this.beats.delete(sub.ms);
  }
}

/**
 * Calls every subscriber; one that throws does not keep the others from their tick (as with
 * separate timers), and the first error is rethrown afterwards, as its own timer would have.
 */
function fire(fns: Set<Subscription>): void {
  let failure: { error: unknown } | null = null;
  for (const sub of [...fns]) {
    if (!fns.has(sub)) continue; // cleared by an earlier subscriber in this beat
    try {
      sub.fn();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}
