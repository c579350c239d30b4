/**
 * The encoding-id byte table. Every encoded block starts with one byte naming its encoding, as
 * in InfluxDB's tsm1: a new encoding takes a new id and old blocks stay readable, so adding a
 * codec is never a format break. The high nibble names the value type, so a block handed to the
 * wrong decoder is caught at its first byte. Ids are written to disk: never renumber.
 *
 * Every block then holds its value count as a uvarint, in [1, {@linkcode MAX_BLOCK_VALUES}].
 * Empty blocks are not a thing: encoding zero values is a `BUG:` (the block layer never writes
 * one, and block statistics need a first and a last value).
 *
 * @module
 */

import type { ByteReader, ByteWriter } from "./bytes.ts";

/** Encoding ids, by value type (high nibble) and encoding (low nibble). See FORMAT.md. */
export const Encoding = {
  TimestampsRaw: 0x10,
  TimestampsRle: 0x11,
  TimestampsDelta: 0x12,
  TimestampsDeltaOfDelta: 0x13,
  FloatsRaw: 0x20,
  FloatsGorilla: 0x21,
  FloatsConstant: 0x22,
  FloatsDeltaPacked: 0x23,
  FloatsBucketed: 0x24,
  FloatsDecimal: 0x25,
  IntegersRaw: 0x30,
  IntegersRle: 0x31,
  IntegersSimple8b: 0x32,
  IntegersPacked: 0x33,
  UnsignedRaw: 0x40,
  UnsignedRle: 0x41,
  UnsignedSimple8b: 0x42,
  UnsignedPacked: 0x43,
  BooleansPacked: 0x50,
  BooleansConstant: 0x51,
  BooleansRuns: 0x52,
  StringsPlain: 0x60,
  StringsDictionary: 0x61,
  StringsDeflate: 0x62,
} as const;

/** One of {@linkcode Encoding}'s values. */
export type Encoding = typeof Encoding[keyof typeof Encoding];

const NAMES = new Map<number, string>(Object.entries(Encoding).map(([k, v]) => [v, k]));

/** The name of an encoding id (`"FloatsGorilla"`), or `undefined` for an unknown byte. */
export function encodingName(id: number): string | undefined {
  return NAMES.get(id);
}

/**
 * The encoding of an encoded block (its first byte), for tests, tools and statistics.
 * @throws {Error} `BUG:` on an empty buffer.
 */
export function encodingOf(block: Uint8Array): number {
  if (block.length === 0) throw new Error("BUG: encodingOf an empty buffer");
  return block[0];
}

/**
 * The most values one block may hold. Decoders refuse larger counts, so a corrupt count cannot
 * make them allocate gigabytes.
 */
export const MAX_BLOCK_VALUES = 1 << 20;

/** Throws `BUG:` unless `count` is a valid block size; `what` names the codec. */
export function checkCount(count: number, what: string): void {
  if (count === 0) {
    throw new Error(`BUG: ${what}: empty blocks are not encoded (count 0)`);
  }
  if (count > MAX_BLOCK_VALUES) {
    throw new Error(`BUG: ${what}: ${count} values exceed MAX_BLOCK_VALUES (${MAX_BLOCK_VALUES})`);
  }
}

/** Writes the id byte and the count. */
export function writeHeader(out: ByteWriter, id: number, count: number): void {
  out.u8(id);
  out.uvarint(count);
}

/**
 * Reads the id byte and the count, checking the id is in the value type's family (`family` is
 * the high nibble, e.g. `0x20` for floats) and the count is in [1, MAX_BLOCK_VALUES].
 * @throws {CodecError}
 */
export function readHeader(
  r: ByteReader,
  family: number,
  what: string,
): { id: number; count: number } {
  const at = r.offset;
  const id = r.u8(`${what} encoding id`);
  if ((id & 0xf0) !== family || !NAMES.has(id)) {
    const name = encodingName(id);
    r.fail(
      `unknown ${what} encoding id 0x${id.toString(16).padStart(2, "0")}` +
        (name ? ` (a ${name} block)` : ""),
      at,
    );
  }
  const countAt = r.offset;
  const count = r.uvarint(`${what} count`);
  if (count === 0 || count > MAX_BLOCK_VALUES) {
    r.fail(`${what} count ${count} outside [1, ${MAX_BLOCK_VALUES}]`, countAt);
  }
  return { id, count };
}
