/**
 * The app of a one-node server over a real storage engine in a temporary folder, with a clock
 * fixed at `nowMs` (points without a time land there): what the ingest benches post bodies to,
 * without a process or a socket.
 * @module
 */
import { type Clock, silentLogger } from "../src/core/mod.ts";
import { createApp } from "../src/http/mod.ts";
import { denoFileSystem } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

/** Opens an engine under a fresh temporary folder named `prefix…` and the app in front of it. */
export async function openIngestApp(prefix: string, nowMs: number) {
  const clock: Clock = {
    nowMs: () => nowMs,
    nowNanos: () => BigInt(nowMs) * 1_000_000n,
    monotonicMs: () => performance.now(),
  };
  const dir = await Deno.makeTempDir({ prefix });
  const engine = await StorageEngine.open({ dir, fs: denoFileSystem, clock, logger: silentLogger });
  await engine.createDatabase("epochnexus");
  const app = createApp({
    engine,
    clock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 100_000_000,
  });
  return { app, engine, dir };
}
