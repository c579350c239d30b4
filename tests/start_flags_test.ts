/**
 * The start task's V8 flags (deno.json) reach every way the server is started: the end-to-end
 * harness and benchmarks (tests/_server.ts) and the bundle's shebang (scripts/bundle.ts), so
 * the memory a bench measures is the memory users get.
 */
import assert from "node:assert/strict";
import { START_PERMISSIONS } from "./_server.ts";
import { runFlags } from "../scripts/bundle.ts";

const denoJson = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
);
const v8Flags = String(denoJson.tasks.start).split(/\s+/).filter((w) =>
  w.startsWith("--v8-flags=")
);

Deno.test("start task: its V8 flags keep the heap small, and the harness and the bundle pass them", () => {
  assert.equal(v8Flags.length, 1, "the start task has one --v8-flags word");
  assert.match(v8Flags[0], /--max-semi-space-size=\d+/);
  assert.match(v8Flags[0], /--heap-growing-percent=\d+/);
  assert.ok(START_PERMISSIONS.includes(v8Flags[0]), `harness flags: ${START_PERMISSIONS}`);
  assert.ok(runFlags(denoJson).includes(v8Flags[0]), "the bundle runs with them");
  assert.ok(runFlags(denoJson, false).includes(v8Flags[0]), "and its shebang");
});
