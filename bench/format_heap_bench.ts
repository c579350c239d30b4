/**
 * `deno run -A --v8-flags=--expose-gc bench/format_heap_bench.ts [ROOT/]`: the heap a decoded
 * point keeps while it waits for its write (#15 item 4), in every write format, and the decode
 * CPU per value, for the decoders of the checkout at ROOT (default: this one), so two checkouts
 * compare in one sitting (line_heap_bench.ts does line protocol alone).
 *
 * The data is bench:peers' workload (100 hosts x 10 TSBS tags x 10 float fields), 20 bodies of
 * 5,000 points, said in each format by this checkout: line protocol, a JSON array, NDJSON, CSV,
 * protobuf, and remote_write (a series per host and field, one value per sample: 50,000 samples
 * a body). Every body of a format is decoded with one shared field-layout cache (a server's, per
 * database; a checkout whose decoders take none ignores it) and its points kept; the heap is
 * measured after a forced GC before and after. Printed per format: bytes kept per point and per
 * value, and decode CPU (this thread) per value, best of 3 rounds.
 * @module
 */
import process from "node:process";
import { generateBatches } from "./peers/workload.ts";
import type { Point } from "../src/core/mod.ts";
import { parseLineProtocol } from "../src/ingest/mod.ts";
import { csvBody, jsonRecord, promBody, protobufBody } from "./_format_bodies.ts";

const root = Deno.args[0] ?? new URL("../", import.meta.url).pathname;
type Ingest = typeof import("../src/ingest/mod.ts");
type Core = typeof import("../src/core/mod.ts");
const ingest: Ingest = await import(`${root}src/ingest/mod.ts`);
const core: Core = await import(`${root}src/core/mod.ts`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;

const BODIES = 20;
const { bodies: lpBodies } = generateBatches({ hosts: 100, hours: 6, batchLines: 5000, seed: 1 });
const defaultTime = { ms: 0, subMs: 0 };
const enc = new TextEncoder();
const decoded = lpBodies.slice(0, BODIES).map((body) =>
  parseLineProtocol(body, { defaultTime, precision: "s" }).points
);
const TAGS = decoded[0][0].tags.map((t) => t.key);

const streamOf = (bytes: Uint8Array) => ReadableStream.from([bytes]);
async function drain(source: AsyncIterable<{ points: Point[] }>): Promise<Point[]> {
  const out: Point[] = [];
  for await (const b of source) for (const p of b.points) out.push(p);
  return out;
}

/** A format: its bodies, and how ROOT's decoders turn one into points (with shared layouts). */
interface Format {
  name: string;
  bodies: Uint8Array[];
  valuesPerPoint: number;
  decode(body: Uint8Array, layouts: unknown): Point[] | Promise<Point[]>;
}
// deno-lint-ignore no-explicit-any
type Any = any; // ROOT's options may lack `layouts`: passed untyped
const FORMATS: Format[] = [
  {
    name: "line protocol",
    bodies: lpBodies.slice(0, BODIES),
    valuesPerPoint: 10,
    decode: (body) => {
      const cache = lpCache ??= new ingest.LineProtocolCache();
      return ingest.parseLineProtocol(body, { defaultTime, precision: "s", cache }).points;
    },
  },
  {
    name: "JSON array",
    bodies: decoded.map((points) => enc.encode(`[${points.map(jsonRecord).join(",")}]`)),
    valuesPerPoint: 10,
    decode: (body, layouts) =>
      ingest.decodeJsonPoints(body, { defaultTime, layouts } as Any).points,
  },
  {
    name: "NDJSON",
    bodies: decoded.map((points) => enc.encode(points.map(jsonRecord).join("\n") + "\n")),
    valuesPerPoint: 10,
    decode: (body, layouts) =>
      drain(ingest.decodeNdjsonStream(streamOf(body), { defaultTime, layouts } as Any)),
  },
  {
    name: "CSV",
    bodies: decoded.map(csvBody),
    valuesPerPoint: 10,
    decode: (body, layouts) =>
      drain(ingest.decodeCsvStream(streamOf(body), { defaultTime, tags: TAGS, layouts } as Any)),
  },
  {
    name: "protobuf",
    bodies: decoded.map(protobufBody),
    valuesPerPoint: 10,
    decode: (body, layouts) =>
      ingest.decodeProtobufWrite(body, { defaultTime, layouts } as Any).batch.points,
  },
  {
    name: "remote_write",
    bodies: decoded.map(promBody),
    valuesPerPoint: 1,
    decode: (body, layouts) =>
      (ingest.decodePromWrite as (b: Uint8Array, o: Any) => { batch: { points: Point[] } })(
        body,
        { layouts },
      ).batch.points,
  },
];
let lpCache: InstanceType<Ingest["LineProtocolCache"]> | undefined;

console.log(`${root}: load ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
for (const format of FORMATS) {
  const layouts = new core.FieldLayouts();
  for (const body of format.bodies.slice(0, 4)) await format.decode(body, layouts); // warm
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const kept: Point[][] = [];
  for (const body of format.bodies) kept.push(await format.decode(body, layouts));
  gc();
  const points = kept.reduce((n, p) => n + p.length, 0);
  const perPoint = (Deno.memoryUsage().heapUsed - before) / points;
  kept.length = 0;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = threadCpu();
    for (const body of format.bodies) await format.decode(body, layouts);
    const d = threadCpu(start);
    best = Math.min(best, (d.user + d.system) / points);
  }
  console.log(
    `${format.name.padEnd(14)} ${perPoint.toFixed(0).padStart(5)} B per point ` +
      `(${(perPoint / format.valuesPerPoint).toFixed(1)} B per value, ${points} points), ` +
      `decode ${(1000 * best / format.valuesPerPoint).toFixed(0)} ns CPU per value`,
  );
}
