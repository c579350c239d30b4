/**
 * The cold store a node's configuration names (`cold_store`): none, a folder, or S3-compatible
 * storage given as `http(s)://host:port/bucket[/prefix]`.
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { FileSystem } from "../core/mod.ts";
import { type ColdStore, DirColdStore, S3ColdStore } from "../storage/mod.ts";

/** The configured cold store, or undefined when `cold_store` is empty. */
export function coldStoreFromConfig(
  config: Pick<
    Config,
    | "cold_store"
    | "cold_store_region"
    | "cold_store_access_key_id"
    | "cold_store_secret_access_key"
  >,
  fs: FileSystem,
  fetch: typeof globalThis.fetch,
): ColdStore | undefined {
  const target = config.cold_store;
  if (target === "") return undefined;
  if (target.startsWith("/")) return new DirColdStore(fs, target.replace(/\/+$/, ""));
  const url = new URL(target);
  const [bucket, ...prefix] = url.pathname.split("/").filter((p) => p !== "");
  return new S3ColdStore({
    endpoint: url.origin,
    bucket,
    prefix: prefix.join("/"),
    region: config.cold_store_region,
    accessKeyId: config.cold_store_access_key_id,
    secretAccessKey: config.cold_store_secret_access_key,
    fetch,
  });
}
