/**
 * `deno task bench:cluster-read-ab --a DIR --b DIR`: the read path of two checkouts (a and b:
 * trees with node_modules, e.g. `git worktree` or `git archive` copies) side by side on a busy
 * machine. A lone node and a 3-node cluster (replication factor 3) of each tree run at once and
 * get the same data; every query instance is then asked of each, one after another in a rotating
 * order, so both trees see the same load. Per TSBS query type: the medians at `leader`
 * consistency on the lone node and on 3 nodes through the first node (the metadata leader) and
 * the second, and the 3/1 ratios of each tree (`bench:cluster-read` runs one tree at a time);
 * beside them `consistency=any` through the first node (the same reads without barriers).
 *
 *   deno task bench:cluster-read-ab --a ../base --b . [--hours 1] [--hosts 20] [--runs 21]
 * @module
 */
import { instances, QUERY_TYPES } from "./peers/queries.ts";
import { generateBatches } from "./peers/workload.ts";
import { DB, loadAverage } from "./peers/systems.ts";
import type { ServerProcess } from "../tests/_server.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const options = {
  a: flag("a", ""),
  b: flag("b", ""),
  hosts: Number(flag("hosts", "20")),
  hours: Number(flag("hours", "1")),
  runs: Number(flag("runs", "21")),
  skip: new Set(flag("skip", "high-cpu-all").split(",")),
};
if (!options.a || !options.b) throw new Error("usage: --a DIR --b DIR (two checkouts)");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The `startNodes` and `writeRetrying` of a checkout (its processes run its code). */
async function treeOf(dir: string) {
  const url = new URL(`file://${await Deno.realPath(dir)}/bench/_cluster_nodes.ts`);
  return await import(url.href) as typeof import("./_cluster_nodes.ts");
}

/** `url` ending in `#any` asks at `consistency=any` (no read barrier). */
async function ask(target: string, q: string): Promise<number> {
  const [url, consistency = "leader"] = target.split("#");
  const t0 = performance.now();
  const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q, consistency })}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) throw new Error(`${q}: ${JSON.stringify(body)}`);
  return performance.now() - t0;
}

const { bodies } = generateBatches({
  hosts: options.hosts,
  hours: options.hours,
  batchLines: 5000,
  seed: 1,
});
const started: ServerProcess[] = [];
/** Per tree: the lone node's URL and the 3 nodes' first and second URLs. */
const targets: { tree: string; lone: string; first: string; second: string }[] = [];
try {
  for (const [tree, dir] of [["a", options.a], ["b", options.b]]) {
    const { startNodes, writeRetrying } = await treeOf(dir);
    const [lone] = await startNodes(1);
    started.push(lone);
    const three = await startNodes(3);
    started.push(...three);
    for (const url of [lone.url, three[0].url]) {
      await writeRetrying(`${url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
      for (const body of bodies) await writeRetrying(`${url}/write?db=${DB}&precision=s`, body);
    }
    targets.push({ tree, lone: lone.url, first: three[0].url, second: three[1].url });
  }
  const before = await loadAverage();
  console.log(
    "query type | tree | 1 node ms | 3 via 1st ms | 3/1 | 3 via 2nd ms | 3/1 | 3 via 1st any ms",
  );
  const ratios = new Map<string, { first: number[]; second: number[]; any: number[] }>();
  for (const type of QUERY_TYPES.filter((t) => !options.skip.has(t.name))) {
    const list = instances(type, options.runs, options.hosts, options.hours, 7);
    const asks = targets.flatMap((t) => [t.lone, t.first, t.second, `${t.first}#any`]);
    const times = new Map<string, number[]>(asks.map((url) => [url, []]));
    for (const url of asks) await ask(url, list[0].influxql); // warm-up
    for (let i = 0; i < list.length; i++) {
      for (let k = 0; k < asks.length; k++) {
        const url = asks[(i + k) % asks.length];
        times.get(url)!.push(await ask(url, list[i].influxql));
      }
    }
    for (const t of targets) {
      const [one, first, second, any] = [t.lone, t.first, t.second, `${t.first}#any`].map((u) =>
        median(times.get(u)!)
      );
      const r = ratios.get(t.tree) ?? { first: [], second: [], any: [] };
      r.first.push(first / one);
      r.second.push(second / one);
      r.any.push(any / one);
      ratios.set(t.tree, r);
      console.log(
        `${type.name} | ${t.tree} | ${one.toFixed(2)} | ${first.toFixed(2)} | ` +
          `${(first / one).toFixed(2)} | ${second.toFixed(2)} | ${(second / one).toFixed(2)} | ` +
          any.toFixed(2),
      );
    }
  }
  for (const [tree, r] of ratios) {
    console.log(
      `tree ${tree}: median 3/1 via 1st ${median(r.first).toFixed(2)}, ` +
        `via 2nd ${median(r.second).toFixed(2)}, at any via 1st ${median(r.any).toFixed(2)}`,
    );
  }
  console.log(`load average before ${before}, after ${await loadAverage()}`);
} finally {
  for (const node of started) await node.stop();
  for (const node of started) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
}
