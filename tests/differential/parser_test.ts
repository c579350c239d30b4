/**
 * Parser differential: every statement of `_statements.ts` is posted to influxd 1.6.7 and to an
 * EpochNexus server. Where influxd refuses it as unparsable (400 `error parsing query: ...`),
 * EpochNexus must answer the same status, Content-Type and body byte for byte: the error text
 * is what clients show. Where influxd parses it (any other answer, the statement's own result or
 * error), EpochNexus must parse it too. The statements run for real on both, on databases made
 * for the test; what they return is compared by the query differential, not here.
 *
 * Where EpochNexus parses what InfluxDB refuses on purpose, `PARSER_EXTENSIONS` asserts that.
 * Requires `influxd` (installed by .ci/run): without it the test fails, it is never skipped.
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { startServer } from "../_server.ts";
import { type Answer, ask, DB } from "./_ask.ts";
import { STATEMENTS } from "./_statements.ts";

/** Statements InfluxDB refuses and EpochNexus parses, deliberately; each with why. */
const PARSER_EXTENSIONS: { q: string; why: string }[] = [
  {
    q: "SELECT count(usage_user) FROM cpu GROUP BY time(1mo)",
    why: "calendar buckets (InfluxDB: `invalid duration`)",
  },
  {
    q: "SELECT count(usage_user) FROM cpu GROUP BY time(1y), host",
    why: "calendar buckets (InfluxDB: `invalid duration`)",
  },
];

const isParseError = (a: Answer) => a.status === 400 && a.body.includes('"error parsing query: ');

function show(a: Answer): string {
  return `${a.status} ${a.type} ${a.body.trimEnd()}`;
}

Deno.test("parser differential: EpochNexus parses what influxd 1.6.7 parses, refuses what it refuses, in its words", async () => {
  const [influx, nexus] = await Promise.all([
    startInfluxd(),
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB } }),
  ]);
  try {
    const post = (url: string, q: string) => ask(url, { params: { q }, method: "POST" });
    for (const url of [influx.url, nexus.url]) {
      const created = await post(url, `CREATE DATABASE ${DB}`);
      assert.equal(created.status, 200, created.body);
    }
    const different: string[] = [];
    let refused = 0, accepted = 0;
    for (const q of STATEMENTS) {
      const [expected, actual] = await Promise.all([post(influx.url, q), post(nexus.url, q)]);
      if (isParseError(expected)) {
        refused++;
        if (
          actual.status === expected.status && actual.type === expected.type &&
          actual.body === expected.body
        ) continue;
      } else {
        accepted++;
        if (!isParseError(actual)) continue;
      }
      different.push(
        `${JSON.stringify(q)}\n  influxdb:   ${show(expected)}\n  epochnexus: ${show(actual)}`,
      );
    }
    for (const { q, why } of PARSER_EXTENSIONS) {
      const [expected, actual] = await Promise.all([post(influx.url, q), post(nexus.url, q)]);
      if (!isParseError(expected) || isParseError(actual)) {
        different.push(
          `extension changed (${why}): ${q}\n  influxdb:   ${show(expected)}\n` +
            `  epochnexus: ${show(actual)}`,
        );
      }
    }
    console.log(
      `parser differential: ${STATEMENTS.length} statements, ${refused} refused by influxd ` +
        `(error texts compared), ${accepted} parsed by it, ${PARSER_EXTENSIONS.length} ` +
        `deliberate extensions; ${different.length} different`,
    );
    assert.deepEqual(different, [], different.join("\n"));
  } finally {
    await Promise.all([nexus.stop(), influx.stop()]);
  }
});
