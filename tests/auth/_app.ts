/**
 * An in-process app with users (no socket): a single-node storage engine, a metadata state
 * applied in place, and the user directory over it. Hashing uses 1,000 iterations here (the
 * cost is not what these tests check).
 */
import { AuthDirectory } from "../../src/auth/mod.ts";
import { MetaState } from "../../src/cluster/meta/meta_state.ts";
import type { Clock, Logger } from "../../src/core/mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";

export const NOW_NS = 1_700_000_000_000_000_000n;
const clock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

/** A logger that keeps every line (tests read what was logged). */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, info: log("info"), warn: log("warn"), error: log("error") };
}

/** Options of {@linkcode authApp}. */
export interface AuthAppOptions {
  enabled: boolean;
  /** Make the users of the matrix (admin, reader, writer, dbadmin) and the database db1. */
  users?: boolean;
  audit?: (entry: Record<string, unknown>) => void;
  /** The app's clock (the refusal logs read its monotonic time); a fixed wall clock by default. */
  clock?: Clock;
  /** Timers of the refusal logs' summaries; none by default. */
  later?: (fn: () => void, ms: number) => void;
}

/** Starts an app; `call` answers status, headers and text. */
export async function authApp(options: AuthAppOptions) {
  const engine = await StorageEngine.open({
    dir: await Deno.makeTempDir({ prefix: "epochnexus-auth-" }),
    fs: denoFileSystem,
    clock,
    logger: recordingLogger(),
  });
  const meta = new MetaState();
  meta.apply({ op: "add_node", httpAddress: "h:1", raftAddress: "r:1", version: "1" });
  const createDb = async (name: string) => {
    await engine.createDatabase(name);
    meta.apply({
      op: "create_database",
      name,
      partitions: 1,
      hash: "fnv1a64",
      hashKey: "series",
      replicationFactor: 1,
    });
  };
  await createDb("epochnexus");
  await createDb("db1");
  const directory = new AuthDirectory({
    meta: { table: () => meta.users, propose: (c) => Promise.resolve(meta.apply(c)) },
    clock,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    iterations: 1_000,
  });
  if (options.users) {
    await directory.createUser("admin", "admin-pw", true);
    for (const [name, privilege] of [["reader", "READ"], ["writer", "WRITE"], ["dbadmin", "ALL"]]) {
      await directory.createUser(name, `${name}-pw`, false);
      await directory.grant(name, "db1", privilege as "READ" | "WRITE" | "ALL");
    }
  }
  const logger = recordingLogger();
  const app = createApp({
    engine,
    clock: options.clock ?? clock,
    later: options.later,
    logger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 1_000_000,
    auth: {
      enabled: options.enabled,
      directory,
      audit: options.audit,
      clusterSecret: "s".repeat(32),
    },
  });
  const call = async (path: string, init: RequestInit & { user?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.user) headers.set("authorization", `Basic ${btoa(`${init.user}:${init.user}-pw`)}`);
    const r = await app(new Request(`http://node${path}`, { ...init, headers }));
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  return { app, call, directory, meta, engine, logger, close: () => engine.close() };
}
