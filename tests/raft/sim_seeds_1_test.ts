import { describeFailures, readRegressions, runSeeds, seedRange } from "./sim_runner.ts";

// Seeds 1..100, 5 simulated minutes of chaos each (plus healing). Split over three files
// so that `deno test --parallel` spreads the 300 CI seeds over the cores.
Deno.test("sim: seeds 1-100 hold every invariant and stay linearizable", () => {
  const { failures } = runSeeds(seedRange(1, 100));
  if (failures.length > 0) throw new Error(describeFailures(failures));
});

Deno.test("sim: the regression list still passes", () => {
  const { failures } = runSeeds(readRegressions());
  if (failures.length > 0) throw new Error(describeFailures(failures));
});
