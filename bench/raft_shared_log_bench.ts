/**
 * The shared Raft log against one log per group, in the same run on the same disk: K groups
 * (1, 8, 64) each append 64 KiB entries in a closed loop (one entry per save, `mustSync`, as a
 * partition leader persisting a write batch), for a few seconds each. Reported per setup:
 * saves/s, MB/s, fdatasyncs/s and saves per fdatasync, p50/p99 save latency. Every 256 entries
 * a group snapshots and compacts, as a Raft node would, so the disk use stays bounded.
 *
 * Setups: a RaftLogStorage per group; one SharedRaftLog (one fdatasync at a time, the
 * default); one with up to four fdatasyncs under way (`syncConcurrency: 4`); four shared logs
 * with the groups spread over them.
 *
 * Then the cost of many idle groups (1000 single-voter RaftNodes, each its own leader with
 * nothing to do): per tick through one SharedTicker beat, and the CPU left for other work while
 * they tick every 10 ms on real timers, one interval each or one SharedTicker.
 *
 *   deno run --allow-all bench/raft_shared_log_bench.ts [seconds per run]   # prints the figures
 *   deno bench --allow-all bench/raft_shared_log_bench.ts                    # same, under Deno.bench
 * @module
 */

import type { FileHandle, FileSystem, Rng } from "../src/core/mod.ts";
import { denoFileSystem } from "../src/runtime/mod.ts";
import {
  type Entry,
  EntryType,
  globalTimers,
  RaftLogStorage,
  RaftNode,
  type RaftStorage,
  SharedRaftLog,
  SharedTicker,
  type TimerId,
  type Timers,
} from "../src/raft/mod.ts";

const ENTRY_BYTES = 64 * 1024;
const SNAPSHOT_EVERY = 256;

/** denoFileSystem with its fdatasyncs counted. */
function countingFs(): FileSystem & { syncs: number } {
  const fs = {
    ...denoFileSystem,
    syncs: 0,
    async open(path: string, options: Parameters<FileSystem["open"]>[1]): Promise<FileHandle> {
      const h = await denoFileSystem.open(path, options);
      return {
        write: (d) => h.write(d),
        read: (b) => h.read(b),
        seek: (o, w) => h.seek(o, w),
        truncate: (n) => h.truncate(n),
        close: () => h.close(),
        datasync: () => {
          fs.syncs++;
          return h.datasync();
        },
      };
    },
  };
  return fs;
}

interface StorageRun {
  setup: string;
  groups: number;
  saves: number;
  seconds: number;
  fsyncs: number;
  p50Ms: number;
  p99Ms: number;
}

/** Every group saves one 64 KiB entry at a time until `ms` have passed. */
async function appendLoad(storages: RaftStorage[], ms: number): Promise<number[]> {
  const payload = new Uint8Array(ENTRY_BYTES).map((_, i) => i * 31);
  const latencies: number[] = [];
  const until = performance.now() + ms;
  await Promise.all(storages.map(async (storage) => {
    for (let index = 1; performance.now() < until; index++) {
      const e: Entry = { index, term: 1, type: EntryType.Normal, data: payload };
      const t = performance.now();
      await storage.save({
        hardState: { term: 1, vote: 1, commit: index - 1 },
        entries: [e],
        snapshot: null,
        mustSync: true,
      });
      latencies.push(performance.now() - t);
      if (index % SNAPSHOT_EVERY === 0) {
        await storage.saveSnapshot({
          metadata: { index, term: 1, confState: { voters: [1], learners: [] } },
          data: new Uint8Array(64),
        });
        await storage.compact(index);
      }
    }
  }));
  return latencies.sort((a, b) => a - b);
}

/** The setups compared. */
export type Setup = "per-group" | "shared" | "shared, 4 syncs" | "4 shared";

/**
 * One run: "per-group" is a RaftLogStorage per group; "shared" one SharedRaftLog for all
 * (one fdatasync at a time); "shared, 4 syncs" the same with up to four fdatasyncs under way;
 * "4 shared" four SharedRaftLogs with the groups spread over them (as a node with four disks).
 */
export async function storageRun(setup: Setup, k: number, ms: number): Promise<StorageRun> {
  const root = await Deno.makeTempDir({ prefix: "raft_shared_bench_" });
  const fs = countingFs();
  const storages: RaftStorage[] = [];
  const shared: SharedRaftLog[] = [];
  try {
    if (setup !== "per-group") {
      const logs = setup === "4 shared" ? Math.min(4, k) : 1;
      const syncConcurrency = setup === "shared, 4 syncs" ? 4 : 1;
      for (let i = 0; i < logs; i++) {
        const dir = `${root}/log${i}`;
        shared.push((await SharedRaftLog.open({ fs, dir, syncConcurrency })).log);
      }
      for (let g = 0; g < k; g++) storages.push(shared[g % logs].group(g));
    } else {
      for (let g = 0; g < k; g++) {
        storages.push((await RaftLogStorage.open({ fs, dir: `${root}/g${g}` })).storage);
      }
    }
    fs.syncs = 0;
    const start = performance.now();
    const lat = await appendLoad(storages, ms);
    const seconds = (performance.now() - start) / 1000;
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return {
      setup,
      groups: k,
      saves: lat.length,
      seconds,
      fsyncs: fs.syncs,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
    };
  } finally {
    for (const s of storages) s.close();
    for (const log of shared) await log.close();
    await Deno.remove(root, { recursive: true });
  }
}

export function formatStorage(r: StorageRun): string {
  const mb = r.saves * ENTRY_BYTES / 1e6 / r.seconds;
  return `${r.setup.padEnd(15)} K=${String(r.groups).padStart(2)}: ${
    (r.saves / r.seconds).toFixed(0).padStart(5)
  } saves/s ${mb.toFixed(1).padStart(6)} MB/s ${
    (r.fsyncs / r.seconds).toFixed(0).padStart(5)
  } fsyncs/s ${(r.saves / Math.max(1, r.fsyncs)).toFixed(1).padStart(5)} saves/fsync  p50 ${
    r.p50Ms.toFixed(2)
  } ms p99 ${r.p99Ms.toFixed(2)} ms`;
}

/** Interval timers fired by hand; timeouts never fire (idle nodes set none). */
class ManualTimers implements Timers {
  private readonly intervals = new Map<number, () => void>();
  private next = 1;
  setInterval(fn: () => void): TimerId {
    this.intervals.set(this.next, fn);
    return this.next++;
  }
  clearInterval(id: TimerId): void {
    this.intervals.delete(id as number);
  }
  setTimeout(): TimerId {
    return 0;
  }
  clearTimeout(): void {}
  beat(): void {
    for (const fn of [...this.intervals.values()]) fn();
  }
  get count(): number {
    return this.intervals.size;
  }
}

const idleRecovered = {
  hardState: { term: 0, vote: 0, commit: 0 },
  snapshot: null,
  entries: [],
  tornBytes: 0,
  corruption: null,
  recoverUntil: 0,
};

/** `n` single-voter RaftNodes with nothing to do, ticking through `timers`. */
async function idleNodes(n: number, timers: Timers, tickMs: number): Promise<RaftNode[]> {
  const rng: Rng = { next: () => 0.5 };
  const noStorage: RaftStorage = {
    save: () => Promise.resolve(),
    saveSnapshot: () => Promise.resolve(),
    compact: () => Promise.resolve(),
    close: () => {},
  };
  const nodes: RaftNode[] = [];
  for (let g = 0; g < n; g++) {
    nodes.push(
      await RaftNode.start({
        id: 1,
        peers: [1],
        storage: noStorage,
        recovered: idleRecovered,
        transport: { start() {}, send() {}, stop: () => Promise.resolve() },
        stateMachine: { apply: () => undefined, snapshot: () => new Uint8Array(), restore() {} },
        rng,
        timers,
        tickMs,
      }),
    );
  }
  return nodes;
}

/**
 * Microseconds per idle group per tick: one shared beat fired by hand over `n` groups (each
 * its own leader by then), timing the beat and the microtasks it starts.
 */
async function idleTickCost(n: number, beats: number): Promise<number> {
  const manual = new ManualTimers();
  const ticker = new SharedTicker({ timers: manual });
  const nodes = await idleNodes(n, ticker.timers, 100);
  if (manual.count !== 1) throw new Error(`BUG: ${manual.count} underlying timers`);
  for (let i = 0; i < 40; i++) {
    manual.beat();
    await new Promise((r) => setTimeout(r, 0));
  }
  if (!nodes.every((x) => x.isLeader())) throw new Error("BUG: groups did not elect themselves");
  let ms = 0;
  for (let i = 0; i < beats; i++) {
    const start = performance.now();
    manual.beat();
    for (let k = 0; k < 5; k++) await null;
    ms += performance.now() - start;
    await new Promise((r) => setTimeout(r, 0));
  }
  for (const x of nodes) await x.stop();
  return ms * 1000 / beats / n;
}

/**
 * CPU left for other work (millions of loop steps in `ms`) beside `n` idle groups ticking every
 * 10 ms on real timers: one interval each, or one SharedTicker.
 */
async function workBesideTicks(n: number, shared: boolean, ms: number): Promise<number> {
  const timers = shared ? new SharedTicker().timers : globalTimers;
  const nodes = await idleNodes(n, timers, 10);
  await new Promise((r) => setTimeout(r, 300));
  let work = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (let i = 0; i < 100_000; i++) work += i & 1;
    await new Promise((r) => setTimeout(r, 0));
  }
  for (const x of nodes) await x.stop();
  return work / 1e6;
}

/** Runs every setup and returns the lines of the report. */
export async function sharedLogFigures(seconds = 3): Promise<string[]> {
  const lines: string[] = [];
  for (const k of [1, 8, 64]) {
    // Alternate the setups so that a noisy neighbour hurts both alike.
    const setups: Setup[] = k === 1
      ? ["per-group", "shared"]
      : ["per-group", "shared", "shared, 4 syncs", "4 shared"];
    for (const setup of setups) {
      lines.push(formatStorage(await storageRun(setup, k, seconds * 1000)));
    }
  }
  const perTick = await idleTickCost(1000, 300);
  lines.push(
    `idle groups: 1000 on one SharedTicker (1 timer): ${perTick.toFixed(2)} µs per group tick`,
  );
  const separate = await workBesideTicks(1000, false, seconds * 1000);
  const shared = await workBesideTicks(1000, true, seconds * 1000);
  lines.push(
    `idle groups: 1000 ticking every 10 ms, CPU work done beside them in ${seconds} s: ` +
      `1000 intervals ${separate.toFixed(1)}M steps, one SharedTicker ${shared.toFixed(1)}M`,
  );
  return lines;
}

if (import.meta.main) {
  for (const line of await sharedLogFigures(Number(Deno.args[0] ?? 3))) console.log(line);
} else {
  Deno.bench({
    name: "raft shared log vs per-group logs, K = 1, 8, 64 groups of 64 KiB appends (see console)",
    n: 1,
    warmup: 0,
    async fn() {
      for (const line of await sharedLogFigures(2)) console.log(line);
    },
  });
}
