/**
 * The general-purpose compression of cold segments' block payloads (FORMAT.md, header byte 6):
 * raw DEFLATE (RFC 1951, fflate) over the encoded block (timestamps length, timestamps block,
 * values block). The codecs already remove most redundancy of a column; DEFLATE finds what is
 * left across a larger block (repeated strings, byte patterns of XORed floats).
 * @module
 */
import { deflateSync, inflateSync } from "fflate";

/**
 * DEFLATE level of cold blocks: measured on the bench workload (bench/cold_tier_bench.ts),
 * levels above 6 saved under 1% more at twice the encoding time.
 */
export const COLD_DEFLATE_LEVEL = 6;

/** Compresses an encoded block payload. */
export function deflateBlock(payload: Uint8Array, level = COLD_DEFLATE_LEVEL): Uint8Array {
  return deflateSync(payload, { level: level as 6 });
}

/**
 * Decompresses a block payload.
 * @throws {Error} for bytes that are not a DEFLATE stream (the reader reports it as corruption).
 */
export function inflateBlock(stored: Uint8Array): Uint8Array {
  return inflateSync(stored);
}
