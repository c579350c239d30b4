/**
 * Live memory per series at high cardinality, A/B between code trees: a server (ROOT, default
 * this tree; another commit from `git archive` with its `deno install` done) under `--inspect`
 * gets the high_card_peers.ts workload (SERIES series `hc,host=host_<i>,region=r<i % 9>`, one
 * point each), settles, then answers a GROUP BY over every series three times. After each
 * stage a full GC is forced through the inspector, so the figures are what is held, not the
 * garbage a resident-set figure also counts: V8 heap used, external (ArrayBuffers) and RSS.
 *
 * With SNAPSHOT=<prefix> a heap snapshot is written after each stage (`<prefix>-settled` and
 * `-after-queries.heapsnapshot`); bench/heap_snapshot_summary.ts says who holds it.
 *
 *   SERIES=100000 ROOT=/tmp/base/ deno run -A bench/high_card_live_heap.ts
 * @module
 */
import { startServer } from "../tests/_server.ts";
import { DB, epochNexusSettled } from "./peers/systems.ts";
const ROOT = Deno.env.get("ROOT");
const SERIES = Number(Deno.env.get("SERIES") ?? "100000");
const PORT = Deno.env.get("PORT") ?? "9341";
const SNAPSHOT = Deno.env.get("SNAPSHOT");
const T0 = 1672531200;
const iso = (s: number) => new Date(s * 1000).toISOString();
const server = await startServer({
  root: ROOT,
  denoFlags: [`--inspect=127.0.0.1:${PORT}`],
  env: {
    EPOCHNEXUS_FLUSH_IDLE_MS: "2000",
    EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
    EPOCHNEXUS_MAX_VALUES_PER_TAG: "0",
  },
  timeoutMs: 120000,
});
const list = await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json();
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
await new Promise((r) => ws.onopen = r);
let id = 0;
const pending = new Map<number, (v: unknown) => void>();
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.id) pending.get(m.id)?.(m);
  else if (m.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(m.params.chunk);
};
const chunks: string[] = [];
/** Writes a heap snapshot of the server to `<SNAPSHOT>-<stage>.heapsnapshot`. */
async function snapshot(stage: string) {
  chunks.length = 0;
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await Deno.writeTextFile(`${SNAPSHOT}-${stage}.heapsnapshot`, chunks.join(""));
  chunks.length = 0;
}
const call = (method: string, params = {}) =>
  new Promise((r) => {
    const i = ++id;
    pending.set(i, r);
    ws.send(JSON.stringify({ id: i, method, params }));
  });
async function show(what: string) {
  await call("HeapProfiler.collectGarbage");
  const s = await Deno.readTextFile(`/proc/${server.process.pid}/status`);
  const m = await (await fetch(`${server.url}/metrics`)).text();
  const g = (k: string) => Number(new RegExp(`^${k} (\\S+)`, "m").exec(m)?.[1]);
  const heap = g("epochnexus_heap_used_bytes"), ext = g("epochnexus_external_memory_bytes");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(s)![1]) * 1024;
  console.log(
    `${ROOT ?? "this tree"} ${what}: live heap ${(heap / 2 ** 20).toFixed(1)} MiB, external ${
      (ext / 2 ** 20).toFixed(1)
    } MiB, RSS after GC ${(rss / 2 ** 20).toFixed(0)} MiB`,
  );
  return heap + ext;
}
async function post(u: string, body: BodyInit) {
  const r = await fetch(u, { method: "POST", body });
  await r.text();
  if (!r.ok) throw new Error(String(r.status));
}
await post(`${server.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
const empty = await show("empty");
for (let from = 0; from < SERIES; from += 5000) {
  let text = "";
  for (let i = from; i < Math.min(SERIES, from + 5000); i++) {
    text += `hc,host=host_${i},region=r${i % 9} v=${i % 1000} ${T0}\n`;
  }
  await post(`${server.url}/write?db=${DB}&precision=s`, text);
}
await epochNexusSettled(server.url);
const settled = await show("settled");
if (SNAPSHOT) await snapshot("settled");
const q = `SELECT count(v) FROM hc WHERE time >= '${iso(T0)}' AND time < '${
  iso(T0 + 3600)
}' GROUP BY host`;
for (let i = 0; i < 3; i++) {
  const r = await fetch(`${server.url}/query?${new URLSearchParams({ db: DB, q })}`);
  const b = await r.json();
  if (b.results[0].series.length !== SERIES) throw new Error("bad answer");
}
const after = await show("after 3 queries");
if (SNAPSHOT) await snapshot("after-queries");
console.log(
  `${ROOT ?? "this tree"} per series over empty: settled ${
    ((settled - empty) / SERIES).toFixed(0)
  } B, after queries ${((after - empty) / SERIES).toFixed(0)} B; load ${
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
  }`,
);
ws.close();
await server.stop();
await Deno.remove(server.dataDir, { recursive: true });
