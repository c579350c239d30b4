/**
 * A second storage data set, unlike the TSBS cpu data the float codec's prefix code was fitted
 * to: the families an infrastructure node reports besides cpu usage, seeded (the same data every
 * run), every 10 s for `HOURS` hours (6 by default) from the cpu data's start, 50 hosts:
 *
 * - `net,host,interface` (2 per host): monotonically increasing integer counters, bursty
 *   (bytes and packets in/out), and error/drop counters that rarely move. 8 integer fields.
 * - `hw,host`: gauges with few distinct values: temperature in 0.5 °C steps (float), fan speed
 *   from three settings, a power state 0-3 and a logged-in user count (integers).
 * - `service,host,service` (4 per host): status fields: `status` string (ok, mostly; degraded
 *   or down now and then), `up` boolean, `restarts` integer counter.
 * - `disk,host,path` (4 per host): sparse in time: every 60 s, 5% of reports missing; used
 *   percent (float, 2 decimals, slowly growing) and free inodes (integer, slowly falling).
 * - `job,job_id` (500 ids): sparse series: a job reports when it runs, a few times in 6 hours
 *   (duration in seconds with 3 decimals, exit code, rows processed).
 *
 * VictoriaMetrics has no string type: it stores the `status` values as 0.
 * @module
 */
import { HOURS, rng, START_MS } from "./storage_data.ts";

const HOSTS = 50;
const INTERFACES = ["eth0", "eth1"];
const SERVICES = ["api", "db", "cache", "queue"];
const PATHS = ["/", "/var", "/home", "/data"];
const JOBS = 500;
const STEP_MS = 10_000;

/** The data set as line protocol (ns timestamps), about `perChunk` lines per chunk. */
export function* mixedDataLines(
  perChunk: number,
): Generator<{ lines: string; valueCount: number }> {
  const r = rng(7);
  const steps = Math.round(HOURS * 360);
  const hostRate = Array.from({ length: HOSTS }, () => 1e4 + r.uniform() * 1e6);
  const net = Array.from({ length: HOSTS * INTERFACES.length }, () => ({
    bytesIn: Math.floor(r.uniform() * 1e12),
    bytesOut: Math.floor(r.uniform() * 1e12),
    packetsIn: Math.floor(r.uniform() * 1e9),
    packetsOut: Math.floor(r.uniform() * 1e9),
    errIn: 0,
    errOut: 0,
    dropIn: Math.floor(r.uniform() * 50),
    dropOut: 0,
  }));
  const hw = Array.from({ length: HOSTS }, () => ({
    temp: 40 + Math.round(r.uniform() * 20) / 2,
    fan: 1,
    power: 0,
    users: Math.floor(r.uniform() * 3),
  }));
  const services = Array.from({ length: HOSTS * SERVICES.length }, () => ({
    status: "ok",
    restarts: Math.floor(r.uniform() * 5),
  }));
  const disks = Array.from({ length: HOSTS * PATHS.length }, () => ({
    used: 10 + r.uniform() * 70,
    inodes: Math.floor(1e6 + r.uniform() * 5e6),
  }));
  let lines: string[] = [];
  let valueCount = 0;
  const push = (line: string, values: number) => {
    lines.push(line);
    valueCount += values;
  };
  for (let step = 0; step < steps; step++) {
    const ns = `${BigInt(START_MS + step * STEP_MS) * 1_000_000n}`;
    for (let h = 0; h < HOSTS; h++) {
      for (let i = 0; i < INTERFACES.length; i++) {
        const n = net[h * INTERFACES.length + i];
        // Traffic comes in bursts: mostly near the host's rate, now and then 20 times it.
        const burst = r.uniform() < 0.02 ? 20 : 0.5 + r.uniform();
        const inBytes = Math.floor(hostRate[h] * burst * (i === 0 ? 1 : 0.1));
        const outBytes = Math.floor(inBytes * (0.2 + r.uniform() * 0.3));
        n.bytesIn += inBytes;
        n.bytesOut += outBytes;
        n.packetsIn += Math.ceil(inBytes / (600 + r.uniform() * 800));
        n.packetsOut += Math.ceil(outBytes / (600 + r.uniform() * 800));
        if (r.uniform() < 0.002) n.errIn += 1 + Math.floor(r.uniform() * 3);
        if (r.uniform() < 0.001) n.errOut += 1;
        if (r.uniform() < 0.01) n.dropIn += 1 + Math.floor(r.uniform() * 10);
        if (r.uniform() < 0.001) n.dropOut += 1;
        push(
          `net,host=host_${h},interface=${INTERFACES[i]} bytes_recv=${n.bytesIn}i,` +
            `bytes_sent=${n.bytesOut}i,packets_recv=${n.packetsIn}i,packets_sent=${n.packetsOut}i,` +
            `err_in=${n.errIn}i,err_out=${n.errOut}i,drop_in=${n.dropIn}i,drop_out=${n.dropOut}i ${ns}`,
          8,
        );
      }
      const w = hw[h];
      if (r.uniform() < 0.1) {
        w.temp = Math.min(90, Math.max(30, w.temp + (r.uniform() < 0.5 ? -0.5 : 0.5)));
      }
      if (r.uniform() < 0.02) w.fan = Math.floor(r.uniform() * 3);
      if (r.uniform() < 0.001) w.power = Math.floor(r.uniform() * 4);
      if (r.uniform() < 0.05) {
        w.users = Math.max(0, Math.min(5, w.users + (r.uniform() < 0.5 ? -1 : 1)));
      }
      push(
        `hw,host=host_${h} temp_c=${w.temp},fan_rpm=${[1200, 1800, 2400][w.fan]}i,` +
          `power_state=${w.power}i,users=${w.users}i ${ns}`,
        4,
      );
      for (let s = 0; s < SERVICES.length; s++) {
        const v = services[h * SERVICES.length + s];
        if (v.status === "ok") {
          if (r.uniform() < 0.003) v.status = r.uniform() < 0.7 ? "degraded" : "down";
        } else if (r.uniform() < 0.1) {
          if (v.status === "down") v.restarts++;
          v.status = "ok";
        }
        push(
          `service,host=host_${h},service=${SERVICES[s]} status="${v.status}",` +
            `up=${v.status !== "down"},restarts=${v.restarts}i ${ns}`,
          3,
        );
      }
      if (step % 6 === h % 6) {
        for (let p = 0; p < PATHS.length; p++) {
          const d = disks[h * PATHS.length + p];
          d.used = Math.min(99, d.used + r.uniform() * 0.01);
          d.inodes -= Math.floor(r.uniform() * 20);
          if (r.uniform() < 0.05) continue; // a missed report
          push(
            `disk,host=host_${h},path=${PATHS[p]} used_percent=${d.used.toFixed(2)},` +
              `inodes_free=${d.inodes}i ${ns}`,
            2,
          );
        }
      }
    }
    // About three runs per job in 6 hours (2160 steps), at random times; at most one job
    // reports in a step, so no two points share a series and a timestamp.
    if (r.uniform() < (JOBS * 3) / 2160) {
      const id = Math.floor(r.uniform() * JOBS);
      const seconds = Math.exp(2 + r.normal()).toFixed(3);
      const exit = r.uniform() < 0.05 ? 1 + Math.floor(r.uniform() * 3) : 0;
      push(
        `job,job_id=job_${id} duration_s=${seconds},exit_code=${exit}i,` +
          `rows=${Math.floor(r.uniform() * 1e6)}i ${ns}`,
        3,
      );
    }
    if (lines.length >= perChunk) {
      yield { lines: lines.join("\n"), valueCount };
      lines = [];
      valueCount = 0;
    }
  }
  if (lines.length > 0) yield { lines: lines.join("\n"), valueCount };
}
