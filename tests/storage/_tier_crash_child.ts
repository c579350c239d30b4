/**
 * The process the tiering crash tests kill: it opens the engine in `dir`, runs one pass of
 * tiering (size retention and moves to the cold store), and sends itself SIGKILL at the step
 * named by `--kill-at` (the engine's tier hook), so the parent finds the files exactly as a
 * kill -9 at that step leaves them.
 *
 * Usage: deno run -A _tier_crash_child.ts <dir> <cold dir | s3 endpoint> <step> <t0 clock ms>
 *   [measurement limits as JSON, e.g. {"cpu": 20000}]
 * @module
 */
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { type ColdStore, DirColdStore, type TierStep } from "../../src/storage/mod.ts";
import { openEngine, TestClock } from "./_tier_util.ts";
import { S3ColdStore } from "../../src/storage/mod.ts";

const [dir, cold, step, nowMs, measurements] = Deno.args;
const store: ColdStore = cold.startsWith("http")
  ? new S3ColdStore({
    endpoint: cold,
    bucket: "cold",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    fetch: globalThis.fetch,
  })
  : new DirColdStore(denoFileSystem, cold);
const engine = await openEngine(dir, new TestClock(Number(nowMs)), {
  coldStore: store,
  tierHook: (at: TierStep) => {
    if (at === step) Deno.kill(Deno.pid, "SIGKILL");
  },
});
await engine.enforceTiering("db", {
  measurements: measurements ? new Map(Object.entries(JSON.parse(measurements))) : undefined,
});
console.log("tiering ran to its end without reaching", step);
await engine.close();
Deno.exit(3);
