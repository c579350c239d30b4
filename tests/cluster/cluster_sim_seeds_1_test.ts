import {
  clusterSeedRange,
  describeClusterFailures,
  readClusterRegressions,
  runClusterSeeds,
} from "./cluster_sim_runner.ts";

// Seeds 1..80 of the cluster simulation (30 virtual seconds of chaos each, then healing
// and the checks). The CI seeds are split over four files so that `deno test --parallel`
// spreads them over the cores.
Deno.test("cluster sim: seeds 1-80 lose no acknowledged write, stay linearizable, replicas agree", async () => {
  const { failures, moveSteps } = await runClusterSeeds(clusterSeedRange(1, 80));
  if (failures.length > 0) throw new Error(describeClusterFailures(failures));
  // Crashes outlast dead_node_timeout: the move protocol ran under the faults too.
  if (moveSteps < 10) throw new Error(`only ${moveSteps} move steps in 80 seeds`);
});

Deno.test("cluster sim: the regression list still passes", async () => {
  const { failures } = await runClusterSeeds(readClusterRegressions());
  if (failures.length > 0) throw new Error(describeClusterFailures(failures));
});
