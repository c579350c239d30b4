/**
 * A node's HTTP surface with schemas, called with no socket: a real storage engine and schema
 * registry in a temp folder, the config folder given as files.
 * @module
 */
import { type Clock, silentLogger } from "../../src/core/mod.ts";
import { createApp, Metrics } from "../../src/http/mod.ts";
import { storedDataOf } from "../../src/http/schema_handler.ts";
import {
  createProcessScriptHost,
  createWorkerScriptHost,
  denoFileSystem,
} from "../../src/runtime/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../../src/schema/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";
import { TEST_SANDBOX_MEMORY_MB } from "./_processes.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const fixedClock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

/** A node with schemas; `files` go to its config folder (relative names). */
export async function setupNode(
  files: Record<string, string> = {},
  options: {
    dataDir?: string;
    /** The config folder; `null` for a node without one. */
    folder?: string | null;
    host?: "worker" | "process";
    /** `max_script_sandboxes`: the registry's limit and the host's. @default {8} */
    maxScriptSandboxes?: number;
  } = {},
) {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "schema_test_" });
  const folder = options.folder === null
    ? undefined
    : options.folder ?? await Deno.makeTempDir({ prefix: "schema_cfg_" });
  for (const [name, text] of Object.entries(files)) {
    if (!folder) throw new Error("BUG: files given for a node without a config folder");
    const path = `${folder}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  const engine = await StorageEngine.open({
    dir: dataDir,
    fs: denoFileSystem,
    clock: fixedClock,
    logger: silentLogger,
  });
  if (!engine.hasDatabase("epochnexus")) await engine.createDatabase("epochnexus");
  const metrics = new Metrics();
  const stored = storedDataOf(engine);
  const maxSandboxes = options.maxScriptSandboxes ?? 8;
  const host = options.host === "process"
    ? createProcessScriptHost({
      maxStrikes: 2,
      memoryLimitMb: TEST_SANDBOX_MEMORY_MB,
      maxSandboxes,
    })
    : createWorkerScriptHost({ maxStrikes: 2, maxSandboxes });
  const registry = await SchemaRegistry.open({
    fs: denoFileSystem,
    dataDir,
    folder,
    stored,
    resources: { scripts: host, maxScripts: maxSandboxes },
  });
  const pipeline = new SchemaPipeline(registry, {
    stored,
    metrics,
    deadLetters: async (db, points) => void await engine.write(db, undefined, points),
  });
  const app = createApp({
    engine,
    clock: fixedClock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 1_000_000,
    metrics,
    pipeline,
  });
  const call = async (path: string, init?: RequestInit) => {
    const r = await app(new Request(`http://node${path}`, init));
    const text = await r.text();
    const isJson = (r.headers.get("content-type") ?? "").includes("json");
    return { status: r.status, text, json: isJson && text ? JSON.parse(text) : null };
  };
  const write = (lines: string) =>
    call("/write?db=epochnexus&precision=s", { method: "POST", body: lines });
  const query = async (q: string) => {
    const r = await call(`/query?db=epochnexus&q=${encodeURIComponent(q)}`, { method: "POST" });
    return r.json.results[0].series ?? [];
  };
  const close = async () => {
    registry.close();
    await host.close();
    await engine.close();
  };
  return { app, call, write, query, metrics, registry, host, engine, dataDir, folder, close };
}
