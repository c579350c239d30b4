/**
 * A replicated key-value server on the Raft library, for the real-process tests and benches:
 * one Deno process per node, Raft over the Connect-RPC transport, the log on disk with fsync.
 *
 *   deno run --allow-all tests/raft/kv_server.ts --id 1 --ids 1,2,3 --dir /tmp/n1 [--port 0]
 *   curl -X POST localhost:PORT/peers -d '{"1":"127.0.0.1:7001","2":"...","3":"..."}'
 *
 * It binds its port (0 by default: the kernel picks a free one, so parallel tests never race
 * for a number), prints `LISTENING <port>` on stdout, and starts its Raft node when it is told
 * where its peers are; a peer that moves (restarted on another port) is told again.
 *
 * HTTP API (127.0.0.1 only):
 * - `POST /peers` `{"<id>": "host:port", ...}`: sets (or moves) peers; the first call starts Raft.
 * - `POST /kv/put` `{"key","value","id"}`: 200 when applied on a quorum; 421 `{"leader"}` on a
 *   follower; 503/504 when dropped or timed out (outcome unknown).
 * - `GET /kv/get?key=k`: a linearizable read (ReadIndex), 200 `{"value"}` (null when absent).
 * - `GET /kv/dump`: the whole state (map and every applied write id) for final checks.
 * - `GET /status`: the Raft status.
 * - RaftService paths: the Connect transport.
 * Until the peers are known, everything but `/peers` answers 503.
 * @module
 */

import { ConnectRaftTransport } from "../../src/rpc/raft_transport.ts";
import {
  type Entry,
  NotLeaderError,
  ProposalDroppedError,
  RaftLogStorage,
  RaftNode,
  RaftTimeoutError,
  type ReplicatedStateMachine,
} from "../../src/raft/mod.ts";
import { consoleLogger, denoFileSystem, systemRng } from "../../src/runtime/mod.ts";

function arg(name: string, fallback?: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Deno.args[i + 1] : fallback;
  if (v === undefined) {
    console.error(`kv_server: --${name} is required`);
    Deno.exit(2);
  }
  return v;
}

const id = Number(arg("id"));
const ids = arg("ids").split(",").map(Number);
const port = Number(arg("port", "0"));
const dir = arg("dir");
const cluster = arg("cluster", "kv");

/** The replicated KV state: a map, and the id of every applied write (for the final check). */
class KvMachine implements ReplicatedStateMachine {
  map = new Map<string, string>();
  applied: string[] = [];
  apply(e: Entry): string {
    const cmd = JSON.parse(new TextDecoder().decode(e.data)) as {
      key: string;
      value: string;
      id: string;
    };
    this.map.set(cmd.key, cmd.value);
    this.applied.push(cmd.id);
    return "ok";
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ map: [...this.map], applied: this.applied }));
  }
  restore(data: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(data));
    this.map = new Map(s.map);
    this.applied = s.applied;
  }
}

const transport = new ConnectRaftTransport({ clusterId: cluster, nodeId: id });
const { storage, state } = await RaftLogStorage.open({ fs: denoFileSystem, dir });
const machine = new KvMachine();
let node: RaftNode | undefined;
let starting: Promise<RaftNode> | undefined;

/** POST /peers: learns (or moves) the peers; the first call starts the Raft node. */
async function setPeers(addresses: Record<string, string>): Promise<void> {
  for (const [peer, address] of Object.entries(addresses)) {
    if (Number(peer) !== id) transport.setPeer(Number(peer), `http://${address}`);
  }
  starting ??= RaftNode.start({
    id,
    peers: ids,
    storage,
    recovered: state,
    transport: transport.group(1),
    stateMachine: machine,
    rng: systemRng,
    logger: consoleLogger(),
    tickMs: Number(arg("tick-ms", "50")),
    electionTicks: 10,
    snapshotEntries: Number(arg("snapshot-entries", "5000")),
    retainEntries: 500,
    requestTimeoutMs: 3_000,
  });
  node = await starting;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function failure(error: unknown): Response {
  if (error instanceof NotLeaderError) {
    return json({ error: error.message, leader: error.leaderId }, 421);
  }
  if (error instanceof ProposalDroppedError) return json({ error: error.message }, 503);
  if (error instanceof RaftTimeoutError) return json({ error: error.message }, 504);
  return json({ error: error instanceof Error ? error.message : String(error) }, 500);
}

Deno.serve(
  {
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`LISTENING ${port}`),
  },
  async (req) => {
    const url = new URL(req.url);
    try {
      if (url.pathname === "/peers" && req.method === "POST") {
        await setPeers(await req.json());
        return json({ ok: true });
      }
      if (!node) return json({ error: "waiting for POST /peers" }, 503);
      if (url.pathname === "/kv/put" && req.method === "POST") {
        const body = await req.json();
        const result = await node.propose(new TextEncoder().encode(JSON.stringify(body)));
        return json({ result });
      }
      if (url.pathname === "/kv/get") {
        if (!node.isLeader()) throw new NotLeaderError(id, node.status().leaderId);
        await node.readBarrier();
        return json({ value: machine.map.get(url.searchParams.get("key") ?? "") ?? null });
      }
      if (url.pathname === "/kv/dump") {
        return json({ map: [...machine.map], applied: machine.applied, status: node.status() });
      }
      if (url.pathname === "/status") return json(node.status());
      return await transport.fetchHandler(req);
    } catch (error) {
      return failure(error);
    }
  },
);
