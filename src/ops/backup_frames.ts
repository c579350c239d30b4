/**
 * A partition backup as it crosses HTTP (`POST /api/v1/backup/partition/<group>`): the snapshot
 * chunks of `src/cluster/partition/snapshot.ts` as frames, closed by a `done` frame so that a
 * body cut short is told apart from a complete one, and an `error` frame when the server fails
 * after the answer's status was sent. FORMAT.md beside this file draws them.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import type { SnapshotChunk, SnapshotFile } from "../cluster/mod.ts";

/** Frame kinds (the first byte of a frame). */
export const FrameKind = { Manifest: 1, Data: 2, End: 3, Done: 4, Error: 5 } as const;

/** A decoded frame. */
export type BackupFrame =
  | { kind: "manifest"; appliedIndex: number; catalog: Uint8Array; files: SnapshotFile[] }
  | { kind: "data"; file: number; offset: number; data: Uint8Array }
  | { kind: "end"; file: number; crc32c: number }
  | { kind: "done" }
  | { kind: "error"; message: string };

/** The frames that carry a partition's files (what {@linkcode decodeFrames} yields). */
export type PartitionFrame = Extract<BackupFrame, { kind: "manifest" | "data" | "end" }>;

const HEADER = 5;
/** The largest payload a frame may carry (data chunks are 1 MiB). */
const MAX_PAYLOAD = 64 * 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  out[0] = kind;
  view.setUint32(1, payload.length, true);
  out.set(payload, HEADER);
  return out;
}

/** A snapshot chunk as a frame. */
export function encodeChunk(chunk: SnapshotChunk): Uint8Array {
  switch (chunk.kind) {
    case "manifest":
      return frame(
        FrameKind.Manifest,
        encoder.encode(JSON.stringify({
          appliedIndex: chunk.appliedIndex,
          catalog: decoder.decode(chunk.catalog),
          files: chunk.files,
        })),
      );
    case "data": {
      const payload = new Uint8Array(12 + chunk.data.length);
      const view = new DataView(payload.buffer);
      view.setUint32(0, chunk.file, true);
      view.setFloat64(4, chunk.offset, true);
      payload.set(chunk.data, 12);
      return frame(FrameKind.Data, payload);
    }
    case "end": {
      const payload = new Uint8Array(8);
      const view = new DataView(payload.buffer);
      view.setUint32(0, chunk.file, true);
      view.setUint32(4, chunk.crc32c, true);
      return frame(FrameKind.End, payload);
    }
  }
}

/** The frame closing a complete stream. */
export function encodeDone(): Uint8Array {
  return frame(FrameKind.Done, new Uint8Array(0));
}

/** The frame of a failure after the answer started. */
export function encodeFailure(message: string): Uint8Array {
  return frame(FrameKind.Error, encoder.encode(JSON.stringify({ message })));
}

/**
 * Decodes frames from a byte stream as they arrive.
 * @throws {EpochError} `data_loss` for a malformed or truncated stream (no `done` frame), and
 * `unavailable` with the server's message for an `error` frame.
 */
export async function* decodeFrames(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<PartitionFrame> {
  const queue = new ByteQueue();
  let done = false;
  for await (const chunk of body) {
    queue.push(chunk);
    while (queue.length >= HEADER) {
      const header = queue.peek(HEADER);
      const length = new DataView(header.buffer, header.byteOffset, HEADER).getUint32(1, true);
      if (length > MAX_PAYLOAD) {
        throw new EpochError("data_loss", `backup frame of ${length} bytes: the stream is damaged`);
      }
      if (queue.length < HEADER + length) break;
      const kind = queue.take(HEADER)[0];
      const payload = queue.take(length);
      if (done) throw new EpochError("data_loss", "backup stream continues after its end");
      const decoded = decodeFrame(kind, payload);
      if (decoded.kind === "done") done = true;
      else if (decoded.kind === "error") {
        throw new EpochError("unavailable", `the server failed the backup: ${decoded.message}`);
      } else yield decoded;
    }
  }
  if (!done || queue.length > 0) {
    throw new EpochError("data_loss", "the backup stream ended early (no end frame)");
  }
}

/** Bytes received and not consumed yet; each byte is copied once when taken. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next `n` bytes, left in the queue. */
  peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    return this.#copy(n, false);
  }

  /** The next `n` bytes, removed. */
  take(n: number): Uint8Array {
    return this.#copy(n, true);
  }

  #copy(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0, index = 0, head = this.#head;
    while (filled < n) {
      const chunk = this.#chunks[index];
      const take = Math.min(chunk.length - head, n - filled);
      out.set(chunk.subarray(head, head + take), filled);
      filled += take;
      head += take;
      if (head === chunk.length) {
        index++;
        head = 0;
      }
    }
    if (consume) {
      this.#chunks.splice(0, index);
      this.#head = head;
      this.length -= n;
    }
    return out;
  }
}

function decodeFrame(kind: number, payload: Uint8Array): BackupFrame {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  switch (kind) {
    case FrameKind.Manifest: {
      const m = JSON.parse(decoder.decode(payload));
      return {
        kind: "manifest",
        appliedIndex: m.appliedIndex,
        catalog: encoder.encode(m.catalog),
        files: m.files,
      };
    }
    case FrameKind.Data:
      return {
        kind: "data",
        file: view.getUint32(0, true),
        offset: view.getFloat64(4, true),
        data: payload.subarray(12),
      };
    case FrameKind.End:
      return { kind: "end", file: view.getUint32(0, true), crc32c: view.getUint32(4, true) };
    case FrameKind.Done:
      return { kind: "done" };
    case FrameKind.Error:
      return { kind: "error", message: String(JSON.parse(decoder.decode(payload)).message) };
    default:
      throw new EpochError("data_loss", `unknown backup frame kind ${kind}`);
  }
}
