/**
 * Every input that once broke something, replayed: `regressions/<target>/<case>.bin` is run
 * through that target's check (the same oracle that found it), and must pass; a case kept for
 * a slow or hung input (`slow-*`, `hang-*`) must also finish within the fuzzer's limit (in CPU
 * time, as the fuzzer judges it). A folder that names no target fails, so a renamed target
 * cannot leave its cases unplayed.
 */
import { ok } from "node:assert/strict";
import { threadCpu } from "./_cpu.ts";
import { targetNamed } from "./targets/mod.ts";

const ROOT = new URL("./regressions/", import.meta.url);
/** The fuzzer's limit for one input (main.ts --slow-ms), with room for a loaded machine. */
const SLOW_MS = 2000;

const folders = [...Deno.readDirSync(ROOT)].filter((e) => e.isDirectory).map((e) => e.name)
  .sort();

Deno.test("fuzz regressions: there are cases to replay", () => {
  ok(folders.length > 0, `no folder under ${ROOT.pathname}`);
});

for (const folder of folders) {
  Deno.test(`fuzz regressions: ${folder}`, async (t) => {
    const target = targetNamed(folder);
    const dir = new URL(`${folder}/`, ROOT);
    const cases = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".bin"))
      .map((e) => e.name).sort();
    ok(cases.length > 0, `${dir.pathname} holds no .bin case`);
    const check = await target.open();
    try {
      for (const name of cases) {
        await t.step(name, async () => {
          const input = await Deno.readFile(new URL(name, dir));
          // Slow as the fuzzer judges it (_runner.ts): over the limit in wall time and in CPU
          // time, since on a loaded machine the wall clock mostly times the wait for a core.
          let best = Infinity, bestCpu = Infinity;
          // A slow case gets a second chance: a burst of load is not the input's fault.
          for (let attempt = 0; attempt < 2 && best > SLOW_MS && bestCpu > SLOW_MS; attempt++) {
            const t0 = performance.now(), cpu0 = threadCpu();
            await check.check(input);
            const cpu = threadCpu(cpu0);
            best = Math.min(best, performance.now() - t0);
            bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
          }
          if (/^(slow|hang)-/.test(name)) {
            ok(
              best <= SLOW_MS || bestCpu <= SLOW_MS,
              `${name} took ${best.toFixed(0)} ms (${bestCpu.toFixed(0)} ms of CPU; limit ` +
                `${SLOW_MS} ms)`,
            );
          }
        });
      }
    } finally {
      await check.close();
    }
  });
}
