/**
 * Deno KV as a series index, measured against the file-based index the engine uses (series in
 * segment indexes, rebuilt in memory on start; bench/storage_series_bench.ts): series created per
 * second (atomic batches of 500 keys `[db, measurement, seriesKey] -> tags`), the time to list
 * them all back on start, and the time to resolve one tag predicate by a prefix scan of an
 * inverted key `[db, measurement, tagKey, tagValue, seriesKey]`.
 *
 *   SERIES=200000 deno run -A --unstable-kv bench/storage_kv_bench.ts
 *
 * @module
 */
const SERIES = Number(Deno.env.get("SERIES") ?? "200000");
const dir = await Deno.makeTempDir({ prefix: "epochnexus-kv-bench-" });
const path = `${dir}/index.kv`;

let kv = await Deno.openKv(path);
let t0 = performance.now();
for (let from = 0; from < SERIES; from += 250) {
  const op = kv.atomic();
  for (let i = from; i < Math.min(SERIES, from + 250); i++) {
    const key = `m,host=h${i % 1000},id=s${i}`;
    op.set(["db", "m", key], [["host", `h${i % 1000}`], ["id", `s${i}`]]);
    op.set(["db", "m", "host", `h${i % 1000}`, key], 1);
  }
  const r = await op.commit();
  if (!r.ok) throw new Error("BUG: commit failed");
}
const createMs = performance.now() - t0;
kv.close();

t0 = performance.now();
kv = await Deno.openKv(path);
let n = 0;
for await (const _ of kv.list({ prefix: ["db", "m"] }, { batchSize: 1000 })) n++;
const listMs = performance.now() - t0;
t0 = performance.now();
let hits = 0;
for await (const _ of kv.list({ prefix: ["db", "m", "host", "h7"] })) hits++;
const tagMs = performance.now() - t0;
kv.close();
let bytes = 0;
for await (const e of Deno.readDir(dir)) bytes += (await Deno.stat(`${dir}/${e.name}`)).size;
await Deno.remove(dir, { recursive: true });

console.log(`Deno KV series index: ${SERIES} series (2 keys each)`);
console.log(`  created: ${(SERIES / createMs * 1000).toFixed(0)} series/s`);
console.log(`  start (list every key back): ${listMs.toFixed(0)} ms for ${n} keys`);
console.log(`  host = 'h7' by prefix scan: ${tagMs.toFixed(1)} ms, ${hits} series`);
console.log(`  on disk: ${(bytes / SERIES).toFixed(0)} bytes/series`);
