/**
 * kill -9 at each step of a measurement's size limit (the delete logged; the group's new segment
 * written before its inputs went; one group rewritten, others pending): a real process
 * (_tier_crash_child.ts) kills itself at the step. The restarted engine has the other
 * measurement whole, the offending one whole after its horizon, no temp file, and the next
 * pass brings it within its limit.
 */
import assert from "node:assert/strict";
import { dump, filesUnder, HOUR_MS, hourPoints, openEngine, T0, TestClock } from "./_tier_util.ts";

const HOUR_NS = 3_600_000_000_000n;
const CHILD = new URL("./_tier_crash_child.ts", import.meta.url).pathname;
const NOW = T0 + 6 * HOUR_MS;

async function runChildUntil(dir: string, step: string, limits: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, dir, step, String(NOW), limits],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { signal, code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(signal, "SIGKILL", `child did not die at ${step} (exit ${code}):\n${text}`);
}

const timeOf = (line: string) => Number(line.split(" ").at(-2)!.split(".")[0]);
const of = (lines: string[], m: string) => lines.filter((l) => l.startsWith(`${m},`));

Deno.test("kill -9 during a measurement's size limit: other data whole, limit reached after", async () => {
  for (const step of ["measure:logged", "measure:written", "measure:rewritten"]) {
    const dir = await Deno.makeTempDir({ prefix: "epochnexus-msize-crash-" });
    let engine = await openEngine(dir, new TestClock(NOW));
    await engine.createDatabase("db");
    await engine.createRetentionPolicy("db", {
      name: "rp",
      durationNs: 0n,
      shardGroupDurationNs: HOUR_NS,
      replicaN: 1,
      isDefault: true,
    });
    for (let h = 0; h < 5; h++) {
      const points = hourPoints(h);
      await engine.write("db", "rp", points.slice(0, 1200));
      await engine.flush();
      await engine.write("db", "rp", points.slice(1200));
      await engine.flush();
    }
    const before = await dump(engine, "db", "rp");
    const limit = Math.floor(engine.measurementBytes("db").get("cpu")! * 0.5);
    await engine.close();

    await runChildUntil(dir, step, JSON.stringify({ cpu: limit }));
    engine = await openEngine(dir, new TestClock(NOW));
    const after = await dump(engine, "db", "rp");
    assert.deepEqual(of(after, "mem"), of(before, "mem"), `${step}: mem's values`);
    const horizon = Math.min(...of(after, "cpu").map(timeOf));
    assert.ok(horizon > T0, `${step}: cpu's oldest data came back`);
    assert.deepEqual(
      of(after, "cpu"),
      of(before, "cpu").filter((l) => timeOf(l) >= horizon),
      `${step}: cpu after its horizon`,
    );
    assert.deepEqual(await filesUnder(`${dir}/data`, /\.tmp$/), [], `${step}: temp files left`);
    await engine.enforceTiering("db", { measurements: new Map([["cpu", limit]]) });
    const cpu = engine.measurementBytes("db").get("cpu")!;
    assert.ok(cpu <= limit, `${step}: cpu ${cpu} > ${limit} after the next pass`);
    assert.deepEqual(of(await dump(engine, "db", "rp"), "mem"), of(before, "mem"));
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
