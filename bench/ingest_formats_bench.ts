/**
 * Every ingest format on the same data: 10,000 points of `cpu` (tags host, region; fields
 * usage float, count integer, up boolean; nanosecond timestamps), encoded once per format.
 *
 * - group `decode`: the decoder alone (bytes in memory to points), points/s.
 * - group `ingest`: a whole `POST` through the node's fetch handler into the storage engine
 *   (WAL + fsync, in a temporary folder), points/s.
 * - `ndjson stream`: 64 MiB of NDJSON streamed through `/ingest` in 256 KiB chunks, MB/s.
 *
 * points/s = 10,000 / (time per iteration); the sizes are printed once.
 *
 *   npx deno@2.9.6 bench --allow-all bench/ingest_formats_bench.ts
 */
import snappy from "snappyjs";
import { FieldType, type Point } from "../src/core/mod.ts";
import {
  decodeCsvStream,
  decodeJsonPoints,
  decodeNdjsonStream,
  decodePromWrite,
  decodeProtobufWrite,
  formatLineProtocol,
  parseLineProtocol,
} from "../src/ingest/mod.ts";
import { openIngestApp } from "./_ingest_app.ts";
import { protobufBody } from "./_format_bodies.ts";

const N = 10_000;
const T0 = 1_700_000_000_000;
const defaultTime = { ms: T0, subMs: 0 };
const enc = new TextEncoder();

const points: Point[] = [];
for (let i = 0; i < N; i++) {
  points.push({
    measurement: "cpu",
    tags: [{ key: "host", value: `h${i % 100}` }, { key: "region", value: `r${i % 4}` }],
    fields: [
      { key: "count", type: FieldType.Integer, value: i },
      { key: "up", type: FieldType.Boolean, value: i % 3 !== 0 },
      { key: "usage", type: FieldType.Float, value: (i % 1000) / 8 },
    ],
    timeMs: T0 + i,
    timeSubMs: 123_456,
  });
}
const ns = (p: Point) => `${BigInt(p.timeMs) * 1_000_000n + BigInt(p.timeSubMs)}`;

const lp = enc.encode(points.map((p) => formatLineProtocol(p)).join("\n") + "\n");
const ndjsonText =
  points.map((p) =>
    `{"measurement":"cpu","tags":{"host":"${p.tags[0].value}","region":"${p.tags[1].value}"},` +
    `"fields":{"count":{"integer":"${p.fields[0].value}"},"up":${p.fields[1].value},` +
    `"usage":${p.fields[2].value}},"timestamp":"${ns(p)}"}`
  ).join("\n") + "\n";
const ndjson = enc.encode(ndjsonText);
const json = enc.encode(`[${ndjsonText.trim().split("\n").join(",")}]`);
const csv = enc.encode(
  "time,measurement,host,region,count,up,usage\n" +
    points.map((p) =>
      `${ns(p)},cpu,${p.tags[0].value},${p.tags[1].value},${p.fields[0].value},` +
      `${p.fields[1].value},${p.fields[2].value}`
    ).join("\n") + "\n",
);
const protobuf = protobufBody(points);
/** remote_write carries one float per sample: the same points as 3 series samples each. */
const prom = (() => {
  const out: number[] = [];
  const varint = (v: number) => {
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  const bytes = (b: Uint8Array) => {
    varint(b.length);
    for (const x of b) out.push(x);
  };
  const series: Uint8Array[] = [];
  for (const p of points) {
    const ts: number[] = [];
    const sub = (field: number, payload: number[]) => {
      ts.push((field << 3) | 2);
      let v = payload.length;
      while (v >= 0x80) {
        ts.push((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      ts.push(v);
      ts.push(...payload);
    };
    const label = (name: string, value: string) => {
      const n = enc.encode(name), v = enc.encode(value);
      sub(1, [0x0a, n.length, ...n, 0x12, v.length, ...v]);
    };
    label("__name__", "cpu_usage");
    label("host", p.tags[0].value);
    label("region", p.tags[1].value);
    const sample = [
      0x09,
      ...new Uint8Array(new Float64Array([p.fields[2].value as number]).buffer),
      0x10,
    ];
    let t = p.timeMs;
    while (t >= 0x80) {
      sample.push((t % 128) | 0x80);
      t = Math.floor(t / 128);
    }
    sample.push(t);
    sub(2, sample);
    series.push(new Uint8Array(ts));
  }
  for (const s of series) {
    out.push(0x0a);
    bytes(s);
  }
  return new Uint8Array(out);
})();
const promSnappy = (snappy as { compress(b: Uint8Array): Uint8Array }).compress(prom);

console.log(
  `same ${N} points: line protocol ${lp.length} B, NDJSON ${ndjson.length} B, JSON ${json.length} B, ` +
    `CSV ${csv.length} B, protobuf ${protobuf.length} B, remote_write ${prom.length} B ` +
    `(${promSnappy.length} B snappy; one float per point)`,
);

function streamOf(bytes: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at += chunk));
    },
  });
}
async function drain(source: AsyncIterable<{ points: Point[] }>): Promise<number> {
  let n = 0;
  for await (const b of source) n += b.points.length;
  return n;
}
function check(n: number) {
  if (n !== N) throw new Error(`BUG: decoded ${n} points, expected ${N}`);
}

Deno.bench("line protocol", { group: "decode", baseline: true }, () => {
  check(parseLineProtocol(lp, { defaultTime }).points.length);
});
Deno.bench("NDJSON", { group: "decode" }, async () => {
  check(await drain(decodeNdjsonStream(streamOf(ndjson), { defaultTime })));
});
Deno.bench("JSON array", { group: "decode" }, () => {
  check(decodeJsonPoints(new TextDecoder().decode(json), { defaultTime }).points.length);
});
Deno.bench("CSV", { group: "decode" }, async () => {
  check(await drain(decodeCsvStream(streamOf(csv), { defaultTime, tags: ["host", "region"] })));
});
Deno.bench("protobuf", { group: "decode" }, () => {
  check(decodeProtobufWrite(protobuf, { defaultTime }).batch.points.length);
});
Deno.bench("remote_write (snappy + protobuf)", { group: "decode" }, () => {
  const raw = (snappy as { uncompress(b: Uint8Array): Uint8Array }).uncompress(promSnappy);
  check(decodePromWrite(raw).batch.points.length);
});

const { app, engine } = await openIngestApp("epochnexus-bench-ingest-", T0);
async function post(path: string, type: string, body: Uint8Array, headers = {}) {
  const r = await app(
    new Request(`http://node${path}`, {
      method: "POST",
      headers: { "content-type": type, ...headers },
      body: body.slice(),
    }),
  );
  if (r.status >= 300) throw new Error(`BUG: ${path} ${type}: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
}
Deno.bench("/write line protocol", { group: "ingest", baseline: true }, async () => {
  await post("/write?db=epochnexus", "text/plain", lp);
});
Deno.bench("/ingest NDJSON", { group: "ingest" }, async () => {
  await post("/ingest", "application/x-ndjson", ndjson);
});
Deno.bench("/ingest JSON", { group: "ingest" }, async () => {
  await post("/ingest", "application/json", json);
});
Deno.bench("/ingest CSV", { group: "ingest" }, async () => {
  await post("/ingest?tags=host,region", "text/csv", csv);
});
Deno.bench("/ingest protobuf", { group: "ingest" }, async () => {
  await post("/ingest", "application/x-protobuf", protobuf);
});
Deno.bench("/api/v1/prom/write", { group: "ingest" }, async () => {
  await post("/api/v1/prom/write", "application/x-protobuf", promSnappy, {
    "content-encoding": "snappy",
  });
});

/** 64 MiB of NDJSON (the records above, repeated) through /ingest: MB/s = 64 MiB / time. */
const STREAM_BYTES = 64 * 1024 * 1024;
Deno.bench(
  "NDJSON stream 64 MiB through /ingest",
  { group: "stream", n: 3, warmup: 1 },
  async () => {
    // The same records again and again (same series and times: the last write wins).
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= STREAM_BYTES) return c.close();
        sent += ndjson.length;
        c.enqueue(ndjson.slice());
      },
    });
    const r = await app(
      new Request("http://node/ingest?db=epochnexus", {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body,
      }),
    );
    if (r.status !== 200) throw new Error(`BUG: stream ${r.status} ${await r.text()}`);
    await r.body?.cancel();
  },
);

globalThis.addEventListener("unload", () => {
  engine.close().catch(() => {});
});
