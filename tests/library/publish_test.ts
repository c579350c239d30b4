/**
 * The library as a package: `deno publish --dry-run` (the JSR checks: slow types in the public
 * API, the license, the files) passes, and ships mod.ts and src/ without tests or test helpers.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno publish --dry-run passes and ships the library without its tests", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /Success Dry run complete/);
  const files = [...text.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) => m[1].slice(ROOT.length));
  assert.ok(files.includes("mod.ts"), text);
  assert.ok(files.includes("src/client/writer.ts"), text);
  assert.deepEqual(
    files.filter((f) => /_test(_util|_helper)?\.ts$|\/_testing\.ts$|^tests\/|^bench\//.test(f)),
    [],
  );
});
