/** An in-process node (no socket) for the ingest tests. @module */
import { type Clock, silentLogger } from "../../src/core/mod.ts";
import { createApp } from "../../src/http/mod.ts";
import type { DataStore } from "../../src/http/app.ts";
import type { IngestSettings } from "../../src/http/ingest_handler.ts";
import type { LineProtocolCache } from "../../src/ingest/line_protocol.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../../src/schema/mod.ts";

export const NOW_NS = 1_700_000_000_000_000_000n;
const fixedClock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

/** Answer of {@linkcode setup}'s `call`. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/**
 * A node with a fresh data folder. `schemas` (measurement -> schema, as PUT takes it) installs
 * the schema pipeline as `serve` does, dead letters written to the engine.
 */
export async function setup(
  options: {
    maxBodyBytes?: number;
    /** The engine's field limit (0 = none). @default its default */
    maxFieldsPerMeasurement?: number;
    ingest?: Partial<IngestSettings>;
    schemas?: Record<string, unknown>;
    /** The app's per-database write caches, for a test to look at. */
    lineProtocolCaches?: Map<string, LineProtocolCache>;
    /** What the app sees of the engine (a test's stand-in for a cluster node's store). */
    store?: (engine: StorageEngine) => DataStore;
  } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-ingest-" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: fixedClock,
    logger: silentLogger,
    maxFieldsPerMeasurement: options.maxFieldsPerMeasurement,
  });
  await engine.createDatabase("epochnexus");
  let pipeline: SchemaPipeline | undefined;
  if (options.schemas) {
    const registry = await SchemaRegistry.open({ fs: denoFileSystem, dataDir: dir });
    for (const [measurement, schema] of Object.entries(options.schemas)) {
      await registry.put(measurement, schema);
    }
    pipeline = new SchemaPipeline(registry, {
      deadLetters: async (db, points) => void await engine.write(db, undefined, points),
    });
  }
  const app = createApp({
    engine: options.store?.(engine) ?? engine,
    clock: fixedClock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: options.maxBodyBytes ?? 1_000_000,
    ingest: options.ingest,
    pipeline,
    lineProtocolCaches: options.lineProtocolCaches,
  });
  const call = async (path: string, init?: RequestInit): Promise<Answer> => {
    const r = await app(new Request(`http://node${path}`, init));
    const text = await r.text();
    const isJson = (r.headers.get("content-type") ?? "").includes("json");
    return {
      status: r.status,
      headers: r.headers,
      text,
      json: isJson && text ? JSON.parse(text) : null,
    };
  };
  const post = (path: string, type: string, body: BodyInit, headers: Record<string, string> = {}) =>
    call(path, { method: "POST", headers: { "content-type": type, ...headers }, body });
  /** Rows of a query as `[time, ...columns]` arrays (epoch ns). */
  const rows = async (query: string, db = "epochnexus"): Promise<unknown[][]> => {
    const r = await call(`/query?db=${db}&epoch=ns&q=${encodeURIComponent(query)}`, {
      method: "POST",
    });
    if (r.status !== 200) throw new Error(`query failed: ${r.text}`);
    return r.json.results[0].series?.[0]?.values ?? [];
  };
  return {
    app,
    engine,
    call,
    post,
    rows,
    close: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Gzips bytes. */
export async function gzip(data: Uint8Array | string): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data.slice();
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
