/**
 * The frames of a peer stream (FORMAT.md, "Peer stream"): a 9-byte header (payload length u32,
 * kind u8, call id u32, big-endian) and the payload. {@linkcode FrameReader} cuts frames out of
 * the chunks a connection delivers, whatever their boundaries.
 * @module
 */
import { EpochError } from "../core/mod.ts";

/** Bytes of a frame's header. */
export const FRAME_HEADER_BYTES = 9;

/** What a frame carries. Requests are below 128, answers from 128 on. */
export const FrameKind = {
  /** A RaftService.Send: a `SendRequest`; answered with an empty Answer. */
  RaftSend: 1,
  /** A ClusterService.WritePartition: a `WritePartitionRequest`, answered with its response. */
  WritePartition: 2,
  /** A call's answer: the response message. */
  Answer: 128,
  /** A call's failure: `{code, message, details}` as wire JSON (src/cluster/wire_json.ts). */
  Failure: 129,
} as const;

/** A frame over the size bound, or a damaged stream: the connection cannot go on. */
export class FrameError extends EpochError {
  constructor(message: string) {
    super("invalid_argument", message);
    this.name = "FrameError";
  }
}

/** One frame: header and payload in one buffer. */
export function encodeFrame(kind: number, id: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(4, kind);
  view.setUint32(5, id);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** A frame as read: the payload is the reader's to keep. */
export type FrameHandler = (kind: number, id: number, payload: Uint8Array) => void;

/**
 * Cuts frames out of a byte stream. A payload within one chunk is a view of it (chunks are the
 * receiver's, never reused); one across chunks is gathered once into a buffer of its size.
 */
export class FrameReader {
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  readonly #headerView = new DataView(this.#header.buffer);
  #headerFill = 0;
  #kind = 0;
  #id = 0;
  /** The payload being gathered, or undefined while reading a header. */
  #payload: Uint8Array | undefined;
  #payloadFill = 0;

  /** @param maxPayloadBytes a larger frame is a {@linkcode FrameError} */
  constructor(readonly maxPayloadBytes: number, private readonly onFrame: FrameHandler) {}

  /** Takes the next chunk; calls `onFrame` for each frame it completes. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#payload === undefined) {
        let length: number;
        if (this.#headerFill === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
          const view = new DataView(chunk.buffer, chunk.byteOffset + at, FRAME_HEADER_BYTES);
          length = view.getUint32(0);
          this.#kind = view.getUint8(4);
          this.#id = view.getUint32(5);
          at += FRAME_HEADER_BYTES;
        } else {
          const n = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at);
          this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill < FRAME_HEADER_BYTES) return;
          this.#headerFill = 0;
          length = this.#headerView.getUint32(0);
          this.#kind = this.#headerView.getUint8(4);
          this.#id = this.#headerView.getUint32(5);
        }
        if (length > this.maxPayloadBytes) {
          throw new FrameError(
            `peer stream: a frame of ${length} bytes (kind ${this.#kind}, call ${this.#id}) is ` +
              `over the bound of ${this.maxPayloadBytes} bytes`,
          );
        }
        if (chunk.length - at >= length) {
          const payload = chunk.subarray(at, at + length);
          at += length;
          this.onFrame(this.#kind, this.#id, payload);
          continue;
        }
        this.#payload = new Uint8Array(length);
        this.#payloadFill = 0;
      }
      const payload = this.#payload;
      const n = Math.min(payload.length - this.#payloadFill, chunk.length - at);
      payload.set(chunk.subarray(at, at + n), this.#payloadFill);
      this.#payloadFill += n;
      at += n;
      if (this.#payloadFill === payload.length) {
        this.#payload = undefined;
        this.onFrame(this.#kind, this.#id, payload);
      }
    }
  }
}
