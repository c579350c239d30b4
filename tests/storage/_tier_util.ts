/**
 * Helpers of the tiering tests: a settable clock, a workload spread over shard groups, a full
 * dump of an engine's data, and an S3 API server (s3rver, in-process on 127.0.0.1 port 0).
 * @module
 */
import S3rver from "s3rver";
import { type Clock, FieldType, type Point, silentLogger } from "../../src/core/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { type EngineOptions, S3ColdStore, StorageEngine } from "../../src/storage/mod.ts";

export const HOUR_MS = 3_600_000;
/** The workload's first instant: 2024-01-01T00:00:00Z. */
export const T0 = 1_704_067_200_000;

/** A wall clock tests move by hand. */
export class TestClock implements Clock {
  constructor(public ms: number) {}
  nowMs(): number {
    return this.ms;
  }
  nowNanos(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  monotonicMs(): number {
    return performance.now();
  }
}

/** Opens an engine on a folder with the test's clock and no background task. */
export function openEngine(
  dir: string,
  clock: Clock,
  options: Partial<EngineOptions> = {},
): Promise<StorageEngine> {
  return StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    ...options,
  });
}

/**
 * Points of hour `hour` after T0: `series` hosts, one point a second for `perSeries` seconds,
 * a float field with a random walk, an integer counter and a string state.
 */
export function hourPoints(hour: number, series = 4, perSeries = 600): Point[] {
  const out: Point[] = [];
  for (let s = 0; s < series; s++) {
    let v = 50 + s;
    for (let i = 0; i < perSeries; i++) {
      v += Math.sin(hour * 7 + s * 13 + i) * 0.5;
      out.push({
        measurement: s % 2 === 0 ? "cpu" : "mem",
        tags: [{ key: "host", value: `h${s}` }],
        fields: [
          { key: "v", type: FieldType.Float, value: Math.round(v * 100) / 100 },
          { key: "n", type: FieldType.Integer, value: hour * 100_000 + i },
          { key: "state", type: FieldType.String, value: i % 7 === 0 ? "busy" : "idle" },
        ],
        timeMs: T0 + hour * HOUR_MS + i * 1000,
        timeSubMs: 0,
      });
    }
  }
  return out;
}

/** Every value of a database's policy as sorted text lines (series, field, time, value). */
export async function dump(engine: StorageEngine, db: string, rp: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of engine.shards(db, rp, -(2n ** 63n), 2n ** 63n - 1n)) {
    for (const m of shard.measurements()) {
      const types = shard.fieldTypes(m);
      for (const s of shard.series(m)) {
        for (const f of types.keys()) {
          const c = await shard.readField(s, f, -(2n ** 63n), 2n ** 63n - 1n);
          if (!c) continue;
          for (let i = 0; i < c.length; i++) {
            out.push(`${s.key} ${f} ${c.timesMs[i]}.${c.timesSubMs[i]} ${String(c.values[i])}`);
          }
        }
      }
    }
  }
  return out.sort();
}

/** Files under a folder whose names match. */
export async function filesUnder(dir: string, name: RegExp): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (name.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  await walk(dir).catch(() => {});
  return out.sort();
}

/** A running s3rver with one bucket, and a store on it. */
export interface S3Server {
  endpoint: string;
  bucket: string;
  store(prefix?: string): S3ColdStore;
  close(): Promise<void>;
}

/** Starts s3rver in this process on 127.0.0.1, port 0 (the port it got is read back). */
export async function startS3(bucket = "cold"): Promise<S3Server> {
  const directory = await Deno.makeTempDir({ prefix: "epochnexus-s3rver-" });
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    store: (prefix = "") =>
      new S3ColdStore({
        endpoint,
        bucket,
        prefix,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        fetch: globalThis.fetch,
      }),
    close: async () => {
      await server.close();
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    },
  };
}
