/**
 * A series' fields in a version 3 index entry: every block's statistics, compacted (FORMAT.md,
 * "Fields of a series (version 3)"). Block offsets are implied (a series' blocks follow one
 * another), times are deltas in a power-of-ten unit, counts and integers are varints, and a min or
 * max equal to the block's first or last value is a 2-bit reference in the flags byte. About 45
 * bytes per float block instead of about 100 in version 2.
 * @module
 */
import { FieldType, type FieldValue } from "../../core/mod.ts";
import type { ByteReader, ByteWriter } from "../codecs/mod.ts";
import { readString, writeString } from "./_text.ts";
import type { BlockMeta, SegmentField } from "./series_index.ts";

/** Flags bits 0-1: the ms deltas of the entry are stored divided by 10^k. */
const SCALE_MASK = 0x03;
/** Flags bit 2: every sub-ms of the entry is 0, and none is written. */
const SUB_ZERO = 0x04;
/** Flags bit 3: count and min/max times equal those of the previous field's block at the same position. */
const SAME_TIMES = 0x08;
/** Flags bits 4-5 (min) and 6-7 (max): where the statistic is. */
const MIN_SHIFT = 4;
const MAX_SHIFT = 6;
const REF_STORED = 0;
const REF_FIRST = 1;
const REF_LAST = 2;
const SCALES = [1, 10, 100, 1000];

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Bytes of the longest varint read (a sum of 2^32 int64 values needs 14). */
const MAX_VARINT_BYTES = 20;

const isNumeric = (type: FieldType) =>
  type === FieldType.Float || type === FieldType.Integer || type === FieldType.Unsigned;

/** Equal as stored: floats bit for bit (NaN equals NaN, -0 not 0), integers by value. */
function sameStat(a: FieldValue | undefined, b: FieldValue): boolean {
  return typeof a === "number" && typeof b === "number" ? Object.is(a, b) : a == b; // eqeqeq: bigint vs number
}

function refOf(stat: FieldValue | undefined, meta: BlockMeta): number {
  if (sameStat(stat, meta.first)) return REF_FIRST;
  if (sameStat(stat, meta.last)) return REF_LAST;
  return REF_STORED;
}

/** Appends a zigzag varint of an integer of any size (number: a safe integer). */
function writeInt(out: ByteWriter, v: number | bigint): void {
  if (typeof v === "number") {
    out.varint(v);
    return;
  }
  if (v >= -SAFE && v <= SAFE) {
    out.varint(Number(v));
    return;
  }
  writeBigUvarint(out, v < 0n ? -2n * v - 1n : 2n * v);
}

function writeBigUvarint(out: ByteWriter, z: bigint): void {
  while (z >= 0x80n) {
    out.u8(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.u8(Number(z));
}

function writeUint(out: ByteWriter, v: number | bigint): void {
  if (typeof v === "number") out.uvarint(v);
  else if (v <= SAFE) out.uvarint(Number(v));
  else writeBigUvarint(out, v);
}

/** Bytes of the varint at the reader's position (at most MAX_VARINT_BYTES + 1 scanned). */
function varintLength(r: ByteReader): number {
  const d = r.data;
  let i = r.offset;
  const end = Math.min(d.length, i + MAX_VARINT_BYTES + 1);
  while (i < end && d[i] >= 0x80) i++;
  return i - r.offset + 1;
}

function readBigUvarint(r: ByteReader, what: string): bigint {
  const start = r.offset;
  let v = 0n, shift = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = r.u8(what);
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) {
      if (byte === 0 && i > 0) r.fail(`${what} is not minimally encoded`, start);
      return v;
    }
    shift += 7n;
  }
  return r.fail(`${what} longer than ${MAX_VARINT_BYTES} bytes`, start);
}

/** A number while safe, a bigint beyond (as the integer codecs return them). */
const normal = (v: bigint): number | bigint => v >= -SAFE && v <= SAFE ? Number(v) : v;

/** Reads a zigzag varint; `lo`/`hi` bound a bigint result (the sum has no bound). */
function readInt(r: ByteReader, what: string, lo?: bigint, hi?: bigint): number | bigint {
  if (varintLength(r) <= 7) return r.varint(what); // < 2^49: a number on the fast path
  const start = r.offset;
  const z = readBigUvarint(r, what);
  const v = z & 1n ? -(z >> 1n) - 1n : z >> 1n;
  if ((lo !== undefined && v < lo) || (hi !== undefined && v > hi)) {
    r.fail(`${what} ${v} out of range`, start);
  }
  return normal(v);
}

function readUint(r: ByteReader, what: string): number | bigint {
  if (varintLength(r) <= 7) return r.uvarint(what);
  const start = r.offset;
  const v = readBigUvarint(r, what);
  if (v > UINT64_MAX) r.fail(`${what} ${v} exceeds 2^64 - 1`, start);
  return normal(v);
}

function writeStat(out: ByteWriter, type: FieldType, v: FieldValue): void {
  switch (type) {
    case FieldType.Float:
      out.f64(v as number);
      return;
    case FieldType.Integer:
      writeInt(out, v as number | bigint);
      return;
    case FieldType.Unsigned:
      writeUint(out, v as number | bigint);
      return;
    case FieldType.String:
      writeString(out, v as string);
      return;
    case FieldType.Boolean:
      out.u8(v ? 1 : 0);
      return;
    default:
      throw new Error(`BUG: writeStat: unknown field type ${type}`);
  }
}

function readStat(r: ByteReader, type: FieldType, what: string): FieldValue {
  switch (type) {
    case FieldType.Float:
      return r.f64(what);
    case FieldType.Integer:
      return readInt(r, what, INT64_MIN, INT64_MAX);
    case FieldType.Unsigned:
      return readUint(r, what);
    case FieldType.String:
      return readString(r);
    default: {
      const b = r.u8(what);
      if (b > 1) r.fail(`bad boolean ${b} in ${what}`, r.offset - 1);
      return b === 1;
    }
  }
}

/** Times a block entry holds, for the SAME_TIMES test against the previous field. */
function sameTimes(a: BlockMeta, b: BlockMeta | undefined): boolean {
  return b !== undefined && a.count === b.count && a.minTimeMs === b.minTimeMs &&
    a.minTimeSubMs === b.minTimeSubMs && a.maxTimeMs === b.maxTimeMs &&
    a.maxTimeSubMs === b.maxTimeSubMs;
}

/**
 * Appends a series' fields (sorted by name) in the version 3 layout. Every block must follow the
 * previous one in the file (offset = previous offset + 4 + previous length).
 * @throws {Error} `BUG:` on a block that does not follow the previous one, a bad time or a
 * non-numeric statistic present.
 */
export function writeFieldsV3(
  out: ByteWriter,
  fields: readonly (readonly [string, SegmentField])[],
): void {
  out.uvarint(fields.length);
  const base = fields.find(([, f]) => f.blocks.length > 0)?.[1].blocks[0];
  out.uvarint(base?.offset ?? 0);
  let next = base?.offset ?? 0;
  const baseMs = base?.minTimeMs ?? 0;
  let previous: readonly BlockMeta[] = [];
  for (const [name, field] of fields) {
    const { type, blocks } = field;
    writeString(out, name);
    out.u8(type);
    out.uvarint(blocks.length);
    const numeric = isNumeric(type);
    for (let b = 0; b < blocks.length; b++) {
      const m = blocks[b];
      if (m.offset !== next) {
        throw new Error(`BUG: block of ${JSON.stringify(name)} at ${m.offset}, expected ${next}`);
      }
      next = m.offset + 4 + m.length;
      const same = b < previous.length && sameTimes(m, previous[b]);
      // The first block of a field counts from the series' first time; later ones from the end
      // of the previous block (never negative there: blocks do not overlap).
      const refMs = b === 0 ? (m === base ? 0 : baseMs) : blocks[b - 1].maxTimeMs;
      const minRef = numeric ? refOf(m.min, m) : REF_STORED;
      const maxRef = numeric ? refOf(m.max, m) : REF_STORED;
      const tMin = numeric && minRef !== REF_FIRST ? m.minTimeOfMin : undefined;
      const tMax = numeric && maxRef !== REF_FIRST ? m.minTimeOfMax : undefined;
      if (numeric && (!m.minTimeOfMin || !m.minTimeOfMax || m.sum === undefined)) {
        throw new Error(`BUG: block of numeric field ${JSON.stringify(name)} without statistics`);
      }
      const deltas: number[] = [];
      if (!same) deltas.push(m.minTimeMs - refMs, m.maxTimeMs - m.minTimeMs);
      if (tMin) deltas.push(tMin.ms - m.minTimeMs);
      if (tMax) deltas.push(tMax.ms - m.minTimeMs);
      let k = 3;
      while (k > 0 && !deltas.every((d) => d % SCALES[k] === 0)) k--;
      const subZero = (same || (m.minTimeSubMs === 0 && m.maxTimeSubMs === 0)) &&
        (!tMin || tMin.subMs === 0) && (!tMax || tMax.subMs === 0);
      out.u8(
        k | (subZero ? SUB_ZERO : 0) | (same ? SAME_TIMES : 0) | (minRef << MIN_SHIFT) |
          (maxRef << MAX_SHIFT),
      );
      out.uvarint(m.length);
      const scale = SCALES[k];
      if (!same) {
        out.uvarint(m.count);
        out.varint((m.minTimeMs - refMs) / scale);
        if (!subZero) out.uvarint(m.minTimeSubMs);
        out.uvarint((m.maxTimeMs - m.minTimeMs) / scale);
        if (!subZero) out.uvarint(m.maxTimeSubMs);
      }
      writeStat(out, type, m.first);
      writeStat(out, type, m.last);
      if (!numeric) continue;
      if (minRef === REF_STORED) writeStat(out, type, m.min!);
      if (maxRef === REF_STORED) writeStat(out, type, m.max!);
      // A float sum is the IEEE sum; an integer sum is exact and may leave int64.
      if (type === FieldType.Float) out.f64(m.sum as number);
      else writeInt(out, m.sum!);
      for (const t of [tMin, tMax]) {
        if (!t) continue;
        out.uvarint((t.ms - m.minTimeMs) / scale);
        if (!subZero) out.uvarint(t.subMs);
      }
    }
    previous = blocks;
  }
}

/** Reads what {@linkcode writeFieldsV3} wrote; a bad entry is a `CodecError` at its offset. */
export function readFieldsV3(r: ByteReader): Map<string, SegmentField> {
  const fieldCount = r.uvarint("field count");
  let next = r.uvarint("first block offset");
  const fields = new Map<string, SegmentField>();
  let baseMs = 0, haveBase = false;
  let previous: BlockMeta[] = [];
  for (let f = 0; f < fieldCount; f++) {
    const name = readString(r);
    const type = r.u8("field type") as FieldType;
    if (type < 1 || type > 5) r.fail(`unknown field type ${type}`, r.offset - 1);
    const numeric = isNumeric(type);
    const blockCount = r.uvarint("block count");
    const blocks: BlockMeta[] = [];
    for (let b = 0; b < blockCount; b++) {
      const flagsAt = r.offset;
      const flags = r.u8("block flags");
      const scale = SCALES[flags & SCALE_MASK];
      const subZero = (flags & SUB_ZERO) !== 0;
      const minRef = (flags >>> MIN_SHIFT) & 3, maxRef = (flags >>> MAX_SHIFT) & 3;
      if (minRef === 3 || maxRef === 3 || (!numeric && (minRef || maxRef))) {
        r.fail(`bad block flags 0x${flags.toString(16)} for field type ${type}`, flagsAt);
      }
      const length = r.uvarint("block length");
      let meta: BlockMeta;
      if (flags & SAME_TIMES) {
        const p = previous[b];
        if (!p) r.fail(`block ${b} of ${JSON.stringify(name)} refers to a missing block`, flagsAt);
        meta = {
          offset: next,
          length,
          count: p.count,
          minTimeMs: p.minTimeMs,
          minTimeSubMs: p.minTimeSubMs,
          maxTimeMs: p.maxTimeMs,
          maxTimeSubMs: p.maxTimeSubMs,
          first: false,
          last: false,
        };
      } else {
        const count = r.uvarint("value count");
        if (count === 0) r.fail("block of 0 values", r.offset - 1);
        const refMs = b > 0 ? blocks[b - 1].maxTimeMs : haveBase ? baseMs : 0;
        const minTimeMs = refMs + r.varint("min time") * scale;
        const minTimeSubMs = subZero ? 0 : r.uvarint("min time sub-ms");
        const maxTimeMs = minTimeMs + r.uvarint("max time") * scale;
        const maxTimeSubMs = subZero ? 0 : r.uvarint("max time sub-ms");
        if (minTimeSubMs > 999_999 || maxTimeSubMs > 999_999) r.fail("sub-ms beyond 999999");
        meta = {
          offset: next,
          length,
          count,
          minTimeMs,
          minTimeSubMs,
          maxTimeMs,
          maxTimeSubMs,
          first: false,
          last: false,
        };
      }
      if (!haveBase) baseMs = meta.minTimeMs, haveBase = true;
      next += 4 + length;
      meta.first = readStat(r, type, "first value");
      meta.last = readStat(r, type, "last value");
      if (numeric) {
        const pick = (ref: number, what: string) =>
          ref === REF_FIRST ? meta.first : ref === REF_LAST ? meta.last : readStat(r, type, what);
        meta.min = pick(minRef, "min value");
        meta.max = pick(maxRef, "max value");
        meta.sum = type === FieldType.Float ? r.f64("sum") : readInt(r, "sum");
        const time = (ref: number, what: string) => {
          if (ref === REF_FIRST) return { ms: meta.minTimeMs, subMs: meta.minTimeSubMs };
          const ms = meta.minTimeMs + r.uvarint(what) * scale;
          const subMs = subZero ? 0 : r.uvarint(`${what} sub-ms`);
          if (subMs > 999_999) r.fail(`${what} sub-ms ${subMs} beyond 999999`);
          return { ms, subMs };
        };
        meta.minTimeOfMin = time(minRef, "time of min");
        meta.minTimeOfMax = time(maxRef, "time of max");
      }
      blocks.push(meta);
    }
    fields.set(name, { type, blocks });
    previous = blocks;
  }
  return fields;
}
