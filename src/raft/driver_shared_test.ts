import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { seededRng } from "./_test_util.ts";
import { RaftNode } from "./driver.ts";
import type { ReplicatedStateMachine } from "./state_machine.ts";
import type { RaftStorage } from "./storage/raft_storage.ts";
import { SharedRaftLog } from "./storage/shared_log.ts";
import { SharedTicker } from "./timers.ts";
import type { Transport, TransportHandler } from "./transport.ts";
import { type Entry, type Message, MessageType } from "./types.ts";

class KvMachine implements ReplicatedStateMachine {
  map = new Map<string, string>();
  apply(e: Entry): string {
    const [k, v] = new TextDecoder().decode(e.data).split("=");
    this.map.set(k, v);
    return `set ${k}`;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.map]));
  }
  restore(data: Uint8Array): void {
    this.map = new Map(JSON.parse(new TextDecoder().decode(data)));
  }
}

/** Routes messages between (node, group) endpoints, asynchronously, as a network would. */
class MemoryNetwork {
  private readonly handlers = new Map<string, TransportHandler>();
  readonly down = new Set<number>();

  transport(node: number, group: number): Transport {
    const key = `${node}/${group}`;
    return {
      start: (h) => void this.handlers.set(key, h),
      send: (messages) => {
        for (const m of messages) this.deliver(node, group, m);
      },
      stop: () => {
        this.handlers.delete(key);
        return Promise.resolve();
      },
    };
  }

  private deliver(from: number, group: number, m: Message): void {
    setTimeout(() => {
      const to = this.handlers.get(`${m.to}/${group}`);
      const back = this.handlers.get(`${from}/${group}`);
      if (!to || this.down.has(m.to) || this.down.has(from)) {
        back?.reportUnreachable(m.to);
        return;
      }
      to.receive([m]);
      if (m.type === MessageType.Snap) back?.reportSnapshot(m.to, true);
    }, 0);
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const NODES = [1, 2, 3];
const GROUPS = 16;

/** One process: a shared log, a ticker, and a RaftNode per group. */
interface Host {
  log: SharedRaftLog;
  ticker: SharedTicker;
  nodes: RaftNode[];
  machines: KvMachine[];
  /** Saves that asked for an fsync, over all groups. */
  syncedSaves: number;
}

/** A group's storage that counts the saves asking for an fsync. */
function counted(storage: RaftStorage, host: Host): RaftStorage {
  return {
    save: (req) => {
      if (req.mustSync) host.syncedSaves++;
      return storage.save(req);
    },
    saveSnapshot: (s) => storage.saveSnapshot(s),
    compact: (i) => storage.compact(i),
    close: () => storage.close(),
  };
}

Deno.test("raft driver: many groups per node over one shared log and one ticker", async () => {
  const root = await Deno.makeTempDir({ prefix: "raft_shared_driver_" });
  const net = new MemoryNetwork();
  const hosts = new Map<number, Host>();
  const start = async (id: number): Promise<Host> => {
    const { log, groups } = await SharedRaftLog.open({ fs: denoFileSystem, dir: `${root}/n${id}` });
    const ticker = new SharedTicker();
    const host: Host = { log, ticker, nodes: [], machines: [], syncedSaves: 0 };
    for (let g = 0; g < GROUPS; g++) {
      const sm = new KvMachine();
      host.machines.push(sm);
      host.nodes.push(
        await RaftNode.start({
          id,
          peers: NODES,
          storage: counted(log.group(g), host),
          recovered: groups.get(g) ?? {
            hardState: { term: 0, vote: 0, commit: 0 },
            snapshot: null,
            entries: [],
            tornBytes: 0,
            corruption: null,
            recoverUntil: 0,
          },
          transport: net.transport(id, g),
          stateMachine: sm,
          rng: seededRng(id * 100 + g),
          timers: ticker.timers,
          tickMs: 10,
          snapshotEntries: 15,
          retainEntries: 3,
        }),
      );
    }
    return host;
  };
  const stop = async (host: Host) => {
    for (const n of host.nodes) await n.stop();
    await host.log.close();
  };
  const leaderOf = (g: number) =>
    [...hosts.entries()].filter(([id]) => !net.down.has(id)).map(([, h]) => h.nodes[g])
      .find((n) => n.isLeader());
  try {
    for (const id of NODES) hosts.set(id, await start(id));
    for (const h of hosts.values()) {
      assert.equal(h.ticker.timerCount, 1, "one tick timer per process, not one per group");
      assert.equal(h.ticker.subscriberCount, GROUPS);
    }
    await until(() => Array.from({ length: GROUPS }, (_, g) => leaderOf(g)).every(Boolean));
    const node1 = hosts.get(1)!;
    const before = { fsyncs: node1.log.stats().fsyncs, saves: node1.syncedSaves };
    // Every group's leader takes 10 rounds of 4 concurrent proposals.
    await Promise.all(Array.from({ length: GROUPS }, async (_, g) => {
      for (let round = 0; round < 10; round++) {
        const leader = leaderOf(g)!;
        await Promise.all(
          [0, 1, 2, 3].map((k) => leader.propose(new TextEncoder().encode(`k${k}=${g}.${round}`))),
        );
      }
    }));
    const fsyncs = node1.log.stats().fsyncs - before.fsyncs;
    const saves = node1.syncedSaves - before.saves;
    // Each group's saves on node 1 (as leader or follower) ask for an fsync every round; group
    // commit across the groups covers them with far fewer.
    assert.ok(saves >= GROUPS * 10, `node 1: ${saves} saves asking for an fsync`);
    assert.ok(fsyncs * 2 < saves, `node 1: ${fsyncs} fsyncs for ${saves} synced saves`);
    for (let g = 0; g < GROUPS; g++) {
      const want = [0, 1, 2, 3].map((k) => [`k${k}`, `${g}.9`]);
      await until(() => [...hosts.values()].every((h) => h.machines[g].map.get("k3") === `${g}.9`));
      for (const h of hosts.values()) assert.deepEqual([...h.machines[g].map].sort(), want);
    }
    // Restart node 3 from its shared log: every group comes back and catches up.
    await stop(hosts.get(3)!);
    net.down.add(3);
    for (let g = 0; g < GROUPS; g++) {
      await until(() => leaderOf(g) !== undefined);
      await leaderOf(g)!.propose(new TextEncoder().encode(`after=${g}`));
    }
    net.down.delete(3);
    hosts.set(3, await start(3));
    for (let g = 0; g < GROUPS; g++) {
      await until(() => hosts.get(3)!.machines[g].map.get("after") === String(g));
      assert.equal(hosts.get(3)!.machines[g].map.get("k2"), `${g}.9`);
    }
  } finally {
    for (const h of hosts.values()) await stop(h).catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});
