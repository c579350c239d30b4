/**
 * A series' fields in a version 3 index entry: every block's statistics, compacted (FORMAT.md,
 * "Fields of a series (version 3)"). Block offsets are implied (a series' blocks follow one
 * another), times are deltas in a power-of-ten unit, a field's times may be those of the previous
 * field, a min or max equal to the block's first or last value is a 2-bit reference in the flags
 * byte, integer statistics are varint deltas from first, float ones are XORed with a predictor
 * and trimmed to their nonzero bytes. About 43 bytes per float block of random full-precision
 * values (about 100 in version 2).
 * @module
 */
import { FieldType, type FieldValue } from "../../core/mod.ts";
import type { ByteReader, ByteWriter } from "../codecs/mod.ts";
import { IndexStrings } from "./_intern.ts";
import { FIELD_LIST_MAX, FieldList, OneField } from "./field_list.ts";
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

/** A first (integer, unsigned) or first/last (string, boolean) value; floats: writeFloatStats. */
function writeStat(out: ByteWriter, type: FieldType, v: FieldValue): void {
  switch (type) {
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
    case FieldType.Integer:
      return readInt(r, what, INT64_MIN, INT64_MAX);
    case FieldType.Unsigned:
      return readUint(r, what);
    case FieldType.String:
      return readString(r);
    case FieldType.Boolean: {
      const b = r.u8(what);
      if (b > 1) r.fail(`bad boolean ${b} in ${what}`, r.offset - 1);
      return b === 1;
    }
    default:
      throw new Error(`BUG: readStat: field type ${type} (floats: readFloatStats)`);
  }
}

/** Scratch: bytes 0-7 a float, 8-15 its predictor, both big-endian (sign and exponent first). */
const FLOAT = new DataView(new ArrayBuffer(16));
const FLOAT_BYTES = new Uint8Array(FLOAT.buffer);
/** A block's float statistics, packed before the size codes are written. */
const PACKED = new Uint8Array(5 * 8);
const CODES = new Uint8Array(6);

/**
 * Packs `v` against the predictor `p` into PACKED at `at`; returns its 4-bit size code. Codes
 * 0-8: the last `code` bytes of bits(v) XOR bits(p) (the leading ones are zero); 9-15: the first
 * `code - 8` bytes of bits(v) (the trailing ones are zero: 0, 100, 0.5 ...).
 */
function packFloat(v: number, p: number, at: number): number {
  FLOAT.setFloat64(0, v);
  FLOAT.setFloat64(8, p);
  const b = FLOAT_BYTES;
  let lz = 0;
  while (lz < 8 && b[lz] === b[8 + lz]) lz++;
  let tz = 0;
  while (tz < 8 && b[7 - tz] === 0) tz++;
  const lead = 8 - lz, trail = Math.max(1, 8 - tz);
  if (trail < lead) {
    for (let i = 0; i < trail; i++) PACKED[at + i] = b[i];
    return 8 + trail;
  }
  for (let i = lz; i < 8; i++) PACKED[at + i - lz] = b[i] ^ b[8 + i];
  return lead;
}

/** The byte count of a size code. */
const codeBytes = (code: number) => (code <= 8 ? code : code - 8);

function unpackFloat(r: ByteReader, code: number, p: number, what: string): number {
  const n = codeBytes(code);
  r.need(n, what);
  const b = FLOAT_BYTES, d = r.data;
  let at = r.offset;
  if (code <= 8) {
    FLOAT.setFloat64(8, p);
    for (let i = 0; i < 8; i++) b[i] = i < 8 - n ? b[8 + i] : b[8 + i] ^ d[at++];
  } else {
    for (let i = 0; i < 8; i++) b[i] = i < n ? d[at++] : 0;
  }
  r.offset = at;
  return FLOAT.getFloat64(0);
}

/** The sum's predictor: the mean of min and max times the count (0 when not finite). */
function sumPredictor(m: BlockMeta): number {
  const p = ((m.min as number) + (m.max as number)) / 2 * m.count;
  return Number.isFinite(p) ? p : 0;
}

/**
 * Float statistics: first (predicted by the previous block's last), last, min, max (by first;
 * min and max only when not references) and sum (by sumPredictor): their size codes two per
 * byte (an odd count pads with 0), then their bytes.
 */
function writeFloatStats(
  out: ByteWriter,
  m: BlockMeta,
  minRef: number,
  maxRef: number,
  before: number,
): void {
  const first = m.first as number;
  let k = 0, at = 0;
  const add = (v: number, p: number) => {
    const code = packFloat(v, p, at);
    CODES[k++] = code;
    at += codeBytes(code);
  };
  add(first, before);
  add(m.last as number, first);
  if (minRef === REF_STORED) add(m.min as number, first);
  if (maxRef === REF_STORED) add(m.max as number, first);
  add(m.sum as number, sumPredictor(m));
  for (let i = 0; i < k; i += 2) out.u8(CODES[i] | (i + 1 < k ? CODES[i + 1] << 4 : 0));
  out.bytes(PACKED.subarray(0, at));
}

function readFloatStats(
  r: ByteReader,
  meta: BlockMeta,
  minRef: number,
  maxRef: number,
  before: number,
): void {
  const k = 3 + (minRef === REF_STORED ? 1 : 0) + (maxRef === REF_STORED ? 1 : 0);
  for (let i = 0; i < k; i += 2) {
    const codes = r.u8("float size codes");
    CODES[i] = codes & 15;
    CODES[i + 1] = codes >>> 4;
    if (i + 1 === k && CODES[i + 1] !== 0) {
      r.fail(`bad padding in float size codes 0x${codes.toString(16)}`, r.offset - 1);
    }
  }
  let c = 0;
  const first = meta.first = unpackFloat(r, CODES[c++], before, "first value");
  meta.last = unpackFloat(r, CODES[c++], first, "last value");
  meta.min = minRef === REF_STORED
    ? unpackFloat(r, CODES[c++], first, "min value")
    : minRef === REF_FIRST
    ? first
    : meta.last;
  meta.max = maxRef === REF_STORED
    ? unpackFloat(r, CODES[c++], first, "max value")
    : maxRef === REF_FIRST
    ? first
    : meta.last;
  meta.sum = unpackFloat(r, CODES[c++], sumPredictor(meta), "sum");
}

/** v - base, exact (a bigint when not a safe integer). */
function minus(v: number | bigint, base: number | bigint): number | bigint {
  if (typeof v === "number" && typeof base === "number") {
    const d = v - base;
    if (Number.isSafeInteger(d)) return d;
  }
  return BigInt(v) - BigInt(base);
}

/**
 * Integer and unsigned statistics: first (zigzag or plain varint), then last, min and max (when
 * not references) as zigzag deltas from first (counters: small), then the sum (zigzag,
 * unbounded).
 */
function writeIntegerStats(
  out: ByteWriter,
  type: FieldType,
  m: BlockMeta,
  minRef: number,
  maxRef: number,
): void {
  const first = m.first as number | bigint;
  writeStat(out, type, first);
  writeInt(out, minus(m.last as number | bigint, first));
  if (minRef === REF_STORED) writeInt(out, minus(m.min as number | bigint, first));
  if (maxRef === REF_STORED) writeInt(out, minus(m.max as number | bigint, first));
  writeInt(out, m.sum!);
}

function readIntegerStats(
  r: ByteReader,
  type: FieldType,
  meta: BlockMeta,
  minRef: number,
  maxRef: number,
): void {
  const first = meta.first = readStat(r, type, "first value") as number | bigint;
  const [lo, hi] = type === FieldType.Integer ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
  const delta = (what: string) => {
    const at = r.offset;
    const d = readInt(r, what);
    if (typeof d === "number" && typeof first === "number") {
      const v = first + d;
      if (Number.isSafeInteger(v) && (type === FieldType.Integer || v >= 0)) return v;
    }
    const v = BigInt(first) + BigInt(d);
    if (v < lo || v > hi) r.fail(`${what} ${v} out of range`, at);
    return normal(v);
  };
  meta.last = delta("last value");
  meta.min = minRef === REF_STORED ? delta("min value") : minRef === REF_FIRST ? first : meta.last;
  meta.max = maxRef === REF_STORED ? delta("max value") : maxRef === REF_FIRST ? first : meta.last;
  meta.sum = readInt(r, "sum");
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
      if (type === FieldType.Float) {
        const before = b > 0 ? blocks[b - 1].last as number : 0;
        writeFloatStats(out, m, minRef, maxRef, before);
      } else if (numeric) {
        writeIntegerStats(out, type, m, minRef, maxRef);
      } else {
        writeStat(out, type, m.first);
        writeStat(out, type, m.last);
        continue;
      }
      for (const t of [tMin, tMax]) {
        if (!t) continue;
        out.uvarint((t.ms - m.minTimeMs) / scale);
        if (!subZero) out.uvarint(t.subMs);
      }
    }
    previous = blocks;
  }
}

/**
 * An array for `n` entries read from an index: of exactly that length when `n` is small (an
 * array grown by push from empty takes room for 17, and a high-cardinality index holds one or
 * two blocks and tags per series, a million times), else grown as read (a damaged count must
 * not allocate what the bytes cannot hold).
 */
export function entryArray<T>(n: number): T[] {
  return n <= 16 ? new Array<T>(n) : [];
}

/**
 * A block's metadata with its statistics to be filled, every property a numeric block will
 * have present from the start: one object shape, its properties in the object itself (added
 * later, five of them went to a separate property array: about 100 bytes per block).
 */
function blockMeta(
  offset: number,
  length: number,
  count: number,
  minTimeMs: number,
  minTimeSubMs: number,
  maxTimeMs: number,
  maxTimeSubMs: number,
  numeric: boolean,
): BlockMeta {
  if (!numeric) {
    return {
      offset,
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
  return {
    offset,
    length,
    count,
    minTimeMs,
    minTimeSubMs,
    maxTimeMs,
    maxTimeSubMs,
    first: false,
    last: false,
    min: undefined,
    max: undefined,
    sum: undefined,
    minTimeOfMin: undefined,
    minTimeOfMax: undefined,
  };
}

/** Reads what {@linkcode writeFieldsV3} wrote; a bad entry is a `CodecError` at its offset. */
export function readFieldsV3(
  r: ByteReader,
  strings = new IndexStrings(),
): ReadonlyMap<string, SegmentField> {
  const fieldCount = r.uvarint("field count");
  let next = r.uvarint("first block offset");
  const names = entryArray<string>(fieldCount);
  const fields = entryArray<SegmentField>(fieldCount);
  let baseMs = 0, haveBase = false;
  let previous: BlockMeta[] = [];
  for (let f = 0; f < fieldCount; f++) {
    const name = strings.name(readString(r));
    const type = r.u8("field type") as FieldType;
    if (type < 1 || type > 5) r.fail(`unknown field type ${type}`, r.offset - 1);
    const numeric = isNumeric(type);
    const blockCount = r.uvarint("block count");
    const blocks = entryArray<BlockMeta>(blockCount);
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
        meta = blockMeta(
          next,
          length,
          p.count,
          p.minTimeMs,
          p.minTimeSubMs,
          p.maxTimeMs,
          p.maxTimeSubMs,
          numeric,
        );
      } else {
        const count = r.uvarint("value count");
        if (count === 0) r.fail("block of 0 values", r.offset - 1);
        const refMs = b > 0 ? blocks[b - 1].maxTimeMs : haveBase ? baseMs : 0;
        const minTimeMs = refMs + r.varint("min time") * scale;
        const minTimeSubMs = subZero ? 0 : r.uvarint("min time sub-ms");
        const maxTimeMs = minTimeMs + r.uvarint("max time") * scale;
        const maxTimeSubMs = subZero ? 0 : r.uvarint("max time sub-ms");
        if (minTimeSubMs > 999_999 || maxTimeSubMs > 999_999) r.fail("sub-ms beyond 999999");
        meta = blockMeta(
          next,
          length,
          count,
          minTimeMs,
          minTimeSubMs,
          maxTimeMs,
          maxTimeSubMs,
          numeric,
        );
      }
      if (!haveBase) baseMs = meta.minTimeMs, haveBase = true;
      next += 4 + length;
      if (type === FieldType.Float) {
        readFloatStats(r, meta, minRef, maxRef, b > 0 ? blocks[b - 1].last as number : 0);
      } else if (numeric) {
        readIntegerStats(r, type, meta, minRef, maxRef);
      } else {
        meta.first = readStat(r, type, "first value");
        meta.last = readStat(r, type, "last value");
      }
      if (numeric) {
        // Frozen and shared (read only): one object for both when min and max are the first
        // value (every one-value block), and with the blocks before it at the same time.
        const time = (ref: number, what: string) => {
          if (ref === REF_FIRST) return strings.time(meta.minTimeMs, meta.minTimeSubMs);
          const ms = meta.minTimeMs + r.uvarint(what) * scale;
          const subMs = subZero ? 0 : r.uvarint(`${what} sub-ms`);
          if (subMs > 999_999) r.fail(`${what} sub-ms ${subMs} beyond 999999`);
          return strings.time(ms, subMs);
        };
        meta.minTimeOfMin = time(minRef, "time of min");
        meta.minTimeOfMax = time(maxRef, "time of max");
      }
      blocks[b] = meta;
    }
    names[f] = name;
    fields[f] = { type, blocks };
    previous = blocks;
  }
  if (fieldCount === 1) return new OneField(names[0], fields[0]);
  if (fieldCount <= FIELD_LIST_MAX && new Set(names).size === fieldCount) {
    return new FieldList(strings.names(names), fields);
  }
  // Many fields, or a name twice (a damaged or hand-made entry: the last one wins, as in a Map).
  return new Map(names.map((name, i) => [name, fields[i]]));
}
