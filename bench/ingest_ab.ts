/**
 * The ingest decoders of two checkouts on the same bodies, by CPU time of this thread: on a
 * shared, loaded machine wall-clock benches (`deno bench`) swing by 2x from run to run, while
 * CPU time per body stays within a few percent. Runs A and B alternately, best of `--rounds`.
 *
 *   npx --yes deno@2.9.6 run -A bench/ingest_ab.ts --a /path/to/other/checkout [--rounds 7]
 *
 * B is this checkout. Prints CPU ms per body for A and B and B/A.
 */
import process from "node:process";
import { FieldType, type Point } from "../src/core/mod.ts";
import { formatLineProtocol } from "../src/ingest/mod.ts";

type Ingest = typeof import("../src/ingest/mod.ts");

const args = Deno.args;
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const other = flag("--a");
if (!other) throw new Error("usage: ingest_ab.ts --a /path/to/other/checkout [--rounds 7]");
const rounds = Number(flag("--rounds") ?? 7);
const A: Ingest = await import(`file://${other}/src/ingest/mod.ts`);
const B: Ingest = await import("../src/ingest/mod.ts");

const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;

/** CPU ms per run of `f`, over at least `budgetMs` of CPU. */
async function cpuPerRun(f: () => unknown, budgetMs = 300): Promise<number> {
  const start = threadCpu();
  let runs = 0, used = 0;
  while (runs < 10_000 && used < budgetMs) {
    await f();
    runs++;
    const d = threadCpu(start);
    used = (d.user + d.system) / 1000;
  }
  return used / runs;
}

const enc = new TextEncoder();
const defaultTime = { ms: 1_700_000_000_000, subMs: 0 };
const TSBS_TAGS = [
  "hostname",
  "region",
  "datacenter",
  "rack",
  "os",
  "arch",
  "team",
  "service",
  "service_version",
  "service_environment",
];
const points: Point[] = [];
for (let i = 0; i < 5000; i++) {
  points.push({
    measurement: "cpu",
    tags: TSBS_TAGS.map((key, k) => ({ key, value: `${key}_${(i + k) % 100}` })).sort((a, b) =>
      a.key < b.key ? -1 : 1
    ),
    fields: Array.from({ length: 10 }, (_, f) => ({
      key: `usage_${f}`,
      type: FieldType.Float,
      value: ((i * 7919 + f * 104729) % 100000) / 1000.123,
    })),
    timeMs: defaultTime.ms + i * 10_000,
    timeSubMs: 0,
  });
}
const lp = enc.encode(points.map((p) => formatLineProtocol(p)).join("\n") + "\n");
const records = points.map((p) =>
  JSON.stringify({
    measurement: p.measurement,
    tags: Object.fromEntries(p.tags.map((t) => [t.key, t.value])),
    fields: Object.fromEntries(p.fields.map((f) => [f.key, f.value])),
    timestamp: p.timeMs,
  })
);
const json = enc.encode(`[${records.join(",")}]`);
const ndjson = enc.encode(records.join("\n") + "\n");
const header = ["time", "measurement", ...TSBS_TAGS, ...points[0].fields.map((f) => f.key)];
const csv = enc.encode(
  header.join(",") + "\n" + points.map((p) => {
    const tags = Object.fromEntries(p.tags.map((t) => [t.key, t.value]));
    return [
      p.timeMs,
      p.measurement,
      ...TSBS_TAGS.map((t) => tags[t]),
      ...p.fields.map((f) => f.value),
    ]
      .join(",");
  }).join("\n") + "\n",
);

const streamOf = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let at = 0; at < bytes.length; at += 65536) c.enqueue(bytes.subarray(at, at + 65536));
      c.close();
    },
  });
async function drain(source: AsyncIterable<{ points: Point[] }>): Promise<number> {
  let n = 0;
  for await (const b of source) n += b.points.length;
  return n;
}

const cases: [string, (m: Ingest) => unknown][] = [
  ["line protocol, 5000 TSBS lines", (m) => m.parseLineProtocol(lp, { defaultTime })],
  [
    "JSON array, 5000 records",
    (m) => m.decodeJsonPoints(new TextDecoder().decode(json), { defaultTime }),
  ],
  ["NDJSON, 5000 lines", (m) => drain(m.decodeNdjsonStream(streamOf(ndjson), { defaultTime }))],
  [
    "CSV, 5000 rows",
    (m) => drain(m.decodeCsvStream(streamOf(csv), { defaultTime, tags: TSBS_TAGS })),
  ],
];

console.log(`load ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}; A = ${other}, B = here`);
for (const [name, run] of cases) {
  let a = Infinity, b = Infinity;
  await run(A);
  await run(B);
  for (let r = 0; r < rounds; r++) {
    a = Math.min(a, await cpuPerRun(() => run(A)));
    b = Math.min(b, await cpuPerRun(() => run(B)));
  }
  console.log(
    `${name.padEnd(32)} A ${a.toFixed(2).padStart(7)} ms  B ${b.toFixed(2).padStart(7)} ms  ` +
      `B/A ${(b / a).toFixed(3)}`,
  );
}
