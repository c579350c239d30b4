/**
 * The write-ahead log (src/storage/wal/):
 *
 * - `wal-record`: `decodeWriteBatch` on any payload (the first input byte picks the plain or the
 *   interned/series layout) throws only a `CorruptionError`, or returns a batch of well-typed
 *   points that encodes again and decodes to itself.
 * - `wal-segment`: `WriteAheadLog.open` over a segment file of framed records (mutated before
 *   or after framing, so records with valid checksums carry damaged payloads), on an in-memory
 *   file system, replays records and decodes them as the engine does, throwing only
 *   `CorruptionError`; a log it opened (its torn tail cut) opens again to the same records.
 * @module
 */
import fc from "fast-check";
import {
  CorruptionError,
  type Field,
  FieldType,
  type Point,
  silentLogger,
} from "../../../src/core/mod.ts";
import { CrashFileSystem, plainIfPacked } from "../../../src/core/testing/mod.ts";
import {
  decodeWriteBatch,
  encodeWriteBatch,
  frameRecord,
  type ReplayedRecord,
  WAL_MAGIC,
  WAL_VERSION,
  WriteAheadLog,
  type WriteBatch,
  WriteBatchLayout,
} from "../../../src/storage/wal/mod.ts";
import { concat, structuredAndMutated } from "../_mutate.ts";
import { isWellFormed } from "../_points.ts";
import { sameData } from "../_same.ts";
import { count, demand, expectOnly, expectOnlyAsync, type FuzzTarget } from "../_target.ts";

const name = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("cpu", "host", "a", "usage", "autogen", "db") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: "grapheme" }) },
);

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.tuple(name, fc.double({ noNaN: true, noDefaultInfinity: true })).map(([key, value]) => ({
    key,
    type: FieldType.Float,
    value,
  })),
  fc.tuple(name, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map(([key, v]) => ({
    key,
    type: FieldType.Integer,
    value: v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v,
  })),
  fc.tuple(name, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([key, v]) => ({
    key,
    type: FieldType.Unsigned,
    value: v <= 2n ** 53n - 1n ? Number(v) : v,
  })),
  fc.tuple(name, fc.string({ maxLength: 20, unit: "grapheme" })).map(([key, value]) => ({
    key,
    type: FieldType.String,
    value,
  })),
  fc.tuple(name, fc.boolean()).map(([key, value]) => ({ key, type: FieldType.Boolean, value })),
);

const point: fc.Arbitrary<Point> = fc.record({
  measurement: name,
  tags: fc.array(fc.tuple(name, name), { maxLength: 4 }).map((t) =>
    t.map(([key, value]) => ({ key, value }))
  ),
  fields: fc.array(field, { minLength: 1, maxLength: 4 }),
  timeMs: fc.integer({ min: -1e13, max: 1e13 }),
  timeSubMs: fc.nat(999_999),
});

/** Write batches as the engine logs them. */
export const writeBatches: fc.Arbitrary<WriteBatch> = fc.record({
  database: name,
  retentionPolicy: name,
  points: fc.array(point, { maxLength: 12 }),
});

/** Throws unless every point of a decoded batch is well typed. */
function checkBatch(b: WriteBatch): void {
  demand(isWellFormed(b.database) && isWellFormed(b.retentionPolicy), "a bad database name");
  for (const p of b.points) {
    demand(typeof p.measurement === "string" && Array.isArray(p.tags), "a bad point");
    for (const t of p.tags) {
      demand(typeof t.key === "string" && typeof t.value === "string", "a bad tag");
    }
    for (const f of p.fields) {
      const t = typeof f.value;
      const ok = f.type === FieldType.Float
        ? t === "number"
        : f.type === FieldType.Integer || f.type === FieldType.Unsigned
        ? t === "number" || t === "bigint"
        : f.type === FieldType.String
        ? t === "string"
        : f.type === FieldType.Boolean
        ? t === "boolean"
        : false;
      demand(ok, () => `a field of type ${f.type} holding a ${t}`);
    }
    demand(typeof p.timeMs === "number" && typeof p.timeSubMs === "number", "a bad time");
  }
}

const LAYOUTS = [WriteBatchLayout.Plain, WriteBatchLayout.Interned] as const;

export const walRecordTarget: FuzzTarget = {
  name: "wal-record",
  about: "decodeWriteBatch throws only CorruptionError; batches are typed and re-encode",
  inputs: structuredAndMutated(
    fc.tuple(fc.nat(1), writeBatches).map(([layout, b]) =>
      concat(Uint8Array.of(layout === 0 ? 1 : 0), encodeWriteBatch(b))
    ),
    [concat(
      Uint8Array.of(1),
      encodeWriteBatch({ database: "db", retentionPolicy: "rp", points: [] }),
    )],
    [],
  ),
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        if (input.length === 0) return;
        const layout = LAYOUTS[input[0] % 2];
        const batch = expectOnly(
          () => decodeWriteBatch(input.subarray(1), "fuzz.wal", 8, layout),
          [CorruptionError],
        );
        if (batch === undefined) return void count(outcomes, "refused");
        count(outcomes, "decoded");
        checkBatch(batch);
        const again = decodeWriteBatch(encodeWriteBatch(batch), "again.wal", 8);
        demand(
          sameData(again, batch, plainIfPacked),
          "a decoded batch does not survive encoding again",
        );
      },
      close: () => Promise.resolve(),
    });
  },
};

const RecordType = { Write: 1, Catalog: 2, WriteInterned: 3 };

/** A segment file: header, framed records, maybe a torn or zeroed tail. */
const segments: fc.Arbitrary<Uint8Array> = fc.record({
  batches: fc.array(writeBatches, { maxLength: 5 }),
  tail: fc.constantFrom("none", "none", "cut", "zeros", "garbage"),
  cut: fc.nat(),
}).map(({ batches, tail, cut }) => {
  const parts: Uint8Array[] = [Uint8Array.from([...WAL_MAGIC, WAL_VERSION, 0, 0, 0])];
  for (const b of batches) parts.push(frameRecord(RecordType.WriteInterned, encodeWriteBatch(b)));
  let bytes = concat(...parts);
  if (tail === "cut" && bytes.length > 8) bytes = bytes.subarray(0, 8 + (cut % (bytes.length - 8)));
  if (tail === "zeros") bytes = concat(bytes, new Uint8Array(1 + (cut % 600)));
  if (tail === "garbage") bytes = concat(bytes, Uint8Array.of(5, 0, 0, 0, 1, 2, 3, 4, 3, 9));
  return bytes;
});

/**
 * Damage with valid checksums: a record's payload mutated, then framed again (so the payload,
 * not the frame, is what the decoder meets).
 */
const reframed: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.array(
    structuredAndMutated(writeBatches.map(encodeWriteBatch), [new Uint8Array(8)], []),
    { minLength: 1, maxLength: 3 },
  ),
  fc.constantFrom(RecordType.Write, RecordType.WriteInterned),
).map(([payloads, type]) =>
  concat(
    Uint8Array.from([...WAL_MAGIC, WAL_VERSION, 0, 0, 0]),
    ...payloads.map((p) => frameRecord(type, p.slice())),
  )
);

/** Replays `dir` as the engine does: every write record decoded. */
async function replay(fs: CrashFileSystem, dir: string): Promise<string[]> {
  const seen: string[] = [];
  const log = await WriteAheadLog.open({ fs, dir, logger: silentLogger }, (r: ReplayedRecord) => {
    if (r.type === RecordType.Write || r.type === RecordType.WriteInterned) {
      const layout = r.type === RecordType.Write
        ? WriteBatchLayout.Plain
        : WriteBatchLayout.Interned;
      const b = decodeWriteBatch(r.payload, r.file, r.offset, layout);
      checkBatch(b);
      seen.push(`${r.offset}:${b.points.length}`);
    } else seen.push(`${r.offset}:type ${r.type}`);
  });
  await log.close();
  return seen;
}

export const walSegmentTarget: FuzzTarget = {
  name: "wal-segment",
  about: "WriteAheadLog.open replays or refuses (CorruptionError) a damaged segment; reopening " +
    "a log it repaired gives the same records",
  inputs: fc.oneof(structuredAndMutated(segments, [new Uint8Array(8)], []), reframed),
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      async check(input: Uint8Array) {
        const fs = new CrashFileSystem();
        await fs.mkdir("/wal");
        // As the only segment (its tail may be torn), and as a closed one before another.
        await fs.writeFileAtomic("/wal/00000001.wal", input);
        const first = await expectOnlyAsync(() => replay(fs, "/wal"), [CorruptionError]);
        if (first === undefined) count(outcomes, "refused");
        else {
          count(outcomes, first.length > 0 ? "records" : "no records");
          const second = await replay(fs, "/wal");
          demand(
            sameData(first, second, plainIfPacked),
            () => `reopening gives other records: ${first.join(" ")} then ${second.join(" ")}`,
          );
        }
        const closed = new CrashFileSystem();
        await closed.mkdir("/wal");
        await closed.writeFileAtomic("/wal/00000001.wal", input);
        await closed.writeFileAtomic(
          "/wal/00000002.wal",
          Uint8Array.from([...WAL_MAGIC, 2, 0, 0, 0]),
        );
        await expectOnlyAsync(() => replay(closed, "/wal"), [CorruptionError]);
      },
      close: () => Promise.resolve(),
    });
  },
};
