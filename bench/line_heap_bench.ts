/**
 * `deno run -A --v8-flags=--expose-gc bench/line_heap_bench.ts [ROOT/]`: the heap a decoded TSBS
 * line keeps while its points wait for their write (#15 item 4), and the parse CPU per line, for
 * the checkout at ROOT (default: this one), so two checkouts compare in one sitting: 20 bodies of
 * bench:peers' workload (100 hosts x 10 fields, 5,000 lines each) parsed with one shared cache
 * and kept, the heap measured after a forced GC before and after.
 * @module
 */
const root = Deno.args[0] ?? new URL("../", import.meta.url).pathname;
const { generateBatches } = await import(`${root}bench/peers/workload.ts`);
const { parseLineProtocol, LineProtocolCache } = await import(`${root}src/ingest/mod.ts`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const { bodies } = generateBatches({ hosts: 100, hours: 6, batchLines: 5000, seed: 1 });
const options = {
  defaultTime: { ms: 0, subMs: 0 },
  precision: "s",
  cache: new LineProtocolCache(),
};
const parse = (body: Uint8Array) => parseLineProtocol(body, options).points as unknown[];
for (const body of bodies.slice(0, 4)) parse(body); // the cache and the compiler warm
gc();
const before = Deno.memoryUsage().heapUsed;
const kept: unknown[][] = [];
for (const body of bodies.slice(0, 20)) kept.push(parse(body));
gc();
const lines = kept.reduce((n, points) => n + points.length, 0);
const perLine = (Deno.memoryUsage().heapUsed - before) / lines;
const started = performance.now();
let parsed = 0;
for (let round = 0; round < 3; round++) for (const body of bodies) parsed += parse(body).length;
const micros = (1000 * (performance.now() - started)) / parsed;
console.log(
  `${root}: ${perLine.toFixed(0)} B kept per line (${lines} lines), ` +
    `parse ${micros.toFixed(2)} us per line`,
);
