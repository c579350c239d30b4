/**
 * The count of script sandboxes alive in one host, and its limit (`max_script_sandboxes`): a
 * sandbox takes a slot before its child process or Worker starts and gives it back when that
 * process has exited (its `status` resolved: reaped, not only signalled) or the Worker is
 * terminated. A slot can be `pinned` for good: a Worker stopped in the middle of a batch may
 * keep its thread spinning (Deno cannot interrupt synchronous code), so its slot is never
 * given back.
 *
 * At the limit a start waits (at most `waitMs`) for a sandbox already killed to exit, the
 * moment between a schema's replacement and its old child's death; past that it is refused.
 * @module
 */
import { SandboxError } from "./sandbox_error.ts";

/** A slot held by one running sandbox. */
export interface SandboxSlot {
  /** The sandbox was told to stop; its exit is awaited by whoever waits for a slot. */
  stopping(exited: Promise<unknown>): void;
  /** The sandbox has exited: the slot is free. Idempotent. */
  release(): void;
  /** The sandbox may never exit (a Worker stuck in a loop): the slot stays taken for good. */
  pin(): void;
}

/** What a host reports about its sandboxes. */
export interface SandboxStats {
  /** Sandboxes alive, or that may be (pinned ones included). */
  live: number;
  /** Of those, Workers stopped mid-batch whose thread may still run. */
  pinned: number;
  /** The limit: `max_script_sandboxes`. */
  max: number;
}

/** The slots of one host. */
export class SandboxSlots {
  readonly #max: number;
  readonly #waitMs: number;
  #live = 0;
  #pinned = 0;
  #exits = new Set<Promise<unknown>>();

  constructor(max: number, options: { waitMs?: number } = {}) {
    if (!(max >= 1)) throw new Error(`BUG: max_script_sandboxes must be at least 1, got ${max}`);
    this.#max = max;
    this.#waitMs = options.waitMs ?? 2000;
  }

  /**
   * Takes a slot for `name`'s sandbox, waiting for a stopping one to exit if need be.
   * @throws {SandboxError} (kind `limit`) naming the limit when none frees up in time.
   */
  async acquire(name: string): Promise<SandboxSlot> {
    const deadline = Date.now() + this.#waitMs;
    while (this.#live >= this.#max) {
      const left = deadline - Date.now();
      if (this.#exits.size === 0 || left <= 0) {
        throw new SandboxError(
          `script ${name} cannot start: ${this.#live} script sandboxes are running, the most ` +
            `this node allows (max_script_sandboxes = ${this.#max})` +
            (this.#pinned > 0 ? `, ${this.#pinned} of them Workers stuck in a batch` : ""),
          "limit",
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.race(this.#exits),
        new Promise((resolve) => (timer = setTimeout(resolve, left))),
      ]);
      clearTimeout(timer);
    }
    // No await between the check above and this line: concurrent starts cannot overshoot.
    this.#live++;
    let held = true;
    let pinned = false;
    return {
      stopping: (exited) => {
        if (!held) return;
        this.#exits.add(exited);
        exited.finally(() => this.#exits.delete(exited));
      },
      release: () => {
        if (!held || pinned) return;
        held = false;
        this.#live--;
      },
      pin: () => {
        if (!held || pinned) return;
        pinned = true;
        this.#pinned++;
      },
    };
  }

  /** The counts now. */
  stats(): SandboxStats {
    return { live: this.#live, pinned: this.#pinned, max: this.#max };
  }
}
