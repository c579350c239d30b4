/**
 * The gateway's settings, from its environment only (a Deploy-like host gives nothing else).
 * @module
 */
import { z } from "zod";
import { ValidationError } from "../core/mod.ts";

/** The environment variables the gateway reads (its `--allow-env=` list). */
export const GATEWAY_ENV = [
  "EPOCHNEXUS_GATEWAY_NODES",
  "EPOCHNEXUS_CLUSTER_SECRET",
  "EPOCHNEXUS_GATEWAY_META_TTL_MS",
  "EPOCHNEXUS_GATEWAY_DOWN_MS",
] as const;

/** Validated settings. */
export interface GatewayConfig {
  /** Node-to-node (raft) base URLs of the nodes to read the metadata from, `http://host:port`. */
  seeds: string[];
  /** The cluster's node-to-node secret (ReadMeta calls carry it). */
  secret?: string;
  /** How long a metadata copy is used before it is read again. */
  metaTtlMs: number;
  /** How long a node that failed a connection is skipped before it is health-checked again. */
  downMs: number;
}

const address = z.string().refine((a) => /^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(a), {
  error: (issue) => `${JSON.stringify(issue.input)} is not host:port or http(s)://host:port`,
});

const schema = z.object({
  EPOCHNEXUS_GATEWAY_NODES: z.string({ error: "is required (comma-separated node addresses)" })
    .transform((s) => s.split(",").map((a) => a.trim()).filter((a) => a !== ""))
    .pipe(z.array(address).min(1, "lists no address")),
  EPOCHNEXUS_CLUSTER_SECRET: z.string().min(1).optional(),
  EPOCHNEXUS_GATEWAY_META_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(5000),
  EPOCHNEXUS_GATEWAY_DOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(2000),
});

/** Reads the settings; a bad value throws a {@linkcode ValidationError} naming the variable. */
export function gatewayConfigFromEnv(env: Record<string, string | undefined>): GatewayConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    // A path is [variable] or [variable, index in the list].
    const issues = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ValidationError(`gateway configuration: ${issues.join("; ")}`);
  }
  const c = parsed.data;
  return {
    seeds: c.EPOCHNEXUS_GATEWAY_NODES.map((a) => baseUrl(a)),
    secret: c.EPOCHNEXUS_CLUSTER_SECRET,
    metaTtlMs: c.EPOCHNEXUS_GATEWAY_META_TTL_MS,
    downMs: c.EPOCHNEXUS_GATEWAY_DOWN_MS,
  };
}

/** `host:port` as `<scheme>://host:port` (an address that has a scheme keeps it). */
export function baseUrl(address: string, scheme = "http"): string {
  const a = address.replace(/\/$/, "");
  return /^https?:\/\//.test(a) ? a : `${scheme}://${a}`;
}
