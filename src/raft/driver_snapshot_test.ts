import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { seededRng } from "./_test_util.ts";
import { RaftNode } from "./driver.ts";
import type { ReplicatedStateMachine } from "./state_machine.ts";
import { SharedRaftLog } from "./storage/shared_log.ts";
import type { TransportHandler } from "./transport.ts";
import { type Message, MessageType, newMessage } from "./types.ts";

/** A state machine whose restore waits for `open()`, as a replica fetching files does. */
class SlowRestore implements ReplicatedStateMachine {
  restoring = false;
  restored = false;
  #release: (() => void) | undefined;
  apply(): void {}
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
  async restore(): Promise<void> {
    this.restoring = true;
    await new Promise<void>((r) => this.#release = r);
    this.restored = true;
  }
  open(): void {
    this.#release?.();
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("raft driver: a follower acknowledges a snapshot only once its state machine restored it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raft_snap_" });
  const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
  const machine = new SlowRestore();
  const sent: Message[] = [];
  let handler: TransportHandler | undefined;
  const node = await RaftNode.start({
    id: 2,
    peers: [1, 2],
    storage: log.group(7),
    recovered: {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: null,
      entries: [],
      tornBytes: 0,
      corruption: null,
      recoverUntil: 0,
    },
    transport: {
      start: (h) => void (handler = h),
      send: (messages) => void sent.push(...messages),
      stop: () => Promise.resolve(),
    },
    stateMachine: machine,
    rng: seededRng(1),
    tickMs: 1_000, // no election while the test runs
  });
  try {
    handler!.receive([newMessage({
      type: MessageType.Snap,
      from: 1,
      to: 2,
      term: 1,
      snapshot: {
        metadata: { index: 10, term: 1, confState: { voters: [1, 2], learners: [] } },
        data: new Uint8Array(),
      },
    })]);
    // Messages of a Ready go out before or after its restore starts, never during it.
    await until(() => machine.restoring);
    const acks = () => sent.filter((m) => m.type === MessageType.AppResp && m.to === 1);
    assert.deepEqual(acks(), [], "acknowledged before the state machine held the snapshot");
    machine.open();
    await until(() => acks().length > 0);
    assert.ok(machine.restored);
    assert.equal(acks()[0].index, 10);
    assert.equal(acks()[0].reject, false);
  } finally {
    machine.open();
    await node.stop();
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
