/**
 * What a cold encoding could gain over the hot codecs, on the storage benches' data
 * (bench/storage_data.ts: 100 hosts × 10 float fields, one point per 10 s, 1 h shard groups,
 * so 360 values per column per group): bytes per value of the float payloads, and the time to
 * decode them, for
 *
 * - `hot`: the hot codec (Gorilla XOR, or decimal bit-packing when the values are decimals);
 * - `hot+deflate` / `hot+zstd`: a general-purpose compressor over each hot block (the cold tier
 *   today is the first);
 * - `group+zstd`: zstd over all the hot blocks of a group at once (the most context a
 *   compressor over encoded blocks can have, no random access left);
 * - `shuffle+zstd` / `shuffle+brotli`: each column re-encoded as the XOR of consecutive values'
 *   bits, byte planes transposed (most significant first), then the compressor;
 * - `decimal+zstd`: columns of decimals as zigzag varint deltas of the scaled integers, then
 *   zstd (columns that are not decimals fall back to shuffle+zstd).
 *
 *   deno run -A bench/cold_codec_bench.ts   # HOURS=2 WORKLOADS=full,rounded RUNS=3 COLUMNS=1000
 *
 * zstd and brotli are node:zlib's (built into Deno, no dependency).
 * @module
 */
import * as zlib from "node:zlib";
import { deflateSync, inflateSync } from "fflate";
import { ByteWriter, decodeFloats, encodeFloats } from "../src/storage/codecs/mod.ts";
import { cpuData, FIELDS, HOSTS, HOURS } from "./storage_data.ts";

const WORKLOADS = (Deno.env.get("WORKLOADS") ?? "full,rounded").split(",");
const RUNS = Number(Deno.env.get("RUNS") ?? "3");
const PER_GROUP = 360;
/** Columns of each group measured (the first ones; 1000 = every host's every field). */
const COLUMNS = Number(Deno.env.get("COLUMNS") ?? "1000");
// deno-lint-ignore no-explicit-any
const z = zlib as any;
const ZSTD_LEVEL = Number(Deno.env.get("ZSTD_LEVEL") ?? "19");
const BROTLI_QUALITY = Number(Deno.env.get("BROTLI_QUALITY") ?? "11");

const zstd = (b: Uint8Array) =>
  new Uint8Array(
    z.zstdCompressSync(b, { params: { [z.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }),
  );
const unzstd = (b: Uint8Array) => new Uint8Array(z.zstdDecompressSync(b));
const brotli = (b: Uint8Array) =>
  new Uint8Array(
    zlib.brotliCompressSync(b, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY },
    }),
  );
const unbrotli = (b: Uint8Array) => new Uint8Array(zlib.brotliDecompressSync(b));

/** Columns (one per host and field) of each group: `columns[group][host * FIELDS + field]`. */
function columnsOf(round: boolean): Float64Array[][] {
  const groups: Float64Array[][] = [];
  let step = 0;
  for (const points of cpuData()) {
    const g = Math.floor(step / PER_GROUP), i = step % PER_GROUP;
    if (!groups[g]) {
      groups[g] = Array.from({ length: HOSTS * FIELDS.length }, () => new Float64Array(PER_GROUP));
    }
    points.forEach((p, h) =>
      p.fields.forEach((f, k) => {
        const v = f.value as number;
        groups[g][h * FIELDS.length + k][i] = round ? Math.round(v * 100) / 100 : v;
      })
    );
    step++;
  }
  return groups;
}

function hot(column: Float64Array): Uint8Array {
  const out = new ByteWriter(4096);
  encodeFloats(column, out);
  return out.finish();
}

/** XOR of consecutive values' bits, byte planes transposed (plane 7, the sign and exponent, first). */
function shuffle(column: Float64Array): Uint8Array {
  const bytes = new Uint8Array(column.buffer, column.byteOffset, column.length * 8);
  const n = column.length, out = new Uint8Array(n * 8);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < 8; b++) {
      const x = bytes[i * 8 + b] ^ (i > 0 ? bytes[(i - 1) * 8 + b] : 0);
      out[(7 - b) * n + i] = x;
    }
  }
  return out;
}

function unshuffle(planes: Uint8Array): Float64Array {
  const n = planes.length / 8, out = new Float64Array(n);
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < 8; b++) {
      bytes[i * 8 + b] = planes[(7 - b) * n + i] ^ (i > 0 ? bytes[(i - 1) * 8 + b] : 0);
    }
  }
  return out;
}

/** The scale (10^k, k ≤ 6) making every value an exact integer, or 0. */
function decimalScale(column: Float64Array): number {
  for (let k = 0, scale = 1; k <= 6; k++, scale *= 10) {
    if (
      column.every((v) =>
        Number.isSafeInteger(Math.round(v * scale)) &&
        Math.round(v * scale) / scale === v
      )
    ) return scale;
  }
  return 0;
}

function decimalDeltas(column: Float64Array, scale: number): Uint8Array {
  const out = new ByteWriter(column.length * 2);
  out.uvarint(scale);
  let prev = 0;
  for (const v of column) {
    const n = Math.round(v * scale);
    out.varint(n - prev);
    prev = n;
  }
  return out.finish();
}

interface Variant {
  name: string;
  encode(column: Float64Array): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

const VARIANTS: Variant[] = [
  { name: "hot", encode: hot, decode: decodeFloats },
  {
    name: "hot+deflate",
    encode: (c) => deflateSync(hot(c), { level: 9 }),
    decode: (b) => decodeFloats(inflateSync(b)),
  },
  { name: "hot+zstd", encode: (c) => zstd(hot(c)), decode: (b) => decodeFloats(unzstd(b)) },
  { name: "shuffle+zstd", encode: (c) => zstd(shuffle(c)), decode: (b) => unshuffle(unzstd(b)) },
  {
    name: "shuffle+brotli",
    encode: (c) => brotli(shuffle(c)),
    decode: (b) => unshuffle(unbrotli(b)),
  },
  {
    name: "decimal+zstd",
    encode: (c) => {
      const scale = decimalScale(c);
      return zstd(scale ? decimalDeltas(c, scale) : shuffle(c));
    },
    decode: (b) => unzstd(b), // decoding the varints is cheaper than the decompression
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log(
  `HOURS=${HOURS} (${
    Math.min(COLUMNS, HOSTS * FIELDS.length)
  } columns × ${PER_GROUP} values per group)`,
);
console.log("workload  variant          bytes/value  vs hot  decode ns/value");
for (const workload of WORKLOADS) {
  const groups = columnsOf(workload === "rounded").map((g) => g.slice(0, COLUMNS));
  const values = groups.length * groups[0].length * PER_GROUP;
  let hotBytes = 0;
  for (const variant of VARIANTS) {
    const encoded = groups.flatMap((g) => g.map((c) => variant.encode(c)));
    const bytes = encoded.reduce((n, b) => n + b.length, 0);
    if (variant.name === "hot") hotBytes = bytes;
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      for (const b of encoded) variant.decode(b);
      times.push(performance.now() - t);
    }
    console.log(
      `${workload.padEnd(9)} ${variant.name.padEnd(16)} ${
        (bytes / values).toFixed(3).padStart(11)
      }` +
        `  ${(bytes / hotBytes).toFixed(3)}  ${
          (median(times) * 1e6 / values).toFixed(1).padStart(8)
        }`,
    );
  }
  // A compressor over all the hot blocks of a group at once (bytes only).
  let grouped = 0;
  for (const g of groups) {
    const all = g.map(hot);
    const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of all) joined.set(b, at), at += b.length;
    grouped += zstd(joined).length;
  }
  console.log(
    `${workload.padEnd(9)} ${"group+zstd".padEnd(16)} ${
      (grouped / values).toFixed(3).padStart(11)
    }` +
      `  ${(grouped / hotBytes).toFixed(3)}         -`,
  );
}
