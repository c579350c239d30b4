/**
 * The write-ahead log: the durability of every acknowledged write.
 *
 * Records are appended to numbered segment files with group commit: writers that arrive while
 * an fdatasync is running queue up and share the next one, so N concurrent writers cost about
 * one fsync per round, not N. A writer's promise resolves only after the fsync that covers its
 * record; `onDurable` callbacks run synchronously in log order first, so whoever applies records
 * to memory sees them in exactly the order the log holds them.
 *
 * On open the log is replayed: a torn tail of the last segment (a record running past the end
 * of the file, zeros to the end, or a record holding a sector the power cut left unwritten) is
 * cut and logged; any other bad record is a
 * {@linkcode CorruptionError} naming file and offset, and opening fails. Format: FORMAT.md.
 *
 * @module
 */
import {
  concatBytes,
  CorruptionError,
  crc32c,
  type FileHandle,
  type FileSystem,
  hasUnwrittenSector,
  Histogram,
  type Logger,
  StorageError,
} from "../../core/mod.ts";
import { MAX_RECORD_BYTES } from "./limits.ts";

/** The bytes that open every segment file: "ENWL", version, three reserved zero bytes. */
export const WAL_MAGIC = [0x45, 0x4e, 0x57, 0x4c] as const;
/**
 * The format version written by this code: 2 adds the interned write record (type 3). Version 1
 * segments (types 1 and 2 only) are still read.
 */
export const WAL_VERSION = 2;
/** The oldest format version still read. */
export const WAL_MIN_VERSION = 1;
/** Size of the segment file header. */
export const SEGMENT_HEADER_BYTES = 8;
/** Size of a record header: u32 length, u32 checksum, u8 type. */
export const RECORD_HEADER_BYTES = 9;

/** Options of {@linkcode WriteAheadLog.open}. */
export interface WalOptions {
  fs: FileSystem;
  /** The folder of the segment files; created when missing. */
  dir: string;
  logger: Logger;
  /** A segment is closed and a new one started past this size. @default {64 MiB} */
  segmentBytes?: number;
  /**
   * Segments below this id hold only records already made durable elsewhere (a checkpoint):
   * they are deleted, not replayed. @default {0}
   */
  firstSegment?: number;
  /** A monotonic clock in ms: times each group commit's fdatasync (`fsyncSeconds`). */
  now?: () => number;
}

/** One record met during replay. */
export interface ReplayedRecord {
  type: number;
  payload: Uint8Array;
  file: string;
  offset: number;
}

interface Pending {
  frame: Uint8Array;
  onDurable?: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A cut queued between records: rotate, then tell the caller the first segment after it. */
interface Cut {
  frame?: undefined;
  onCut: (segmentId: number) => void;
  resolve: (segmentId: number) => void;
  reject: (error: unknown) => void;
}

/** Builds the on-disk frame of one record. */
export function frameRecord(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_RECORD_BYTES) {
    throw new StorageError(
      `WAL record of ${payload.length} bytes exceeds the limit of ${MAX_RECORD_BYTES} bytes`,
    );
  }
  const frame = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(frame.buffer);
  frame[8] = type;
  frame.set(payload, RECORD_HEADER_BYTES);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(frame.subarray(8)), true);
  return frame;
}

function segmentName(id: number): string {
  return `${String(id).padStart(8, "0")}.wal`;
}

function segmentHeader(): Uint8Array {
  return new Uint8Array([...WAL_MAGIC, WAL_VERSION, 0, 0, 0]);
}

/** The append-only, group-committed write-ahead log of one node. */
export class WriteAheadLog {
  #queue: (Pending | Cut)[] = [];
  #flushing = false;
  #failed: Error | undefined;
  #closed = false;
  #idle: Promise<void> = Promise.resolve();
  #handle: FileHandle;
  #segmentId: number;
  #size: number;

  private constructor(
    private readonly options: WalOptions,
    handle: FileHandle,
    segmentId: number,
    size: number,
  ) {
    this.#handle = handle;
    this.#segmentId = segmentId;
    this.#size = size;
  }

  /**
   * Opens the log in `options.dir`, calling `onRecord` for every intact record in log order,
   * then readies it for appends.
   * @throws {CorruptionError} when a record other than a torn tail fails its checks.
   */
  static async open(
    options: WalOptions,
    onRecord: (record: ReplayedRecord) => void,
  ): Promise<WriteAheadLog> {
    const { fs, dir, logger } = options;
    await fs.mkdir(dir);
    let names = (await fs.readDir(dir)).filter((n) => /^\d{8}\.wal$/.test(n));
    const first = options.firstSegment ?? 0;
    for (const name of names.filter((n) => Number(n.slice(0, 8)) < first)) {
      // A trim interrupted by a crash: the checkpoint already covers these records.
      await fs.remove(`${dir}/${name}`);
    }
    names = names.filter((n) => Number(n.slice(0, 8)) >= first);
    let lastId = 0;
    let lastSize = -1;
    for (let i = 0; i < names.length; i++) {
      const path = `${dir}/${names[i]}`;
      const isLast = i === names.length - 1;
      const bytes = await fs.readFile(path);
      const validEnd = replaySegment(path, bytes, isLast, onRecord);
      if (validEnd < bytes.length) {
        logger.warn("cut torn tail of write-ahead log", {
          file: path,
          offset: validEnd,
          bytes: bytes.length - validEnd,
        });
        const h = await fs.open(path, { write: true });
        try {
          await h.truncate(validEnd);
          await h.datasync();
        } finally {
          h.close();
        }
      }
      lastId = Number(names[i].slice(0, 8));
      lastSize = validEnd;
    }
    if (lastSize < SEGMENT_HEADER_BYTES) {
      // No segment yet, or a last one torn inside its header: (re)start it.
      if (lastId === 0) lastId = Math.max(1, first);
      await fs.writeFileAtomic(`${dir}/${segmentName(lastId)}`, segmentHeader());
      lastSize = SEGMENT_HEADER_BYTES;
    }
    const handle = await fs.open(`${dir}/${segmentName(lastId)}`, { append: true });
    return new WriteAheadLog(options, handle, lastId, lastSize);
  }

  /** How long each group commit's fdatasync took, in seconds (with the `now` option). */
  readonly fsyncSeconds: Histogram = new Histogram();

  /** The id of the segment receiving appends (segments are `dir/<8-digit id>.wal`). */
  get activeSegment(): number {
    return this.#segmentId;
  }

  /**
   * Appends a record; resolves once it is fsynced. `onDurable` runs synchronously after the
   * fsync and before any later record's callback.
   * @throws {StorageError} when the disk refuses the write (full, IO error); nothing partial
   * stays in the file.
   */
  append(type: number, payload: Uint8Array, onDurable?: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError("write-ahead log is closed"));
    if (this.#failed) {
      return Promise.reject(
        new StorageError(`write-ahead log is unusable: ${this.#failed.message}`, {
          cause: this.#failed,
        }),
      );
    }
    let frame: Uint8Array;
    try {
      frame = frameRecord(type, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ frame, onDurable, resolve, reject });
      if (!this.#flushing) this.#idle = this.#flushLoop();
    });
  }

  /**
   * Queues a cut: once every record appended before it is durable and applied, the log starts
   * a new segment and calls `onCut(id)` synchronously with that segment's id, before any later
   * record's `onDurable`. Records from segment `id` on are exactly those applied after `onCut`.
   * Resolves with `id`.
   */
  cut(onCut: (segmentId: number) => void): Promise<number> {
    if (this.#closed) return Promise.reject(new StorageError("write-ahead log is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ onCut, resolve, reject });
      if (!this.#flushing) this.#idle = this.#flushLoop();
    });
  }

  /** Deletes the segments below `segmentId` (their records are durable elsewhere). */
  async removeSegmentsBefore(segmentId: number): Promise<number> {
    const { fs, dir } = this.options;
    let removed = 0;
    for (const name of await fs.readDir(dir)) {
      if (!/^\d{8}\.wal$/.test(name)) continue;
      const id = Number(name.slice(0, 8));
      if (id < segmentId && id < this.#segmentId) {
        await fs.remove(`${dir}/${name}`);
        removed++;
      }
    }
    return removed;
  }

  async #runCut(cut: Cut): Promise<void> {
    const before = this.#segmentId;
    await this.#rotate();
    if (this.#segmentId === before) {
      cut.reject(new StorageError(`write-ahead log could not start segment ${before + 1}`));
      return;
    }
    try {
      cut.onCut(this.#segmentId);
    } catch (error) {
      cut.reject(error);
      return;
    }
    cut.resolve(this.#segmentId);
  }

  async #flushLoop(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        if (this.#queue[0].frame === undefined) {
          await this.#runCut(this.#queue.shift() as Cut);
          continue;
        }
        let end = 0;
        while (end < this.#queue.length && this.#queue[end].frame !== undefined) end++;
        const group = this.#queue.splice(0, end) as Pending[];
        const bytes = concatBytes(group.map((p) => p.frame));
        const before = this.#size;
        try {
          await this.#handle.write(bytes);
          const syncStart = this.options.now?.();
          await this.#handle.datasync();
          if (syncStart !== undefined) {
            this.fsyncSeconds.observe((this.options.now!() - syncStart) / 1000);
          }
        } catch (error) {
          await this.#undoPartialWrite(before, error);
          for (const p of group) p.reject(error);
          continue;
        }
        this.#size += bytes.length;
        for (const p of group) {
          try {
            p.onDurable?.();
          } catch (error) {
            this.options.logger.error("BUG: WAL onDurable callback threw", {
              error: String(error),
            });
          }
          p.resolve();
        }
        const limit = this.options.segmentBytes ?? 64 * 1024 * 1024;
        if (this.#size >= limit) await this.#rotate();
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** After a failed write, cut the file back so no partial record stays behind. */
  async #undoPartialWrite(size: number, cause: unknown): Promise<void> {
    try {
      await this.#handle.truncate(size);
      await this.#handle.datasync();
    } catch (error) {
      this.#failed = error instanceof Error ? error : new Error(String(error));
      this.options.logger.error("write-ahead log cannot undo a failed write; refusing writes", {
        cause: String(cause),
        error: String(error),
      });
    }
  }

  async #rotate(): Promise<void> {
    const { fs, dir } = this.options;
    const next = this.#segmentId + 1;
    try {
      await fs.writeFileAtomic(`${dir}/${segmentName(next)}`, segmentHeader());
      const handle = await fs.open(`${dir}/${segmentName(next)}`, { append: true });
      this.#handle.close();
      this.#handle = handle;
      this.#segmentId = next;
      this.#size = SEGMENT_HEADER_BYTES;
    } catch (error) {
      // Keep appending to the current segment; rotation is retried after the next write.
      this.options.logger.warn("write-ahead log rotation failed", { error: String(error) });
    }
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing) await this.#idle;
    this.#handle.close();
  }
}

function isAllZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Replays one segment and returns the offset where its valid records end. Damage that can only
 * be a torn tail (the last segment's final record runs past the end of the file, or only zeros
 * follow) returns that offset; any other damage throws.
 */
function replaySegment(
  path: string,
  bytes: Uint8Array,
  isLast: boolean,
  onRecord: (record: ReplayedRecord) => void,
): number {
  const torn = (offset: number, why: string): number => {
    if (isLast) return offset;
    throw new CorruptionError(path, offset, `${why} in a closed segment`);
  };
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    if (isLast && WAL_MAGIC.every((b, i) => i >= bytes.length || bytes[i] === b)) return 0;
    throw new CorruptionError(path, 0, "segment shorter than its header");
  }
  if (!WAL_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CorruptionError(path, 0, "not a write-ahead log segment (bad magic)");
  }
  if (bytes[4] < WAL_MIN_VERSION || bytes[4] > WAL_VERSION) {
    throw new CorruptionError(path, 4, `unsupported WAL version ${bytes[4]}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_BYTES) {
      return torn(offset, "record header cut short");
    }
    const length = view.getUint32(offset, true);
    const checksum = view.getUint32(offset + 4, true);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length === 0 && checksum === 0 && isAllZero(bytes, offset)) {
      return torn(offset, "zero-filled tail");
    }
    if (length > MAX_RECORD_BYTES || end > bytes.length) {
      if (end > bytes.length && length <= MAX_RECORD_BYTES) {
        return torn(offset, "record runs past the end of the file");
      }
      if (isAllZero(bytes, offset + 8)) return torn(offset, "damaged tail");
      throw new CorruptionError(path, offset, `record length ${length} is impossible`);
    }
    const body = bytes.subarray(offset + 8, end);
    if (crc32c(body) !== checksum) {
      if (end === bytes.length || isAllZero(bytes, end)) {
        return torn(offset, "checksum mismatch in the final record");
      }
      if (isLast && hasUnwrittenSector(bytes, offset, end)) {
        return torn(offset, "a sector of the last write unwritten");
      }
      throw new CorruptionError(
        path,
        offset,
        `checksum mismatch (stored ${checksum.toString(16)}, computed ${
          crc32c(body).toString(16)
        }) with intact records after it`,
      );
    }
    onRecord({ type: body[0], payload: body.subarray(1), file: path, offset });
    offset = end;
  }
  return offset;
}
