import { checkCutPoints } from "./_crash_workload.ts";

Deno.test("storage: a power loss after any disk mutation loses nothing acknowledged (2 of 2)", async () => {
  await checkCutPoints(1, 2, [1, 2, 3]);
});
