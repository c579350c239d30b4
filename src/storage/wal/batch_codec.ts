/**
 * The payload of a WAL write record: one database, one retention policy, many points.
 * Binary and little-endian; layout in FORMAT.md beside this file.
 *
 * Two layouts exist. {@linkcode encodeWriteBatch} writes the interned one (record type 3): every
 * distinct string of the batch (database, policy, measurements, tag keys and values, field keys) is
 * stored once in a table at the start and points refer to it by u32 index, so a batch of points of
 * a few hundred series encodes a few hundred strings instead of ~30 per point. The plain layout
 * (record type 1, every string inline) is what WAL version 1 wrote; it is still decoded.
 * @module
 */
import {
  CorruptionError,
  FieldType,
  type FieldValue,
  type Point,
  type Tag,
} from "../../core/mod.ts";

/** A write as the WAL keeps it. */
export interface WriteBatch {
  database: string;
  retentionPolicy: string;
  points: Point[];
}

/** The layouts of a write batch payload. */
export const WriteBatchLayout = {
  /** Every string inline (record type 1; all WAL version 1 wrote). */
  Plain: 1,
  /** A string table, then u32 indexes (record type 3, WAL version 2). */
  Interned: 2,
} as const;
/** A layout of a write batch payload. */
export type WriteBatchLayout = typeof WriteBatchLayout[keyof typeof WriteBatchLayout];

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const INITIAL_OUT_BYTES = 64 * 1024;
/** A buffer grown past this by one huge batch is dropped after it, not kept for ever. */
const MAX_KEPT_OUT_BYTES = 4 * 1024 * 1024;

/** A growable little-endian buffer, reused between records (encoding is synchronous). */
class Out {
  bytes = new Uint8Array(INITIAL_OUT_BYTES);
  view = new DataView(this.bytes.buffer);
  pos = 0;
  /** Empties the buffer, letting go of memory a huge record made it take. */
  reset(at: number): void {
    this.pos = at;
    if (this.bytes.length > MAX_KEPT_OUT_BYTES) {
      this.bytes = new Uint8Array(INITIAL_OUT_BYTES);
      this.view = new DataView(this.bytes.buffer);
    }
  }
  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  /** Writes a u32 length and the UTF-8 bytes of `s`. */
  str(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; the u32 length is patched after encoding.
    const n = s.length;
    this.ensure(4 + n * 3);
    const bytes = this.bytes;
    const start = this.pos + 4;
    let i = 0;
    // ASCII inline: short names are the rule, and a call into the encoder costs more than them.
    if (n <= 64) {
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[start + i] = c;
      }
    }
    let written = i;
    if (i < n) written = encoder.encodeInto(s, bytes.subarray(start)).written;
    this.view.setUint32(this.pos, written, true);
    this.pos = start + written;
  }
}

const table = new Out();
const body = new Out();

/** The string indexes of a tag set, and the Tag objects they were taken from. */
interface TagSetIds {
  tags: readonly Tag[];
  ids: number[];
}

/** Encodes a batch into record payload bytes, interned layout (record type 3). */
export function encodeWriteBatch(batch: WriteBatch): Uint8Array {
  table.reset(4);
  body.reset(0);
  const index = new Map<string, number>();
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = index.size;
      index.set(s, i);
      table.str(s);
    }
    return i;
  };
  // Decoders hand every point of a series the same Tag objects, and most points of a batch
  // share their measurement and field keys in the same order: remembering the indexes by those
  // objects replaces ~30 map lookups per point by pointer comparisons. Within this synchronous
  // call nothing can change a Tag, so equal objects mean equal strings.
  const tagSets = new Map<Tag, TagSetIds>();
  let lastMeasurement: string | undefined, lastMeasurementId = 0;
  const fieldKeys: string[] = [], fieldIds: number[] = [];
  const { points } = batch;
  body.ensure(12);
  body.view.setUint32(0, intern(batch.database), true);
  body.view.setUint32(4, intern(batch.retentionPolicy), true);
  body.view.setUint32(8, points.length, true);
  body.pos = 12;
  for (let p = 0; p < points.length; p++) {
    const { measurement, tags, fields, timeMs, timeSubMs } = points[p];
    // The fixed-size part of the point at once; string values ensure their own room.
    body.ensure(4 + 2 + tags.length * 8 + 2 + fields.length * 14 + 12);
    let view = body.view;
    let pos = body.pos;
    if (measurement !== lastMeasurement) {
      lastMeasurement = measurement;
      lastMeasurementId = intern(measurement);
    }
    view.setUint32(pos, lastMeasurementId, true);
    view.setUint16(pos + 4, tags.length, true);
    pos += 6;
    if (tags.length > 0) {
      const ids = tagSetIds(tagSets, tags, intern);
      for (let t = 0; t < ids.length; t++) {
        view.setUint32(pos, ids[t], true);
        pos += 4;
      }
    }
    view.setUint16(pos, fields.length, true);
    pos += 2;
    for (let f = 0; f < fields.length; f++) {
      const { key, type, value } = fields[f];
      let keyId: number;
      if (fieldKeys[f] === key) keyId = fieldIds[f];
      else {
        keyId = fieldIds[f] = intern(key);
        fieldKeys[f] = key;
      }
      view.setUint32(pos, keyId, true);
      view.setUint8(pos + 4, type);
      pos += 5;
      if (type === FieldType.Float) {
        view.setFloat64(pos, value as number, true);
        pos += 8;
      } else if (type === FieldType.String) {
        body.pos = pos;
        body.str(value as string);
        // The string may have grown the buffer: room again for the fixed part still to come.
        body.ensure((fields.length - f - 1) * 14 + 12);
        view = body.view;
        pos = body.pos;
      } else {
        pos = writeScalar(view, pos, type, value);
      }
    }
    view.setFloat64(pos, timeMs, true);
    view.setUint32(pos + 8, timeSubMs, true);
    body.pos = pos + 12;
  }
  table.view.setUint32(0, index.size, true);
  const out = new Uint8Array(table.pos + body.pos);
  out.set(table.bytes.subarray(0, table.pos));
  out.set(body.bytes.subarray(0, body.pos), table.pos);
  return out;
}

/** The key and value indexes of a non-empty tag set, interleaved; looked up by its first Tag. */
function tagSetIds(
  known: Map<Tag, TagSetIds>,
  tags: readonly Tag[],
  intern: (s: string) => number,
): number[] {
  const n = tags.length;
  const hit = known.get(tags[0]);
  if (hit !== undefined && hit.tags.length === n) {
    let t = 1;
    while (t < n && hit.tags[t] === tags[t]) t++;
    if (t === n) return hit.ids;
  }
  const ids: number[] = new Array(n * 2);
  for (let t = 0; t < n; t++) {
    ids[2 * t] = intern(tags[t].key);
    ids[2 * t + 1] = intern(tags[t].value);
  }
  // A copy: the caller may reuse its array for another tag set later in the batch.
  known.set(tags[0], { tags: tags.slice(), ids });
  return ids;
}

/** Writes a non-string, non-float value (at most 9 bytes); returns the next position. */
function writeScalar(view: DataView, pos: number, type: FieldType, value: FieldValue): number {
  switch (type) {
    case FieldType.Integer:
    case FieldType.Unsigned:
      // 0: a safe integer as f64; 1: the full 64 bits (two's complement for int64).
      if (typeof value === "number") {
        view.setUint8(pos, 0);
        view.setFloat64(pos + 1, value, true);
      } else {
        view.setUint8(pos, 1);
        view.setBigInt64(pos + 1, BigInt.asIntN(64, value as bigint), true);
      }
      return pos + 9;
    case FieldType.Boolean:
      view.setUint8(pos, value ? 1 : 0);
      return pos + 1;
    default:
      throw new Error(`BUG: unknown field type ${type}`);
  }
}

/**
 * Decodes record payload bytes of the given layout (by record type: 1 plain, 3 interned).
 * `file` and `offset` locate the record for the error raised when the payload does not parse
 * (which its checksum should have made impossible).
 * @throws {CorruptionError} when the payload is malformed.
 */
export function decodeWriteBatch(
  bytes: Uint8Array,
  file: string,
  offset: number,
  layout: WriteBatchLayout = WriteBatchLayout.Interned,
): WriteBatch {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) {
      throw new CorruptionError(file, offset, `write record payload truncated at byte ${pos}`);
    }
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const f64 = () => (need(8), pos += 8, view.getFloat64(pos - 8, true));
  const i64 = () => (need(8), pos += 8, view.getBigInt64(pos - 8, true));
  const inline = () => {
    const n = u32();
    need(n);
    pos += n;
    return decoder.decode(bytes.subarray(pos - n, pos));
  };
  let str = inline;
  if (layout === WriteBatchLayout.Interned) {
    const count = u32();
    // Each entry takes at least its 4-byte length: a bigger count is damage, not an allocation.
    need(count * 4);
    const strings: string[] = new Array(count);
    for (let i = 0; i < count; i++) strings[i] = inline();
    str = () => {
      const at = pos;
      const i = u32();
      if (i >= count) {
        throw new CorruptionError(
          file,
          offset,
          `string index ${i} at byte ${at} is past the table of ${count} strings`,
        );
      }
      return strings[i];
    };
  } else if (layout !== WriteBatchLayout.Plain) {
    throw new Error(`BUG: unknown write batch layout ${layout}`);
  }
  const database = str();
  const retentionPolicy = str();
  const count = u32();
  const points: Point[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const measurement = str();
    const tags: Tag[] = new Array(u16());
    for (let t = 0; t < tags.length; t++) tags[t] = { key: str(), value: str() };
    const fields = new Array(u16());
    for (let f = 0; f < fields.length; f++) {
      const key = str();
      const type = u8() as FieldType;
      let value: FieldValue;
      switch (type) {
        case FieldType.Float:
          value = f64();
          break;
        case FieldType.Integer:
        case FieldType.Unsigned: {
          const wide = u8();
          if (wide === 0) value = f64();
          else {
            const v = i64();
            value = type === FieldType.Unsigned ? BigInt.asUintN(64, v) : v;
          }
          break;
        }
        case FieldType.String:
          value = inline();
          break;
        case FieldType.Boolean:
          value = u8() === 1;
          break;
        default:
          throw new CorruptionError(file, offset, `unknown field type ${type} in write record`);
      }
      fields[f] = { key, type, value };
    }
    points[i] = { measurement, tags, fields, timeMs: f64(), timeSubMs: u32() };
  }
  return { database, retentionPolicy, points };
}
