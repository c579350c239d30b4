/**
 * Segment files (src/storage/segment/): `SegmentReader.open` and every read after it (series,
 * measurements, lookups, each block of each field) throw only a `CorruptionError`, and what they
 * return keeps the block contract: as many values and times as the block's count says, of the
 * field's type, times strictly increasing. Inputs are segments of every field type written by
 * `encodeSegment`, the v1 and v2 fixtures, mutated anywhere; after a mutation the index and
 * block checksums are often computed again, so the parsers behind them meet the damage.
 * @module
 */
import fc from "fast-check";
import { CorruptionError, crc32c, FieldType, type FieldValue } from "../../../src/core/mod.ts";
import { CrashFileSystem } from "../../../src/core/testing/mod.ts";
import {
  BlockCache,
  encodeSegment,
  openIndex,
  SEGMENT_FOOTER_BYTES,
  SegmentReader,
  type SegmentSeriesInput,
} from "../../../src/storage/segment/mod.ts";
import type { ColumnView } from "../../../src/storage/column.ts";
import { mutate, structuredAndMutated } from "../_mutate.ts";
import { count, demand, expectOnly, expectOnlyAsync, type FuzzTarget } from "../_target.ts";

const FIXTURES = ["v1.seg", "v2.seg"].map((f) =>
  Deno.readFileSync(new URL(`../../../src/storage/segment/testdata/${f}`, import.meta.url))
);

/** A column of `n` values of `type` at increasing times. */
export function column(
  type: FieldType,
  n: number,
  start: number,
  step: number,
  seed: number,
): ColumnView {
  const timesMs = new Float64Array(n), timesSubMs = new Float64Array(n);
  const values: FieldValue[] = [];
  for (let i = 0; i < n; i++) {
    timesMs[i] = start + i * step;
    timesSubMs[i] = (i * 7919 + seed) % 1_000_000;
    const x = (seed + i * 31) % 97;
    values.push(
      type === FieldType.Float
        ? x / 7
        : type === FieldType.Integer
        ? (x % 2 ? x : 2n ** 60n + BigInt(x))
        : type === FieldType.Unsigned
        ? (x % 2 ? x : 2n ** 63n + BigInt(x))
        : type === FieldType.String
        ? `s${x % 5}`
        : x % 3 === 0,
    );
  }
  return {
    type,
    length: n,
    timesMs,
    timesSubMs,
    values: type === FieldType.Float ? Float64Array.from(values as number[]) : values,
  };
}

const series: fc.Arbitrary<SegmentSeriesInput> = fc.record({
  measurement: fc.constantFrom("cpu", "mem", "m\u00e9"),
  host: fc.constantFrom("a", "b", "c"),
  fields: fc.uniqueArray(
    fc.tuple(
      fc.constantFrom("v", "w", "x", "y", "z"),
      fc.constantFrom(
        FieldType.Float,
        FieldType.Integer,
        FieldType.Unsigned,
        FieldType.String,
        FieldType.Boolean,
      ),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.nat(1000),
    ),
    { minLength: 1, maxLength: 3, selector: ([k]) => k },
  ),
}).map(({ measurement, host, fields }) => ({
  key: `${measurement},host=${host}`,
  measurement,
  tags: [{ key: "host", value: host }],
  fields: new Map(fields.map(([k, type, n, step, seed]) => [
    k,
    column(type, n, 1_700_000_000_000, step, seed),
  ])),
}));

/** Whole segment files of up to four series in blocks of a few values. */
const files = fc.record({
  series: fc.uniqueArray(series, { minLength: 1, maxLength: 4, selector: (s) => s.key }),
  blockValues: fc.constantFrom(3, 8, 1000),
  level: fc.nat(3),
}).map(({ series, blockValues, level }) => encodeSegment(series, { level, blockValues }));

/**
 * Computes the index checksum again, and each block's that the index locates, so that damage
 * under them reaches the parsers (a checksum alone stops almost every mutation).
 */
function fixChecksums(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8 + SEGMENT_FOOTER_BYTES) return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const at = view.getFloat64(footer, true), length = view.getUint32(footer + 8, true);
  if (!Number.isInteger(at) || at < 8 || at + length !== footer) return bytes;
  const index = bytes.subarray(at, at + length);
  try {
    for (const s of openIndex(bytes[4], index).all().values()) {
      for (const f of s.fields.values()) {
        for (const b of f.blocks) {
          if (b.offset >= 0 && b.offset + 4 + b.length <= footer) {
            view.setUint32(
              b.offset,
              crc32c(bytes.subarray(b.offset + 4, b.offset + 4 + b.length)),
              true,
            );
          }
        }
      }
    }
  } catch {
    // An index that does not parse: only its own checksum is made right.
  }
  view.setUint32(footer + 12, crc32c(index), true);
  return bytes;
}

const mutation = fc.tuple(fc.nat(12), fc.nat(), fc.nat(), fc.nat());

/** A segment with bytes changed, then (mostly) its checksums made right again. */
const damaged = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: files }, { weight: 1, arbitrary: fc.constantFrom(...FIXTURES) }),
  fc.array(mutation, { minLength: 1, maxLength: 3 }),
  fc.constantFrom("index", "index", "blocks", "anywhere"),
  fc.boolean(),
).map(([file, mutations, where, fix]) => {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const footer = file.length - SEGMENT_FOOTER_BYTES;
  const at = view.getFloat64(footer, true);
  let out: Uint8Array;
  if (where === "index") {
    // Same length in place (offsets stay true): flips and overwrites only.
    const index = file.slice(at, footer);
    const m = mutate(
      index,
      mutations.map(([k, a, b, c]) => [[0, 1, 2, 11][k % 4], a, b, c]),
      [],
      [],
    );
    out = file.slice();
    out.set(m.subarray(0, footer - at), at);
  } else if (where === "blocks") {
    const body = file.slice(8, at);
    const m = mutate(
      body,
      mutations.map(([k, a, b, c]) => [[0, 1, 2, 11][k % 4], a, b, c]),
      [],
      [],
    );
    out = file.slice();
    out.set(m.subarray(0, at - 8), 8);
  } else out = mutate(file, mutations, FIXTURES, []);
  return fix ? fixChecksums(out) : out;
});

export const segmentTarget: FuzzTarget = {
  name: "segment",
  about: "SegmentReader.open and every read throw only CorruptionError; blocks keep their " +
    "count, type and time order",
  inputs: fc.oneof(
    { weight: 3, arbitrary: damaged },
    { weight: 1, arbitrary: structuredAndMutated(files, FIXTURES, []) },
  ),
  open() {
    const outcomes: Record<string, number> = {};
    let n = 0;
    return Promise.resolve({
      outcomes,
      async check(input: Uint8Array) {
        const fs = new CrashFileSystem();
        await fs.mkdir("/s");
        const path = `/s/${++n}.seg`;
        await fs.writeFileAtomic(path, input);
        const reader = await expectOnlyAsync(
          () => SegmentReader.open(fs, path, new BlockCache(100_000)),
          [CorruptionError],
        );
        if (reader === undefined) return void count(outcomes, "refused at open");
        try {
          demand(Number.isInteger(reader.seriesCount) && reader.seriesCount >= 0, "series count");
          expectOnly(() => reader.measurements(), [CorruptionError]);
          reader.seriesHashes();
          // The series Map parses entries as it is walked: damage there is a CorruptionError.
          const all = expectOnly(() => [...reader.series], [CorruptionError]);
          if (all === undefined) return void count(outcomes, "refused index");
          let blocks = 0, refused = 0;
          for (const [key, s] of all) {
            expectOnly(() => reader.lookup(key), [CorruptionError]);
            expectOnly(() => reader.hasSeries(key), [CorruptionError]);
            expectOnly(() => reader.seriesOf(s.measurement), [CorruptionError]);
            // A series parses its fields on first use: damage there is a CorruptionError too.
            const fields = expectOnly(() => s.fields, [CorruptionError]);
            if (fields === undefined) {
              refused++;
              continue;
            }
            for (const [name, f] of fields) {
              for (const meta of f.blocks) {
                const col = await expectOnlyAsync(() => reader.readBlock(f.type, meta), [
                  CorruptionError,
                ]);
                if (col === undefined) {
                  refused++;
                  continue;
                }
                blocks++;
                const where = `${key} ${name} block at ${meta.offset}`;
                demand(
                  col.length === meta.count && col.timesMs.length === col.length &&
                    col.timesSubMs.length === col.length && col.values.length === col.length,
                  () => `${where}: ${col.length} values for a count of ${meta.count}`,
                );
                demand(col.type === f.type, () => `${where}: type ${col.type} for ${f.type}`);
                for (let i = 1; i < col.length; i++) {
                  const a = col.timesMs[i - 1], b = col.timesMs[i];
                  demand(
                    a < b || (a === b && col.timesSubMs[i - 1] < col.timesSubMs[i]),
                    () => `${where}: times not increasing at ${i}`,
                  );
                }
              }
            }
          }
          count(outcomes, blocks > 0 ? "blocks read" : refused > 0 ? "blocks refused" : "empty");
        } finally {
          reader.close();
        }
      },
      close: () => Promise.resolve(),
    });
  },
};
