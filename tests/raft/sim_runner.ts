/**
 * Runs many simulation seeds and the regression list; shared by the CLI and the test files.
 * @module
 */

import { runSeed, type SimResult } from "./sim.ts";

/** The regression list beside this file: seeds that once failed. */
export const REGRESSION_FILE = new URL("./sim_regressions.txt", import.meta.url);

/** A seed from the regression list. */
export interface RegressionSeed {
  seed: number;
  durationMs: number;
}

/** Parses the regression list (`<seed> [durationMs]  # note` per line). */
export function parseRegressions(text: string): RegressionSeed[] {
  const out: RegressionSeed[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [seed, duration] = line.split(/\s+/).map(Number);
    if (
      !Number.isSafeInteger(seed) || (duration !== undefined && !Number.isSafeInteger(duration))
    ) {
      throw new Error(
        `sim_regressions.txt line ${i + 1}: expected "<seed> [durationMs]", got ${raw}`,
      );
    }
    out.push({ seed, durationMs: duration ?? 300_000 });
  }
  return out;
}

/** Reads the regression list (empty when the file is missing). */
export function readRegressions(): RegressionSeed[] {
  try {
    return parseRegressions(Deno.readTextFileSync(REGRESSION_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** The failures among `seeds`, each with its first violations. */
export function runSeeds(
  seeds: readonly RegressionSeed[],
): { failures: SimResult[]; simulatedMs: number } {
  const failures: SimResult[] = [];
  let simulatedMs = 0;
  for (const s of seeds) {
    const r = runSeed(s.seed, { durationMs: s.durationMs });
    simulatedMs += r.stats.simulatedMs;
    if (r.violations.length > 0) failures.push(r);
  }
  return { failures, simulatedMs };
}

/** Seeds [from, to] at `durationMs` each. */
export function seedRange(from: number, to: number, durationMs = 300_000): RegressionSeed[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ seed: from + i, durationMs }));
}

/** A readable report of failures for an assertion message. */
export function describeFailures(failures: readonly SimResult[]): string {
  return failures.map((f) =>
    `seed ${f.seed}: ${
      f.violations.slice(0, 3).join("; ")
    } (replay: deno task sim --seed ${f.seed})`
  ).join("\n");
}
