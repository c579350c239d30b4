import {
  clusterSeedRange,
  describeClusterFailures,
  runClusterSeeds,
} from "./cluster_sim_runner.ts";

// Seeds 81..160 of the cluster simulation (30 virtual seconds of chaos each, then healing
// and the checks). The CI seeds are split over four files so that `deno test --parallel`
// spreads them over the cores.
Deno.test("cluster sim: seeds 81-160 lose no acknowledged write, stay linearizable, replicas agree", async () => {
  const { failures } = await runClusterSeeds(clusterSeedRange(81, 160));
  if (failures.length > 0) throw new Error(describeClusterFailures(failures));
});
