/**
 * Sandboxes for user scripts (the schema room's `script` step): each script runs in its own
 * Deno Worker with every permission denied (no net, files, env, run, ffi, sys), loaded from a
 * `data:` URL so the worker needs no read access. One batch at a time per worker; a time limit
 * per batch. A script that throws fails its batch; one that times out is terminated and a fresh
 * worker started for the next batch.
 *
 * Limits, as Deno 2.9 allows them:
 * - time: `timeoutMs` per batch (wall clock, measured by the host);
 * - memory: Deno Workers take no `resourceLimits`; the host caps what crosses the boundary
 *   (`maxResultBytes` of returned JSON-ish data) and relies on the time limit for the heap.
 * - runaway code: Deno 2.9.6's `Worker.terminate()` does not interrupt a worker stuck in a
 *   synchronous loop (measured: the thread keeps spinning). So a script that times out
 *   `maxStrikes` times in a row is disabled (its batches fail at once with the reason) rather
 *   than started again, bounding the threads a hostile script can pin to `maxStrikes`.
 *
 * Needs `--unstable-worker-options` (deno.json `"unstable": ["worker-options"]`).
 * @module
 */

/** Why a sandboxed batch failed; `kind` is the failure class the schema room reports. */
export class SandboxError extends Error {
  constructor(message: string, readonly kind: "threw" | "timeout" | "memory" | "invalid") {
    super(message);
    this.name = "SandboxError";
  }
}

/** Options of {@linkcode createWorkerScriptHost}. */
export interface WorkerHostOptions {
  /** Largest serialized result accepted from a script, in bytes. @default {16 MiB} */
  maxResultBytes?: number;
  /** Consecutive timeouts after which a script is disabled. @default {3} */
  maxStrikes?: number;
  /** Time allowed for a worker to load its script. @default {5000} */
  startTimeoutMs?: number;
}

/** A sandbox running one script (matches the schema room's `ScriptSandbox`). */
export interface WorkerSandbox {
  run(batch: unknown[], options: { timeoutMs: number }): Promise<unknown>;
  close(): void;
}

// The worker's bootstrap: loads the user module, then answers one batch per message. It keeps
// its own references to postMessage so a script replacing globals cannot break the protocol.
const BOOT = `
const post = self.postMessage.bind(self);
let main;
self.onmessage = async (event) => {
  const { id, kind, url, batch } = event.data;
  try {
    if (kind === "load") {
      const mod = await import(url);
      main = mod.default;
      if (typeof main !== "function") throw new Error("the script must export a default function");
      post({ id, ok: true });
      return;
    }
    const result = await main(batch);
    post({ id, ok: true, result });
  } catch (error) {
    post({ id, ok: false, error: error instanceof Error ? (error.name + ": " + error.message) : String(error) });
  }
};
`;
const BOOT_URL = `data:application/javascript,${encodeURIComponent(BOOT)}`;

function dataUrl(source: string, typescript: boolean): string {
  const bytes = new TextEncoder().encode(source);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:application/${typescript ? "typescript" : "javascript"};base64,${btoa(binary)}`;
}

function approximateSize(value: unknown, limit: number): number {
  // A bounded walk: stops counting once past the limit.
  let size = 0;
  const stack = [value];
  while (stack.length > 0 && size <= limit) {
    const v = stack.pop();
    if (typeof v === "string") size += v.length * 2;
    else if (v !== null && typeof v === "object") {
      size += 16;
      for (const item of Object.values(v as Record<string, unknown>)) stack.push(item);
    } else size += 8;
  }
  return size;
}

/**
 * Creates sandboxes for scripts.
 *
 * @example
 * ```ts
 * const host = createWorkerScriptHost();
 * const box = host({ name: "double", source: "export default (ps) => ps", typescript: false });
 * await box.run([{ v: 1 }], { timeoutMs: 100 });
 * box.close();
 * ```
 */
export function createWorkerScriptHost(
  options: WorkerHostOptions = {},
): (script: { name: string; source: string; typescript: boolean }) => WorkerSandbox {
  const maxResultBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const maxStrikes = options.maxStrikes ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  return (script) => {
    const url = dataUrl(script.source, script.typescript);
    let worker: Worker | undefined;
    let loaded: Promise<void> | undefined;
    let nextId = 1;
    let strikes = 0;
    let closed = false;
    let queue: Promise<unknown> = Promise.resolve();
    const pending = new Map<
      number,
      (answer: { ok: boolean; result?: unknown; error?: string }) => void
    >();

    const kill = () => {
      worker?.terminate();
      worker = undefined;
      loaded = undefined;
      for (const resolve of pending.values()) resolve({ ok: false, error: "worker stopped" });
      pending.clear();
    };

    const call = (message: Record<string, unknown>, timeoutMs: number): Promise<unknown> => {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          kill();
          reject(
            new SandboxError(
              `script ${script.name} exceeded its time limit of ${timeoutMs} ms; its worker was stopped`,
              "timeout",
            ),
          );
        }, timeoutMs);
        pending.set(id, (answer) => {
          clearTimeout(timer);
          if (answer.ok) resolve(answer.result);
          else reject(new SandboxError(`script ${script.name} failed: ${answer.error}`, "threw"));
        });
        worker!.postMessage({ ...message, id });
      });
    };

    const start = (): Promise<void> => {
      worker = new Worker(BOOT_URL, {
        type: "module",
        name: script.name,
        deno: { permissions: "none" },
      } as WorkerOptions);
      worker.onmessage = (event: MessageEvent) => {
        const answer = event.data as { id: number; ok: boolean; result?: unknown; error?: string };
        const resolve = pending.get(answer.id);
        pending.delete(answer.id);
        resolve?.(answer);
      };
      worker.onerror = (event: ErrorEvent) => {
        // An uncaught error or a worker that died: fail whatever is in flight, restart later.
        event.preventDefault();
        const message = event.message || "worker error";
        for (const resolve of pending.values()) resolve({ ok: false, error: message });
        pending.clear();
        kill();
      };
      worker.onmessageerror = () => {
        for (const resolve of pending.values()) {
          resolve({ ok: false, error: "the script returned a value that cannot be cloned" });
        }
        pending.clear();
      };
      return call({ kind: "load", url }, startTimeoutMs).then(() => {});
    };

    const runOne = async (batch: unknown[], timeoutMs: number): Promise<unknown> => {
      if (closed) throw new SandboxError(`script ${script.name} is closed`, "threw");
      if (strikes >= maxStrikes) {
        throw new SandboxError(
          `script ${script.name} is disabled after ${strikes} consecutive timeouts ` +
            "(fix it and reload the schema)",
          "timeout",
        );
      }
      try {
        loaded ??= start();
        await loaded;
        const result = await call({ kind: "run", batch }, timeoutMs);
        strikes = 0;
        if (approximateSize(result, maxResultBytes) > maxResultBytes) {
          throw new SandboxError(
            `script ${script.name} returned more than ${maxResultBytes} bytes`,
            "memory",
          );
        }
        return result;
      } catch (error) {
        if (error instanceof SandboxError && error.kind === "timeout") strikes++;
        if (!(error instanceof SandboxError) || error.kind !== "threw") kill();
        throw error;
      }
    };

    return {
      run(batch, { timeoutMs }) {
        const run = queue.then(() => runOne(batch, timeoutMs));
        queue = run.catch(() => {});
        return run;
      },
      close() {
        closed = true;
        kill();
      },
    };
  };
}

/** Calls `reload` on every SIGHUP (schema folders and the like); a no-op where unsupported. */
export function onReloadSignal(reload: () => void): void {
  try {
    Deno.addSignalListener("SIGHUP", reload);
  } catch {
    // Windows has no SIGHUP.
  }
}
