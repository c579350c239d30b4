import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { seededRng } from "./_test_util.ts";
import { RaftNode } from "./driver.ts";
import type { ReplicatedStateMachine } from "./state_machine.ts";
import type { RaftStorage } from "./storage/raft_storage.ts";
import { SharedRaftLog } from "./storage/shared_log.ts";
import type { Entry } from "./types.ts";

/** A state machine whose applies wait for `open()` while `gated`. */
class GatedMachine implements ReplicatedStateMachine {
  applied: string[] = [];
  gated = false;
  #release: (() => void)[] = [];
  async apply(e: Entry): Promise<void> {
    if (this.gated) await new Promise<void>((r) => this.#release.push(r));
    this.applied.push(new TextDecoder().decode(e.data));
  }
  open(): void {
    this.gated = false;
    for (const r of this.#release.splice(0)) r();
  }
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
  restore(): void {}
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A lone voter over a shared log; `saves` counts the Ready cycles that reached storage. */
async function loneNode(dir: string) {
  const { log, groups } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
  const machine = new GatedMachine();
  const counter = { saves: 0 };
  const storage = log.group(1);
  const counted: RaftStorage = {
    save: (req) => {
      counter.saves++;
      return storage.save(req);
    },
    saveSnapshot: (s) => storage.saveSnapshot(s),
    compact: (i) => storage.compact(i),
    close: () => storage.close(),
  };
  const node = await RaftNode.start({
    id: 1,
    peers: [1],
    storage: counted,
    recovered: groups.get(1) ?? {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: null,
      entries: [],
      tornBytes: 0,
      corruption: null,
      recoverUntil: 0,
    },
    transport: { start: () => {}, send: () => {}, stop: () => Promise.resolve() },
    stateMachine: machine,
    rng: seededRng(1),
    tickMs: 5,
  });
  node.campaign();
  await until(() => node.isLeader());
  return { node, machine, counter, close: () => node.stop().then(() => log.close()) };
}

Deno.test("raft driver: a lone leader's read barrier needs no Ready cycle once all it committed is applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raft_read_" });
  const { node, counter, close } = await loneNode(dir);
  try {
    await node.propose(new TextEncoder().encode("a"));
    // Let the node go quiet (no election, no pending entries), then read 100 times.
    await until(() => node.appliedIndex >= node.raft.committed);
    const before = counter.saves;
    for (let i = 0; i < 100; i++) await node.readBarrier();
    assert.equal(counter.saves - before, 0, "read barriers went through Ready cycles");
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("raft driver: a lone leader's read barrier waits for committed entries to be applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raft_read_" });
  const { node, machine, close } = await loneNode(dir);
  try {
    machine.gated = true;
    const write = node.propose(new TextEncoder().encode("b"), "persisted");
    await write; // in the log, committed (one voter), its apply held at the gate
    await until(() => node.raft.committed > node.appliedIndex);
    let read = false;
    const barrier = node.readBarrier().then(() => (read = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(read, false, "the barrier passed before the committed write was applied");
    machine.open();
    await barrier;
    assert.deepEqual(machine.applied, ["b"]);
  } finally {
    machine.open();
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});
