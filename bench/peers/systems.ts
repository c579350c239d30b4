/**
 * The systems under comparison, each started on loopback ports with a temporary data folder:
 * EpochNexus (the real server process), InfluxDB 1.6.7 and VictoriaMetrics 1.79.5 (Debian's
 * packages). Each answers writes of the same line protocol and its own query language, and
 * each has its own way to settle (make its data on disk final: flushed and compacted), which
 * `settle()` triggers where it can and then waits for on the system's own counters, with a
 * deadline; never a fixed sleep. The bytes a system keeps are then measured over its whole
 * data folder (WAL, index, everything) by `du`.
 * @module
 */
import { startInfluxd } from "../../tests/_influxd.ts";
import { startServer, type StartServerOptions } from "../../tests/_server.ts";

/** Line protocol timestamp precision of a write. */
export type Precision = "s" | "ms" | "ns";

/** One system under test. */
export interface System {
  name: string;
  url: string;
  pid: number;
  /** The temporary folder of the run (removed by `remove()`). */
  dataDir: string;
  /** Everything the system keeps on disk for its data: measured whole by {@linkcode diskUsage}. */
  dataPaths: string[];
  /** Writes one line-protocol body; throws unless 2xx. */
  write(body: BodyInit, precision?: Precision): Promise<void>;
  /**
   * Makes the system flush and compact (its own way) and waits until its own counters say
   * the data on disk is settled; resolves with what held, throws past `timeoutMs`.
   */
  settle(timeoutMs?: number): Promise<string>;
  /** Stops the process; the data folder stays for measuring. */
  stop(): Promise<void>;
  /** Removes the data folder (after stop). */
  remove(): Promise<void>;
}

export const DB = "benchmark";

/** How long a settle may take by default: InfluxDB's full compaction of 50M values is minutes. */
const SETTLE_TIMEOUT_MS = 600_000;

async function post(url: string, body: BodyInit, headers: HeadersInit = {}): Promise<void> {
  const r = await fetch(url, { method: "POST", body, headers });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url} answered ${r.status}: ${text.slice(0, 300)}`);
}

async function getText(url: string): Promise<string> {
  const r = await fetch(url);
  const text = await r.text();
  if (!r.ok) throw new Error(`GET ${url} answered ${r.status}: ${text.slice(0, 300)}`);
  return text;
}

/**
 * Polls `check` every 250 ms until it returns undefined (the condition holds) on `confirmations`
 * polls in a row; throws past `timeoutMs` with the last state `check` described.
 */
export async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<string | undefined>,
  confirmations = 1,
): Promise<number> {
  const started = performance.now();
  let last = "not checked";
  let held = 0;
  while (true) {
    const state = await check();
    if (state === undefined) {
      if (++held >= confirmations) return (performance.now() - started) / 1000;
    } else {
      held = 0;
      last = state;
    }
    if (performance.now() - started > timeoutMs) {
      throw new Error(`${what}: not reached within ${timeoutMs} ms; last seen: ${last}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * EpochNexus as a real server process. Its heads flush after `EPOCHNEXUS_FLUSH_IDLE_MS` (2 s
 * here, as InfluxDB's cold durations below) and its background task compacts; settled means
 * `/health` shows empty heads, no flush running and no merge left in the compaction plan.
 */
export async function startEpochNexus(
  env: Record<string, string> = {},
  options: Pick<StartServerOptions, "root" | "denoFlags"> & { name?: string } = {},
): Promise<System> {
  const server = await startServer({
    env: {
      EPOCHNEXUS_FLUSH_IDLE_MS: "2000",
      EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
      EPOCHNEXUS_MAX_VALUES_PER_TAG: "0",
      ...env,
    },
    root: options.root,
    denoFlags: options.denoFlags,
  });
  await post(`${server.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  return {
    name: options.name ?? "EpochNexus",
    url: server.url,
    pid: server.process.pid,
    dataDir: server.dataDir,
    dataPaths: [server.dataDir],
    write: (body, precision = "s") =>
      post(`${server.url}/write?db=${DB}&precision=${precision}`, body),
    settle: (timeoutMs) => epochNexusSettled(server.url, timeoutMs),
    stop: () => server.stop(),
    remove: () => Deno.remove(server.dataDir, { recursive: true }).catch(() => {}),
  };
}

/**
 * The shared Raft log a node keeps once every head is flushed (`QUIET_LOG_BYTES` in
 * src/cluster/node.ts): the node compacts the groups that hold more, and the log starts a new
 * segment so that the dead one goes.
 */
const QUIET_RAFT_LOG_BYTES = 64 * 1024;

/** The node's shared Raft log bytes (`/metrics`), or undefined when it has none (an older build). */
async function raftLogBytes(url: string): Promise<number | undefined> {
  const line = (await getText(`${url}/metrics`)).split("\n")
    .find((l) => l.startsWith("epochnexus_raft_log_bytes"));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/**
 * Waits until an EpochNexus server's `/health` shows empty heads, no flush running and no merge
 * left in its compaction plan (its heads flush after `EPOCHNEXUS_FLUSH_IDLE_MS` idle), and its
 * shared Raft log (`/metrics`) is trimmed to what a quiet node keeps, on two polls in a row:
 * what is then on disk is what a user's disk holds once the node has settled.
 */
export async function epochNexusSettled(
  url: string,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<string> {
  let headsSettledAt: number | undefined;
  let logBytes: number | undefined;
  const started = performance.now();
  const seconds = await until("EpochNexus settled", timeoutMs, async () => {
    const h = JSON.parse(await getText(`${url}/health`));
    if (h.compactionsPending === undefined) throw new Error("BUG: /health lacks stats");
    if (h.headValues !== 0 || h.flushing || h.compactionsPending !== 0) {
      headsSettledAt = undefined;
      return `headValues ${h.headValues}, flushing ${h.flushing}, ` +
        `compactionsPending ${h.compactionsPending}`;
    }
    headsSettledAt ??= performance.now();
    logBytes = await raftLogBytes(url);
    return logBytes === undefined || logBytes <= QUIET_RAFT_LOG_BYTES
      ? undefined
      : `heads flushed, compaction plan empty, Raft log still ${logBytes} B`;
  }, 2);
  const logWait = ((performance.now() - (headsSettledAt ?? started)) / 1000).toFixed(1);
  return `heads flushed, compaction plan empty, ${
    logBytes === undefined ? "no shared Raft log" : `Raft log ${logBytes} B (${logWait} s after)`
  }; settled after ${seconds.toFixed(1)} s`;
}

/**
 * InfluxDB 1.6.7 with its defaults (inmem index) but cold durations of 2 s, so that a shard
 * idle for 2 s has its cache snapshotted to TSM and is fully compacted; settled means its own
 * statistics (`/debug/vars`) show, for every shard, an empty cache and WAL, no compaction
 * active, and one TSM file (one generation: nothing left for its planner), on two polls in a row.
 */
export async function startInfluxDB(): Promise<System> {
  const influx = await startInfluxd({
    data: ['cache-snapshot-write-cold-duration = "2s"', 'compact-full-write-cold-duration = "2s"'],
  });
  await post(`${influx.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  return {
    name: "InfluxDB 1.6.7",
    url: influx.url,
    pid: influx.pid,
    dataDir: influx.dir,
    // Its folder also holds the configuration file written for the run: not data.
    dataPaths: ["meta", "data", "wal"].map((d) => `${influx.dir}/${d}`),
    write: (body, precision = "s") =>
      post(`${influx.url}/write?db=${DB}&precision=${precision}`, body),
    async settle(timeoutMs = SETTLE_TIMEOUT_MS) {
      let shards = 0;
      const seconds = await until("InfluxDB settled", timeoutMs, async () => {
        const vars = JSON.parse(await getText(`${influx.url}/debug/vars`));
        const byShard = new Map<string, Record<string, Record<string, number>>>();
        for (const v of Object.values(vars) as { name?: string; tags?: { id?: string } }[]) {
          if (!v?.name?.startsWith("tsm1_") || !v.tags?.id) continue;
          const shard = byShard.get(v.tags.id) ?? {};
          shard[v.name] = (v as unknown as { values: Record<string, number> }).values;
          byShard.set(v.tags.id, shard);
        }
        shards = byShard.size;
        if (shards === 0) return "no shard yet";
        for (const [id, s] of byShard) {
          // Not the *Queue gauges: they are set on each tick of the compaction loop, which
          // stops when the shard goes idle, so one can stay at 1 after its compaction ran.
          const busy = Object.entries(s.tsm1_engine ?? {}).filter(([k, n]) =>
            k.endsWith("Active") && n !== 0
          );
          const wal = (s.tsm1_wal?.currentSegmentDiskBytes ?? 0) +
            (s.tsm1_wal?.oldSegmentsDiskBytes ?? 0);
          const files = s.tsm1_filestore?.numFiles ?? 0;
          const cache = s.tsm1_cache?.memBytes ?? 0;
          if (busy.length > 0 || wal > 0 || cache > 0 || files !== 1) {
            return `shard ${id}: cache ${cache} B, WAL ${wal} B, ${files} TSM files, ` +
              `busy ${busy.map(([k, n]) => `${k}=${n}`).join(" ") || "no"}`;
          }
        }
        return undefined;
      }, 2);
      return `${shards} shard(s) snapshotted and fully compacted (one TSM file each) after ${
        seconds.toFixed(1)
      } s`;
    },
    stop: () => influx.stop({ keepData: true }),
    remove: () => Deno.remove(influx.dir, { recursive: true }).catch(() => {}),
  };
}

/** `name{labels} value` lines of a Prometheus text page, as [name+labels, value]. */
function promValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
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

/**
 * VictoriaMetrics 1.79.5 (single node), fed line protocol on /write. Settled: after
 * `/internal/force_flush` (buffered rows to parts) and `/internal/force_merge` (each monthly
 * partition merged, in the background), its own metrics show no pending rows and no merge or
 * forced merge active on two polls in a row, and one part per partition (else both are forced
 * again, at most 5 times).
 */
export async function startVictoriaMetrics(
  timeoutMs = 30_000,
  extraArgs: string[] = [],
): Promise<System> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-vm-" });
  const { url, process } = await spawnVictoriaMetrics([
    `-storageDataPath=${dir}`,
    "-retentionPeriod=100y",
    "-loggerLevel=ERROR",
    "-search.latencyOffset=0s",
    ...extraArgs,
  ], timeoutMs);
  return {
    name: "VictoriaMetrics 1.79.5",
    url,
    pid: process.pid,
    dataDir: dir,
    dataPaths: [dir],
    write: (body, precision = "s") => post(`${url}/write?db=${DB}&precision=${precision}`, body),
    async settle(timeoutMs = SETTLE_TIMEOUT_MS) {
      const started = performance.now();
      // A merge forced while rows were still reaching parts can end with two parts: then it is
      // forced again (the background merger leaves a few small parts alone).
      for (let round = 1; round <= 5; round++) {
        await getText(`${url}/internal/force_flush`);
        await getText(`${url}/internal/force_merge`);
        let parts = 0, partitions = 0;
        await until("VictoriaMetrics merges done", timeoutMs, async () => {
          const m = promValues(await getText(`${url}/metrics`));
          const busy = [...m].filter(([k, n]) =>
            (k.startsWith("vm_pending_rows{") || k.startsWith("vm_active_merges{") ||
              k === "vm_active_force_merges") && n !== 0
          );
          parts = (m.get('vm_parts{type="storage/small"}') ?? 0) +
            (m.get('vm_parts{type="storage/big"}') ?? 0);
          partitions = await monthlyPartitions(`${dir}/data`);
          return busy.length === 0
            ? undefined
            : `busy ${busy.map(([k, n]) => `${k}=${n}`).join(" ")}`;
        }, 2);
        if (parts === partitions) {
          return `flushed and force-merged to ${parts} part(s) in ${round} round(s), ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`;
        }
        console.error(`VictoriaMetrics: ${parts} parts in ${partitions} partitions; merging again`);
      }
      throw new Error("VictoriaMetrics settled: still more parts than partitions after 5 merges");
    },
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* gone */ }
      await process.status;
    },
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The monthly partitions of a VictoriaMetrics data folder (`small/` and `big/` share names). */
async function monthlyPartitions(dataDir: string): Promise<number> {
  const names = new Set<string>();
  for (const kind of ["small", "big"]) {
    try {
      for await (const e of Deno.readDir(`${dataDir}/${kind}`)) {
        if (e.isDirectory && /^\d{4}_\d{2}$/.test(e.name)) names.add(e.name);
      }
    } catch { /* not yet made */ }
  }
  return names.size;
}

/**
 * Peak resident memory (VmHWM) and CPU seconds (user + system, every thread, in 10 ms ticks) of
 * a live process. Not the scheduler's per-thread nanoseconds: a thread that exits (Deno's
 * blocking-IO pool lets idle ones go) takes its time with it, and a difference of two readings
 * could go negative.
 */
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

/** Bytes on disk under `paths` as `du` counts them: allocated blocks, and apparent sizes. */
export async function diskUsage(paths: string[]): Promise<{ allocated: number; apparent: number }> {
  const total = async (flags: string[]) => {
    const out = await new Deno.Command("du", { args: ["-s", "-c", ...flags, ...paths] }).output();
    if (!out.success) throw new Error(`du failed: ${new TextDecoder().decode(out.stderr)}`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return Number(lines[lines.length - 1].split("\t")[0]);
  };
  return { allocated: await total(["-B1"]), apparent: await total(["-b"]) };
}

/** The load average over 1, 5 and 15 minutes. */
/** `commit <short hash>[ + changes], <UTC time>`: what a published figure was measured on. */
export async function runStamp(): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  const commit = await git("rev-parse", "--short", "HEAD").catch(() => "") || "unknown";
  const dirty = await git("status", "--porcelain", "--untracked-files=no").catch(() => "");
  return `commit ${commit}${dirty ? " + uncommitted changes" : ""}, ${
    new Date().toISOString().slice(0, 16)
  } UTC`;
}

export async function loadAverage(): Promise<string> {
  const out = await new Deno.Command("cat", { args: ["/proc/loadavg"] }).output();
  return new TextDecoder().decode(out.stdout).split(" ").slice(0, 3).join(" ");
}
