/**
 * Segment block decoding (`decodeBlock`: CRC-32C, timestamps, values, the reader's checks) on
 * 1000-value blocks, without the times memo (every block decodes its timestamps: the case where
 * the reader's own checks cost the most next to the codecs).
 *
 *   deno bench --allow-all bench/segment_block_bench.ts
 *
 * Before/after a change of the block read path, in one sitting: put the previous commit's tree
 * beside (`git archive HEAD | tar -x -C /tmp/before`) and pass its path; each group then holds
 * the previous decodeBlock too, and Deno's summary gives the ratios.
 *
 *   BLOCKS_BEFORE=/tmp/before deno bench --allow-all bench/segment_block_bench.ts
 */
import { FieldType, type FieldValue } from "../src/core/mod.ts";
import type { ColumnView } from "../src/storage/column.ts";
import {
  decodeBlock,
  encodeSegment,
  openIndex,
  SEGMENT_FOOTER_BYTES,
  SEGMENT_VERSION,
} from "../src/storage/segment/mod.ts";
import { mulberry32 } from "./_random.ts";

const VALUES = 10_000;
const T0 = 1_700_000_000_000;

const r = mulberry32(42);
const regularMs = Float64Array.from({ length: VALUES }, (_, i) => T0 + i * 10_000);
const zeroSub = new Float64Array(VALUES);
const jitterMs = Float64Array.from(
  { length: VALUES },
  (_, i) => T0 + i * 10_000 + Math.floor(r() * 20),
);
const jitterSub = Float64Array.from({ length: VALUES }, () => Math.floor(r() * 1e6));
let walk = 50;
const cpu = Float64Array.from(
  { length: VALUES },
  () => (walk = Math.min(100, Math.max(0, walk + (r() - 0.5) * 2))),
);
let total = 0;
const counter = Array.from({ length: VALUES }, () => (total += Math.floor(r() * 1500)));
let state = false;
const flags = Array.from({ length: VALUES }, () => (r() < 0.01 ? (state = !state) : state));

function column(
  type: FieldType,
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  values: Float64Array | FieldValue[],
): ColumnView {
  return { type, length: VALUES, timesMs, timesSubMs, values };
}

/** One series, one field, written as a segment: the field's blocks and the file's bytes. */
function blocksOf(col: ColumnView) {
  const bytes = encodeSegment([{
    key: "m",
    measurement: "m",
    tags: [],
    fields: new Map([["f", col]]),
  }], { level: 0 });
  const view = new DataView(bytes.buffer);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const index = openIndex(SEGMENT_VERSION, bytes.subarray(view.getFloat64(footer, true), footer));
  const field = index.lookup("m")!.fields.get("f")!;
  return field.blocks.map((meta) => ({
    meta,
    type: field.type,
    bytes: bytes.subarray(meta.offset, meta.offset + 4 + meta.length),
  }));
}

const sets = {
  "floats, 10 s regular times": blocksOf(column(FieldType.Float, regularMs, zeroSub, cpu)),
  "booleans, 10 s regular times": blocksOf(column(FieldType.Boolean, regularMs, zeroSub, flags)),
  "integers, jittered times (ms, ns)": blocksOf(
    column(FieldType.Integer, jitterMs, jitterSub, counter),
  ),
};

type Decode = typeof decodeBlock;
const before = Deno.env.get("BLOCKS_BEFORE");
const decodeBefore: Decode | undefined = before === undefined
  ? undefined
  : (await import(`${before}/src/storage/segment/reader.ts`)).decodeBlock;

for (const [name, blocks] of Object.entries(sets)) {
  const run = (decode: Decode) => () => {
    for (const b of blocks) decode("bench.seg", b.meta, b.type, b.bytes);
  };
  Deno.bench(
    `decodeBlock ${name} (${VALUES} values)`,
    { group: name, baseline: true },
    run(decodeBlock),
  );
  if (decodeBefore) {
    Deno.bench(
      `before: decodeBlock ${name} (${VALUES} values)`,
      { group: name },
      run(decodeBefore),
    );
  }
}
