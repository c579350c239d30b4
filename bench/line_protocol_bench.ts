/**
 * Line-protocol decoding throughput. Each bench parses one body of 5,000 lines; values/s is
 * `fieldValues / (time per iteration)`, printed once per body at the end.
 *
 *   npx deno@2.9.6 bench --allow-all bench/line_protocol_bench.ts
 */

import { LineProtocolCache, parseLineProtocol } from "../src/ingest/mod.ts";
import { CPU_FIELDS } from "./peers/workload.ts";

const LINES = 5_000;
const enc = new TextEncoder();
const defaultTime = { ms: 1_700_000_000_000, subMs: 0 };

/** A deterministic generator (no Math.random outside the runtime). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** TSBS cpu-only: 10 tags, 10 float fields with TSBS's 16-digit values, 100 hosts. */
function tsbsCpu(): { body: Uint8Array; values: number } {
  const rnd = lcg(1);
  const regions = ["us-east-1", "us-west-1", "eu-west-1", "ap-northeast-1"];
  const fields = CPU_FIELDS;
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const h = i % 100;
    const region = regions[h % regions.length];
    const tags = `hostname=host_${h},region=${region},datacenter=${region}${"abc"[h % 3]},` +
      `rack=${h % 97},os=Ubuntu16.10,arch=x64,team=NYC,service=${h % 19},service_version=${
        h % 2
      },service_environment=production`;
    const values = fields.map((f) => `${f}=${(rnd() * 100).toFixed(16)}`).join(",");
    lines.push(`cpu,${tags} ${values} ${1451606400000000000 + i * 10_000_000_000}`);
  }
  return { body: enc.encode(lines.join("\n") + "\n"), values: LINES * fields.length };
}

/** Telegraf-like: mem (integers), system (ints, a float, a string), procstat (strings). */
function telegraf(): { body: Uint8Array; values: number } {
  const rnd = lcg(2);
  const lines: string[] = [];
  let values = 0;
  for (let i = 0; i < LINES; i++) {
    const host = `server${String(i % 50).padStart(2, "0")}`;
    const ts = 1678886400000000000 + i * 1_000_000_000;
    const n = () => Math.floor(rnd() * 1e10);
    switch (i % 3) {
      case 0:
        lines.push(
          `mem,host=${host} active=${n()}i,available=${n()}i,available_percent=${
            (rnd() * 100).toFixed(4)
          },buffered=${n()}i,cached=${n()}i,free=${n()}i,inactive=${n()}i,total=${n()}i,` +
            `used=${n()}i,used_percent=${(rnd() * 100).toFixed(4)} ${ts}`,
        );
        values += 10;
        break;
      case 1:
        lines.push(
          `system,host=${host} load1=${(rnd() * 4).toFixed(2)},load5=${
            (rnd() * 4).toFixed(2)
          },load15=${(rnd() * 4).toFixed(2)},n_cpus=8i,n_users=${i % 7}i,uptime=${n()}i,` +
            `uptime_format="${i % 30} days, ${i % 24}:0${i % 10}" ${ts}`,
        );
        values += 7;
        break;
      default:
        lines.push(
          `procstat,host=${host},process_name=nginx,user=www-data cmdline="nginx: worker process",` +
            `pid=${1000 + (i % 300)}i,cpu_usage=${(rnd() * 10).toFixed(3)},memory_rss=${n()}i,` +
            `num_threads=${i % 16}i,status="running",running=true ${ts}`,
        );
        values += 7;
    }
  }
  return { body: enc.encode(lines.join("\n") + "\n"), values };
}

const cpu = tsbsCpu();
const tg = telegraf();
const cpuCache = new LineProtocolCache();
const tgCache = new LineProtocolCache();

for (const [name, data] of [["tsbs cpu", cpu], ["telegraf", tg]] as const) {
  const r = parseLineProtocol(data.body, { defaultTime });
  const got = r.points.reduce((n, p) => n + p.fields.length, 0);
  if (r.errors.length > 0 || got !== data.values) {
    throw new Error(`BUG: ${name} body: ${r.errors.length} errors, ${got}/${data.values} values`);
  }
}

Deno.bench({
  name: `tsbs cpu, 10 tags + 10 floats, ${LINES} lines, shared cache`,
  group: "tsbs",
  baseline: true,
  fn: () => {
    parseLineProtocol(cpu.body, { defaultTime, cache: cpuCache });
  },
});

Deno.bench({
  name: `tsbs cpu, 10 tags + 10 floats, ${LINES} lines, fresh cache`,
  group: "tsbs",
  fn: () => {
    parseLineProtocol(cpu.body, { defaultTime });
  },
});

Deno.bench({
  name: `telegraf mem/system/procstat, ints + strings, ${LINES} lines, shared cache`,
  group: "telegraf",
  baseline: true,
  fn: () => {
    parseLineProtocol(tg.body, { defaultTime, cache: tgCache });
  },
});

Deno.bench({
  name: `telegraf mem/system/procstat, ints + strings, ${LINES} lines, fresh cache`,
  group: "telegraf",
  fn: () => {
    parseLineProtocol(tg.body, { defaultTime });
  },
});

// Deno.bench reports time per iteration; print the value counts to turn them into values/s.
console.log(
  `values per iteration: tsbs cpu ${cpu.values} (${cpu.body.length} bytes), ` +
    `telegraf ${tg.values} (${tg.body.length} bytes)`,
);
