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
 *   script that times out `maxStrikes` times in a row is disabled rather than restarted, and
 *   a worker stopped mid-batch keeps its slot for good (it may still run); the memory limit
 *   is not enforced. An idle worker's thread ends on `terminate()`.
 * - {@linkcode createProcessScriptHost}: a `deno run` child process per script with no
 *   permission flag (all denied), a cleared environment, killed with SIGKILL on timeout, and
 *   two memory limits: V8's heap (`--max-old-space-size`, default 128 MiB) and, because
 *   ArrayBuffers and WebAssembly memories live outside that heap (measured: a 64 MiB heap
 *   limit let `new Uint8Array` reach 2.9 GB), the kernel's RLIMIT_DATA (set by `/bin/sh`'s
 *   `ulimit -d` before `exec`): heap + 768 MiB, of which V8 reserves about 545 MiB at start
 *   (512 MiB of it a code range that stays mostly unused). Measured peak resident memory of
 *   one child at these limits (heap 128 MiB): 380-386 MB for ArrayBuffer and WebAssembly
 *   bombs, 270-315 MB for a string bomb, 135-166 MB for an array bomb; an idle child is
 *   ~35 MB. It needs permission to run `Deno.execPath()` and `/bin/sh`.
 *
 * Each host keeps at most `maxSandboxes` children or workers alive (`max_script_sandboxes`,
 * see {@linkcode SandboxSlots}); `stats()` says how many are, `close()` stops them all and
 * waits for the processes to exit. {@linkcode createScriptHost} picks the process host when
 * it may run both programs. Workers need `--unstable-worker-options` (deno.json
 * `"unstable": ["worker-options"]`).
 * @module
 */
import { cleanSandboxMessage, SandboxError } from "./sandbox_error.ts";
import { type SandboxSlot, SandboxSlots, type SandboxStats } from "./sandbox_slots.ts";

export { SandboxError } from "./sandbox_error.ts";
export type { SandboxStats } from "./sandbox_slots.ts";

/** The default of `max_script_sandboxes` (kept equal to the schema registry's). */
const DEFAULT_MAX_SANDBOXES = 8;
/** RLIMIT_DATA of a script's process beyond its heap limit: V8's reservations and the rest. */
const DATA_LIMIT_OVERHEAD_MB = 768;
/** How long `close()` waits for the children it killed to exit. */
const CLOSE_WAIT_MS = 5000;
/** The exit code of the sandbox's shell when it cannot set the memory limit. */
const ULIMIT_FAILED = 97;

/** Options of {@linkcode createWorkerScriptHost}. */
export interface WorkerHostOptions {
  /** Largest serialized result accepted from a script, in bytes. @default {16 MiB} */
  maxResultBytes?: number;
  /** Consecutive timeouts after which a script is disabled. @default {3} */
  maxStrikes?: number;
  /** Time allowed for a worker to load its script. @default {5000} */
  startTimeoutMs?: number;
  /** Most sandboxes alive at once (`max_script_sandboxes`). @default {8} */
  maxSandboxes?: number;
}

/** A sandbox running one script (matches the schema room's `ScriptSandbox`). */
export interface WorkerSandbox {
  run(batch: unknown[], options: { timeoutMs: number }): Promise<unknown>;
  close(): void;
}

/** Makes sandboxes (matches the schema room's `ScriptSandboxFactory`) and answers for them. */
export interface ScriptHost {
  (script: { name: string; source: string; typescript: boolean }): WorkerSandbox;
  /** How many sandboxes are alive (`pids`: the process host's children). */
  stats(): SandboxStats & { pids: number[] };
  /**
   * Stops every sandbox this host made (shutdown) and waits, at most 5 s, for their processes
   * to exit; later starts are refused.
   */
  close(): Promise<void>;
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
 * Creates sandboxes for scripts, each a Worker with every permission denied.
 *
 * @example
 * ```ts
 * const host = createWorkerScriptHost({ maxSandboxes: 4 });
 * const box = host({ name: "double", source: "export default (ps) => ps", typescript: false });
 * await box.run([{ v: 1 }], { timeoutMs: 100 });
 * box.close();
 * await host.close();
 * ```
 */
export function createWorkerScriptHost(options: WorkerHostOptions = {}): ScriptHost {
  const maxResultBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const maxStrikes = options.maxStrikes ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  const slots = new SandboxSlots(options.maxSandboxes ?? DEFAULT_MAX_SANDBOXES);
  /** The kill of every sandbox with a worker now, for the host's close(). */
  const running = new Set<() => void>();
  let hostClosed = false;

  const create = (script: { name: string; source: string; typescript: boolean }) => {
    const url = dataUrl(script.source, script.typescript);
    let worker: Worker | undefined;
    let slot: SandboxSlot | undefined;
    let loaded: Promise<void> | undefined;
    /** A message is being handled: terminating now may leave the thread running. */
    let busy = false;
    /** Bumped by every kill, so a start that was waiting for a slot knows it is stale. */
    let generation = 0;
    const { pending, call: callOnce } = callTable(
      script.name,
      "its worker was stopped",
      () => kill(),
    );

    const kill = () => {
      generation++;
      worker?.terminate();
      running.delete(kill);
      if (busy) slot?.pin();
      slot?.release();
      worker = undefined;
      slot = undefined;
      loaded = undefined;
      busy = false;
      for (const resolve of pending.values()) resolve({ ok: false, error: "worker stopped" });
      pending.clear();
    };

    const call = (
      message: Record<string, unknown>,
      timeoutMs: number,
      phase: "load" | "run",
    ): Promise<unknown> =>
      callOnce(
        (id) => {
          busy = true;
          worker!.postMessage({ ...message, id });
        },
        timeoutMs,
        phase,
      );

    const start = async (): Promise<void> => {
      if (hostClosed) throw new SandboxError(`script ${script.name}: the host is closed`, "threw");
      const startedAt = generation;
      const taken = await slots.acquire(script.name);
      if (generation !== startedAt) {
        taken.release();
        throw new SandboxError(`script ${script.name} was stopped while starting`, "threw");
      }
      slot = taken;
      worker = new Worker(BOOT_URL, {
        type: "module",
        name: script.name,
        deno: { permissions: "none" },
      } as WorkerOptions);
      running.add(kill);
      worker.onmessage = (event: MessageEvent) => {
        const answer = event.data as { id: number; ok: boolean; result?: unknown; error?: string };
        busy = false;
        const resolve = pending.get(answer.id);
        pending.delete(answer.id);
        resolve?.(answer);
      };
      worker.onerror = (event: ErrorEvent) => {
        // An uncaught error or a worker that died: fail whatever is in flight, restart later.
        event.preventDefault();
        busy = false;
        const message = event.message || "worker error";
        for (const resolve of pending.values()) resolve({ ok: false, error: message });
        pending.clear();
        kill();
      };
      worker.onmessageerror = () => {
        busy = false;
        for (const resolve of pending.values()) {
          resolve({ ok: false, error: "the script returned a value that cannot be cloned" });
        }
        pending.clear();
      };
      await call({ kind: "load", url }, startTimeoutMs, "load");
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

  return Object.assign(create, {
    stats: () => ({ ...slots.stats(), pids: [] }),
    close: () => {
      hostClosed = true;
      for (const kill of [...running]) kill();
      return Promise.resolve();
    },
  });
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
  /**
   * RLIMIT_DATA of each script's process, in MiB: all its private writable memory, the heap,
   * ArrayBuffers, WebAssembly memories and V8's own reservations (~545 MiB at start).
   * @default {memoryLimitMb + 768}
   */
  dataLimitMb?: number;
}

/**
 * Sandboxes for user scripts as child processes: `deno run` with no permission flag at all
 * (so no net, files, env, run, ffi, sys), a V8 heap limit (`--max-old-space-size`) and a data
 * limit (RLIMIT_DATA, through `/bin/sh -c 'ulimit -d'` then `exec`), killed with SIGKILL on
 * timeout — the hard limits Deno Workers cannot give (see the module doc). Needs permission to
 * run `Deno.execPath()` and `/bin/sh`; {@linkcode createScriptHost} picks it when granted.
 */
export function createProcessScriptHost(options: ProcessHostOptions = {}): ScriptHost {
  const maxResultBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const maxStrikes = options.maxStrikes ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const memoryLimitMb = options.memoryLimitMb ?? 128;
  const dataLimitMb = options.dataLimitMb ?? memoryLimitMb + DATA_LIMIT_OVERHEAD_MB;
  const slots = new SandboxSlots(options.maxSandboxes ?? DEFAULT_MAX_SANDBOXES);
  /** Every child alive (killed or not), until its exit status is read. */
  const children = new Set<Deno.ChildProcess>();
  let hostClosed = false;

  const create = (script: { name: string; source: string; typescript: boolean }) => {
    const url = dataUrl(script.source, script.typescript);
    let child: Deno.ChildProcess | undefined;
    let stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
    let loaded: Promise<void> | undefined;
    let stderrTail = "";
    /** The slot of `child`. */
    let slot: SandboxSlot | undefined;
    /** Bumped by every kill, so a start that was waiting for a slot knows it is stale. */
    let generation = 0;
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
      generation++;
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        // Its slot frees when the exit is read; a start waiting for one waits for that.
        slot?.stopping(child.status);
      }
      child = undefined;
      slot = undefined;
      stdin = undefined;
      loaded = undefined;
      failAll("script process stopped");
    };

    const spawn = (): Deno.ChildProcess =>
      new Deno.Command("/bin/sh", {
        args: [
          "-c",
          `ulimit -d "$1" || exit ${ULIMIT_FAILED}; shift; exec "$@"`,
          "epochnexus-script",
          String(dataLimitMb * 1024),
          Deno.execPath(),
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

    const start = async (): Promise<void> => {
      if (hostClosed) throw new SandboxError(`script ${script.name}: the host is closed`, "threw");
      const startedAt = generation;
      const taken = await slots.acquire(script.name);
      if (generation !== startedAt) {
        taken.release();
        throw new SandboxError(`script ${script.name} was stopped while starting`, "threw");
      }
      let proc: Deno.ChildProcess;
      try {
        proc = spawn();
      } catch (error) {
        taken.release();
        throw error;
      }
      children.add(proc);
      child = proc;
      slot = taken;
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
        // Reaped: the slot is free whatever happens next.
        children.delete(proc);
        taken.release();
        // The exit can be seen before the last of stderr (V8's "out of memory" line) is read.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([stderrRead, new Promise((r) => timer = setTimeout(r, 1000))]);
        clearTimeout(timer);
        if (child !== proc) return;
        const oom = /out of memory|heap limit/i.test(stderrTail);
        child = undefined;
        slot = undefined;
        loaded = undefined;
        failAll(
          oom
            ? `__memory__exceeded its memory limit of ${memoryLimitMb} MiB ` +
              `(V8 heap; ${dataLimitMb} MiB of data in all)`
            : status.code === ULIMIT_FAILED
            ? `script process could not set its data limit of ${dataLimitMb} MiB`
            : `script process exited (code ${status.code}${
              status.signal ? `, ${status.signal}` : ""
            })`,
        );
      });
      await call({ kind: "load", payload: url }, startTimeoutMs, "load");
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

  return Object.assign(create, {
    stats: () => ({ ...slots.stats(), pids: [...children].map((c) => c.pid) }),
    close: async () => {
      hostClosed = true;
      const exits = [...children].map((c) => {
        try {
          c.kill("SIGKILL");
        } catch {
          // already gone
        }
        return c.status;
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(exits),
        new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    },
  });
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
 * when it may run `Deno.execPath()` and `/bin/sh`, else Workers.
 */
export function createScriptHost(options: ProcessHostOptions = {}): ScriptHost {
  const may = (command: string) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted";
  return may(Deno.execPath()) && may("/bin/sh")
    ? createProcessScriptHost(options)
    : createWorkerScriptHost(options);
}
