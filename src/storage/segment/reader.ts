/**
 * Reads an immutable segment file: opening loads only the header and the footer index (no block
 * is decoded); blocks are read on demand, their CRC-32C checked, and decoded through a bounded
 * {@linkcode BlockCache}. A damaged block or index raises `CorruptionError(file, offset)`; a
 * damaged block is never returned as data.
 * @module
 */
import {
  CorruptionError,
  crc32c,
  FieldType,
  type FieldValue,
  type FileHandle,
  type FileSystem,
  type Tag,
} from "../../core/mod.ts";
import {
  ByteReader,
  CodecError,
  decodeBooleans,
  decodeFloats,
  decodeIntegers,
  decodeStrings,
  decodeTimestamps,
  decodeUnsigned,
} from "../codecs/mod.ts";
import type { ColumnView } from "../column.ts";
import type { BlockCache } from "./block_cache.ts";
import { readString } from "./_text.ts";
import {
  SEGMENT_FOOTER_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
} from "./writer.ts";

/** Where a block sits and what it holds (from the footer index). */
export interface BlockMeta {
  /** File offset of the block's CRC. */
  offset: number;
  /** Payload bytes after the CRC. */
  length: number;
  count: number;
  minTimeMs: number;
  minTimeSubMs: number;
  maxTimeMs: number;
  maxTimeSubMs: number;
  first: FieldValue;
  last: FieldValue;
  min?: FieldValue;
  max?: FieldValue;
  sum?: number | bigint;
  /** Numbers only: the earliest times at which the minimum and the maximum occur. */
  minTimeOfMin?: { ms: number; subMs: number };
  minTimeOfMax?: { ms: number; subMs: number };
}

/** One field of one series in a segment. */
export interface SegmentField {
  type: FieldType;
  blocks: BlockMeta[];
}

/** One series in a segment. */
export interface SegmentSeries {
  key: string;
  measurement: string;
  tags: readonly Tag[];
  fields: Map<string, SegmentField>;
}

/** Reads a value written by `writeValue`. */
export function readValue(r: ByteReader, type: FieldType): FieldValue {
  switch (type) {
    case FieldType.Float:
      return r.f64("float");
    case FieldType.Integer:
    case FieldType.Unsigned: {
      const tag = r.u8("integer tag");
      if (tag === 0) return r.f64("integer");
      if (tag !== 1) r.fail(`bad integer tag ${tag}`);
      const text = readString(r);
      if (!/^-?\d+$/.test(text)) r.fail(`bad integer text ${JSON.stringify(text)}`);
      return BigInt(text);
    }
    case FieldType.String:
      return readString(r);
    case FieldType.Boolean:
      return r.u8("boolean") === 1;
    default:
      return r.fail(`unknown field type ${type}`);
  }
}

/** Parses a footer index (already checksummed). */
export function parseIndex(bytes: Uint8Array): Map<string, SegmentSeries> {
  const r = new ByteReader(bytes);
  const out = new Map<string, SegmentSeries>();
  const seriesCount = r.uvarint("series count");
  for (let s = 0; s < seriesCount; s++) {
    const key = readString(r);
    const measurement = readString(r);
    const tagCount = r.uvarint("tag count");
    const tags: Tag[] = [];
    for (let t = 0; t < tagCount; t++) tags.push({ key: readString(r), value: readString(r) });
    const fieldCount = r.uvarint("field count");
    const fields = new Map<string, SegmentField>();
    for (let f = 0; f < fieldCount; f++) {
      const name = readString(r);
      const type = r.u8("field type") as FieldType;
      if (type < 1 || type > 5) r.fail(`unknown field type ${type}`);
      const blockCount = r.uvarint("block count");
      const blocks: BlockMeta[] = [];
      for (let b = 0; b < blockCount; b++) {
        const meta: BlockMeta = {
          offset: r.uvarint("block offset"),
          length: r.uvarint("block length"),
          count: r.uvarint("block count"),
          minTimeMs: r.f64("min time"),
          minTimeSubMs: r.uvarint("min time sub"),
          maxTimeMs: r.f64("max time"),
          maxTimeSubMs: r.uvarint("max time sub"),
          first: readValue(r, type),
          last: readValue(r, type),
        };
        if (type === FieldType.Float || type === FieldType.Integer || type === FieldType.Unsigned) {
          meta.min = readValue(r, type);
          meta.max = readValue(r, type);
          meta.sum = readValue(r, type === FieldType.Float ? type : FieldType.Integer) as
            | number
            | bigint;
          meta.minTimeOfMin = { ms: r.f64("time of min"), subMs: r.uvarint("time of min sub") };
          meta.minTimeOfMax = { ms: r.f64("time of max"), subMs: r.uvarint("time of max sub") };
        }
        blocks.push(meta);
      }
      fields.set(name, { type, blocks });
    }
    out.set(key, { key, measurement, tags, fields });
  }
  r.expectEnd("segment index");
  return out;
}

async function readExactly(handle: FileHandle, position: number, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  await handle.seek(position, "start");
  let got = 0;
  while (got < n) {
    const r = await handle.read(out.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return got === n ? out : out.subarray(0, got);
}

/** An open segment file. */
export class SegmentReader {
  readonly #handle: FileHandle;
  #lock: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Series key -> series. */
  readonly series: Map<string, SegmentSeries>;
  readonly #byMeasurement = new Map<string, SegmentSeries[]>();
  /** Values stored (sum of block counts). */
  readonly valueCount: number;

  private constructor(
    readonly path: string,
    readonly level: number,
    readonly sizeBytes: number,
    handle: FileHandle,
    series: Map<string, SegmentSeries>,
    private readonly cache: BlockCache,
  ) {
    this.#handle = handle;
    this.series = series;
    let values = 0;
    for (const s of series.values()) {
      for (const f of s.fields.values()) for (const b of f.blocks) values += b.count;
      let list = this.#byMeasurement.get(s.measurement);
      if (!list) this.#byMeasurement.set(s.measurement, list = []);
      list.push(s);
    }
    this.valueCount = values;
  }

  /**
   * Opens a segment: checks header and footer, reads and checks the index.
   * @throws {CorruptionError} for a bad header, footer or index.
   */
  static async open(fs: FileSystem, path: string, cache: BlockCache): Promise<SegmentReader> {
    const info = await fs.stat(path);
    const size = info?.size ?? 0;
    if (size < SEGMENT_HEADER_BYTES + SEGMENT_FOOTER_BYTES) {
      throw new CorruptionError(path, 0, `segment file of ${size} bytes is too short`);
    }
    const handle = await fs.open(path, { read: true });
    try {
      const header = await readExactly(handle, 0, SEGMENT_HEADER_BYTES);
      if (!SEGMENT_MAGIC.every((b, i) => header[i] === b)) {
        throw new CorruptionError(path, 0, "not a segment file (bad magic)");
      }
      if (header[4] !== SEGMENT_VERSION) {
        throw new CorruptionError(path, 4, `unsupported segment version ${header[4]}`);
      }
      const footerAt = size - SEGMENT_FOOTER_BYTES;
      const footer = await readExactly(handle, footerAt, SEGMENT_FOOTER_BYTES);
      const view = new DataView(footer.buffer, footer.byteOffset, footer.length);
      if (!SEGMENT_MAGIC.every((b, i) => footer[20 + i] === b)) {
        throw new CorruptionError(path, footerAt + 20, "bad footer magic (truncated file?)");
      }
      const indexOffset = view.getFloat64(0, true);
      const indexLength = view.getUint32(8, true);
      const indexCrc = view.getUint32(12, true);
      if (
        !Number.isInteger(indexOffset) || indexOffset < SEGMENT_HEADER_BYTES ||
        indexOffset + indexLength !== footerAt
      ) {
        throw new CorruptionError(
          path,
          footerAt,
          `index at ${indexOffset} of ${indexLength} bytes does not end at the footer`,
        );
      }
      const index = await readExactly(handle, indexOffset, indexLength);
      if (crc32c(index) !== indexCrc) {
        throw new CorruptionError(path, indexOffset, "index checksum mismatch");
      }
      let series: Map<string, SegmentSeries>;
      try {
        series = parseIndex(index);
      } catch (error) {
        if (error instanceof CodecError) {
          throw new CorruptionError(path, indexOffset + error.offset, error.message, {
            cause: error,
          });
        }
        throw error;
      }
      return new SegmentReader(path, header[5], size, handle, series, cache);
    } catch (error) {
      handle.close();
      throw error;
    }
  }

  /** Measurement names in this segment. */
  measurements(): string[] {
    return [...this.#byMeasurement.keys()];
  }

  /** The series of a measurement in this segment. */
  seriesOf(measurement: string): SegmentSeries[] {
    return this.#byMeasurement.get(measurement) ?? [];
  }

  /**
   * Reads and decodes one block (through the cache).
   * @throws {CorruptionError} when its checksum or encoding is wrong.
   */
  async readBlock(type: FieldType, meta: BlockMeta): Promise<ColumnView> {
    const cacheKey = `${this.path}@${meta.offset}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const task = this.#lock.then(() => readExactly(this.#handle, meta.offset, meta.length + 4));
    this.#lock = task.catch(() => undefined);
    const bytes = await task;
    const column = decodeBlock(this.path, meta, type, bytes);
    this.cache.set(cacheKey, column);
    return column;
  }

  /** Closes the file (a file deleted while open stays readable until then). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lock.finally(() => this.#handle.close());
  }
}

/** Checks and decodes a block's bytes (CRC, then codecs); the offsets in errors are the file's. */
export function decodeBlock(
  path: string,
  meta: BlockMeta,
  type: FieldType,
  bytes: Uint8Array,
): ColumnView {
  if (bytes.length !== meta.length + 4) {
    throw new CorruptionError(path, meta.offset, `block cut short: ${bytes.length} bytes`);
  }
  const payload = bytes.subarray(4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (crc32c(payload) !== stored) {
    throw new CorruptionError(path, meta.offset, "block checksum mismatch");
  }
  const tsLength = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  try {
    if (tsLength > payload.length - 4) throw new CodecError(0, `timestamps length ${tsLength}`);
    const times = decodeTimestamps(payload.subarray(4, 4 + tsLength));
    const valueBytes = payload.subarray(4 + tsLength);
    let values: Float64Array | FieldValue[];
    switch (type) {
      case FieldType.Float:
        values = decodeFloats(valueBytes);
        break;
      case FieldType.Integer:
        values = decodeIntegers(valueBytes);
        break;
      case FieldType.Unsigned:
        values = decodeUnsigned(valueBytes);
        break;
      case FieldType.String:
        values = decodeStrings(valueBytes);
        break;
      default:
        values = decodeBooleans(valueBytes);
    }
    if (values.length !== times.timesMs.length || values.length !== meta.count) {
      throw new CodecError(0, `${times.timesMs.length} times, ${values.length} values`);
    }
    return {
      type,
      length: values.length,
      timesMs: times.timesMs,
      timesSubMs: times.timesSubMs,
      values,
    };
  } catch (error) {
    if (error instanceof CodecError) {
      throw new CorruptionError(path, meta.offset, `undecodable block: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}
