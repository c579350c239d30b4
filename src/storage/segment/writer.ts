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

/** "ENSG": the first four bytes of a segment file and the last four of its footer. */
export const SEGMENT_MAGIC = [0x45, 0x4e, 0x53, 0x47] as const;
/** The segment format version written by this code. */
export const SEGMENT_VERSION = 1;
/** Header bytes: magic, version, level, 2 reserved. */
export const SEGMENT_HEADER_BYTES = 8;
/** Footer bytes: f64 index offset, u32 index length, u32 index crc, u32 reserved, magic. */
export const SEGMENT_FOOTER_BYTES = 24;
/** Values per block unless configured. */
export const DEFAULT_BLOCK_VALUES = 1000;

/** One series to write: its identity and its fields as sorted, deduplicated columns. */
export interface SegmentSeriesInput {
  key: string;
  measurement: string;
  tags: readonly Tag[];
  fields: Map<string, ColumnView>;
}

/** Options of {@linkcode encodeSegment}. */
export interface EncodeSegmentOptions {
  /** Compaction level (0 for a flushed head). */
  level: number;
  /** @default {1000} */
  blockValues?: number;
}

/** A typed value in the index: numbers as f64, bigints as their decimal text. */
export function writeValue(out: ByteWriter, type: FieldType, v: FieldValue): void {
  switch (type) {
    case FieldType.Float:
      out.f64(v as number);
      return;
    case FieldType.Integer:
    case FieldType.Unsigned:
      if (typeof v === "bigint") {
        out.u8(1);
        writeString(out, v.toString());
      } else {
        out.u8(0);
        out.f64(v as number);
      }
      return;
    case FieldType.String:
      writeString(out, v as string);
      return;
    case FieldType.Boolean:
      out.u8(v ? 1 : 0);
      return;
    default:
      throw new Error(`BUG: writeValue: unknown field type ${type}`);
  }
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
 * Encodes a whole segment file in memory. Series are written in key order, fields in name
 * order; every column must be sorted by time and deduplicated (a head view is).
 * @throws {Error} `BUG:` on unsorted columns (from the timestamp codec).
 */
export function encodeSegment(
  series: readonly SegmentSeriesInput[],
  options: EncodeSegmentOptions,
): Uint8Array {
  const steps = encodeSteps(series, options);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * {@linkcode encodeSegment} that gives the event loop a turn every `yieldEvery` series, so that
 * WAL appends (and their acknowledgements) go on while a large head is encoded.
 */
export async function encodeSegmentYielding(
  series: readonly SegmentSeriesInput[],
  options: EncodeSegmentOptions & { yieldEvery?: number },
): Promise<Uint8Array> {
  const steps = encodeSteps(series, options, options.yieldEvery ?? 500);
  let step = steps.next();
  while (!step.done) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    step = steps.next();
  }
  return step.value;
}

function* encodeSteps(
  series: readonly SegmentSeriesInput[],
  options: EncodeSegmentOptions,
  yieldEvery = Infinity,
): Generator<void, Uint8Array, void> {
  const blockValues = options.blockValues ?? DEFAULT_BLOCK_VALUES;
  const out = new ByteWriter(1 << 16);
  out.bytes(new Uint8Array([...SEGMENT_MAGIC, SEGMENT_VERSION, options.level, 0, 0]));
  const index = new ByteWriter(1 << 12);
  const sorted = [...series].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const live = sorted.filter((s) => [...s.fields.values()].some((c) => c.length > 0));
  index.uvarint(live.length);
  const block = new ByteWriter(1 << 14);
  let done = 0;
  for (const s of live) {
    if (++done % yieldEvery === 0) yield;
    writeString(index, s.key);
    writeString(index, s.measurement);
    index.uvarint(s.tags.length);
    for (const t of s.tags) {
      writeString(index, t.key);
      writeString(index, t.value);
    }
    const fields = [...s.fields.entries()].filter(([, c]) => c.length > 0).sort((a, b) =>
      a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
    );
    index.uvarint(fields.length);
    for (const [name, column] of fields) {
      writeString(index, name);
      index.u8(column.type);
      const blocks = Math.ceil(column.length / blockValues);
      index.uvarint(blocks);
      for (let from = 0; from < column.length; from += blockValues) {
        const to = Math.min(column.length, from + blockValues);
        block.reset();
        block.u32(0); // the timestamps block's length, patched below
        const timesMs = column.timesMs.subarray(from, to);
        const timesSubMs = column.timesSubMs.subarray(from, to);
        encodeTimestamps(timesMs, timesSubMs, block);
        const tsLength = block.length - 4;
        encodeValues(column, from, to, block);
        const payload = block.view();
        new DataView(payload.buffer, payload.byteOffset, 4).setUint32(0, tsLength, true);
        const offset = out.length;
        out.u32(crc32c(payload));
        out.bytes(payload);
        const stats = computeBlockStats({
          type: column.type,
          timesMs,
          timesSubMs,
          values: sliceOf(column.values, from, to),
        });
        index.uvarint(offset);
        index.uvarint(payload.length);
        index.uvarint(stats.count);
        index.f64(stats.minTimeMs);
        index.uvarint(stats.minTimeSubMs);
        index.f64(stats.maxTimeMs);
        index.uvarint(stats.maxTimeSubMs);
        writeValue(index, column.type, stats.first);
        writeValue(index, column.type, stats.last);
        if (stats.sum !== undefined) {
          writeValue(index, column.type, stats.min!);
          writeValue(index, column.type, stats.max!);
          // An integer sum may leave int64: always written as a decimal when a bigint.
          writeValue(
            index,
            column.type === FieldType.Float ? FieldType.Float : FieldType.Integer,
            stats.sum,
          );
          // The earliest times of the minimum and the maximum (selectors report them).
          const at = extremeTimes(sliceOf(column.values, from, to), stats.min!, stats.max!);
          index.f64(timesMs[at[0]]);
          index.uvarint(timesSubMs[at[0]]);
          index.f64(timesMs[at[1]]);
          index.uvarint(timesSubMs[at[1]]);
        }
      }
    }
  }
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
