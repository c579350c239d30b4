/**
 * A deterministic TSBS "cpu-only"-like workload: H hosts with the 10 TSBS tags and the 10 cpu
 * fields, one point per host every 10 s from a fixed start, values as seeded random walks at
 * full float precision. The same seed gives the same bytes, so every system gets the same data.
 * @module
 */

import { mulberry32 } from "../_random.ts";
/** Workload options. */
export interface WorkloadOptions {
  hosts: number;
  /** Hours of data. */
  hours: number;
  /** Lines per write request. */
  batchLines: number;
  seed: number;
  /** Seconds between points of a host. @default {10} */
  intervalSeconds?: number;
  /**
   * Out-of-order variant: lines are shuffled (seeded) within windows of this many lines, so
   * timestamps arrive out of order across and within requests. 0 = in time order.
   * @default {0}
   */
  shuffleWindow?: number;
}

/** Named variants of the workload (`--variant`). */
export const VARIANTS = {
  /** 100 hosts x 12 h, in time order (the default). */
  default: {},
  /** 100,000 series: 100k hosts x 1 min (6 points each, 6M values). */
  "high-cardinality": { hosts: 100_000, hours: 1 / 60 },
  /** The default data, shuffled within windows of 4 requests. */
  "out-of-order": { shuffleWindow: 20_000 },
} as const satisfies Record<string, Partial<WorkloadOptions>>;

/** The fixed start: 2023-01-01T00:00:00Z. */
export const START_SECONDS = 1672531200;

export const CPU_FIELDS = [
  "usage_user",
  "usage_system",
  "usage_idle",
  "usage_nice",
  "usage_iowait",
  "usage_irq",
  "usage_softirq",
  "usage_steal",
  "usage_guest",
  "usage_guest_nice",
] as const;

const REGIONS = [
  "us-east-1",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "eu-central-1",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-northeast-1",
  "sa-east-1",
];
const OS = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCH = ["x64", "x86"];
const TEAM = ["SF", "NYC", "LON", "CHI"];

/** A small fast seeded PRNG: the benches' one generator. */
export const prng: (seed: number) => () => number = mulberry32;

/** The tag set (line protocol, sorted by key) of host `h`. */
export function hostTags(h: number, random: () => number): string {
  const region = REGIONS[h % REGIONS.length];
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  return [
    `arch=${pick(ARCH)}`,
    `datacenter=${region}${"abc"[h % 3]}`,
    `hostname=host_${h}`,
    `os=${pick(OS)}`,
    `rack=${Math.floor(random() * 100)}`,
    `region=${region}`,
    `service=${Math.floor(random() * 20)}`,
    `service_environment=${pick(["production", "staging", "test"])}`,
    `service_version=${Math.floor(random() * 2)}`,
    `team=${pick(TEAM)}`,
  ].join(",");
}

/** The whole workload as line-protocol request bodies (seconds precision), in time order. */
export function generateBatches(
  options: WorkloadOptions,
): {
  bodies: Uint8Array<ArrayBuffer>[];
  points: number;
} {
  const random = prng(options.seed);
  const interval = options.intervalSeconds ?? 10;
  const tags = Array.from({ length: options.hosts }, (_, h) => hostTags(h, random));
  const state = Array.from({ length: options.hosts * CPU_FIELDS.length }, () => random() * 100);
  const steps = Math.floor((options.hours * 3600) / interval);
  const encoder = new TextEncoder();
  const bodies: Uint8Array<ArrayBuffer>[] = [];
  let lines: string[] = [];
  let points = 0;
  const all: string[] = [];
  for (let s = 0; s < steps; s++) {
    const t = START_SECONDS + s * interval;
    for (let h = 0; h < options.hosts; h++) {
      let fields = "";
      for (let f = 0; f < CPU_FIELDS.length; f++) {
        const k = h * CPU_FIELDS.length + f;
        let v = state[k] + (random() - 0.5) * 2;
        if (v < 0) v = -v;
        if (v > 100) v = 200 - v;
        state[k] = v;
        fields += `${f ? "," : ""}${CPU_FIELDS[f]}=${v}`;
      }
      all.push(`cpu,${tags[h]} ${fields} ${t}`);
      points++;
    }
  }
  const window = options.shuffleWindow ?? 0;
  if (window > 1) {
    for (let from = 0; from < all.length; from += window) {
      const to = Math.min(all.length, from + window);
      for (let i = to - 1; i > from; i--) {
        const j = from + Math.floor(random() * (i - from + 1));
        [all[i], all[j]] = [all[j], all[i]];
      }
    }
  }
  for (let i = 0; i < all.length; i += options.batchLines) {
    lines = all.slice(i, i + options.batchLines);
    bodies.push(encoder.encode(lines.join("\n") + "\n"));
  }
  return { bodies, points };
}
