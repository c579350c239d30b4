import { describeFailures, runSeeds, seedRange } from "./sim_runner.ts";

// Seeds 201..300, 5 simulated minutes of chaos each (plus healing). Split over three files
// so that `deno test --parallel` spreads the 300 CI seeds over the cores.
Deno.test("sim: seeds 201-300 hold every invariant and stay linearizable", () => {
  const { failures } = runSeeds(seedRange(201, 300));
  if (failures.length > 0) throw new Error(describeFailures(failures));
});
