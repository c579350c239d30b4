/**
 * What a fuzz target is: an input generator and a check that runs one input through the code
 * and throws a {@linkcode FuzzFailure} (or anything else) when the code misbehaved. Inputs are
 * bytes, whatever the format, so a failing input is kept as one file and replayed as it is.
 * @module
 */
import type fc from "fast-check";
import { EpochError } from "../../src/core/mod.ts";

/** A fuzz target (one parser or one door). */
export interface FuzzTarget {
  /** Short name for `--target` and the regression folder. */
  readonly name: string;
  /** What it drives and what it demands, in one line. */
  readonly about: string;
  /** Structured near-valid inputs and byte-level mutations of real samples. */
  readonly inputs: fc.Arbitrary<Uint8Array>;
  /** Prepares what the check needs (a data folder, an app) and hands back the check. */
  open(): Promise<FuzzCheck>;
}

/** The check of one target, ready to run inputs one after another. */
export interface FuzzCheck {
  /** Runs one input; throws when the code did something it must not. */
  check(input: Uint8Array): void | Promise<void>;
  /** Lets go of what `open` took. */
  close(): Promise<void>;
  /** Counts of outcomes so far (`accepted`, `refused` ...): shows the inputs reach deep paths. */
  outcomes?: Record<string, number>;
}

/** Adds one to an outcome count. */
export function count(outcomes: Record<string, number>, what: string): void {
  outcomes[what] = (outcomes[what] ?? 0) + 1;
}

/** A misbehaviour the oracle recognised (as opposed to a crash, an error nobody expected). */
export class FuzzFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FuzzFailure";
  }
}

/**
 * Runs `f` and lets through only an error that is one of `allowed` (the typed errors the code
 * promises); any other error is rethrown as a failure that names it.
 */
export function expectOnly<T>(
  f: () => T,
  allowed: readonly (abstract new (...args: never[]) => Error)[],
): T | undefined {
  try {
    return f();
  } catch (error) {
    if (allowed.some((type) => error instanceof type)) {
      checkMessage(error as Error);
      return undefined;
    }
    throw untyped(error);
  }
}

/** The same, for an async `f`. */
export async function expectOnlyAsync<T>(
  f: () => Promise<T>,
  allowed: readonly (abstract new (...args: never[]) => Error)[],
): Promise<T | undefined> {
  try {
    return await f();
  } catch (error) {
    if (allowed.some((type) => error instanceof type)) {
      checkMessage(error as Error);
      return undefined;
    }
    throw untyped(error);
  }
}

/** A typed error must still say something. */
function checkMessage(error: Error): void {
  if (typeof error.message !== "string" || error.message.trim() === "") {
    throw new FuzzFailure(`${error.name} without a message`);
  }
}

function untyped(error: unknown): FuzzFailure {
  if (error instanceof FuzzFailure) return error;
  const name = error instanceof EpochError
    ? `${error.name} (${error.code})`
    : error instanceof Error
    ? error.name
    : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return new FuzzFailure(`untyped error ${name}: ${message.slice(0, 300)}`, { cause: error });
}

/** Throws a failure unless `condition` holds. */
export function demand(condition: unknown, what: string | (() => string)): asserts condition {
  if (!condition) throw new FuzzFailure(typeof what === "string" ? what : what());
}
