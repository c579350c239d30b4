/**
 * The systems under comparison, each started on loopback port 0 (the kernel picks a free port;
 * no number is chosen here and handed on) with a temporary data folder: EpochNexus (the real server process), InfluxDB 1.6.7 and VictoriaMetrics 1.79.5
 * (Debian's packages). Each answers writes of the same line protocol and its own query language.
 * @module
 */
import { startInfluxd } from "../../tests/_influxd.ts";
import { startServer } from "../../tests/_server.ts";

/** One system under test. */
export interface System {
  name: string;
  url: string;
  pid: number;
  dataDir: string;
  /** Writes one line-protocol body (seconds precision); throws unless 2xx. */
  write(body: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Makes written data durable and visible to queries (flush where the system buffers). */
  settle(): Promise<void>;
  /** Stops the process; the data folder stays for measuring. */
  stop(): Promise<void>;
}

export const DB = "benchmark";

async function post(url: string, body: BodyInit, headers: HeadersInit = {}): Promise<void> {
  const r = await fetch(url, { method: "POST", body, headers });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url} answered ${r.status}: ${text.slice(0, 300)}`);
}

/** EpochNexus as a real server process. */
export async function startEpochNexus(): Promise<System> {
  const server = await startServer();
  await post(`${server.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  return {
    name: "EpochNexus",
    url: server.url,
    pid: server.process.pid,
    dataDir: server.dataDir,
    write: (body) => post(`${server.url}/write?db=${DB}&precision=s`, body),
    settle: () => Promise.resolve(),
    stop: () => server.stop(),
  };
}

/** InfluxDB 1.6.7. */
export async function startInfluxDB(): Promise<System> {
  const influx = await startInfluxd();
  await post(`${influx.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  return {
    name: "InfluxDB 1.6.7",
    url: influx.url,
    pid: influx.pid,
    dataDir: influx.dir,
    write: (body) => post(`${influx.url}/write?db=${DB}&precision=s`, body),
    settle: () => Promise.resolve(),
    stop: () => influx.stop({ keepData: true }),
  };
}

/** A VictoriaMetrics process listening on loopback. */
export interface VictoriaMetricsProcess {
  url: string;
  process: Deno.ChildProcess;
}

/**
 * Starts /usr/bin/victoria-metrics on 127.0.0.1:0 with `args` and waits (bounded) for /health.
 * It logs the address it was given, not the port it got, so the port is read from the kernel:
 * the listening TCP socket among the process's own file descriptors.
 */
export async function spawnVictoriaMetrics(
  args: string[],
  timeoutMs = 30_000,
): Promise<VictoriaMetricsProcess> {
  const process = new Deno.Command("/usr/bin/victoria-metrics", {
    args: ["-httpListenAddr=127.0.0.1:0", ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (true) {
    try {
      const port = url ? undefined : await listeningPort(process.pid);
      if (port) url = `http://127.0.0.1:${port}`;
      if (url) {
        const r = await fetch(`${url}/health`);
        await r.body?.cancel();
        if (r.ok) return { url, process };
      }
    } catch { /* starting */ }
    if (Date.now() > deadline) {
      process.kill("SIGKILL");
      await process.status;
      throw new Error("victoria-metrics did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The port of the TCP socket process `pid` listens on, or undefined while it has none. */
async function listeningPort(pid: number): Promise<number | undefined> {
  // Deno reads /proc/<pid>/fd only with --allow-all; find and cat need --allow-run alone.
  const run = async (cmd: string, args: string[]) =>
    new TextDecoder().decode((await new Deno.Command(cmd, { args }).output()).stdout);
  const links = await run("find", [`/proc/${pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"]);
  const inodes = new Set([...links.matchAll(/socket:\[(\d+)\]/g)].map((m) => m[1]));
  for (const line of (await run("cat", [`/proc/${pid}/net/tcp`])).split("\n").slice(1)) {
    // sl local_address rem_address st ... inode; st 0A is LISTEN.
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && inodes.has(f[9])) return parseInt(f[1].split(":")[1], 16);
  }
  return undefined;
}

/** VictoriaMetrics 1.79.5 (single node), fed line protocol on /write. */
export async function startVictoriaMetrics(timeoutMs = 30_000): Promise<System> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-vm-" });
  const { url, process } = await spawnVictoriaMetrics([
    `-storageDataPath=${dir}`,
    "-retentionPeriod=100y",
    "-loggerLevel=ERROR",
    "-search.latencyOffset=0s",
  ], timeoutMs);
  return {
    name: "VictoriaMetrics 1.79.5",
    url,
    pid: process.pid,
    dataDir: dir,
    write: (body) => post(`${url}/write?db=${DB}&precision=s`, body),
    async settle() {
      // Flushed, then merged (the quiet wait after settle lets the merge finish), so its bytes
      // on disk are its settled size, as EpochNexus's are after its compactions.
      for (const path of ["force_flush", "force_merge"]) {
        const r = await fetch(`${url}/internal/${path}`);
        await r.body?.cancel();
      }
    },
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* gone */ }
      await process.status;
    },
  };
}

/** Peak resident memory (VmHWM) and CPU seconds (user + system) of a live process. */
export async function processStats(
  pid: number,
): Promise<{ peakRssMiB: number; cpuSeconds: number }> {
  // Deno wants --allow-all to read /proc directly; `cat` needs only --allow-run.
  const read = async (path: string) =>
    new TextDecoder().decode((await new Deno.Command("cat", { args: [path] }).output()).stdout);
  const status = await read(`/proc/${pid}/status`);
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  const stat = (await read(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  // Fields 14 and 15 of /proc/pid/stat (1-based), after the command name: utime, stime in ticks.
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { peakRssMiB: hwm, cpuSeconds: ticks / 100 };
}

/**
 * Waits until a process's background work after ingest (flushes, compactions, merges) is done:
 * its CPU use over 500 ms stays below 5% of a core, for at most `timeoutMs`. Every system gets
 * the same wait, so queries do not race its own housekeeping.
 */
export async function waitQuiet(pid: number, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  let last = (await processStats(pid)).cpuSeconds;
  while (performance.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = (await processStats(pid)).cpuSeconds;
    if (now - last < 0.025) break;
    last = now;
  }
  return (performance.now() - started) / 1000;
}

/** Bytes under a folder. */
export async function folderBytes(path: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(path)) {
    const full = `${path}/${entry.name}`;
    if (entry.isDirectory) total += await folderBytes(full);
    else if (entry.isFile) total += (await Deno.stat(full)).size;
  }
  return total;
}
