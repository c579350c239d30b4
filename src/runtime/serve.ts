/**
 * The process around a server: the signals that stop it, its environment, arguments and exit
 * (the HTTP server itself is http_server.ts).
 * @module
 */

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

/** Writes text (or bytes) to stdout. */
export async function writeStdout(text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

/** Writes text to stderr. */
export async function writeStderr(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await Deno.stderr.write(bytes.subarray(written));
}

/** Standard input as a byte stream (`import -`). */
export function stdinStream(): ReadableStream<Uint8Array> {
  return Deno.stdin.readable;
}

/**
 * The directory the user ran the command from: `INIT_CWD` (set by `deno task` and npm, which
 * run in the project's folder) when granted and set, else the process's working directory.
 */
export function callerDirectory(): string {
  try {
    const init = Deno.env.get("INIT_CWD");
    if (init) return init;
  } catch { /* not granted: the working directory */ }
  return Deno.cwd();
}

/** HTTP client (the CLI's query and import commands). */
export const httpFetch: typeof fetch = (input, init) => fetch(input, init);
