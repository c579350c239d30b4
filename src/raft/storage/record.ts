/**
 * The record codec of the Raft log segments and the snapshot file (see FORMAT.md beside this
 * file). Encoders append to a caller's {@linkcode ByteSink}; decoders read from a byte array at
 * an offset and never throw on bad bytes: they report what they found so that recovery can
 * tell a torn tail from corruption.
 * @module
 */

import { crc32c } from "../../core/mod.ts";
import type { ConfState, Entry, EntryType, HardState, Snapshot } from "../types.ts";
import { decodeConfState, encodeConfState } from "../conf.ts";

/** Magic bytes at the start of every segment: "ENRL" (EpochNexus Raft Log). */
export const SEGMENT_MAGIC = 0x4c524e45; // "ENRL" little-endian
/** Magic bytes at the start of a snapshot file: "ENRS". */
export const SNAPSHOT_MAGIC = 0x53524e45;
/** The format version written in segment and snapshot headers. */
export const FORMAT_VERSION = 1;
/** Segment header: magic u32, version u8, 3 reserved bytes, first index u64. */
export const SEGMENT_HEADER_SIZE = 16;
/** Record header: payload length u32, CRC-32C of the payload u32. */
export const RECORD_HEADER_SIZE = 8;
/** Upper bound of one record's payload (a corrupt length beyond this is not trusted). */
export const MAX_RECORD_SIZE = 256 << 20;

/** Record kinds (first payload byte). */
export const RecordKind = { Entry: 1, HardState: 2 } as const;

const TWO_32 = 4294967296;

/** A growable byte buffer that codecs append to. */
export class ByteSink {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.length++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  /** A non-negative safe integer as u64 little-endian. */
  u64(v: number): void {
    this.ensure(8);
    this.view.setUint32(this.length, v % TWO_32, true);
    this.view.setUint32(this.length + 4, Math.floor(v / TWO_32), true);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** The bytes written so far (a view, valid until the next write). */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }
}

/** Reads a u64 written by {@linkcode ByteSink.u64}. */
export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32;
}

/** Appends a segment header. */
export function appendSegmentHeader(out: ByteSink, firstIndex: number): void {
  out.u32(SEGMENT_MAGIC);
  out.u8(FORMAT_VERSION);
  out.u8(0);
  out.u8(0);
  out.u8(0);
  out.u64(firstIndex);
}

/** Begins a record: reserves its header; finish it with {@linkcode endRecord}. */
export function beginRecord(out: ByteSink): number {
  const start = out.length;
  out.ensure(RECORD_HEADER_SIZE);
  out.length += RECORD_HEADER_SIZE;
  return start;
}

/** Finishes the record begun at `start`: fills in its payload length and checksum. */
export function endRecord(out: ByteSink, start: number): void {
  const payloadStart = start + RECORD_HEADER_SIZE;
  const payload = out.bytes.subarray(payloadStart, out.length);
  out.view.setUint32(start, payload.length, true);
  out.view.setUint32(start + 4, crc32c(payload), true);
}

/** Appends an entry record; returns the offset of the record within `out`. */
export function appendEntryRecord(out: ByteSink, e: Entry): number {
  const start = beginRecord(out);
  out.u8(RecordKind.Entry);
  out.u8(e.type);
  out.u64(e.index);
  out.u64(e.term);
  out.raw(e.data);
  endRecord(out, start);
  return start;
}

/** Appends a hard state record. */
export function appendHardStateRecord(out: ByteSink, hs: HardState): void {
  const start = beginRecord(out);
  out.u8(RecordKind.HardState);
  out.u64(hs.term);
  out.u64(hs.vote);
  out.u64(hs.commit);
  endRecord(out, start);
}

/** What {@linkcode readRecord} found at an offset. */
export type RecordRead =
  | { status: "entry"; entry: Entry; next: number }
  | { status: "hardState"; hardState: HardState; next: number }
  | { status: "end" }
  | { status: "truncated"; why: string }
  | { status: "corrupt"; why: string };

/** What {@linkcode readFrame} found at an offset: a checked payload is `data[start, end)`. */
export type FrameRead =
  | { status: "ok"; start: number; end: number }
  | { status: "end" }
  | { status: "truncated"; why: string }
  | { status: "corrupt"; why: string };

/**
 * Reads the record frame (length, checksum) at `offset` and checks the payload's checksum.
 * "truncated" means the bytes end inside the record (a torn tail candidate); "corrupt" means
 * the bytes are all there but wrong.
 */
export function readFrame(data: Uint8Array, view: DataView, offset: number): FrameRead {
  if (offset === data.length) return { status: "end" };
  if (offset + RECORD_HEADER_SIZE > data.length) {
    return { status: "truncated", why: `record header cut after ${data.length - offset} bytes` };
  }
  const length = view.getUint32(offset, true);
  const crc = view.getUint32(offset + 4, true);
  if (length === 0 && crc === 0) return { status: "corrupt", why: "zero-filled record header" };
  if (length > MAX_RECORD_SIZE) {
    return { status: "corrupt", why: `record length ${length} exceeds ${MAX_RECORD_SIZE}` };
  }
  const start = offset + RECORD_HEADER_SIZE;
  const end = start + length;
  if (end > data.length) {
    return {
      status: "truncated",
      why: `record of ${length} bytes cut after ${data.length - start}`,
    };
  }
  const actual = crc32c(data.subarray(start, end));
  if (actual !== crc) {
    return {
      status: "corrupt",
      why: `checksum mismatch: stored 0x${crc.toString(16)}, computed 0x${actual.toString(16)}`,
    };
  }
  return { status: "ok", start, end };
}

/**
 * Reads the record at `offset`. "truncated" means the bytes end inside the record (a torn
 * tail candidate); "corrupt" means the bytes are all there but wrong.
 */
export function readRecord(data: Uint8Array, view: DataView, offset: number): RecordRead {
  const frame = readFrame(data, view, offset);
  if (frame.status !== "ok") return frame;
  const { start, end } = frame;
  const length = end - start;
  const payload = data.subarray(start, end);
  const kind = payload[0];
  if (kind === RecordKind.Entry && length >= 18) {
    const type = payload[1] as EntryType;
    const index = readU64(view, start + 2);
    const term = readU64(view, start + 10);
    // Copy the data out so that the file buffer can be released.
    const entryData = payload.slice(18);
    return { status: "entry", entry: { index, term, type, data: entryData }, next: end };
  }
  if (kind === RecordKind.HardState && length === 25) {
    const hardState = {
      term: readU64(view, start + 1),
      vote: readU64(view, start + 9),
      commit: readU64(view, start + 17),
    };
    return { status: "hardState", hardState, next: end };
  }
  return { status: "corrupt", why: `unknown record kind ${kind} of ${length} bytes` };
}

/**
 * Encodes a snapshot file: header (magic, version, reserved), metadata, data, and a trailing
 * CRC-32C of everything before it.
 */
export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const conf = encodeConfState(s.metadata.confState);
  const out = new ByteSink(32 + conf.length + s.data.length);
  out.u32(SNAPSHOT_MAGIC);
  out.u8(FORMAT_VERSION);
  out.u8(0);
  out.u8(0);
  out.u8(0);
  out.u64(s.metadata.index);
  out.u64(s.metadata.term);
  out.u32(conf.length);
  out.raw(conf);
  out.u32(s.data.length);
  out.raw(s.data);
  out.u32(crc32c(out.written()));
  return out.written().slice();
}

/** Decodes a snapshot file; a string says what is wrong. */
export function decodeSnapshotFile(data: Uint8Array): Snapshot | string {
  if (data.length < 40) return `snapshot file too short (${data.length} bytes)`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stored = view.getUint32(data.length - 4, true);
  const actual = crc32c(data.subarray(0, data.length - 4));
  if (stored !== actual) {
    return `snapshot checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${
      actual.toString(16)
    }`;
  }
  if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) return "not a snapshot file (bad magic)";
  if (data[4] !== FORMAT_VERSION) return `unsupported snapshot format version ${data[4]}`;
  const index = readU64(view, 8);
  const term = readU64(view, 16);
  const confLen = view.getUint32(24, true);
  let pos = 28 + confLen;
  if (pos + 4 > data.length - 4) return `snapshot conf length ${confLen} out of range`;
  let confState: ConfState;
  try {
    confState = decodeConfState(data.subarray(28, pos));
  } catch (error) {
    return `snapshot conf state: ${(error as Error).message}`;
  }
  const dataLen = view.getUint32(pos, true);
  pos += 4;
  if (pos + dataLen !== data.length - 4) return `snapshot data length ${dataLen} out of range`;
  return { metadata: { index, term, confState }, data: data.slice(pos, pos + dataLen) };
}
