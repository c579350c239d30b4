/**
 * What the cluster simulation checks: the client history (linearizable per register), the
 * acknowledged appends (each present with its value, nothing present that was never
 * written), the replicas of each partition (identical data), and safety of every Raft group
 * while the run goes (one leader per term, one entry per applied index).
 * @module
 */
import type { PartitionReplica } from "../../src/cluster/partition/replica.ts";
import type { FieldValue } from "../../src/core/mod.ts";
import {
  checkLinearizable,
  type KvInput,
  kvModel,
  type KvOutput,
} from "../raft/linearizability.ts";

/** One client operation of the run. */
export interface ClientOp {
  id: number;
  client: number;
  kind: "put" | "get" | "append";
  /** Register key (put, get). */
  key: string;
  /** Value written (put), or the first of the append's values. */
  value: number;
  /** The points of an append: series tag and value, one per point. */
  points: { series: string; value: number; timeMs: number }[];
  node: number;
  call: number;
  ret: number;
  /** ok: acknowledged (all points); failed: had no effect; unknown: may have had one. */
  status: "pending" | "ok" | "failed" | "unknown";
  /** Reads: the value seen (null: none). Appends: which points were acknowledged. */
  output: string | null | undefined;
  acked: boolean[];
  error?: string;
}

/** The per-register history for the linearizability checker. */
export function registerHistory(ops: readonly ClientOp[]) {
  return ops
    .filter((o) => (o.kind === "put" || o.kind === "get") && o.status !== "failed")
    .filter((o) => !(o.kind === "get" && o.status !== "ok"))
    .map((o) => ({
      clientId: o.client,
      input:
        (o.kind === "put"
          ? { kind: "put", key: o.key, value: String(o.value) }
          : { kind: "get", key: o.key }) as KvInput,
      output: (o.status === "ok" ? (o.kind === "put" ? "ok" : o.output) : undefined) as
        | KvOutput
        | undefined,
      call: o.call,
      ret: o.status === "ok" ? o.ret : Infinity,
    }));
}

/** Linearizability of the register history; a violation message or undefined. */
export function checkRegisters(ops: readonly ClientOp[]): string | undefined {
  const lin = checkLinearizable(kvModel, registerHistory(ops), 2_000_000);
  if (!lin.ok) {
    return `linearizability: register ${lin.failedPartition} (${lin.failedOps} ops) is not linearizable`;
  }
  if (lin.timedOut) return "linearizability: checker budget exhausted";
  return undefined;
}

/** A replica's data: `shard/series/field -> "time=value"` lines, in order. */
export async function dumpReplica(replica: PartitionReplica, database: string): Promise<string[]> {
  const engine = replica.engine;
  if (!engine.hasDatabase(database)) return [];
  const out: string[] = [];
  const min = -(2n ** 62n), max = 2n ** 62n;
  for (const rp of engine.retentionPolicies(database).map((p) => p.name).sort()) {
    for (const shard of engine.shards(database, rp, min, max)) {
      for (const m of shard.measurements().sort()) {
        const fields = [...shard.fieldTypes(m).keys()].sort();
        for (const s of shard.series(m)) {
          for (const f of fields) {
            const col = await shard.readField(s, f, min, max);
            if (col === undefined) continue;
            const values: string[] = [];
            for (let i = 0; i < col.length; i++) {
              values.push(`${col.timesMs[i]}.${col.timesSubMs[i]}=${show(col.values[i])}`);
            }
            out.push(`${rp}/${shard.startMs}/${s.key}/${f}: ${values.join(" ")}`);
          }
        }
      }
    }
  }
  return out;
}

function show(v: FieldValue | number): string {
  return typeof v === "bigint" ? `${v}i` : String(v);
}

/** The first difference of two dumps, for a violation message. */
export function firstDifference(a: readonly string[], b: readonly string[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i}: ${a[i] ?? "(none)"} vs ${b[i] ?? "(none)"}`;
  }
  return "none";
}

/**
 * Safety of every Raft group while the run goes: at most one leader per (group, term), and
 * every node applies the same entry at an index (compared by a hash of its data).
 */
export class GroupSafety {
  readonly violations: string[] = [];
  readonly #leaders = new Map<string, number>();
  readonly #applied = new Map<number, Map<number, number>>();

  leader(group: number, term: number, node: number, now: number): void {
    const key = `${group}:${term}`;
    const had = this.#leaders.get(key);
    if (had === undefined) this.#leaders.set(key, node);
    else if (had !== node && this.violations.length < 10) {
      this.violations.push(
        `t=${now}ms: election safety: group ${group} term ${term} has leaders ${had} and ${node}`,
      );
    }
  }

  applied(group: number, index: number, term: number, data: Uint8Array, node: number): void {
    let g = this.#applied.get(group);
    if (!g) this.#applied.set(group, g = new Map());
    const h = hashBytes(data, term);
    const had = g.get(index);
    if (had === undefined) g.set(index, h);
    else if (had !== h && this.violations.length < 10) {
      this.violations.push(
        `state machine safety: node ${node} applied another entry at group ${group} index ${index}`,
      );
    }
  }
}

function hashBytes(data: Uint8Array, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h;
}
