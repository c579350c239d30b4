/**
 * Line protocol on `/write`: EpochNexus against InfluxDB 1.6.7 and VictoriaMetrics (Debian's
 * packages) on the same data in the same run. Each system is started on loopback with a fresh
 * folder and fed the same bodies (5,000 points of `cpu`, 2 tags, 3 fields each) by
 * `WRITERS` concurrent writers; points/s, peak RSS and CPU seconds are printed, with the ratio
 * to EpochNexus.
 *
 *   POINTS=200000 WRITERS=4 deno run -A bench/ingest_peers.ts
 *
 * @module
 */
import {
  processStats,
  startEpochNexus,
  startInfluxDB,
  startVictoriaMetrics,
  type System,
} from "./peers/systems.ts";

const POINTS = Number(Deno.env.get("POINTS") ?? 200_000);
const WRITERS = Number(Deno.env.get("WRITERS") ?? 4);
const BATCH = 5000;
const T0 = 1_700_000_000;
const enc = new TextEncoder();

const bodies: Uint8Array<ArrayBuffer>[] = [];
for (let start = 0; start < POINTS; start += BATCH) {
  let text = "";
  for (let i = start; i < Math.min(POINTS, start + BATCH); i++) {
    text += `cpu,host=h${i % 200},region=r${i % 4} usage_user=${(i % 997) / 10},` +
      `usage_system=${(i % 89) / 10},procs=${i % 300}i ${T0 + Math.floor(i / 200)}\n`;
  }
  bodies.push(enc.encode(text));
}

async function run(system: System): Promise<{ rate: number; rss: number; cpu: number }> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < bodies.length) await system.write(bodies[next++]);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = await processStats(system.pid);
  return { rate: POINTS / seconds, rss: stats.peakRssMiB, cpu: stats.cpuSeconds };
}

const results: { name: string; rate: number; rss: number; cpu: number }[] = [];
for (const start of [startEpochNexus, startInfluxDB, startVictoriaMetrics]) {
  const system = await start();
  try {
    results.push({ name: system.name, ...await run(system) });
  } finally {
    await system.stop();
    await system.remove();
  }
}
const ours = results[0].rate;
console.log(`${POINTS} points, ${BATCH} per body, ${WRITERS} writers, /write (line protocol)`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(24)} ${Math.round(r.rate).toString().padStart(9)} points/s  ` +
      `x${(r.rate / ours).toFixed(2)} of EpochNexus  peak RSS ${r.rss.toFixed(0)} MiB  ` +
      `CPU ${r.cpu.toFixed(1)} s`,
  );
}
