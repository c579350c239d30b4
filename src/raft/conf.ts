/**
 * Membership configurations: the codec of a {@linkcode ConfState} carried by a Conf entry, and
 * the rule that turns a {@linkcode ConfChange} into the next configuration.
 *
 * Encoding (all integers unsigned LEB128 varints):
 *
 * ```
 * +---------+-------------+-------------------+---------------+---------------------+
 * | version | voter count | voter ids ...     | learner count | learner ids ...     |
 * | 1 byte  | varint      | varint each       | varint        | varint each         |
 * +---------+-------------+-------------------+---------------+---------------------+
 * ```
 *
 * @module
 */

import { ValidationError } from "../core/mod.ts";
import type { ConfChange, ConfState } from "./types.ts";

const CONF_VERSION = 1;

/** An empty configuration (a node that has not yet joined). */
export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** Appends the LEB128 varint of a non-negative safe integer to `out`. */
export function appendUvarint(out: number[], value: number): void {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/** Reads a varint at `pos.offset` of `data`, advancing it. Throws on a truncated value. */
export function readUvarint(data: Uint8Array, pos: { offset: number }): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (pos.offset >= data.length) {
      throw new ValidationError(`truncated varint at byte ${pos.offset} of ${data.length}`);
    }
    const byte = data[pos.offset++];
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result;
    scale *= 0x80;
  }
  throw new ValidationError(`varint longer than 8 bytes at byte ${pos.offset}`);
}

/** Encodes a configuration as the data of a Conf entry. */
export function encodeConfState(conf: ConfState): Uint8Array {
  const out: number[] = [CONF_VERSION];
  appendUvarint(out, conf.voters.length);
  for (const id of conf.voters) appendUvarint(out, id);
  appendUvarint(out, conf.learners.length);
  for (const id of conf.learners) appendUvarint(out, id);
  return Uint8Array.from(out);
}

/** Decodes the data of a Conf entry. @throws {ValidationError} on a bad version or length. */
export function decodeConfState(data: Uint8Array): ConfState {
  if (data.length === 0 || data[0] !== CONF_VERSION) {
    throw new ValidationError(
      `conf state: unsupported version ${data[0] ?? "(empty)"}, expected ${CONF_VERSION}`,
    );
  }
  const pos = { offset: 1 };
  const voters: number[] = [];
  for (let n = readUvarint(data, pos); n > 0; n--) voters.push(readUvarint(data, pos));
  const learners: number[] = [];
  for (let n = readUvarint(data, pos); n > 0; n--) learners.push(readUvarint(data, pos));
  if (pos.offset !== data.length) {
    throw new ValidationError(`conf state: ${data.length - pos.offset} trailing bytes`);
  }
  return { voters, learners };
}

/**
 * The configuration after `change`. Ids stay sorted so that equal configurations encode equally.
 * @throws {ValidationError} when the change is a no-op or would leave no voter.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const id = change.nodeId;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new ValidationError(`conf change: node id must be a positive integer, got ${id}`);
  }
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  switch (change.type) {
    case "addVoter":
      if (voters.has(id)) throw new ValidationError(`conf change: node ${id} is already a voter`);
      learners.delete(id);
      voters.add(id);
      break;
    case "addLearner":
      if (learners.has(id)) {
        throw new ValidationError(`conf change: node ${id} is already a learner`);
      }
      voters.delete(id);
      learners.add(id);
      break;
    case "removeNode":
      if (!voters.has(id) && !learners.has(id)) {
        throw new ValidationError(`conf change: node ${id} is not a member`);
      }
      voters.delete(id);
      learners.delete(id);
      break;
    default:
      throw new ValidationError(`conf change: unknown type ${(change as ConfChange).type}`);
  }
  if (voters.size === 0) throw new ValidationError(`conf change: would leave no voter`);
  return {
    voters: [...voters].sort((a, b) => a - b),
    learners: [...learners].sort((a, b) => a - b),
  };
}
