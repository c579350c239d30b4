/**
 * One body of 60,000 distinct field names (600 lines of one series, 100 new fields each, 2.9 MB)
 * written to a real server of two checkouts, A and B alternately: wall time of the write and the
 * server's peak resident memory (VmHWM, Linux). Both run with `max_fields_per_measurement` 0, so
 * the whole body is written (a checkout without the setting ignores it).
 *
 *   npx --yes deno@2.9.6 run -A bench/wide_fields_bench.ts --a /path/to/other/checkout/ [--runs 3]
 *
 * B is this checkout. On a shared machine the time swings with the load; the peak memory does not.
 */
import { query, startServer } from "../tests/_server.ts";

const flag = (name: string) => {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Deno.args[at + 1] : undefined;
};
const other = flag("--a");
if (!other) throw new Error("usage: wide_fields_bench.ts --a /path/to/other/checkout/ [--runs 3]");
const runs = Number(flag("--runs") ?? 3);

const body = Array.from({ length: 600 }, (_, l) => {
  const fields = Array.from(
    { length: 100 },
    (_, k) => `a_rather_long_metric_field_name_nr_${l * 100 + k}=${l * 100 + k}.5`,
  );
  return `wide,host=a ${fields.join(",")} ${1_700_000_000_000_000_000n + BigInt(l)}`;
}).join("\n");

async function once(root?: string): Promise<{ ms: number; peakMiB: number; status: number }> {
  const server = await startServer({
    root: root?.endsWith("/") === false ? `${root}/` : root,
    env: { EPOCHNEXUS_MAX_FIELDS_PER_MEASUREMENT: "0" },
  });
  try {
    await query(server.url, "CREATE DATABASE w");
    const started = performance.now();
    const r = await fetch(`${server.url}/write?db=w`, { method: "POST", body });
    await r.body?.cancel();
    const ms = performance.now() - started;
    const status = await Deno.readTextFile(`/proc/${server.process.pid}/status`);
    const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
    return { ms, peakMiB, status: r.status };
  } finally {
    await server.stop();
  }
}

const load = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
for (let run = 1; run <= runs; run++) {
  const a = await once(other), aLoad = await load();
  const b = await once(), bLoad = await load();
  console.log(
    `run ${run}: A ${a.ms.toFixed(0)} ms ${a.peakMiB.toFixed(0)} MiB (${a.status}, load ${aLoad})` +
      ` | B ${b.ms.toFixed(0)} ms ${b.peakMiB.toFixed(0)} MiB (${b.status}, load ${bLoad})` +
      ` | B/A time ${(b.ms / a.ms).toFixed(2)} memory ${(b.peakMiB / a.peakMiB).toFixed(2)}`,
  );
}
