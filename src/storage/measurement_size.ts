/**
 * Per-measurement size limits (`max_bytes` in a measurement's schema): the bytes of a
 * measurement's blocks in a database, and up to which instant its oldest data must go so that
 * the rest fits. The segment index knows every block's length and time range, so the figures
 * come without reading a block; they are kept per segment reader (a segment never changes).
 * @module
 */
import type { SegmentReader } from "./segment/mod.ts";

/** One stored block of a measurement: its last instant (ms) and its bytes with the checksum. */
export interface SizedBlock {
  maxMs: number;
  bytes: number;
}

/** Bytes of a block beyond its index length: the CRC-32C after it (segment/FORMAT.md). */
const BLOCK_CHECKSUM_BYTES = 4;

const perReader = new WeakMap<SegmentReader, Map<string, SizedBlock[]>>();

/**
 * The blocks of `measurement` in a segment (every field of every series), cached per reader.
 * @throws {CorruptionError} for an index entry that does not parse.
 */
export function measurementBlocks(reader: SegmentReader, measurement: string): SizedBlock[] {
  let byMeasurement = perReader.get(reader);
  if (!byMeasurement) perReader.set(reader, byMeasurement = new Map());
  let blocks = byMeasurement.get(measurement);
  if (blocks) return blocks;
  blocks = [];
  if (reader.measurements().includes(measurement)) {
    for (const series of reader.seriesOf(measurement)) {
      for (const field of series.fields.values()) {
        for (const b of field.blocks) {
          blocks.push({ maxMs: b.maxTimeMs, bytes: b.length + BLOCK_CHECKSUM_BYTES });
        }
      }
    }
  }
  byMeasurement.set(measurement, blocks);
  return blocks;
}

/** The sum of the blocks' bytes. */
export function blockBytes(blocks: readonly SizedBlock[]): number {
  let n = 0;
  for (const b of blocks) n += b.bytes;
  return n;
}

/**
 * The last instant (ms, inclusive) up to which a measurement's data must go for the rest to fit
 * in `maxBytes`, or undefined when it fits already. Whole blocks count, oldest end first; every
 * block ending at or before the instant goes (blocks ending at the same instant too, and a block
 * cut by it shrinks, which only frees more), so what stays is at most `maxBytes`.
 * @example
 * ```ts
 * sizeCutoffMs([{ maxMs: 10, bytes: 60 }, { maxMs: 20, bytes: 60 }], 100); // 10
 * ```
 */
export function sizeCutoffMs(blocks: readonly SizedBlock[], maxBytes: number): number | undefined {
  let total = blockBytes(blocks);
  if (maxBytes <= 0 || total <= maxBytes) return undefined;
  const sorted = [...blocks].sort((a, b) => a.maxMs - b.maxMs);
  let i = 0;
  while (i < sorted.length && total > maxBytes) total -= sorted[i++].bytes;
  return sorted[i - 1].maxMs;
}
