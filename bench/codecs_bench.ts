/**
 * Codec throughput and size on realistic 1000-value blocks.
 *
 *   deno bench --allow-all bench/codecs_bench.ts
 *
 * Data (seeded, so runs compare): TSBS-like cpu metrics (random walks with normal steps,
 * clamped to [0, 100], at full float precision), a sensor with two decimals, 10 s regular timestamps and the same with
 * millisecond jitter, counters (monotonic integers with bursty increments), flags that rarely
 * flip, and low-cardinality strings. Before the benches run it prints bytes per value and
 * encoding per data set, and the TSBS figure: timestamps + floats per value for one
 * series/field block (`deno task bench:storage-peers` compares the whole data folders of
 * EpochNexus, VictoriaMetrics and InfluxDB on this data and on two others). Deno.bench then
 * reports time per block; values/s = 1000 / (time per block). The "10 fields" benches code all ten TSBS blocks
 * per iteration (steadier figures for the float codec on a loaded machine).
 *
 * Before/after a float codec change, in one sitting: check the previous commit out beside
 * (`git worktree add /tmp/me-before HEAD`) and pass its path; the "cpu10" group then holds the
 * previous encoder and decoder too, and Deno's summary gives the ratios.
 *
 *   FLOATS_BEFORE=/tmp/me-before deno bench -A --filter "10 fields" bench/codecs_bench.ts
 */

import {
  ByteWriter,
  decodeBooleans,
  decodeFloats,
  decodeIntegers,
  decodeStrings,
  decodeTimestamps,
  decodeUnsigned,
  encodeBooleans,
  encodeFloats,
  encodeIntegers,
  encodeStrings,
  encodeTimestamps,
  encodeUnsigned,
  encodingName,
} from "../src/storage/codecs/mod.ts";
import { mulberry32 } from "./_random.ts";

const N = 1000;
const T0 = 1_700_000_000_000;

/** A uniform draw with 53 random bits, like Go's rand.Float64. */
function float53(r: () => number): number {
  return (Math.floor(r() * 2 ** 26) * 2 ** 27 + Math.floor(r() * 2 ** 27)) / 2 ** 53;
}

/** TSBS cpu field: clamped random walk, normal steps (TSBS: CWD(ND(0,1), 0, 100, U*100)). */
function cpuWalk(seed: number): Float64Array {
  const r = mulberry32(seed);
  const out = new Float64Array(N);
  let v = float53(r) * 100;
  for (let i = 0; i < N; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - float53(r))) * Math.cos(2 * Math.PI * float53(r));
    v = Math.min(100, Math.max(0, v + normal));
    out[i] = v;
  }
  return out;
}

const tsRegularMs = Float64Array.from({ length: N }, (_, i) => T0 + i * 10_000);
const tsZeroSub = new Float64Array(N);
const jitter = mulberry32(3);
const tsJitterMs = Float64Array.from(
  { length: N },
  (_, i) => T0 + i * 10_000 + Math.floor(jitter() * 20),
);
const tsJitterSub = Float64Array.from({ length: N }, () => Math.floor(jitter() * 1e6));
const cpu = Array.from({ length: 10 }, (_, k) => cpuWalk(100 + k));
/** A two-decimal sensor: a random walk of hundredths around 21.00 (what FloatsDecimal is for). */
const rt = mulberry32(11);
let hundredths = 2100;
const sensor = Float64Array.from(
  { length: N },
  () => (hundredths += Math.round((rt() - 0.5) * 10)) / 100,
);
const rc = mulberry32(5);
let total = 0;
const counter = Array.from(
  { length: N },
  () => (total += rc() < 0.1 ? Math.floor(rc() * 1_000_000) : Math.floor(rc() * 1500)),
);
const gauge = Array.from({ length: N }, () => Math.floor(rc() * 100));
const rb = mulberry32(7);
let state = false;
const flags = Array.from({ length: N }, () => (rb() < 0.01 ? (state = !state) : state));
const coin = Array.from({ length: N }, () => rb() < 0.5);
const statuses = ["ok", "warning", "critical", "unknown", "maintenance"];
const rs = mulberry32(9);
const lowCard = Array.from({ length: N }, () => statuses[Math.floor(rs() * statuses.length)]);

function encoded(encode: (w: ByteWriter) => number): { bytes: Uint8Array; id: number } {
  const w = new ByteWriter(16 * N);
  const id = encode(w);
  return { bytes: w.finish(), id };
}

const sets = {
  "timestamps 10 s regular": encoded((w) => encodeTimestamps(tsRegularMs, tsZeroSub, w)),
  "timestamps 10 s + jitter (ms, ns)": encoded((w) => encodeTimestamps(tsJitterMs, tsJitterSub, w)),
  "floats TSBS cpu random walk": encoded((w) => encodeFloats(cpu[0], w)),
  "floats sensor, 2 decimals": encoded((w) => encodeFloats(sensor, w)),
  "integers counter": encoded((w) => encodeIntegers(counter, w)),
  "integers gauge 0..99": encoded((w) => encodeIntegers(gauge, w)),
  "unsigned counter": encoded((w) => encodeUnsigned(counter, w)),
  "booleans rare flips": encoded((w) => encodeBooleans(flags, w)),
  "booleans coin flips": encoded((w) => encodeBooleans(coin, w)),
  "strings 5 statuses": encoded((w) => encodeStrings(lowCard, w)),
};

console.log(`\nbytes per value, ${N}-value blocks`);
for (const [name, { bytes, id }] of Object.entries(sets)) {
  console.log(
    `  ${name.padEnd(36)} ${(bytes.length / N).toFixed(3).padStart(7)}  ${encodingName(id)}`,
  );
}
let tsbs = 0;
for (const field of cpu) {
  tsbs += encoded((w) => encodeFloats(field, w)).bytes.length;
}
const ts = sets["timestamps 10 s regular"].bytes.length;
console.log(
  `  TSBS cpu, 10 fields: floats ${(tsbs / (10 * N)).toFixed(3)} B/value; timestamps + floats ` +
    `per series/field block ${((tsbs + 10 * ts) / (10 * N)).toFixed(3)} B/value ` +
    `(VictoriaMetrics 6.26 on disk, all included)\n`,
);

const w = new ByteWriter(16 * N);
function benchEncode(name: string, f: (w: ByteWriter) => unknown): void {
  Deno.bench(`encode ${name} (${N} values)`, { group: name }, () => {
    w.reset();
    f(w);
  });
}
function benchDecode(name: string, f: (b: Uint8Array) => unknown): void {
  const { bytes } = sets[name as keyof typeof sets];
  Deno.bench(`decode ${name} (${N} values)`, { group: name }, () => {
    f(bytes);
  });
}

benchEncode("timestamps 10 s regular", (w) => encodeTimestamps(tsRegularMs, tsZeroSub, w));
benchDecode("timestamps 10 s regular", decodeTimestamps);
benchEncode(
  "timestamps 10 s + jitter (ms, ns)",
  (w) => encodeTimestamps(tsJitterMs, tsJitterSub, w),
);
benchDecode("timestamps 10 s + jitter (ms, ns)", decodeTimestamps);
benchEncode("floats TSBS cpu random walk", (w) => encodeFloats(cpu[0], w));
benchDecode("floats TSBS cpu random walk", decodeFloats);
benchEncode("floats sensor, 2 decimals", (w) => encodeFloats(sensor, w));
benchDecode("floats sensor, 2 decimals", decodeFloats);
const cpuBlocks = cpu.map((field) => encoded((w) => encodeFloats(field, w)).bytes);
Deno.bench(`encode floats TSBS cpu, 10 fields (${10 * N} values)`, { group: "cpu10" }, () => {
  for (const field of cpu) {
    w.reset();
    encodeFloats(field, w);
  }
});
Deno.bench(`decode floats TSBS cpu, 10 fields (${10 * N} values)`, { group: "cpu10" }, () => {
  for (const block of cpuBlocks) decodeFloats(block);
});
const before = Deno.env.get("FLOATS_BEFORE");
if (before) {
  const old = await import(`${before}/src/storage/codecs/mod.ts`);
  const ow = new old.ByteWriter(16 * N);
  Deno.bench(`encode floats TSBS cpu, 10 fields, before`, { group: "cpu10" }, () => {
    for (const field of cpu) {
      ow.reset();
      old.encodeFloats(field, ow);
    }
  });
  const oldBlocks = cpu.map((field) => {
    const w = new old.ByteWriter(16 * N);
    old.encodeFloats(field, w);
    return w.finish();
  });
  Deno.bench(`decode floats TSBS cpu, 10 fields, before`, { group: "cpu10" }, () => {
    for (const block of oldBlocks) old.decodeFloats(block);
  });
}
benchEncode("integers counter", (w) => encodeIntegers(counter, w));
benchDecode("integers counter", decodeIntegers);
benchEncode("unsigned counter", (w) => encodeUnsigned(counter, w));
benchDecode("unsigned counter", decodeUnsigned);
benchEncode("booleans rare flips", (w) => encodeBooleans(flags, w));
benchDecode("booleans rare flips", decodeBooleans);
benchEncode("booleans coin flips", (w) => encodeBooleans(coin, w));
benchDecode("booleans coin flips", decodeBooleans);
benchEncode("strings 5 statuses", (w) => encodeStrings(lowCard, w));
benchDecode("strings 5 statuses", decodeStrings);
