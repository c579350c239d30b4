import assert from "node:assert/strict";
import {
  CorruptionError,
  FieldType,
  type FileHandle,
  type FileSystem,
  type Point,
  silentLogger,
  StorageError,
} from "../../core/mod.ts";
import { plainPoints } from "../../core/testing/mod.ts";
import { denoFileSystem } from "../../runtime/mod.ts";
import { decodeWriteBatch, encodeWriteBatch } from "./batch_codec.ts";
import { type ReplayedRecord, WriteAheadLog } from "./wal.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function replay(dir: string, fs: FileSystem = denoFileSystem) {
  const records: ReplayedRecord[] = [];
  const wal = await WriteAheadLog.open({ fs, dir, logger: silentLogger }, (r) => records.push(r));
  return { wal, records, payloads: () => records.map((r) => text(r.payload)) };
}

/** A file system that counts fsyncs and can refuse writes past a byte budget (a full disk). */
function instrumentedFs(budget = { bytes: Infinity }) {
  const stats = { datasyncs: 0 };
  const fs: FileSystem = {
    ...denoFileSystem,
    async open(path, options) {
      const inner = await denoFileSystem.open(path, options);
      const handle: FileHandle = {
        ...inner,
        read: (b) => inner.read(b),
        seek: (o, w) => inner.seek(o, w),
        truncate: (n) => inner.truncate(n),
        close: () => inner.close(),
        async write(data) {
          if (data.length > budget.bytes) {
            // A full disk accepts part of a write, then fails.
            await inner.write(data.subarray(0, Math.max(0, budget.bytes)));
            budget.bytes = 0;
            throw new StorageError(`disk full: No space left on device (os error 28)`);
          }
          budget.bytes -= data.length;
          return inner.write(data);
        },
        async datasync() {
          stats.datasyncs++;
          await inner.datasync();
        },
      };
      return handle;
    },
  };
  return { fs, stats };
}

Deno.test("WAL replays what was appended, in order, across reopen", async () => {
  const dir = await Deno.makeTempDir();
  const first = await replay(dir);
  for (let i = 0; i < 10; i++) await first.wal.append(1, bytes(`record ${i}`));
  await first.wal.close();
  const second = await replay(dir);
  assert.deepEqual(second.payloads(), Array.from({ length: 10 }, (_, i) => `record ${i}`));
  await second.wal.append(1, bytes("after reopen"));
  await second.wal.close();
  assert.equal((await replay(dir)).records.length, 11);
});

Deno.test("WAL group commit: 64 concurrent appends share far fewer fsyncs", async () => {
  const dir = await Deno.makeTempDir();
  const { fs, stats } = instrumentedFs();
  const { wal } = await replay(dir, fs);
  const order: number[] = [];
  stats.datasyncs = 0;
  await Promise.all(
    Array.from({ length: 64 }, (_, i) => wal.append(1, bytes(`w${i}`), () => order.push(i))),
  );
  assert.ok(stats.datasyncs <= 3, `expected shared fsyncs, got ${stats.datasyncs}`);
  assert.deepEqual(order, Array.from({ length: 64 }, (_, i) => i), "applied in log order");
  await wal.close();
});

Deno.test("WAL cuts a torn tail (record cut short) and keeps every record before it", async () => {
  const dir = await Deno.makeTempDir();
  const { wal } = await replay(dir);
  await wal.append(1, bytes("kept-1"));
  await wal.append(1, bytes("kept-2"));
  await wal.append(1, bytes("torn-record-payload"));
  await wal.close();
  const path = `${dir}/00000001.wal`;
  const size = (await Deno.stat(path)).size;
  await Deno.truncate(path, size - 5);
  const again = await replay(dir);
  assert.deepEqual(again.payloads(), ["kept-1", "kept-2"]);
  await again.wal.append(1, bytes("after-cut"));
  await again.wal.close();
  assert.deepEqual((await replay(dir)).payloads(), ["kept-1", "kept-2", "after-cut"]);
});

Deno.test("WAL cuts a zero-filled tail", async () => {
  const dir = await Deno.makeTempDir();
  const { wal } = await replay(dir);
  await wal.append(1, bytes("kept"));
  await wal.close();
  const file = await Deno.open(`${dir}/00000001.wal`, { append: true });
  await file.write(new Uint8Array(4096));
  file.close();
  const again = await replay(dir);
  assert.deepEqual(again.payloads(), ["kept"]);
  await again.wal.close();
  assert.equal((await Deno.stat(`${dir}/00000001.wal`)).size, 8 + 9 + 4);
});

Deno.test("WAL cuts a last write whose sector the power left unwritten, records after it too", async () => {
  const dir = await Deno.makeTempDir();
  const { wal } = await replay(dir);
  // Header 8 + records of 9 + 291 bytes: the second starts at 308 and crosses sector 512.
  const payloads = ["a", "b", "c"].map((c) => c.repeat(291));
  for (const p of payloads) await wal.append(1, bytes(p));
  await wal.close();
  const path = `${dir}/00000001.wal`;
  const data = await Deno.readFile(path);
  // Sector 0 unwritten from the second record on; sector 1 (its end, the third) written.
  data.fill(0, 308, 512);
  await Deno.writeFile(path, data);
  const again = await replay(dir);
  assert.deepEqual(again.payloads(), [payloads[0]]);
  await again.wal.close();
  assert.equal((await Deno.stat(path)).size, 308);
  // Zeros that stop short of the sector's end are damage, not an unwritten sector.
  const dir2 = await Deno.makeTempDir();
  const w2 = (await replay(dir2)).wal;
  for (const p of payloads) await w2.append(1, bytes(p));
  await w2.close();
  const data2 = await Deno.readFile(`${dir2}/00000001.wal`);
  data2.fill(0, 308, 500);
  await Deno.writeFile(`${dir2}/00000001.wal`, data2);
  await assert.rejects(() => replay(dir2), CorruptionError);
});

Deno.test("WAL reports a flipped bit before the tail with file and offset", async () => {
  const dir = await Deno.makeTempDir();
  const { wal } = await replay(dir);
  await wal.append(1, bytes("first"));
  await wal.append(1, bytes("second"));
  await wal.append(1, bytes("third"));
  await wal.close();
  const path = `${dir}/00000001.wal`;
  const data = await Deno.readFile(path);
  const secondRecord = 8 + 9 + 5;
  data[secondRecord + 9 + 2] ^= 0x10;
  await Deno.writeFile(path, data);
  await assert.rejects(
    () => replay(dir),
    (error: unknown) => {
      assert.ok(error instanceof CorruptionError);
      assert.equal(error.file, path);
      assert.equal(error.offset, secondRecord);
      assert.match(error.message, /checksum mismatch/);
      return true;
    },
  );
});

Deno.test("WAL on a full disk: writers get a clear error and the file holds no partial record", async () => {
  const dir = await Deno.makeTempDir();
  const budget = { bytes: Infinity };
  const { fs } = instrumentedFs(budget);
  const { wal } = await replay(dir, fs);
  await wal.append(1, bytes("before the disk filled"));
  budget.bytes = 10;
  await assert.rejects(() => wal.append(1, bytes("this one does not fit")), /disk full/);
  budget.bytes = Infinity;
  await wal.append(1, bytes("after space was freed"));
  await wal.close();
  const again = await replay(dir);
  assert.deepEqual(again.payloads(), ["before the disk filled", "after space was freed"]);
  await again.wal.close();
});

Deno.test("WAL rotates segments and replays across them", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await WriteAheadLog.open(
    { fs: denoFileSystem, dir, logger: silentLogger, segmentBytes: 200 },
    () => {},
  );
  for (let i = 0; i < 30; i++) await wal.append(1, bytes(`segment record ${i}`));
  await wal.close();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.ok(names.length > 3, `expected several segments, got ${names}`);
  const again = await replay(dir);
  assert.equal(again.records.length, 30);
  assert.equal(text(again.records[29].payload), "segment record 29");
  await again.wal.close();
});

Deno.test("write batch codec round-trips every field type exactly", () => {
  const points: Point[] = [{
    measurement: "cpu load",
    tags: [{ key: "host", value: "server,1" }, { key: "région", value: "é" }],
    fields: [
      { key: "f", type: FieldType.Float, value: -0.000123 },
      { key: "i", type: FieldType.Integer, value: -9223372036854775808n },
      { key: "j", type: FieldType.Integer, value: 42 },
      { key: "u", type: FieldType.Unsigned, value: 18446744073709551615n },
      { key: "s", type: FieldType.String, value: 'say "hi"\n' },
      { key: "b", type: FieldType.Boolean, value: true },
    ],
    timeMs: -1,
    timeSubMs: 999_999,
  }];
  const batch = { database: "db", retentionPolicy: "autogen", points };
  const back = decodeWriteBatch(encodeWriteBatch(batch), "x", 0);
  assert.deepEqual({ ...back, points: plainPoints(back.points) }, batch);
});

Deno.test("WAL cut: records after it are in the new segment; older segments trimmed and skipped", async () => {
  const dir = await Deno.makeTempDir();
  const { wal } = await replay(dir);
  const order: string[] = [];
  const a = wal.append(1, bytes("a"), () => order.push("a"));
  const cut = wal.cut((id) => order.push(`cut ${id}`));
  const b = wal.append(1, bytes("b"), () => order.push("b"));
  await Promise.all([a, b]);
  const first = await cut;
  assert.equal(first, 2);
  assert.deepEqual(order, ["a", "cut 2", "b"]);
  assert.equal(wal.activeSegment, 2);
  assert.equal(await wal.removeSegmentsBefore(first), 1);
  await wal.close();
  const again = await replay(dir);
  assert.deepEqual(again.payloads(), ["b"]);
  await again.wal.close();
  // A trim interrupted before its removal: segments below firstSegment are deleted, not replayed.
  const dir2 = await Deno.makeTempDir();
  const w2 = (await replay(dir2)).wal;
  await w2.append(1, bytes("old"));
  const start = await w2.cut(() => {});
  await w2.append(1, bytes("new"));
  await w2.close();
  const seen: string[] = [];
  const w3 = await WriteAheadLog.open(
    { fs: denoFileSystem, dir: dir2, logger: silentLogger, firstSegment: start },
    (r) => seen.push(text(r.payload)),
  );
  assert.deepEqual(seen, ["new"]);
  await w3.close();
  const names: string[] = [];
  for await (const e of Deno.readDir(dir2)) names.push(e.name);
  assert.deepEqual(names.sort(), ["00000002.wal"]);
});
