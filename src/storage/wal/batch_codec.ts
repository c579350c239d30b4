/**
 * The payload of a WAL write record: one database, one retention policy, many points.
 * Binary and little-endian; layout in FORMAT.md beside this file.
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

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable little-endian buffer for one record. */
class Out {
  bytes = new Uint8Array(4096);
  view = new DataView(this.bytes.buffer);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; the u32 length is patched after encoding.
    this.ensure(4 + s.length * 3);
    const { written } = encoder.encodeInto(s, this.bytes.subarray(this.pos + 4));
    this.view.setUint32(this.pos, written, true);
    this.pos += 4 + written;
  }
}

/** Encodes a batch into record payload bytes. */
export function encodeWriteBatch(batch: WriteBatch): Uint8Array {
  const out = new Out();
  out.str(batch.database);
  out.str(batch.retentionPolicy);
  out.u32(batch.points.length);
  for (const p of batch.points) {
    out.str(p.measurement);
    out.u16(p.tags.length);
    for (const t of p.tags) {
      out.str(t.key);
      out.str(t.value);
    }
    out.u16(p.fields.length);
    for (const f of p.fields) {
      out.str(f.key);
      out.u8(f.type);
      writeValue(out, f.type, f.value);
    }
    out.f64(p.timeMs);
    out.u32(p.timeSubMs);
  }
  return out.bytes.slice(0, out.pos);
}

function writeValue(out: Out, type: FieldType, value: FieldValue): void {
  switch (type) {
    case FieldType.Float:
      out.f64(value as number);
      return;
    case FieldType.Integer:
    case FieldType.Unsigned:
      // 0: a safe integer as f64; 1: the full 64 bits (two's complement for int64).
      if (typeof value === "number") {
        out.u8(0);
        out.f64(value);
      } else {
        out.u8(1);
        out.i64(BigInt.asIntN(64, value as bigint));
      }
      return;
    case FieldType.String:
      out.str(value as string);
      return;
    case FieldType.Boolean:
      out.u8(value ? 1 : 0);
      return;
    default:
      throw new Error(`BUG: unknown field type ${type}`);
  }
}

/**
 * Decodes record payload bytes. `file` and `offset` locate the record for the error raised when
 * the payload does not parse (which its checksum should have made impossible).
 * @throws {CorruptionError} when the payload is malformed.
 */
export function decodeWriteBatch(bytes: Uint8Array, file: string, offset: number): WriteBatch {
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
  const str = () => {
    const n = u32();
    need(n);
    pos += n;
    return decoder.decode(bytes.subarray(pos - n, pos));
  };
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
          value = str();
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
