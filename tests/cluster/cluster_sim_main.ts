/**
 * The cluster simulation CLI behind `deno task sim:cluster`.
 *
 * - `--seed N [--chaos MS] [--quiet]`: replays one seed and prints its trace.
 * - `--seeds K [--start S] [--chaos MS]`: runs seeds S..S+K-1 plus the regression list, prints
 *   the failures and seeds per minute; failing seeds are appended to the regression list.
 *
 * Exits 1 on any violation.
 * @module
 */
import { runClusterSeed } from "./cluster_sim.ts";
import {
  CLUSTER_REGRESSION_FILE,
  clusterSeedRange,
  describeClusterFailures,
  readClusterRegressions,
  runClusterSeeds,
} from "./cluster_sim_runner.ts";
import { simFlags } from "../_sim_flags.ts";

const { flag, intFlag } = simFlags("sim:cluster");

const chaosMs = intFlag("chaos", 30_000);

if (flag("seed") !== undefined) {
  const seed = intFlag("seed", 0);
  const started = performance.now();
  const r = await runClusterSeed(seed, { chaosMs, trace: !Deno.args.includes("--quiet") });
  const wall = (performance.now() - started) / 1000;
  for (const line of r.trace) console.log(line);
  console.log(`seed ${seed}: trace ${r.traceHash}, ${JSON.stringify(r.stats)}`);
  console.log(`simulated ${(r.stats.simulatedMs / 1000).toFixed(1)} s in ${wall.toFixed(2)} s`);
  for (const v of r.violations) console.log(`VIOLATION ${v}`);
  Deno.exit(r.violations.length > 0 ? 1 : 0);
} else {
  const count = intFlag("seeds", 50);
  const start = intFlag("start", 1);
  const regressions = readClusterRegressions();
  const seeds = [...regressions, ...clusterSeedRange(start, start + count - 1, chaosMs)];
  const started = performance.now();
  const { failures, simulatedMs, moveSteps } = await runClusterSeeds(seeds, (done) => {
    if (done % 10 === 0) {
      const wall = (performance.now() - started) / 1000;
      console.log(`  ${done}/${seeds.length} seeds, ${(done / wall * 60).toFixed(0)} seeds/min`);
    }
  });
  const wall = (performance.now() - started) / 1000;
  console.log(
    `sim:cluster: ${seeds.length} seeds, ${failures.length} failed, ${moveSteps} move steps taken`,
  );
  console.log(
    `${(seeds.length / wall * 60).toFixed(1)} seeds per minute (${wall.toFixed(1)} s wall, ${
      (simulatedMs / 60_000).toFixed(0)
    } simulated min)`,
  );
  if (failures.length > 0) {
    console.log(describeClusterFailures(failures));
    const known = new Set(regressions.map((r) => r.seed));
    const fresh = failures.filter((f) => !known.has(f.seed));
    if (fresh.length > 0) {
      const lines = fresh.map((f) =>
        `${f.seed} ${chaosMs}  # ${f.violations[0].replace(/\s+/g, " ").slice(0, 120)}\n`
      );
      Deno.writeTextFileSync(CLUSTER_REGRESSION_FILE, lines.join(""), { append: true });
      console.log(`added ${fresh.length} seed(s) to ${CLUSTER_REGRESSION_FILE.pathname}`);
    }
    Deno.exit(1);
  }
}
