/**
 * Virtual time for the cluster simulation: one event queue ordered by (virtual ms, sequence),
 * the clock, timers and sleep that every node is given, and a run loop that lets the
 * promise reactions of one instant finish before time moves on.
 *
 * The cluster code is asynchronous, but with an in-memory disk and network nothing it awaits
 * is outside the process: every promise chain is started by an event of this queue and runs on
 * microtasks. The loop pops every event of one instant, runs them, then waits one
 * `setImmediate` turn (a macrotask: the microtask queue is empty by then) before the next
 * instant. Microtasks run in a fixed order, so one seed gives one run.
 *
 * Timers and sleeps belong to a {@linkcode Process} (one incarnation of a node): when it
 * crashes they never fire again, as a killed process's would not.
 * @module
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../../src/core/mod.ts";
import type { Timers } from "../../src/raft/mod.ts";
import { EventQueue, Prng, TraceHash } from "../raft/sim_support.ts";

/** Wall-clock time at virtual 0 (2023-11-14T22:13:20Z): points get realistic timestamps. */
export const EPOCH_MS = 1_700_000_000_000;

/**
 * One incarnation of a node: its timers and sleeps die with it. `rate` is how fast its clock
 * runs against virtual time (1.05: 5% fast): its monotonic clock, timers and sleeps all drift
 * together, as a real host's would.
 */
export class Process {
  alive = true;
  /**
   * Until this virtual time the process is stalled (a long GC pause, a starved CPU): its timers,
   * sleeps, incoming messages and calls wait, then run late. Client requests it holds run first
   * (at the stall's end), then its timers and the messages of its peers (a millisecond later):
   * the worst order for a leader that was deposed meanwhile, which must notice from its clock.
   */
  stalledUntil = 0;
  constructor(readonly name: string, readonly rate = 1) {}
}

interface Timer {
  owner: Process;
  cancelled: boolean;
}

/** The virtual-time scheduler of one run. */
export class SimScheduler {
  /** Virtual milliseconds since the start of the run. */
  now = 0;
  readonly rng: Prng;
  readonly hash = new TraceHash();
  events = 0;
  readonly #queue = new EventQueue();
  /** Errors thrown by event callbacks (a timer's body): each one a bug in the code it ran. */
  readonly errors: string[] = [];

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  /** Runs `fn` at virtual time `time` (not before now). */
  at(time: number, fn: () => void): void {
    this.#queue.push(Math.max(time, this.now), fn);
  }

  /** Runs `fn` `ms` from now. */
  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  /** Runs `fn` now, or when `owner`'s stall ends (what its event loop would do). */
  whenRunning(owner: Process, fn: () => void): void {
    if (owner.stalledUntil > this.now) {
      this.at(owner.stalledUntil, () => this.whenRunning(owner, fn));
    } else fn();
  }

  /** The clock every node reads: wall time from {@linkcode EPOCH_MS}, monotonic from 0. */
  readonly clock: Clock = {
    nowMs: () => EPOCH_MS + this.now,
    nowNanos: () => BigInt(EPOCH_MS + this.now) * 1_000_000n,
    monotonicMs: () => this.now,
  };

  /** The clock `owner` reads: wall time as {@linkcode clock}, monotonic at its drift rate. */
  clockOf(owner: Process): Clock {
    return { ...this.clock, monotonicMs: () => this.now * owner.rate };
  }

  /** Virtual ms for `ms` of `owner`'s clock (whole ms: virtual time stays integral). */
  #virtualMs(owner: Process, ms: number): number {
    return Math.round(ms / owner.rate);
  }

  /** Timers owned by `owner`: they stop firing once it dies. */
  timers(owner: Process): Timers {
    const start = (fn: () => void, ms: number, repeat: boolean): Timer => {
      const timer: Timer = { owner, cancelled: false };
      const period = Math.max(1, this.#virtualMs(owner, ms));
      const fire = () => {
        if (timer.cancelled || !owner.alive) return;
        if (owner.stalledUntil > this.now) return this.at(owner.stalledUntil + 1, fire);
        if (repeat) this.after(period, fire);
        this.#guard(fn);
      };
      this.after(period, fire);
      return timer;
    };
    const cancel = (id: unknown) => {
      if (id !== undefined && id !== null) (id as Timer).cancelled = true;
    };
    return {
      setInterval: (fn, ms) => start(fn, ms, true),
      clearInterval: cancel,
      setTimeout: (fn, ms) => start(fn, ms, false),
      clearTimeout: cancel,
    };
  }

  /** A sleep owned by `owner`: it never wakes once the owner died (its process is gone). */
  sleep(owner: Process): (ms: number) => Promise<void> {
    return (ms) =>
      new Promise<void>((resolve) => {
        this.after(Math.max(0, this.#virtualMs(owner, ms)), () => {
          this.whenRunning(owner, () => {
            if (owner.alive) resolve();
          });
        });
      });
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.errors.push(
        `t=${this.now}ms: a timer threw: ${error instanceof Error ? error.stack : error}`,
      );
    }
  }

  /** Time of the next event (Infinity when none). */
  nextTime(): number {
    return this.#queue.peekTime();
  }

  /**
   * Runs instants up to `until` (inclusive), or until `stop()` holds after an instant.
   * @returns true when `stop` ended the run.
   */
  async runUntil(until: number, stop?: () => boolean): Promise<boolean> {
    while (this.#queue.peekTime() <= until) {
      const time = this.#queue.peekTime();
      this.now = time;
      // Every event of this instant, including those its synchronous work adds for now.
      while (this.#queue.peekTime() === time) {
        const event = this.#queue.pop()!;
        this.events++;
        this.#guard(event.run);
      }
      await turn();
      if (stop?.()) return true;
    }
    this.now = Math.max(this.now, until);
    return false;
  }

  /** Lets the reactions of the current instant finish (no virtual time passes). */
  settle(): Promise<void> {
    return turn();
  }

  /** Mixes a number into the run's trace hash. */
  mix(...values: number[]): void {
    for (const v of values) this.hash.mix(v);
  }
}

/** One macrotask turn: every microtask queued before it has run when it resolves. */
function turn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
