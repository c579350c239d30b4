/**
 * Concurrent writers for cluster tests that remember exactly what was acknowledged. Writer `w`
 * owns the series `<measurement>,writer=w<w>` and writes it in order: request `k` holds points
 * `k*n .. k*n+n-1` (time T0 + seq µs, `v = seq + w/10`), sent to a node picked at random, and
 * sent again (to any node) until a 204 acknowledges it. So the acknowledged points of a writer
 * are a prefix of its sequence, and after the writers stop a series may hold exactly that prefix
 * plus some of the one request that was never acknowledged: anything else is a lost, altered or
 * invented point.
 * @module
 */
import { partitionOf } from "../../src/cluster/hash.ts";
import type { TestCluster } from "../_cluster.ts";
import { parseExactJson } from "../_server.ts";

const T0 = 1_700_000_000_000_000_000n;

/** Options of {@linkcode AckedWriters}. */
export interface AckedWritersOptions {
  writers: number;
  database: string;
  measurement: string;
  /** Points per request. */
  pointsPerRequest: number;
  /** The URL of a node to write to (called per request), or undefined when none is up. */
  pickUrl: () => string | undefined;
  /** A request's timeout. @default {30000} */
  timeoutMs?: number;
}

/** What the writers saw. */
export interface WriterStats {
  requests: number;
  acknowledged: number;
  /** Answers other than 204 and transport errors, by status (or "network"). */
  failures: Record<string, number>;
  /** Write latencies of acknowledged requests, ms. */
  latencies: number[];
}

/** One row of a series as a query returns it: [time ns, v]. */
type Row = [bigint | number, number];

/** The writers and their ledger. */
export class AckedWriters {
  readonly stats: WriterStats = { requests: 0, acknowledged: 0, failures: {}, latencies: [] };
  /** Per writer: points acknowledged (a prefix of its sequence). */
  readonly acked: number[];
  #stopped = false;
  #running: Promise<void>[] = [];
  readonly #o: AckedWritersOptions;

  constructor(options: AckedWritersOptions) {
    this.#o = options;
    this.acked = new Array(options.writers).fill(0);
  }

  /** The series key of writer `w`. */
  seriesKey(w: number): string {
    return `${this.#o.measurement},writer=w${w}`;
  }

  /** The value of point `seq` of writer `w`. */
  static value(w: number, seq: number): number {
    return seq + w / 10;
  }

  /** Time (ns) of point `seq`. */
  static timeNs(seq: number): bigint {
    return T0 + BigInt(seq) * 1000n;
  }

  start(): void {
    for (let w = 0; w < this.#o.writers; w++) this.#running.push(this.#run(w));
  }

  /** Stops after each writer's request in flight; resolves when all have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
  }

  async #run(w: number): Promise<void> {
    const { pointsPerRequest: n, database, measurement } = this.#o;
    for (let attempt = 0; attempt < 1_000_000 && !this.#stopped; attempt++) {
      const from = this.acked[w];
      const body = Array.from({ length: n }, (_, i) => {
        const seq = from + i;
        return `${measurement},writer=w${w} v=${AckedWriters.value(w, seq)} ${
          AckedWriters.timeNs(seq)
        }`;
      }).join("\n");
      const url = this.#o.pickUrl();
      if (url === undefined) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.stats.requests++;
      const started = performance.now();
      let status: string;
      try {
        const r = await fetch(`${url}/write?db=${database}`, {
          method: "POST",
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000),
        });
        await r.body?.cancel();
        status = String(r.status);
      } catch {
        status = "network";
      }
      if (status === "204") {
        this.stats.latencies.push(performance.now() - started);
        this.acked[w] = from + n;
        this.stats.acknowledged += n;
      } else {
        this.stats.failures[status] = (this.stats.failures[status] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** The rows of writer `w`'s series read through `url` (`consistency` as given). */
  async rows(url: string, w: number, consistency = "leader"): Promise<Row[]> {
    const params = new URLSearchParams({
      db: this.#o.database,
      q: `SELECT v FROM ${this.#o.measurement} WHERE writer = 'w${w}'`,
      epoch: "ns",
      consistency,
    });
    const r = await fetch(`${url}/query`, {
      method: "POST",
      body: params,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`query of writer ${w}: HTTP ${r.status} ${text}`);
    const result = parseExactJson(text).results[0];
    if (result.error) throw new Error(`query of writer ${w}: ${result.error}`);
    return result.series?.[0]?.values ?? [];
  }

  /**
   * What is wrong with writer `w`'s rows: an acknowledged point missing or changed, a point
   * never sent, or one beyond the last request. Empty when the series is exactly the
   * acknowledged prefix plus some of the request after it.
   */
  check(w: number, rows: readonly Row[]): string[] {
    const n = this.#o.pointsPerRequest;
    const problems: string[] = [];
    const found = new Map<bigint, number>();
    for (const [t, v] of rows) found.set(BigInt(t), v);
    for (let seq = 0; seq < this.acked[w]; seq++) {
      const v = found.get(AckedWriters.timeNs(seq));
      if (v !== AckedWriters.value(w, seq)) {
        problems.push(`w${w}: acknowledged point ${seq} ${v === undefined ? "lost" : `is ${v}`}`);
      }
      found.delete(AckedWriters.timeNs(seq));
    }
    for (const [t, v] of found) {
      const seq = Number((t - T0) / 1000n);
      const sent = seq >= this.acked[w] && seq < this.acked[w] + n &&
        (t - T0) % 1000n === 0n && v === AckedWriters.value(w, seq);
      if (!sent) problems.push(`w${w}: point at ${t} (${v}) was never sent`);
    }
    return problems.slice(0, 20);
  }

  /** Count and SHA-256 of writer `w`'s rows (time and value of each, in order). */
  static async digest(rows: readonly Row[]): Promise<{ count: number; sha256: string }> {
    const text = rows.map(([t, v]) => `${t}=${v}`).join("\n");
    const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    const hex = [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return { count: rows.length, sha256: hex };
  }
}

/** The p-quantile (0..1) of `values`, or NaN when empty. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Once the replicas have converged: each running node's own replicas (read at
 * `consistency=any`) must hold every acknowledged point and nothing unsent, and the same points
 * as every other node's, partition by partition (count and SHA-256 of each writer's series).
 * Returns what is wrong (empty when nothing).
 */
export async function checkReplicas(
  cluster: TestCluster,
  writers: AckedWriters,
  database: string,
): Promise<string[]> {
  const db = (await cluster.status(cluster.running()[0])).databases.find((d) =>
    d.name === database
  );
  if (!db) return [`database ${database} not found`];
  const problems: string[] = [];
  const digests: { node: number; digest: string }[] = [];
  for (const i of cluster.running()) {
    const byPartition = new Map<number, string[]>();
    for (let w = 0; w < writers.acked.length; w++) {
      const rows = await writers.rows(cluster.url(i), w, "any");
      problems.push(...writers.check(w, rows).map((p) => `node ${i}: ${p}`));
      const p = partitionOf(db.hash, writers.seriesKey(w), db.partitions.length);
      const d = await AckedWriters.digest(rows);
      byPartition.set(p, [...byPartition.get(p) ?? [], `w${w}:${d.count}:${d.sha256}`]);
    }
    const digest = JSON.stringify([...byPartition].sort((a, b) => a[0] - b[0]));
    digests.push({ node: i, digest });
  }
  for (const { node, digest } of digests) {
    if (digest !== digests[0].digest) {
      problems.push(
        `node ${node}'s replicas differ from node ${digests[0].node}'s: ${digest} vs ` +
          digests[0].digest,
      );
    }
  }
  return problems;
}
