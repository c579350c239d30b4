/**
 * Member addresses in the metadata log beyond what a node has applied. The commit index is not
 * made durable with every change (Raft does not need it to be), so a node killed after storing
 * other members' moves (`update_node`) may restart without applying them: the metadata it
 * applies names their older addresses, and if every other member has moved since, it can reach
 * none of them to learn the rest. The stored entries past its applied index are newer: try them.
 * @module
 */
import { type Entry, EntryType } from "../../raft/mod.ts";
import { decodeMetaCommand } from "./meta_state.ts";

/**
 * The node-to-node address of each member moved by an `update_node` entry after index `applied`
 * (the last one wins), other than node `self`.
 */
export function addressesAfter(
  entries: readonly Entry[],
  applied: number,
  self: number,
): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of entries) {
    if (entry.index <= applied || entry.type !== EntryType.Normal || entry.data.length === 0) {
      continue;
    }
    const command = decodeMetaCommand(entry.data);
    if (command.op === "update_node" && command.id !== self) {
      out.set(command.id, command.raftAddress);
    }
  }
  return out;
}
