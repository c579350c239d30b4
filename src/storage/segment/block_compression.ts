/**
 * The general-purpose compression of cold segments' block payloads (FORMAT.md, header byte 6):
 * raw DEFLATE (RFC 1951, fflate) over the encoded block (timestamps length, timestamps block,
 * values block), kept only where it is smaller. The codecs already remove most redundancy of a
 * column, and their bit-packed output is mostly beyond DEFLATE (bench/cold_tier_bench.ts: none
 * of the cpu workload's float blocks shrank); it finds what is left in other blocks (repeated
 * strings, byte patterns), and a block it cannot shrink costs one byte more, not DEFLATE's
 * stored-block framing.
 *
 * Stored form: one byte, then the block: `0` = as encoded, `1` = raw DEFLATE of it.
 * @module
 */
import { deflateSync, inflateSync } from "fflate";

/** DEFLATE level of cold blocks (a cold block is written once and read rarely). */
export const COLD_DEFLATE_LEVEL = 6;

const STORED = 0;
const DEFLATED = 1;

/** Compresses an encoded block payload, or keeps it as it is when DEFLATE does not shrink it. */
export function deflateBlock(payload: Uint8Array, level = COLD_DEFLATE_LEVEL): Uint8Array {
  const deflated = deflateSync(payload, { level: level as 6 });
  const smaller = deflated.length < payload.length;
  const out = new Uint8Array(1 + (smaller ? deflated.length : payload.length));
  out[0] = smaller ? DEFLATED : STORED;
  out.set(smaller ? deflated : payload, 1);
  return out;
}

/**
 * The encoded block of a stored payload.
 * @throws {Error} for an unknown form byte or bytes that are not a DEFLATE stream (the reader
 * reports it as corruption of the block).
 */
export function inflateBlock(stored: Uint8Array): Uint8Array {
  if (stored.length === 0) throw new Error("empty block payload");
  if (stored[0] === STORED) return stored.subarray(1);
  if (stored[0] === DEFLATED) return inflateSync(stored.subarray(1));
  throw new Error(`unknown block form ${stored[0]}`);
}
