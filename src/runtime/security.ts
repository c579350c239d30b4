/**
 * The IO of security: strong random bytes, an HTTPS client that trusts given CA certificates,
 * and the audit log's sink.
 * @module
 */

/** Cryptographically strong random bytes (salts, tokens, the cluster secret). */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A new cluster secret: 32 random bytes, hex. */
export function newSecret(): string {
  let s = "";
  for (const b of randomBytes(32)) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * A fetch whose HTTPS connections trust `caPem` (a CA, or a self-signed certificate the
 * cluster shares), besides the system's roots.
 */
export function fetchTrusting(caPem: string): typeof globalThis.fetch {
  const client = Deno.createHttpClient({ caCerts: [caPem] });
  return (input, init) => fetch(input, { ...init, client });
}

/**
 * Where the audit log goes: "stderr", or a file appended to (created with mode 0600). Each entry
 * is one JSON line with the time first. Writes are synchronous: audited statements are rare.
 */
export function openAuditSink(target: string): (entry: Record<string, unknown>) => void {
  const encoder = new TextEncoder();
  const file = target === "stderr"
    ? undefined
    : Deno.openSync(target, { append: true, create: true, mode: 0o600 });
  return (entry) => {
    const line = encoder.encode(
      JSON.stringify({ time: new Date().toISOString(), ...entry }) + "\n",
    );
    let written = 0;
    while (written < line.length) {
      written += (file ?? Deno.stderr).writeSync(line.subarray(written));
    }
  };
}
