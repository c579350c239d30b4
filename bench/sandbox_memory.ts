/**
 * Peak resident memory of script sandbox children (the process host, default limits) while
 * their scripts try to exhaust memory in each way V8 allows: ArrayBuffers and WebAssembly
 * memories (outside the heap, held by RLIMIT_DATA), arrays and strings (the heap limit). The
 * children's RSS is sampled with `ps` every 10 ms.
 *
 * ```sh
 * npx --yes deno@2.9.6 run -A bench/sandbox_memory.ts      # one child per bomb
 * npx --yes deno@2.9.6 run -A bench/sandbox_memory.ts 8    # max_script_sandboxes at once
 * ```
 * @module
 */
import { createProcessScriptHost } from "../src/runtime/mod.ts";

const BOMBS: Record<string, string> = {
  idle: "export default (ps) => ps",
  arraybuffer: "export default () => { const k = []; for (let i = 0; i < 400; i++) " +
    "k.push(new Uint8Array(10e6).fill(1)); return []; }",
  wasm: "export default () => { const k = []; for (let i = 0; i < 400; i++) { const m = " +
    "new WebAssembly.Memory({ initial: 160 }); new Uint8Array(m.buffer).fill(1); k.push(m); } " +
    "return []; }",
  array: "export default () => { const k = []; while (true) k.push(new Array(1e6).fill(1.5)); }",
  string: "export default () => { const k = []; for (let i = 0; ; i++) " +
    "k.push(Array.from({ length: 1e5 }, (_, j) => 'x' + i + 'y' + j)); }",
};

const n = Number(Deno.args[0] ?? 1);

async function residentMb(pids: number[]): Promise<number> {
  if (pids.length === 0) return 0;
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", pids.join(",")] })
    .output();
  const kb = new TextDecoder().decode(out.stdout).split("\n").filter((s) => s.trim())
    .reduce((sum, s) => sum + Number(s), 0);
  return kb / 1024;
}

for (const [name, source] of Object.entries(BOMBS)) {
  const host = createProcessScriptHost({ maxSandboxes: n });
  const boxes = Array.from(
    { length: n },
    (_, i) => host({ name: `${name}${i}`, source, typescript: false }),
  );
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, await residentMb(host.stats().pids));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const results = await Promise.allSettled(boxes.map((b) => b.run([], { timeoutMs: 60_000 })));
  peak = Math.max(peak, await residentMb(host.stats().pids));
  done = true;
  await sampler;
  const outcomes = new Set(
    results.map((r) => r.status === "fulfilled" ? "ok" : (r.reason as Error).message.slice(0, 80)),
  );
  console.log(
    `${n} × ${name}: peak resident ${peak.toFixed(0)} MB (${(peak / n).toFixed(0)} MB each); ` +
      [...outcomes].join(" | "),
  );
  for (const box of boxes) box.close();
  await host.close();
}
