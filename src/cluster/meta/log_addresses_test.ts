import assert from "node:assert/strict";
import { EntryType } from "../../raft/mod.ts";
import { addressesAfter } from "./log_addresses.ts";
import { encodeMetaCommand, type MetaCommand } from "./meta_state.ts";

const entry = (index: number, command?: MetaCommand) => ({
  index,
  term: 1,
  type: EntryType.Normal,
  data: command ? encodeMetaCommand(command) : new Uint8Array(0),
});
const move = (id: number, raftAddress: string): MetaCommand => ({
  op: "update_node",
  id,
  httpAddress: "h:1",
  raftAddress,
  version: "v",
});

Deno.test("addressesAfter: the last move of each other member past the applied index", () => {
  const entries = [
    entry(4, move(2, "a:1")), // applied: the metadata has it
    entry(5, move(2, "a:2")),
    entry(6), // a new leader's empty entry
    entry(7, move(3, "b:1")),
    entry(8, { op: "remove_node", id: 9 }),
    entry(9, move(2, "a:3")),
    entry(10, move(1, "self:9")), // this node's own
  ];
  assert.deepEqual(addressesAfter(entries, 4, 1), new Map([[2, "a:3"], [3, "b:1"]]));
  assert.deepEqual(addressesAfter(entries, 10, 1), new Map());
  assert.deepEqual(
    addressesAfter([{ ...entry(5, move(2, "a:2")), type: EntryType.Conf }], 0, 1),
    new Map(),
  );
});
