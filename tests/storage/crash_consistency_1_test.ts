import { checkCutPoints } from "./_crash_workload.ts";

Deno.test("storage: a power loss after any disk mutation loses nothing acknowledged (1 of 2)", async () => {
  await checkCutPoints(0, 2, [1, 2, 3]);
});
