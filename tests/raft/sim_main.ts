/**
 * The simulation CLI behind `deno task sim`.
 *
 * - `--seed N [--duration MS] [--quiet]`: replays one seed and prints its trace.
 * - `--seeds K [--start S] [--duration MS]`: runs seeds S..S+K-1 plus the regression list and
 *   prints `sim: K seeds, V violations`; failing seeds are appended to the regression list.
 *
 * Exits 1 on any violation.
 * @module
 */

import { runSeed } from "./sim.ts";
import {
  describeFailures,
  readRegressions,
  REGRESSION_FILE,
  runSeeds,
  seedRange,
} from "./sim_runner.ts";
import { simFlags } from "../_sim_flags.ts";

const { flag, intFlag } = simFlags("sim");

const duration = intFlag("duration", 300_000);

if (flag("seed") !== undefined) {
  const seed = intFlag("seed", 0);
  const started = performance.now();
  const r = runSeed(seed, { durationMs: duration, trace: !Deno.args.includes("--quiet") });
  const wall = (performance.now() - started) / 1000;
  for (const line of r.trace) console.log(line);
  console.log(`seed ${seed}: trace ${r.traceHash}, ${JSON.stringify(r.stats)}`);
  console.log(`simulated ${(r.stats.simulatedMs / 60_000).toFixed(1)} min in ${wall.toFixed(2)} s`);
  for (const v of r.violations) console.log(`VIOLATION ${v}`);
  Deno.exit(r.violations.length > 0 ? 1 : 0);
} else {
  const count = intFlag("seeds", 100);
  const start = intFlag("start", 1);
  const regressions = readRegressions();
  const started = performance.now();
  const { failures, simulatedMs } = runSeeds([
    ...regressions,
    ...seedRange(start, start + count - 1, duration),
  ]);
  const wall = (performance.now() - started) / 1000;
  const total = count + regressions.length;
  console.log(`sim: ${total} seeds, ${failures.length} violations`);
  console.log(
    `simulated ${(simulatedMs / 60_000).toFixed(0)} min in ${wall.toFixed(1)} s (${
      (simulatedMs / 60_000 / wall).toFixed(1)
    } simulated min per wall s)`,
  );
  if (failures.length > 0) {
    console.log(describeFailures(failures));
    const known = new Set(regressions.map((r) => r.seed));
    const fresh = failures.filter((f) => !known.has(f.seed));
    if (fresh.length > 0) {
      const lines = fresh.map((f) => `${f.seed} ${duration}  # ${f.violations[0].slice(0, 120)}\n`);
      Deno.writeTextFileSync(REGRESSION_FILE, lines.join(""), { append: true });
      console.log(`added ${fresh.length} seed(s) to ${REGRESSION_FILE.pathname}`);
    }
    Deno.exit(1);
  }
}
