/**
 * Serving a fetch handler over HTTP with Deno.serve, and the process signals that stop it.
 * @module
 */

/** A running server. */
export interface RunningServer {
  hostname: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** Serves `handler` on `hostname:port` (port 0 picks a free one). */
export function serveHttp(
  handler: (request: Request) => Promise<Response>,
  options: { hostname: string; port: number },
): Promise<RunningServer> {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, handler);
  const addr = server.addr as Deno.NetAddr;
  return Promise.resolve({
    hostname: addr.hostname,
    port: addr.port,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  });
}

/** Calls `stop` once on SIGINT or SIGTERM. */
export function onShutdownSignal(stop: (signal: string) => void): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
  }
}

/** The named environment variables that are set (only these are read, so --allow-env can list them). */
export function environment(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Reads a text file (configuration). */
export function readTextFile(path: string): Promise<string> {
  return Deno.readTextFile(path);
}

/** Ends the process. */
export function exit(code: number): never {
  Deno.exit(code);
}

/** Command-line arguments. */
export function commandLineArgs(): string[] {
  return [...Deno.args];
}

/** Writes text to stdout. */
export async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

/** HTTP client (the CLI's query and import commands). */
export const httpFetch: typeof fetch = (input, init) => fetch(input, init);
