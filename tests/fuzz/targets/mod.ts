/**
 * Every fuzz target, by name.
 * @module
 */
import type { FuzzTarget } from "../_target.ts";
import { codecsTarget } from "./codecs.ts";
import { csvTarget } from "./csv.ts";
import { influxqlTarget } from "./influxql.ts";
import { jsonTarget } from "./json.ts";
import { ndjsonTarget } from "./ndjson.ts";
import { protobufTarget } from "./protobuf.ts";
import { remoteWriteTarget } from "./remote_write.ts";
import { segmentTarget } from "./segment.ts";
import { sharedLogTarget } from "./shared_log.ts";
import { snapshotTarget } from "./snapshot.ts";
import { walRecordTarget, walSegmentTarget } from "./wal.ts";
import { wireJsonTarget } from "./wire_json.ts";
import { lineProtocolTarget } from "./line_protocol.ts";

/** The targets in the order `deno task fuzz` runs them. */
export const TARGETS: readonly FuzzTarget[] = [
  lineProtocolTarget,
  influxqlTarget,
  jsonTarget,
  ndjsonTarget,
  csvTarget,
  protobufTarget,
  remoteWriteTarget,
  walRecordTarget,
  walSegmentTarget,
  segmentTarget,
  codecsTarget,
  sharedLogTarget,
  wireJsonTarget,
  snapshotTarget,
];

/** The target called `name`. @throws {Error} naming the known ones. */
export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((t) => t.name === name);
  if (!t) {
    throw new Error(`no fuzz target ${name}; known: ${TARGETS.map((t) => t.name).join(", ")}`);
  }
  return t;
}
