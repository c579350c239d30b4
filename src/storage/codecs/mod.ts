/**
 * Column codecs of the segment store: pure functions that append an encoded block to a
 * caller's {@linkcode ByteWriter} and decode a block back into typed arrays, one file per value
 * type. Every block starts with its encoding id ({@linkcode Encoding}); FORMAT.md has the byte
 * diagrams. Decoders raise {@linkcode CodecError} (with the offset inside the block) on bytes
 * they cannot trust; the block layer maps it to a `CorruptionError` with file and offset.
 *
 * @module
 */
export * from "./block_stats.ts";
export * from "./booleans.ts";
export * from "./bytes.ts";
export * from "./encoding.ts";
export * from "./floats.ts";
export * from "./integers.ts";
export * from "./simple8b.ts";
export * from "./strings.ts";
export * from "./timestamps.ts";
export * from "./unsigned.ts";
