/**
 * The differential run shared by the single-node and the cluster tests: the same data written to
 * influxd and to each EpochNexus system, then the same requests asked of all of them, and every
 * answer compared with influxd's byte for byte (status, Content-Type and body), or checked
 * against its known difference.
 * @module
 */
import assert from "node:assert/strict";
import { batches } from "./_dataset.ts";
import { type Answer, ask, DB } from "./_ask.ts";
import { KNOWN_DIFFERENCES } from "./_known_differences.ts";
import { HTTP_REQUESTS, type HttpRequest, QUERIES } from "./_queries.ts";

/** An EpochNexus system under test. */
export interface System {
  name: string;
  /** Where to send the next write. */
  url: () => string;
  /** Asks one request. */
  ask: (request: HttpRequest) => Promise<Answer>;
}

/** Steps a test adds to the run. */
export interface RunHooks {
  /** After batch `i` was written everywhere (wait for a flush, say). */
  afterBatch?: (i: number, batch: string[]) => Promise<void>;
  /** After all the data is written, before the first query. */
  afterLoad?: () => Promise<void>;
}

/** What a run found. */
export interface RunResult {
  compared: number;
  known: number;
  /** One text per answer that differs from influxd's (or from its known difference). */
  different: string[];
}

/** Read-only requests asked at once: a cluster's answer waits on node-to-node round trips. */
const CONCURRENT_QUERIES = 4;

/** Writes the data to influxd and every system, then asks and compares everything. */
export async function runDifferential(
  influx: string,
  nexus: System[],
  hooks: RunHooks = {},
): Promise<RunResult> {
  const result: RunResult = { compared: 0, known: 0, different: [] };
  const askAll = (request: HttpRequest) =>
    Promise.all([ask(influx, request), ...nexus.map((s) => s.ask(request))]);
  /** Compares the answers to one request byte for byte: status, Content-Type and body. */
  const compare = async (label: string, request: HttpRequest) => {
    const [expected, ...actuals] = await askAll(request);
    for (const [i, actual] of actuals.entries()) {
      result.compared++;
      if (
        actual.status !== expected.status || actual.type !== expected.type ||
        actual.body !== expected.body
      ) {
        result.different.push(
          `${label} [${nexus[i].name}]\n  influxdb:   ${show(expected)}\n  epochnexus: ${
            show(actual)
          }`,
        );
      }
    }
  };
  for (
    const q of [
      `CREATE DATABASE ${DB}`,
      `ALTER RETENTION POLICY autogen ON ${DB} SHARD DURATION 1h`,
    ]
  ) {
    await compare(q, { params: { q }, method: "POST" });
  }
  for (const [i, batch] of batches().entries()) {
    for (const url of [influx, ...nexus.map((s) => s.url())]) {
      const r = await fetch(`${url}/write?db=${DB}&precision=s`, {
        method: "POST",
        body: batch.join("\n"),
      });
      assert.equal(r.status, 204, `batch ${i} to ${url}: ${await r.text()}`);
    }
    await hooks.afterBatch?.(i, batch);
  }
  await hooks.afterLoad?.();

  // Known differences first: the last queries of QUERIES change the data.
  for (const difference of KNOWN_DIFFERENCES) {
    const [expected, ...actuals] = await askAll({ params: { q: difference.q } });
    for (const [i, actual] of actuals.entries()) {
      result.compared++;
      try {
        difference.check(expected, actual);
        result.known++;
      } catch (error) {
        result.different.push(
          `known difference changed: ${difference.q} [${nexus[i].name}]\n  ${
            (error as Error).message
          }` +
            `\n  influxdb:   ${show(expected)}\n  epochnexus: ${show(actual)}`,
        );
      }
    }
  }
  // The queries before the first one that changes data are asked several at a time; from
  // there on, one by one, in order.
  const asked = QUERIES.flatMap((q) =>
    [undefined, "ns"].map((epoch): { label: string; request: HttpRequest; changes: boolean } => ({
      label: `${q}${epoch ? ` (epoch=${epoch})` : ""}`,
      request: { params: epoch ? { q, epoch } : { q } },
      changes: changesData(q),
    }))
  );
  const firstChange = asked.findIndex((a) => a.changes);
  const readOnly = asked.slice(0, firstChange < 0 ? asked.length : firstChange);
  for (let at = 0; at < readOnly.length; at += CONCURRENT_QUERIES) {
    await Promise.all(
      readOnly.slice(at, at + CONCURRENT_QUERIES).map((a) => compare(a.label, a.request)),
    );
  }
  for (const a of asked.slice(readOnly.length)) await compare(a.label, a.request);
  // The HTTP details of /query: pretty, every epoch, chunked, CSV, forms, errors.
  for (const r of HTTP_REQUESTS) await compare(`HTTP ${JSON.stringify(r)}`, r);
  return result;
}

/** True for a statement that writes or changes the catalog (these keep their order). */
function changesData(q: string): boolean {
  return /\bINTO\b/i.test(q) || /^\s*(CREATE|ALTER|DROP|DELETE)\b/i.test(q);
}

function show(a: Answer): string {
  return `${a.status} ${a.type}\n    ${a.body.trimEnd()}`;
}
