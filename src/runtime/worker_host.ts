/**
 * Sandboxes for user scripts (the schema room's `script` step). Two hosts, one contract
 * (`run(batch, {timeoutMs})`, `close()`), one batch at a time per script:
 *
 * - {@linkcode createWorkerScriptHost}: a Deno Worker per script with every permission denied
 *   (`deno: { permissions: "none" }`: no net, files, env, run, ffi, sys), loaded from a `data:`
 *   URL so it needs no read access. A batch that throws fails alone; one that times out is
 *   answered at once and its worker terminated, a fresh one started for the next batch.
 *   Limits of Workers in Deno 2.9.6, measured: they take no heap limit (`resourceLimits` is
 *   Node's), and `Worker.terminate()` does not interrupt a worker stuck in synchronous code
 *   (the thread keeps spinning, a memory bomb keeps allocating until the process dies). So a
 *   script that times out `maxStrikes` times in a row is disabled rather than restarted, which
 *   bounds the threads a hostile script can pin; the memory limit is not enforced.
 * - {@linkcode createProcessScriptHost}: a `deno run` child process per script with no
 *   permission flag (all denied), a V8 heap limit (`--max-old-space-size`, default 128 MiB)
 *   and a cleared environment, killed with SIGKILL on timeout: hard time and memory limits. It
 *   needs permission to run `Deno.execPath()`.
 *
 * {@linkcode createScriptHost} picks the process host when that permission is granted.
 * Workers need `--unstable-worker-options` (deno.json `"unstable": ["worker-options"]`).
 * @module
 */

import { cleanSandboxMessage, SandboxError } from "./sandbox_error.ts";

export { SandboxError } from "./sandbox_error.ts";

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
const reviver = (_k, v) => v !== null && typeof v === "object" && typeof v.$bigint === "string" ? BigInt(v.$bigint) : v;
const replacer = (_k, x) => typeof x === "bigint" ? { $bigint: x.toString() } : x;
const encode = (v) => { try { return JSON.stringify(v) ?? "null"; } catch (e) { if (!(e instanceof TypeError)) throw e; return "\\x01" + JSON.stringify(v, replacer); } };
const decode = (t) => t.charCodeAt(0) === 1 ? JSON.parse(t.slice(1), reviver) : JSON.parse(t);
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
    const result = await main(decode(batch));
    post({ id, ok: true, result: encode(result) });
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

/** What {@linkcode serialRunner} needs from one sandbox: how it starts, sends, and is killed. */
interface SerialRunnerParts {
  /** The script's name, for error messages. */
  name: string;
  /** Starts the sandbox and loads the script unless already done (or under way). */
  start: () => Promise<void>;
  /** Sends one encoded batch; resolves with the script's encoded result. */
  call: (batch: string, timeoutMs: number) => Promise<unknown>;
  /** Stops the sandbox and fails whatever is in flight; the next `start` begins afresh. */
  kill: () => void;
  /** Consecutive timeouts after which the script is disabled. */
  maxStrikes: number;
  /** Largest result accepted, in (approximate) bytes. */
  maxResultBytes: number;
}

/**
 * The contract both hosts share: one batch at a time (queued), a script disabled after
 * `maxStrikes` consecutive timeouts, oversized results refused, and the sandbox killed after
 * any failure other than the script throwing.
 */
function serialRunner(parts: SerialRunnerParts): WorkerSandbox {
  const { name, start, call, kill, maxStrikes, maxResultBytes } = parts;
  let strikes = 0;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  const runOne = async (batch: unknown[], timeoutMs: number): Promise<unknown> => {
    if (closed) throw new SandboxError(`script ${name} is closed`, "threw");
    if (strikes >= maxStrikes) {
      throw new SandboxError(
        `script ${name} is disabled after ${strikes} consecutive timeouts ` +
          "(fix it and reload the schema)",
        "timeout",
      );
    }
    try {
      await start();
      const result = decodePayload(await call(encodePayload(batch), timeoutMs) as string);
      strikes = 0;
      if (approximateSize(result, maxResultBytes) > maxResultBytes) {
        throw new SandboxError(
          `script ${name} returned more than ${maxResultBytes} bytes`,
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
}

/** A script's answer to one call. */
type Answer = { ok: boolean; result?: unknown; error?: string };

/**
 * The calls of one sandbox awaiting their answers, by id. `call` sends with a fresh id and waits
 * at most `timeoutMs`; past it the sandbox is killed (`stopped` says how, in the error). An
 * error starting with `__memory__` is the memory limit (only the process host reports it).
 * The script's own errors are cleaned ({@linkcode cleanSandboxMessage}) before anyone sees them.
 */
function callTable(scriptName: string, stopped: string, kill: () => void) {
  let nextId = 1;
  const pending = new Map<number, (answer: Answer) => void>();
  const call = (
    send: (id: number) => void,
    timeoutMs: number,
    phase: "load" | "run",
  ): Promise<unknown> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        kill();
        reject(
          new SandboxError(
            `script ${scriptName} exceeded its time limit of ${timeoutMs} ms; ${stopped}`,
            "timeout",
          ),
        );
      }, timeoutMs);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        if (answer.ok) resolve(answer.result);
        else if (answer.error?.startsWith("__memory__")) {
          reject(new SandboxError(`script ${scriptName} ${answer.error.slice(10)}`, "memory"));
        } else {
          const why = cleanSandboxMessage(answer.error ?? "", phase);
          const what = phase === "load" ? "cannot be loaded" : "failed";
          reject(new SandboxError(`script ${scriptName} ${what}: ${why}`, "threw"));
        }
      });
      send(id);
    });
  };
  return { pending, call };
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
    const { pending, call: callOnce } = callTable(
      script.name,
      "its worker was stopped",
      () => kill(),
    );

    const kill = () => {
      worker?.terminate();
      worker = undefined;
      loaded = undefined;
      for (const resolve of pending.values()) resolve({ ok: false, error: "worker stopped" });
      pending.clear();
    };

    const call = (
      message: Record<string, unknown>,
      timeoutMs: number,
      phase: "load" | "run",
    ): Promise<unknown> =>
      callOnce((id) => worker!.postMessage({ ...message, id }), timeoutMs, phase);

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
      return call({ kind: "load", url }, startTimeoutMs, "load").then(() => {});
    };

    return serialRunner({
      name: script.name,
      start: () => (loaded ??= start()),
      call: (batch, timeoutMs) => call({ kind: "run", batch }, timeoutMs, "run"),
      kill,
      maxStrikes,
      maxResultBytes,
    });
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

// The child process's bootstrap: one JSON message per line on stdin and stdout (bigints as
// {"$bigint": "..."}; an error's text as a JSON string, its lines kept for the host to clean);
// console output goes to stderr so it cannot break the protocol.
const PROCESS_BOOT = `
const reviver = (_k, v) => v !== null && typeof v === "object" && typeof v.$bigint === "string" ? BigInt(v.$bigint) : v;
const replacer = (_k, x) => typeof x === "bigint" ? { $bigint: x.toString() } : x;
const encode = (v) => { try { return JSON.stringify(v) ?? "null"; } catch (e) { if (!(e instanceof TypeError)) throw e; return "\\x01" + JSON.stringify(v, replacer); } };
const decode = (t) => t.charCodeAt(0) === 1 ? JSON.parse(t.slice(1), reviver) : JSON.parse(t);
const out = Deno.stdout;
const textEncoder = new TextEncoder();
const write = (id, ok, payload) => out.writeSync(textEncoder.encode("\\x1e" + id + "\\t" + (ok ? 1 : 0) + "\\t" + payload + "\\n"));
for (const k of ["log", "info", "debug", "warn", "table", "dir"]) console[k] = console.error;
let main;
let buffer = "";
const decoder = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buffer += decoder.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffer.indexOf("\\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    const t1 = line.indexOf("\\t"), t2 = line.indexOf("\\t", t1 + 1);
    const id = line.slice(0, t1), kind = line.slice(t1 + 1, t2), payload = line.slice(t2 + 1);
    try {
      if (kind === "load") {
        main = (await import(payload)).default;
        if (typeof main !== "function") throw new Error("the script must export a default function");
        write(id, true, "null");
      } else {
        write(id, true, encode(await main(decode(payload))));
      }
    } catch (error) {
      write(id, false, JSON.stringify(error instanceof Error ? error.name + ": " + error.message : String(error)));
    }
  }
}
`;
const PROCESS_BOOT_URL = `data:application/javascript,${encodeURIComponent(PROCESS_BOOT)}`;

/**
 * Batches cross the boundary as one JSON string (cheap to copy, cheaper than cloning thousands
 * of objects); bigints as `{"$bigint": "..."}`, flagged by a leading \\x01 so that batches
 * without them need no reviver.
 */
function encodePayload(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return "\x01" +
      JSON.stringify(value, (_k, x) => (typeof x === "bigint" ? { $bigint: x.toString() } : x));
  }
}

function decodePayload(text: string): unknown {
  if (text.charCodeAt(0) !== 1) return JSON.parse(text);
  return JSON.parse(
    text.slice(1),
    (_k, v) =>
      v !== null && typeof v === "object" && typeof v.$bigint === "string" ? BigInt(v.$bigint) : v,
  );
}

/** Options of {@linkcode createProcessScriptHost}. */
export interface ProcessHostOptions extends WorkerHostOptions {
  /** V8 heap limit of each script's process, in MiB. @default {128} */
  memoryLimitMb?: number;
}

/**
 * Sandboxes for user scripts as child processes: `deno run` with no permission flag at all
 * (so no net, files, env, run, ffi, sys), a V8 heap limit (`--max-old-space-size`), killed with
 * SIGKILL on timeout — the hard limits Deno Workers cannot give (see the module doc). Needs
 * permission to run `Deno.execPath()`; {@linkcode createScriptHost} picks it when granted.
 */
export function createProcessScriptHost(
  options: ProcessHostOptions = {},
): (script: { name: string; source: string; typescript: boolean }) => WorkerSandbox {
  const maxResultBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const maxStrikes = options.maxStrikes ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const memoryLimitMb = options.memoryLimitMb ?? 128;
  return (script) => {
    const url = dataUrl(script.source, script.typescript);
    let child: Deno.ChildProcess | undefined;
    let stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
    let loaded: Promise<void> | undefined;
    let stderrTail = "";
    const { pending, call: callOnce } = callTable(
      script.name,
      "its process was killed",
      () => kill(),
    );

    const failAll = (error: string) => {
      for (const resolve of pending.values()) resolve({ ok: false, error });
      pending.clear();
    };
    const kill = () => {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
      child = undefined;
      stdin = undefined;
      loaded = undefined;
      failAll("script process stopped");
    };

    const start = (): Promise<void> => {
      const proc = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          "--no-config",
          "--no-lock",
          `--v8-flags=--max-old-space-size=${memoryLimitMb}`,
          PROCESS_BOOT_URL,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        clearEnv: true,
      }).spawn();
      child = proc;
      stdin = proc.stdin.getWriter();
      (async () => {
        const decoder = new TextDecoder();
        let buffer = "";
        for await (const chunk of proc.stdout) {
          buffer += decoder.decode(chunk, { stream: true });
          let nl;
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            if (line[0] !== "\x1e") continue;
            const t1 = line.indexOf("\t"), t2 = line.indexOf("\t", t1 + 1);
            const ok = line[t2 - 1] === "1";
            const text = line.slice(t2 + 1);
            const answer = {
              id: Number(line.slice(1, t1)),
              ok,
              result: ok ? text : undefined,
              error: ok ? undefined : decodeErrorText(text),
            };
            const resolve = pending.get(answer.id);
            pending.delete(answer.id);
            resolve?.(answer);
          }
        }
      })().catch(() => {});
      const stderrRead = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of proc.stderr) {
          stderrTail = (stderrTail + decoder.decode(chunk, { stream: true })).slice(-4096);
        }
      })().catch(() => {});
      proc.status.then(async (status) => {
        // The exit can be seen before the last of stderr (V8's "out of memory" line) is read.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([stderrRead, new Promise((r) => timer = setTimeout(r, 1000))]);
        clearTimeout(timer);
        if (child !== proc) return;
        const oom = /out of memory|heap limit/i.test(stderrTail);
        child = undefined;
        loaded = undefined;
        failAll(
          oom
            ? `__memory__exceeded its memory limit of ${memoryLimitMb} MiB`
            : `script process exited (code ${status.code}${
              status.signal ? `, ${status.signal}` : ""
            })`,
        );
      });
      return call({ kind: "load", payload: url }, startTimeoutMs, "load").then(() => {});
    };

    const call = (
      message: Record<string, unknown>,
      timeoutMs: number,
      phase: "load" | "run",
    ): Promise<unknown> =>
      callOnce(
        (id) => {
          const bytes = new TextEncoder().encode(`${id}\t${message.kind}\t${message.payload}\n`);
          stdin!.write(bytes).catch(() => {});
        },
        timeoutMs,
        phase,
      );

    return serialRunner({
      name: script.name,
      start: () => (loaded ??= start()),
      call: (batch, timeoutMs) => call({ kind: "run", payload: batch }, timeoutMs, "run"),
      kill,
      maxStrikes,
      maxResultBytes,
    });
  };
}

/** An error line of the child's protocol: a JSON string (older text taken as it is). */
function decodeErrorText(text: string): string {
  try {
    const value = JSON.parse(text);
    return typeof value === "string" ? value : text;
  } catch {
    return text;
  }
}

/**
 * The best sandbox host this process may use: child processes (hard time and memory limits)
 * when it may run `Deno.execPath()`, else Workers.
 */
export function createScriptHost(
  options: ProcessHostOptions = {},
): (script: { name: string; source: string; typescript: boolean }) => WorkerSandbox {
  const granted = Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state ===
    "granted";
  return granted ? createProcessScriptHost(options) : createWorkerScriptHost(options);
}
