/**
 * Builds an immutable segment file: columnar per series and field, blocks of up to N values,
 * each block CRC-32C checksummed and summarised in a footer index. Layout: FORMAT.md.
 * @module
 */
import { crc32c, FieldType, type FieldValue, type Tag } from "../../core/mod.ts";
import {
  ByteWriter,
  computeBlockStats,
  encodeBooleans,
  encodeFloats,
  encodeIntegers,
  encodeStrings,
  encodeTimestamps,
  encodeUnsigned,
} from "../codecs/mod.ts";
import type { ColumnView } from "../column.ts";
import { writeString } from "./_text.ts";
import { writeFieldsV3 } from "./block_entry.ts";
import { compareHashes, seriesKeyHash } from "./series_hash.ts";
import type { BlockMeta, SegmentField } from "./series_index.ts";

/** "ENSG": the first four bytes of a segment file and the last four of its footer. */
export const SEGMENT_MAGIC = [0x45, 0x4e, 0x53, 0x47] as const;
/**
 * The segment format version written by this code (versions 1 and 2 are still read). Version 3
 * has the layout of version 2 with compact block entries (block_entry.ts).
 */
export const SEGMENT_VERSION = 3;
/** Bytes before the hash table in a version 2 or 3 index: N, M, value count, directory length. */
export const INDEX_V2_HEADER_BYTES = 20;
/** Header bytes: magic, version, level, 2 reserved. */
export const SEGMENT_HEADER_BYTES = 8;
/** Footer bytes: f64 index offset, u32 index length, u32 index crc, u32 reserved, magic. */
export const SEGMENT_FOOTER_BYTES = 24;
/** Values per block unless configured. */
export const DEFAULT_BLOCK_VALUES = 1000;

/** Header byte 6: how block payloads are stored (0 in every hot segment). */
export const BlockCompression = { None: 0, Deflate: 1 } as const;

/** One series to write: its identity and its fields as sorted, deduplicated columns. */
export interface SegmentSeriesInput {
  key: string;
  measurement: string;
  tags: readonly Tag[];
  fields: Map<string, ColumnView>;
  /**
   * Optional: whether any field has a value, answered without building `fields` (a head series
   * makes its views on each read of `fields`, so the writer reads them once, when it encodes).
   */
  hasValues?(): boolean;
  /**
   * Optional: reads the fields when the series is encoded, instead of `fields` (compaction: one
   * series decoded at a time, not the whole segment). An empty map skips the series. Only
   * {@linkcode encodeSegmentYielding} reads it.
   */
  load?(): Promise<Map<string, ColumnView>>;
}

/** Options of {@linkcode encodeSegment}. */
export interface EncodeSegmentOptions {
  /** Compaction level (0 for a flushed head). */
  level: number;
  /** @default {1000} */
  blockValues?: number;
  /**
   * Compresses each block payload (cold segments: DEFLATE); the checksum and the index's length
   * are the stored bytes'. Header byte 6 says which (BlockCompression). @default {none}
   */
  compress?: { id: number; apply: (payload: Uint8Array) => Uint8Array };
}

function encodeValues(column: ColumnView, from: number, to: number, out: ByteWriter): void {
  const v = column.values;
  switch (column.type) {
    case FieldType.Float:
      encodeFloats((v as Float64Array).subarray(from, to), out);
      return;
    case FieldType.Integer:
      encodeIntegers(sliceOf(v, from, to) as (number | bigint)[], out);
      return;
    case FieldType.Unsigned:
      encodeUnsigned(sliceOf(v, from, to) as (number | bigint)[], out);
      return;
    case FieldType.String:
      encodeStrings(sliceOf(v, from, to) as string[], out);
      return;
    case FieldType.Boolean:
      encodeBooleans(sliceOf(v, from, to) as boolean[], out);
      return;
    default:
      throw new Error(`BUG: encodeValues: unknown field type ${column.type}`);
  }
}

/** Indexes of the first value equal to `min` and to `max` (NaN-only blocks: index 0). */
function extremeTimes(
  values: Float64Array | FieldValue[],
  min: FieldValue,
  max: FieldValue,
): [number, number] {
  let iMin = -1, iMax = -1;
  for (let i = 0; i < values.length && (iMin < 0 || iMax < 0); i++) {
    const v = values[i];
    // deno-lint-ignore eqeqeq
    if (iMin < 0 && v == min) iMin = i; // number vs bigint compare by value
    // deno-lint-ignore eqeqeq
    if (iMax < 0 && v == max) iMax = i;
  }
  return [Math.max(0, iMin), Math.max(0, iMax)];
}

function sliceOf(v: Float64Array | FieldValue[], from: number, to: number) {
  return v instanceof Float64Array ? v.subarray(from, to) : v.slice(from, to);
}

/**
 * Encodes a whole segment file in memory. Series are written by measurement then key, fields
 * in name order; every column must be sorted by time and deduplicated (a head view is).
 * @throws {Error} `BUG:` on unsorted columns (from the timestamp codec).
 */
export function encodeSegment(
  series: readonly SegmentSeriesInput[],
  options: EncodeSegmentOptions,
): Uint8Array {
  if (series.some((s) => s.load !== undefined)) {
    throw new Error("BUG: encodeSegment: a series to load needs encodeSegmentYielding");
  }
  const steps = encodeSteps(series, options);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/** Options of {@linkcode encodeSegmentYielding}. */
export interface EncodeYieldingOptions extends EncodeSegmentOptions {
  /** Series encoded between two turns of the event loop. @default {500} */
  yieldEvery?: number;
  /** Called between slices instead of a bare event-loop turn (a CPU budget sleeps there). */
  pause?: () => Promise<void>;
  /** Stops the encoding at the next slice (it rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * {@linkcode encodeSegment} that gives the event loop a turn every `yieldEvery` series, so that
 * WAL appends (and their acknowledgements) go on while a large head is encoded.
 * @throws the signal's reason once `signal` is aborted.
 */
export async function encodeSegmentYielding(
  series: readonly SegmentSeriesInput[],
  options: EncodeYieldingOptions,
): Promise<Uint8Array> {
  const steps = encodeSteps(series, options, options.yieldEvery ?? 500);
  const pause = options.pause ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
  let step = steps.next();
  while (!step.done) {
    options.signal?.throwIfAborted();
    if (step.value !== undefined) {
      step = steps.next(await step.value.load!());
      continue;
    }
    await pause();
    options.signal?.throwIfAborted();
    step = steps.next();
  }
  return step.value;
}

/** What the encoder yields: a turn of the event loop, or a series whose fields it needs. */
type EncodeStep = Generator<
  SegmentSeriesInput | undefined,
  Uint8Array,
  Map<string, ColumnView> | undefined
>;

function* encodeSteps(
  series: readonly SegmentSeriesInput[],
  options: EncodeSegmentOptions,
  yieldEvery = Infinity,
): EncodeStep {
  const blockValues = options.blockValues ?? DEFAULT_BLOCK_VALUES;
  const out = new ByteWriter(1 << 16);
  const compress = options.compress;
  out.bytes(
    new Uint8Array([...SEGMENT_MAGIC, SEGMENT_VERSION, options.level, compress?.id ?? 0, 0]),
  );
  // Grouped by measurement, then by key: a measurement's entries form one byte range.
  const live = series.filter((s) =>
    s.load !== undefined ||
    (s.hasValues ? s.hasValues() : [...s.fields.values()].some((c) => c.length > 0))
  );
  live.sort((a, b) =>
    a.measurement !== b.measurement
      ? (a.measurement < b.measurement ? -1 : 1)
      : a.key < b.key
      ? -1
      : a.key > b.key
      ? 1
      : 0
  );
  const n = live.length;
  const entries = new ByteWriter(1 << 12);
  const directory = new ByteWriter(256);
  const hashes = new Uint32Array(2 * n);
  const entryOffsets = new Uint32Array(n);
  const hash = new Uint32Array(2);
  const fieldBytes = new ByteWriter(1 << 10);
  const block = new ByteWriter(1 << 14);
  let measurements = 0, values = 0, runStart = 0, runOffset = 0;
  // Entries written (a series loaded empty is skipped), and the measurement of the open run.
  let w = 0;
  let runMeasurement: string | undefined;
  const endRun = () => {
    writeString(directory, runMeasurement!);
    directory.uvarint(w - runStart);
    directory.uvarint(runOffset);
    directory.uvarint(entries.length - runOffset);
    measurements++;
    runStart = w;
    runOffset = entries.length;
  };
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % yieldEvery === 0) yield;
    let s = live[i];
    if (s.load !== undefined) {
      const fields = yield s;
      if (fields === undefined) throw new Error("BUG: encodeSteps: a series loaded nothing");
      if (![...fields.values()].some((c) => c.length > 0)) continue;
      s = { key: s.key, measurement: s.measurement, tags: s.tags, fields };
    }
    if (runMeasurement !== undefined && s.measurement !== runMeasurement) endRun();
    runMeasurement = s.measurement;
    seriesKeyHash(s.key, hash);
    hashes[2 * w] = hash[0];
    hashes[2 * w + 1] = hash[1];
    entryOffsets[w] = entries.length;
    writeString(entries, s.key);
    entries.uvarint(s.tags.length);
    for (const t of s.tags) {
      writeString(entries, t.key);
      writeString(entries, t.value);
    }
    fieldBytes.reset();
    values += writeFields(s, fieldBytes, out, block, blockValues, compress?.apply);
    entries.uvarint(fieldBytes.length);
    entries.bytes(fieldBytes.view());
    w++;
  }
  if (runMeasurement !== undefined) endRun();
  if (entries.length > 0xffffffff) {
    throw new RangeError(`segment index of ${entries.length} bytes exceeds 4 GiB`);
  }
  // The hash table sorted by (hi, lo), then each hash's entry offset in the same order.
  const order = new Uint32Array(w);
  for (let i = 0; i < w; i++) order[i] = i;
  order.sort((a, b) =>
    compareHashes(hashes[2 * a], hashes[2 * a + 1], hashes[2 * b], hashes[2 * b + 1])
  );
  const index = new ByteWriter(INDEX_V2_HEADER_BYTES + 12 * w + directory.length + entries.length);
  index.u32(w);
  index.u32(measurements);
  index.f64(values);
  index.u32(directory.length);
  for (let i = 0; i < w; i++) {
    index.u32(hashes[2 * order[i]]);
    index.u32(hashes[2 * order[i] + 1]);
  }
  for (let i = 0; i < w; i++) index.u32(entryOffsets[order[i]]);
  index.bytes(directory.view());
  index.bytes(entries.view());
  const indexOffset = out.length;
  const indexBytes = index.view();
  out.bytes(indexBytes);
  out.f64(indexOffset);
  out.u32(indexBytes.length);
  out.u32(crc32c(indexBytes));
  out.u32(0);
  out.bytes(new Uint8Array(SEGMENT_MAGIC));
  return out.finish();
}

/**
 * Writes a series' blocks to `out` and their index part (field count, then each field with its
 * blocks' statistics, version 3: block_entry.ts) to `index`; returns the values written.
 */
function writeFields(
  s: SegmentSeriesInput,
  index: ByteWriter,
  out: ByteWriter,
  block: ByteWriter,
  blockValues: number,
  compress?: (payload: Uint8Array) => Uint8Array,
): number {
  let values = 0;
  const columns = [...s.fields.entries()].filter(([, c]) => c.length > 0).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
  );
  const fields: [string, SegmentField][] = [];
  for (const [name, column] of columns) {
    values += column.length;
    const blocks: BlockMeta[] = [];
    for (let from = 0; from < column.length; from += blockValues) {
      const to = Math.min(column.length, from + blockValues);
      block.reset();
      block.u32(0); // the timestamps block's length, patched below
      const timesMs = column.timesMs.subarray(from, to);
      const timesSubMs = column.timesSubMs.subarray(from, to);
      encodeTimestamps(timesMs, timesSubMs, block);
      const tsLength = block.length - 4;
      encodeValues(column, from, to, block);
      const encoded = block.view();
      new DataView(encoded.buffer, encoded.byteOffset, 4).setUint32(0, tsLength, true);
      const payload = compress ? compress(encoded) : encoded;
      const offset = out.length;
      out.u32(crc32c(payload));
      out.bytes(payload);
      const values = sliceOf(column.values, from, to);
      const stats = computeBlockStats({ type: column.type, timesMs, timesSubMs, values });
      const meta: BlockMeta = {
        offset,
        length: payload.length,
        count: stats.count,
        minTimeMs: stats.minTimeMs,
        minTimeSubMs: stats.minTimeSubMs,
        maxTimeMs: stats.maxTimeMs,
        maxTimeSubMs: stats.maxTimeSubMs,
        first: stats.first,
        last: stats.last,
      };
      if (stats.sum !== undefined) {
        meta.min = stats.min;
        meta.max = stats.max;
        meta.sum = stats.sum;
        // The earliest times of the minimum and the maximum (selectors report them).
        const at = extremeTimes(values, stats.min!, stats.max!);
        meta.minTimeOfMin = { ms: timesMs[at[0]], subMs: timesSubMs[at[0]] };
        meta.minTimeOfMax = { ms: timesMs[at[1]], subMs: timesSubMs[at[1]] };
      }
      blocks.push(meta);
    }
    fields.push([name, { type: column.type, blocks }]);
  }
  writeFieldsV3(index, fields);
  return values;
}
