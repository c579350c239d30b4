/**
 * Where EpochNexus answers otherwise than influxd 1.6.7, on purpose or for a stated reason. Each
 * entry asserts that exact difference, so any other change to these answers fails the test; an
 * entry whose answers become identical fails too (take it out, the difference is gone).
 * @module
 */
import assert from "node:assert/strict";
import { parseExactJson } from "../_server.ts";
import type { Answer } from "./_ask.ts";
import { RANGE } from "./_queries.ts";

/** A query and the check of its two answers. */
export interface KnownDifference {
  q: string;
  why: string;
  /** Throws unless `nexus` differs from `influx` exactly as documented. */
  check(influx: Answer, nexus: Answer): void;
}

type Check = KnownDifference["check"];

/** Both bodies, then the difference is exactly: influxd's text with each pair replaced once. */
function replaced(...pairs: [influx: string, nexus: string][]): Check {
  return (influx, nexus) => {
    assert.equal(nexus.status, influx.status, "status");
    assert.equal(nexus.type, influx.type, "content type");
    let body = influx.body;
    for (const [from, to] of pairs) {
      const at = body.indexOf(from);
      assert.ok(at >= 0 && body.indexOf(from, at + 1) < 0, `${from} once in influxd's answer`);
      body = body.slice(0, at) + to + body.slice(at + from.length);
    }
    assert.equal(nexus.body, body);
  };
}

/** The exact answer of each side (one of them an error the other has not). */
function answers(expectedInflux: Answer, expectedNexus: Answer): Check {
  return (influx, nexus) => {
    assert.deepEqual(influx, expectedInflux, "influxd's answer");
    assert.deepEqual(nexus, expectedNexus, "EpochNexus's answer");
  };
}

const json = (body: string): Answer => ({ status: 200, type: "application/json", body });

/**
 * influxd answers (its figures vary from run to run: shard ids, Go runtime statistics), and
 * EpochNexus refuses with exactly `error`, a clear "not supported: ..." or InfluxDB's own error.
 */
function refused(error: string): Check {
  return (influx, nexus) => {
    assert.equal(influx.status, 200, "influxd's status");
    const result = parseExactJson(influx.body).results[0];
    assert.equal(result.error, undefined, `influxd answers: ${influx.body}`);
    assert.deepEqual(
      nexus,
      json(`{"results":[{"statement_id":0,"error":${JSON.stringify(error)}}]}\n`),
    );
  };
}

const SHARDS_NOT_SUPPORTED = " (EpochNexus has no InfluxDB shard ids: its shards are time ranges " +
  "of hash partitions); GET /health and GET /metrics describe its storage";
const RUNTIME_NOT_SUPPORTED = " (InfluxDB's Go runtime figures have no counterpart); EpochNexus " +
  "reports its statistics at GET /metrics and GET /health";

/**
 * The same series and values, but influxd splits or orders its series entries otherwise: its
 * entries of equal name and tags, joined in the order they come, then all entries ordered by
 * tags, give EpochNexus's answer exactly, and the two bodies differ before.
 */
function seriesRegrouped(influx: Answer, nexus: Answer): void {
  assert.equal(nexus.status, influx.status, "status");
  assert.equal(nexus.type, influx.type, "content type");
  assert.notEqual(nexus.body, influx.body, "the series come otherwise");
  const answer = parseExactJson(influx.body);
  for (const result of answer.results) {
    if (result.series === undefined) continue;
    // deno-lint-ignore no-explicit-any
    const joined = new Map<string, any>();
    for (const series of result.series) {
      const key = JSON.stringify([series.name, series.tags ?? {}]);
      const into = joined.get(key);
      if (into === undefined) joined.set(key, series);
      else into.values.push(...series.values);
    }
    result.series = [...joined.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, series]) => series);
  }
  const canonical = (a: unknown) => JSON.stringify(a, bigints);
  assert.equal(canonical(parseExactJson(nexus.body)), canonical(answer));
}

function bigints(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}

/** The distance in units in the last place between two doubles of the same sign. */
function ulps(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  const d = view.getBigInt64(0) - view.getBigInt64(8);
  return Number(d < 0n ? -d : d);
}

/**
 * Same answer but for `count` float numbers, each at most `maxUlps` units in the last place
 * away from influxd's (float arithmetic in another order).
 */
function lastDigits(count: number, maxUlps: number): Check {
  return (influx, nexus) => {
    assert.equal(nexus.status, influx.status, "status");
    assert.equal(nexus.type, influx.type, "content type");
    const a = numbers(influx.body), b = numbers(nexus.body);
    assert.equal(b.skeleton, a.skeleton, "the answers differ beyond numbers");
    const off: string[] = [];
    for (let i = 0; i < a.values.length; i++) {
      if (a.values[i] === b.values[i]) continue;
      const distance = ulps(Number(a.values[i]), Number(b.values[i]));
      off.push(`${a.values[i]} -> ${b.values[i]} (${distance} ulp)`);
      assert.ok(distance <= maxUlps, `${a.values[i]} -> ${b.values[i]}: ${distance} ulps`);
    }
    assert.equal(off.length, count, `numbers that differ: ${off.join(", ")}`);
  };
}

/**
 * Same answer but for float numbers at most `maxUlps` units in the last place away from
 * influxd's, at least one of them (how many depends on the CPU influxd runs on).
 */
function withinUlps(maxUlps: number): Check {
  return (influx, nexus) => {
    assert.equal(nexus.status, influx.status, "status");
    assert.equal(nexus.type, influx.type, "content type");
    const a = numbers(influx.body), b = numbers(nexus.body);
    assert.equal(b.skeleton, a.skeleton, "the answers differ beyond numbers");
    let off = 0;
    for (let i = 0; i < a.values.length; i++) {
      if (a.values[i] === b.values[i]) continue;
      const distance = ulps(Number(a.values[i]), Number(b.values[i]));
      assert.ok(distance <= maxUlps, `${a.values[i]} -> ${b.values[i]}: ${distance} ulps`);
      off++;
    }
    assert.ok(off > 0, "every number is identical: the difference is gone");
  };
}

/** The body with every number outside strings replaced by `#`, and those numbers. */
function numbers(body: string): { skeleton: string; values: string[] } {
  const values: string[] = [];
  const skeleton = body.replace(
    /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g,
    (token) => {
      if (token.startsWith('"')) return token;
      values.push(token);
      return "#";
    },
  );
  return { skeleton, values };
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  // Deliberate: influxd fails or answers wrongly, EpochNexus answers.
  {
    q: "SELECT chande_momentum_oscillator(usage_user, 1) FROM cpu WHERE host = 'h1' LIMIT 3",
    why: "fix: influxd 1.6.7 panics (index out of range) on a period of 1; EpochNexus answers",
    check: answers(
      json(
        `{"results":[{"statement_id":-1,"error":"SELECT chande_momentum_oscillator(usage_user, 1) ` +
          `FROM diff.autogen.cpu WHERE host = 'h1' LIMIT 3 [panic:runtime error: index out of ` +
          `range [1] with length 0]"}]}\n`,
      ),
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time",` +
          `"chande_momentum_oscillator"],"values":[["2023-03-15T00:00:00Z",0],` +
          `["2023-03-15T00:01:00Z",0],["2023-03-15T00:02:00Z",0]]}]}]}\n`,
      ),
    ),
  },
  {
    q: `SELECT count(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(1mo)`,
    why: "deliberate extension: calendar buckets (InfluxDB answers 400 `invalid duration`)",
    check: answers(
      {
        status: 400,
        type: "application/json",
        body: `{"error":"error parsing query: invalid duration"}\n`,
      },
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],` +
          `"values":[["2023-03-01T00:00:00Z",171]]}]}]}\n`,
      ),
    ),
  },
  {
    q: "SELECT top(usage_user, 3) FROM cpu LIMIT 3",
    why: "fix: when LIMIT equals top()'s count influxd pushes the LIMIT down into each shard's " +
      "raw read, so it answers the top 3 of the first points read; EpochNexus answers the top 3",
    check: answers(
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","top"],` +
          `"values":[["2023-03-15T01:00:00Z",99.07],["2023-03-15T01:00:00Z",82.15],` +
          `["2023-03-15T04:00:00Z",94.67]]}]}]}\n`,
      ),
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","top"],` +
          `"values":[["2023-03-15T00:53:00Z",99.79],["2023-03-15T03:41:00Z",99.79],` +
          `["2023-03-15T04:07:00Z",99.86]]}]}]}\n`,
      ),
    ),
  },
  {
    q: `SELECT integral(usage_user) FROM cpu WHERE ${RANGE} ORDER BY time DESC`,
    why: "fix: influxd feeds integral() the points latest first and integrates backwards (a " +
      "negative area; with GROUP BY time, two rows per bucket); EpochNexus integrates over " +
      "time whatever the ORDER BY, so the area is the ascending one",
    check: answers(
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","integral"],` +
          `"values":[["1970-01-01T00:00:00Z",-181316.1]]}]}]}\n`,
      ),
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","integral"],` +
          `"values":[["1970-01-01T00:00:00Z",178617.90000000002]]}]}]}\n`,
      ),
    ),
  },
  {
    q: `SELECT integral(usage_user) FROM cpu WHERE ${RANGE} GROUP BY host`,
    why: "fix: influxd emits integral()'s series in Go map order (random, never ascending for " +
      "three series or more: a rotation of the insertion order, reversed); EpochNexus in " +
      "series order, as every other function",
    check: seriesRegrouped,
  },
  {
    q: `SELECT integral(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(20m), host`,
    why: "fix: influxd emits each series' last bucket apart from its others, in Go map order " +
      "(the same series twice in one result); EpochNexus one series per group",
    check: seriesRegrouped,
  },
  {
    q: "SHOW SERIES EXACT CARDINALITY",
    why: "deliberate: influxd 1.6.7 adds up each shard group's series (a series in 6 groups " +
      "counts 6 times); EpochNexus counts distinct series, as the statement means",
    check: replaced(
      ['"values":[[21]]', '"values":[[4]]'],
      ['"values":[[22]]', '"values":[[5]]'],
      ['"values":[[6]]', '"values":[[1]]'],
    ),
  },
  {
    q: "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host='h1'",
    why: "deliberate: influxd 1.6.7 adds up each shard group's series (see SHOW SERIES EXACT " +
      "CARDINALITY)",
    check: replaced(['"values":[[6]]', '"values":[[1]]']),
  },
  {
    q: "SELECT count(pct) FROM disk GROUP BY * SOFFSET 1",
    why: "fix: influxd 1.6.7 answers nothing for SOFFSET without SLIMIT (query.LimitTagSets " +
      "slices a[soffset:soffset+0]); EpochNexus skips the first tag sets of each shard, as " +
      "SOFFSET means (and as influxd does with an SLIMIT)",
    check: answers(
      json(`{"results":[{"statement_id":0}]}\n`),
      json(
        `{"results":[{"statement_id":0,"series":[` +
          `{"name":"disk","tags":{"host":"","path":"/var"},"columns":["time","count"],` +
          `"values":[["1970-01-01T00:00:00Z",10]]},` +
          `{"name":"disk","tags":{"host":"h1","path":"/"},"columns":["time","count"],` +
          `"values":[["1970-01-01T00:00:00Z",12]]},` +
          `{"name":"disk","tags":{"host":"h2","path":""},"columns":["time","count"],` +
          `"values":[["1970-01-01T00:00:00Z",6]]},` +
          `{"name":"disk","tags":{"host":"h3","path":"/"},"columns":["time","count"],` +
          `"values":[["1970-01-01T00:00:00Z",4]]}]}]}\n`,
      ),
    ),
  },
  {
    q: "SELECT derivative(mean(usage_user)) FROM cpu WHERE time < '2023-03-15T06:00:00Z' " +
      "GROUP BY time(1h)",
    why: "fix: without a lower time bound influxd answers nothing: to feed derivative() the " +
      "bucket before the first it subtracts the interval from its start, MinTime, and the " +
      "int64 wraps round to a start after the end (query/select.go); EpochNexus starts at the " +
      "first bucket with data, as it does without derivative()",
    check: answers(
      json(`{"results":[{"statement_id":0}]}\n`),
      json(
        `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","derivative"],` +
          `"values":[["2023-03-15T01:00:00Z",-1.0835604515163908],` +
          `["2023-03-15T02:00:00Z",-2.401491237738341],` +
          `["2023-03-15T03:00:00Z",1.9361445944737454],` +
          `["2023-03-15T04:00:00Z",0.16667517981863256],` +
          `["2023-03-15T05:00:00Z",-5.383886676088913]]}]}]}\n`,
      ),
    ),
  },
  // Deliberate: admin statements about InfluxDB's own machinery are refused, clearly.
  ...["SHOW SHARDS", "SHOW SHARD GROUPS"].map((q) => ({
    q,
    why: "not supported: EpochNexus has no shard ids; /health and /metrics describe its storage",
    check: refused(`not supported: ${q}${SHARDS_NOT_SUPPORTED}`),
  })),
  ...["SHOW STATS", "SHOW STATS FOR 'httpd'", "SHOW DIAGNOSTICS", "SHOW DIAGNOSTICS FOR 'build'"]
    .map((q) => ({
      q,
      why: "not supported: Go runtime figures; EpochNexus serves /metrics and /health",
      check: refused(`not supported: ${q.split(" FOR ")[0]}${RUNTIME_NOT_SUPPORTED}`),
    })),
  {
    q: "CREATE SUBSCRIPTION s1 ON diff.autogen DESTINATIONS ALL 'udp://127.0.0.1:9'",
    why: "not supported: EpochNexus does not forward writes",
    check: refused(
      "not supported: CREATE SUBSCRIPTION (EpochNexus does not forward writes); read the data " +
        "back with queries",
    ),
  },
  {
    // influxd's subscription goes again, so SHOW SUBSCRIPTIONS in QUERIES answers alike.
    q: "DROP SUBSCRIPTION s1 ON diff.autogen",
    why: "follows from CREATE SUBSCRIPTION: EpochNexus has none to drop",
    check: refused("subscription not found"),
  },
  // Left as they are, for the reason given: the last bits of floats, and one tie.
  {
    q: `SELECT mean(x) FROM (SELECT usage_user AS x FROM cpu WHERE ${RANGE})`,
    why: "influxd's outer mean adds the subquery's rows one by one in the order the inner " +
      "query emits them; EpochNexus reads the inner rows as series (with their emit order) " +
      "and folds per-series partials, so the float mean's last digit may differ",
    check: lastDigits(1, 2),
  },
  {
    q: "SELECT sum(usage_user) FROM (SELECT usage_user, host::field FROM cpu)",
    why: "the same as mean(x) over a subquery: influxd adds the inner rows one by one in its " +
      "emit order; EpochNexus folds the partials of the result's lanes (rows of one tag set " +
      "at distinct times), so the float sum's last digits may differ",
    check: lastDigits(1, 4),
  },
  {
    q: "SELECT * FROM (SELECT usage_user, host::field FROM cpu WHERE time < '2023-03-15T00:02:00Z')",
    why: "influxd lists every column the subquery names; EpochNexus types a subquery's columns " +
      "by their values, so a column without any (host::field names no field) is no column",
    check: (influx, nexus) => {
      assert.equal(nexus.status, influx.status, "status");
      const drop = influx.body.replace('"host",', "").replaceAll("null,", "");
      assert.equal(nexus.body, drop);
    },
  },
  {
    q: "SELECT first(usage_user), last(usage_user) FROM cpu",
    why: "without GROUP BY time influxd reads each shard with a limit iterator that lets " +
      "LIMIT+1 points through (tsm1 floatLimitIterator: `n - offset > limit`), so first() " +
      "picks the greater value among the first two points of its series merge heap (h3's " +
      "71.04 at 00:00); EpochNexus the first series in key order among points of equal time " +
      "(h1's 58.23)",
    check: replaced(["71.04", "58.23"]),
  },
  {
    q: "SELECT exp(usage_user/10), pow(usage_user, 1.5) FROM cpu WHERE host='h1' LIMIT 12",
    why: "Go's math.Exp and math.Log are assembly on amd64 (Exp with FMA when the CPU has it; " +
      "Pow with a fractional exponent uses both), V8's are fdlibm: some results are an ulp " +
      "apart (two for pow), and which ones depends on influxd's CPU",
    check: withinUlps(2),
  },
];
