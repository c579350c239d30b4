/**
 * A partition snapshot stream from a peer (src/cluster/partition/snapshot.ts `stageSnapshot`),
 * on the machine's real file system: a hostile stream (paths that climb out of the stage or
 * name the stage's own files, sizes and checksums that lie, files missing, chunks out of order or
 * of the wrong shape, a catalog that contradicts the applied index) is refused with an
 * `EpochError` that says why, and nothing outside the stage changes; a stream it accepts stages
 * exactly the files the manifest lists, with their sizes, and a catalog whose `walStart` follows
 * the applied index. The input is the stream encoded as wire JSON (the manifest travels so).
 * @module
 */
import fc from "fast-check";
import { crc32c, EpochError, type FileSystem } from "../../../src/core/mod.ts";
import { writeFileAtomically } from "../../../src/core/file_steps.ts";
import { decodeWire, encodeWire } from "../../../src/cluster/wire_json.ts";
import { type SnapshotChunk, stageSnapshot } from "../../../src/cluster/partition/snapshot.ts";
import { denoFileSystem } from "../../../src/runtime/mod.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { count, demand, expectOnlyAsync, type FuzzTarget } from "../_target.ts";

const enc = new TextEncoder();

/** The real file system without fsyncs (durability is not what this fuzzes; speed is needed). */
const unsynced: FileSystem = {
  ...denoFileSystem,
  async open(path, options) {
    const h = await denoFileSystem.open(path, options);
    return {
      write: (d) => h.write(d),
      read: (b) => h.read(b),
      seek: (o, w) => h.seek(o, w),
      truncate: (n) => h.truncate(n),
      datasync: () => Promise.resolve(),
      close: () => h.close(),
    };
  },
  writeFileAtomic: (path, data) => writeFileAtomically(unsynced, path, data),
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  syncDir: () => Promise.resolve(),
};

const GOOD_PATHS = [
  "data/db/autogen/1/0000000001-0000000002.seg",
  "data/db/autogen/1/0000000003-0000000003.seg",
  "data/other/rp/7/0000000001-0000000001.seg",
];
const HOSTILE_PATHS = [
  "../outside/keep.txt",
  "../catalog.json",
  "data/../../catalog.json",
  "data/../../../outside/new.seg",
  "/tmp/abs.seg",
  "catalog.json",
  "READY",
  "",
  ".",
  "data",
  "data/a/b/",
  "data//x.seg",
  "data/\u0000.seg",
  `data/${"n".repeat(300)}.seg`,
  "data/a\\..\\..\\x.seg",
];

interface FileSpec {
  path: string;
  content: Uint8Array;
}

/** A stream as it should be, then bent: `bend` picks what goes wrong (0: nothing). */
const streams: fc.Arbitrary<unknown[]> = fc.record({
  files: fc.array(
    fc.record({
      path: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...GOOD_PATHS) },
        { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_PATHS) },
      ),
      content: fc.uint8Array({ maxLength: 300 }),
    }),
    { maxLength: 3 },
  ),
  applied: fc.oneof(fc.nat(1000), fc.constantFrom(-1, 0.5, 2 ** 53, NaN)),
  catalog: fc.constantFrom(
    "good",
    "good",
    "good",
    "walStart off",
    "not json",
    "no walStart",
    "not bytes",
  ),
  chunkSize: fc.integer({ min: 1, max: 400 }),
  bend: fc.nat(14),
  at: fc.nat(),
}).map(({ files, applied, catalog, chunkSize, bend, at }) => {
  const catalogText = catalog === "walStart off"
    ? JSON.stringify({ walStart: applied + 5 })
    : catalog === "not json"
    ? "{walStart"
    : catalog === "no walStart"
    ? "{}"
    : JSON.stringify({ walStart: applied + 1 });
  const manifest: Record<string, unknown> = {
    kind: "manifest",
    appliedIndex: applied,
    catalog: catalog === "not bytes" ? catalogText : enc.encode(catalogText),
    files: files.map((f) => ({ path: f.path, size: f.content.length })),
  };
  const out: unknown[] = [manifest];
  files.forEach((f: FileSpec, i) => {
    for (let o = 0; o < f.content.length; o += chunkSize) {
      out.push({ kind: "data", file: i, offset: o, data: f.content.subarray(o, o + chunkSize) });
    }
    out.push({ kind: "end", file: i, crc32c: crc32c(f.content) });
  });
  const k = out.length > 1 ? 1 + (at % (out.length - 1)) : 0;
  switch (bend) {
    case 1: // a size that lies
      if (files.length) (manifest.files as { size: number }[])[0].size += 1;
      break;
    case 2: // a checksum that lies
      for (const c of out as { kind: string; crc32c?: number }[]) {
        if (c.kind === "end") c.crc32c! ^= 1;
      }
      break;
    case 3: // the stream stops early
      out.length = k;
      break;
    case 4: // a chunk lost
      if (k > 0) out.splice(k, 1);
      break;
    case 5: // a chunk twice
      if (k > 0) out.splice(k, 0, out[k]);
      break;
    case 6: // no manifest, or two
      if (at % 2) out.shift();
      else out.splice(k, 0, { ...manifest, files: [] });
      break;
    case 7: // a file index out of the list
      out.push({ kind: "data", file: files.length + (at % 3), offset: 0, data: Uint8Array.of(1) });
      break;
    case 8: // a manifest of the wrong shape
      manifest.files = [
        "data/x.seg",
        { path: 5, size: 1 },
        { path: "data/y.seg", size: -1 },
        { path: "data/z.seg", size: "3" },
        null,
      ][at % 5];
      break;
    case 9: // more data than the size, after the end
      out.push({ kind: "data", file: 0, offset: 0, data: new Uint8Array(1000) });
      break;
    case 10: // a chunk of the wrong kind or shape, as the manifest channel can carry
      out.splice(k, 0, [{ kind: "bogus" }, { kind: "data" }, { kind: "end", file: -1 }, 7][at % 4]);
      break;
    case 11: // the same path twice
      if (files.length) {
        (manifest.files as { path: string }[]).push({
          ...(manifest.files as { path: string }[])[0],
        });
      }
      break;
    case 12: // an offset that jumps
      for (const c of out as { kind: string; offset?: number }[]) {
        if (c.kind === "data" && c.offset! > 0) c.offset! += 1;
      }
      break;
  }
  return out;
});

const SAMPLE = encodeWire([
  {
    kind: "manifest",
    appliedIndex: 9,
    catalog: enc.encode('{"walStart":10}'),
    files: [{ path: GOOD_PATHS[0], size: 5 }],
  },
  { kind: "data", file: 0, offset: 0, data: enc.encode("hello") },
  { kind: "end", file: 0, crc32c: crc32c(enc.encode("hello")) },
]);

/** Every file and folder under `dir` (relative), with file contents, but the stage's. */
async function tree(dir: string, rel = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (path === "r/.incoming") continue;
    if (e.isDirectory) {
      out.set(path, "dir");
      for (const [k, v] of await tree(dir, path)) out.set(k, v);
    } else out.set(path, new TextDecoder().decode(await Deno.readFile(`${dir}/${path}`)));
  }
  return out;
}

const OLD: Record<string, string> = {
  "r/catalog.json": '{"walStart":5}',
  "r/data/db/autogen/1/0000000001-0000000001.seg": "old segment",
  "outside/keep.txt": "not the replica's",
};

export const snapshotTarget: FuzzTarget = {
  name: "snapshot",
  about: "stageSnapshot refuses hostile streams with an EpochError and touches nothing outside " +
    "its stage; accepted streams stage exactly the manifest",
  inputs: structuredAndMutated(streams.map((s) => encodeWire(s)), [SAMPLE], [
    '"../',
    '"size":',
    "-1",
  ]),
  async open() {
    const outcomes: Record<string, number> = {};
    const root = await Deno.makeTempDir({ prefix: "epochnexus-fuzz-snapshot-" });
    const base = `${root}/case`;
    let before: Map<string, string> | undefined;
    return {
      outcomes,
      async check(input: Uint8Array) {
        let chunks: unknown;
        try {
          chunks = decodeWire(input);
        } catch {
          return void count(outcomes, "not a stream");
        }
        if (!Array.isArray(chunks)) return void count(outcomes, "not a stream");
        await Deno.remove(base, { recursive: true }).catch(() => {});
        for (const [path, text] of Object.entries(OLD)) {
          await Deno.mkdir(`${base}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
          await Deno.writeTextFile(`${base}/${path}`, text);
        }
        before ??= await tree(base);
        const applied = await expectOnlyAsync(
          () =>
            stageSnapshot(unsynced, `${base}/r`, ReadableStream.from(chunks as SnapshotChunk[])),
          [EpochError],
        );
        const after = await tree(base);
        const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) =>
          before!.get(k) !== after.get(k)
        );
        demand(
          changed.length === 0,
          () => `the stream changed files outside the stage: ${changed.join(", ")}`,
        );
        if (applied === undefined) return void count(outcomes, "refused");
        count(outcomes, "staged");
        const manifest = (chunks as { kind?: string }[]).find((c) => c?.kind === "manifest") as {
          appliedIndex: number;
          catalog: Uint8Array;
          files: { path: string; size: number }[];
        };
        demand(
          Number.isSafeInteger(applied) && applied >= 0,
          () => `staged with an applied index of ${applied}`,
        );
        let walStart: unknown;
        try {
          walStart =
            JSON.parse(await Deno.readTextFile(`${base}/r/.incoming/catalog.json`)).walStart;
        } catch (error) {
          demand(false, `staged a catalog that does not parse: ${error}`);
        }
        demand(
          walStart === applied + 1,
          () =>
            `staged a catalog whose walStart ${walStart} does not follow applied index ${applied}`,
        );
        for (const f of manifest.files) {
          const info = await Deno.stat(`${base}/r/.incoming/${f.path}`).catch(() => null);
          demand(
            info?.isFile && info.size === f.size,
            () => `staged ${JSON.stringify(f.path)} is not a file of ${f.size} bytes`,
          );
        }
      },
      async close() {
        await Deno.remove(root, { recursive: true }).catch(() => {});
      },
    };
  },
};
