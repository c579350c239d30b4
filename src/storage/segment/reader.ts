/**
 * Reads an immutable segment file: opening loads the header, the footer and the index bytes (no
 * block is decoded, and a version 2 index parses its series only when asked: series_index.ts);
 * blocks are read on demand, their CRC-32C checked, and decoded through a bounded
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
import { inflateBlock } from "./block_compression.ts";
import {
  type BlockMeta,
  openIndex,
  type SegmentIndex,
  type SegmentSeries,
} from "./series_index.ts";
import {
  BlockCompression,
  SEGMENT_FOOTER_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
} from "./writer.ts";

/** Segment versions this code reads. */
export const READABLE_SEGMENT_VERSIONS: readonly number[] = [1, 2, SEGMENT_VERSION];

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

/**
 * Where a segment's bytes are read from: a local file, or an object of a cold store (read by
 * ranges). `name` names it in errors and cache keys.
 */
export interface SegmentSource {
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset` (fewer only past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional: the same, synchronously, into `buffer` (a local file in the page cache). */
  readSync?(buffer: Uint8Array, offset: number): number;
  close(): void;
}

/** A local file as a {@linkcode SegmentSource}: reads are serialized per file. */
class FileSource implements SegmentSource {
  #lock: Promise<unknown> = Promise.resolve();
  readonly readSync?: (buffer: Uint8Array, offset: number) => number;

  constructor(readonly name: string, readonly size: number, private readonly handle: FileHandle) {
    if (handle.readAtSync) {
      this.readSync = (buffer, offset) => handle.readAtSync!(buffer, offset);
    }
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const task = this.#lock.then(() => readExactly(this.handle, offset, length));
    this.#lock = task.catch(() => undefined);
    return task;
  }

  close(): void {
    this.#lock.finally(() => this.handle.close());
  }
}

/** Distinguishes readers of the same path in cache keys (a file rewritten in place). */
let readerSerial = 0;

/** An open segment file. */
export class SegmentReader {
  readonly #source: SegmentSource;
  #closed = false;
  #holds = 0;
  /**
   * Cache keys by block offset: the same string object each time, so the cache's Map hashes it
   * once, not a fresh `path@offset` string per block read (a visible cost of aggregates).
   * Bounded to 16384 keys.
   */
  readonly #cacheKeys = new Map<number, string>();
  /** The last decoded timestamps, reused by later blocks with the same bytes (decodeBlock). */
  readonly #times: TimesMemo = newTimesMemo();
  readonly #index: SegmentIndex;
  /** The prefix of this reader's block cache keys (unique per reader, see dropFile). */
  readonly cacheName: string;

  private constructor(
    /** The file's path, or the cold object's name (store and key). */
    readonly path: string,
    /** The format version of the file (1, 2 or 3). */
    readonly version: number,
    readonly level: number,
    readonly sizeBytes: number,
    /** File offset of the index (corruption reports add it to index offsets). */
    readonly indexOffset: number,
    /** How block payloads are compressed (header byte 6; 0 = none). */
    readonly compression: number,
    source: SegmentSource,
    index: SegmentIndex,
    private readonly cache: BlockCache,
  ) {
    this.#source = source;
    this.#index = index;
    this.cacheName = `${path}#${++readerSerial}`;
  }

  /** Runs an index parse, reporting a bad entry as corruption of this file. */
  #parse<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      if (error instanceof CodecError) {
        throw new CorruptionError(this.path, this.indexOffset + error.offset, error.message, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * Series key -> series: every series, parsed on first use (version 2) and kept.
   * @throws {CorruptionError} for an entry that does not parse.
   */
  get series(): Map<string, SegmentSeries> {
    return this.#parse(() => this.#index.all());
  }

  /** Series stored (no parse). */
  get seriesCount(): number {
    return this.#index.seriesCount;
  }

  /** Values stored (sum of block counts; no parse). */
  get valueCount(): number {
    return this.#index.valueCount;
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
    return await SegmentReader.openSource(new FileSource(path, size, handle), cache);
  }

  /**
   * Opens a segment from any source (a cold store's object): header, footer and index are
   * read and checked; the source is closed when this fails.
   * @throws {CorruptionError} for a bad header, footer or index.
   */
  static async openSource(source: SegmentSource, cache: BlockCache): Promise<SegmentReader> {
    const path = source.name;
    const size = source.size;
    try {
      if (size < SEGMENT_HEADER_BYTES + SEGMENT_FOOTER_BYTES) {
        throw new CorruptionError(path, 0, `segment file of ${size} bytes is too short`);
      }
      const header = await source.read(0, SEGMENT_HEADER_BYTES);
      if (!SEGMENT_MAGIC.every((b, i) => header[i] === b)) {
        throw new CorruptionError(path, 0, "not a segment file (bad magic)");
      }
      if (!READABLE_SEGMENT_VERSIONS.includes(header[4])) {
        throw new CorruptionError(path, 4, `unsupported segment version ${header[4]}`);
      }
      const compression = header[6];
      if (compression !== BlockCompression.None && compression !== BlockCompression.Deflate) {
        throw new CorruptionError(path, 6, `unknown block compression ${compression}`);
      }
      const footerAt = size - SEGMENT_FOOTER_BYTES;
      const footer = await source.read(footerAt, SEGMENT_FOOTER_BYTES);
      const view = new DataView(footer.buffer, footer.byteOffset, footer.length);
      if (
        footer.length < SEGMENT_FOOTER_BYTES || !SEGMENT_MAGIC.every((b, i) => footer[20 + i] === b)
      ) {
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
      const index = await source.read(indexOffset, indexLength);
      if (crc32c(index) !== indexCrc) {
        throw new CorruptionError(path, indexOffset, "index checksum mismatch");
      }
      let series: SegmentIndex;
      try {
        series = openIndex(
          header[4],
          index,
          (e) =>
            new CorruptionError(path, indexOffset + e.offset, e.message, {
              cause: e,
            }),
        );
      } catch (error) {
        if (error instanceof CodecError) {
          throw new CorruptionError(path, indexOffset + error.offset, error.message, {
            cause: error,
          });
        }
        throw error;
      }
      return new SegmentReader(
        path,
        header[4],
        header[5],
        size,
        indexOffset,
        compression,
        source,
        series,
        cache,
      );
    } catch (error) {
      source.close();
      throw error;
    }
  }

  /** Measurement names in this segment. */
  measurements(): string[] {
    return this.#index.measurements();
  }

  /**
   * The series of a measurement in this segment (parsed on first use, then kept).
   * @throws {CorruptionError} for an entry that does not parse.
   */
  seriesOf(measurement: string): SegmentSeries[] {
    return this.#parse(() => this.#index.seriesOf(measurement));
  }

  /**
   * Parses up to `max` more series of a measurement, and their fields (a background warm-up's
   * step); true once the measurement is parsed whole.
   * @throws {CorruptionError} for an entry that does not parse.
   */
  parseSome(measurement: string, max: number): boolean {
    return this.#parse(() => this.#index.parseSome(measurement, max));
  }

  /**
   * One series by key without parsing the others (version 2: through the hash table).
   * @throws {CorruptionError} for an entry that does not parse.
   */
  lookup(key: string): SegmentSeries | undefined {
    return this.#parse(() => this.#index.lookup(key));
  }

  /** True when the segment stores the series (version 2: only its key is read). */
  hasSeries(key: string): boolean {
    return this.#parse(() => this.#index.has(key));
  }

  /** Calls `fn` with each series of a measurement, its field data left unparsed. */
  forEachSeriesTags(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void {
    this.#parse(() => this.#index.forEachTags(measurement, fn));
  }

  /** The 64-bit hashes of the stored series keys as (lo, hi) pairs (series_hash.ts). */
  seriesHashes(): Uint32Array {
    return this.#index.hashes();
  }

  /**
   * Reads and decodes one block (through the cache).
   * @throws {CorruptionError} when its checksum or encoding is wrong.
   */
  async readBlock(type: FieldType, meta: BlockMeta): Promise<ColumnView> {
    let cacheKey = this.#cacheKeys.get(meta.offset);
    if (cacheKey === undefined) {
      cacheKey = `${this.cacheName}@${meta.offset}`;
      // Bounded (a full scan of a large segment would keep a string per block otherwise).
      if (this.#cacheKeys.size >= 16_384) this.#cacheKeys.clear();
      this.#cacheKeys.set(meta.offset, cacheKey);
    }
    const cached = this.cache.get(cacheKey);
    if (cached) {
      // Two entries naming one block (a damaged index) must not share its column under another
      // count or type (found by tests/fuzz).
      if (cached.length !== meta.count || cached.type !== type) {
        throw new CorruptionError(
          this.path,
          meta.offset,
          `block entry of ${meta.count} values names a block of ${cached.length}`,
        );
      }
      return cached;
    }
    // Blocks lie between the header and the index: a damaged entry naming bytes past them (a
    // length of gigabytes) is refused before allocating for it (found by tests/fuzz).
    if (
      !(meta.offset >= SEGMENT_HEADER_BYTES && meta.offset + 4 + meta.length <= this.indexOffset)
    ) {
      throw new CorruptionError(
        this.path,
        meta.offset,
        `block of ${meta.length} bytes at ${meta.offset} runs past the blocks (index at ${this.indexOffset})`,
      );
    }
    let bytes: Uint8Array;
    const source = this.#source;
    if (source.readSync) {
      // One synchronous positioned read: blocks are small and usually in the page cache, and an
      // async seek + read (two thread-pool round trips, serialized per file) cost several times
      // the decode. No async read is pending here: those only run while the file is opened.
      bytes = new Uint8Array(meta.length + 4);
      const got = source.readSync(bytes, meta.offset);
      if (got < bytes.length) bytes = bytes.subarray(0, got);
    } else {
      bytes = await source.read(meta.offset, meta.length + 4);
    }
    const column = decodeBlock(this.path, meta, type, bytes, this.#times, this.compression);
    this.cache.set(cacheKey, column);
    return column;
  }

  /**
   * Keeps the file open for a long read (a streamed answer): a retired reader is closed only
   * once no hold is left. Call the returned function once, when done.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
    };
  }

  /** True while a {@linkcode hold} is not released. */
  get held(): boolean {
    return this.#holds > 0;
  }

  /** Closes the file (a file deleted while open stays readable until then). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.close();
  }
}

/**
 * The timestamps a reader decoded last (a ring of {@linkcode TIMES_MEMO_SIZE}), by their encoded
 * bytes. The fields of one series are written together, so their blocks usually hold the same
 * timestamps byte for byte; a query reads a series field by field, block by block, so the next
 * field's blocks find their times here and share the decoded arrays (read-only, as every cached
 * block is) instead of decoding and allocating them again.
 */
export interface TimesMemo {
  bytes: (Uint8Array | undefined)[];
  times: ({ timesMs: Float64Array; timesSubMs: Float64Array } | undefined)[];
  next: number;
}

/** Entries of a {@linkcode TimesMemo}: more than the blocks of one field a query usually reads. */
export const TIMES_MEMO_SIZE = 8;

/** An empty memo. */
export function newTimesMemo(): TimesMemo {
  return { bytes: new Array(TIMES_MEMO_SIZE), times: new Array(TIMES_MEMO_SIZE), next: 0 };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function recall(
  memo: TimesMemo,
  bytes: Uint8Array,
): { timesMs: Float64Array; timesSubMs: Float64Array } | undefined {
  for (let i = 0; i < TIMES_MEMO_SIZE; i++) {
    const b = memo.bytes[i];
    if (b !== undefined && sameBytes(b, bytes)) return memo.times[i];
  }
  return undefined;
}

/** Timestamp blocks up to this size are remembered (RLE and small delta blocks). */
const MEMO_MAX_BYTES = 256;

/**
 * Checks and decodes a block's bytes (CRC, then codecs); the offsets in errors are the file's.
 * `memo` (optional) shares decoded timestamps between consecutive blocks with the same bytes.
 */
export function decodeBlock(
  path: string,
  meta: BlockMeta,
  type: FieldType,
  bytes: Uint8Array,
  memo?: TimesMemo,
  compression: number = BlockCompression.None,
): ColumnView {
  if (bytes.length !== meta.length + 4) {
    throw new CorruptionError(path, meta.offset, `block cut short: ${bytes.length} bytes`);
  }
  let payload = bytes.subarray(4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (crc32c(payload) !== stored) {
    throw new CorruptionError(path, meta.offset, "block checksum mismatch");
  }
  if (compression !== BlockCompression.None) {
    try {
      payload = inflateBlock(payload);
    } catch (error) {
      throw new CorruptionError(path, meta.offset, `undecodable block: ${error}`, { cause: error });
    }
  }
  if (payload.length < 4) {
    // Too short for its timestamps' length: reading it would run into the next block's bytes.
    throw new CorruptionError(path, meta.offset, `block of ${payload.length} bytes`);
  }
  const tsLength = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  try {
    if (tsLength > payload.length - 4) throw new CodecError(0, `timestamps length ${tsLength}`);
    const tsBytes = payload.subarray(4, 4 + tsLength);
    let times: { timesMs: Float64Array; timesSubMs: Float64Array };
    const known = memo !== undefined && tsLength <= MEMO_MAX_BYTES
      ? recall(memo, tsBytes)
      : undefined;
    if (known !== undefined) times = known;
    else {
      // Distinct: one series' field, the last write at an instant already won; a repeat is
      // damage the checksum missed (two values at one instant for a query, read on).
      times = decodeTimestamps(tsBytes, true);
      if (memo !== undefined && tsLength <= MEMO_MAX_BYTES) {
        memo.bytes[memo.next] = tsBytes.slice();
        memo.times[memo.next] = times;
        memo.next = (memo.next + 1) % TIMES_MEMO_SIZE;
      }
    }
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
