/**
 * `/write` answers against InfluxDB 1.6.7's, byte for byte, for the points both refuse whatever
 * is stored: a tag or field named `time`, and the values that are not finite numbers. Where the
 * answers differ on purpose, the difference is listed with its reason and checked to be the one
 * intended (so a change on either side shows).
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { startServer } from "../_server.ts";

/** Bodies both answer the same. */
const SAME = [
  "m,time=a v=1 1",
  "m time=1 1",
  "m,a=b,time=x v=1 1\nm v=3 2",
  "m,time=a time=1 1",
  "time v=1 1",
  "m,TIME=a v=1 1",
  "m _time=1 1",
];

/** Bodies answered differently on purpose: what influxd says, and why EpochNexus does not. */
const DIFFERENT: {
  body: string;
  /** Query parameters beyond `db`. */
  params?: string;
  influxd: string;
  epochnexus: string;
  why: string;
}[] = [
  {
    body: "m v=1 1700000000000",
    params: "&precision=s",
    influxd: `400 {"error":"unable to parse 'm v=1 1700000000000': time outside range ` +
      `-9223372036854775806 - 9223372036854775806"}`,
    epochnexus: `400 {"error":"unable to parse 'm v=1 1700000000000': time outside range ` +
      `-9223372036854775806 - 9223372036854775806; timestamps look like milliseconds: pass ` +
      `precision=ms (line 1, column 7)"}`,
    why: "milliseconds sent with precision=s: the reason says what the digits look like (and " +
      "where the line is); the status and the shape stay influxd's",
  },
  {
    body: "m v=1,time=2 1",
    influxd: "204 ",
    epochnexus:
      '400 {"error":"partial write: invalid field name: input field \\"time\\" on measurement ' +
      '\\"m\\" is invalid dropped=1"}',
    why: "influxd drops the time field silently and keeps the point; its value would be lost " +
      "without a word, so the point is refused with the message influxd gives alone",
  },
  ...["Inf", "-Inf", "+Inf", "NaN", "inf"].map((v) => ({
    body: `m v=${v} 1`,
    influxd: `400 {"error":"unable to parse 'm v=${v} 1': ${
      v === "Inf" || v === "+Inf" || v === "inf" ? "invalid boolean" : "invalid number"
    }"}`,
    epochnexus:
      `400 {"error":"unable to parse 'm v=${v} 1': invalid number: field \\"v\\" is ${v}, ` +
      `and only finite numbers can be stored (line 1, column 5)"}`,
    why: "influxd calls Inf an invalid boolean; the answer says what the value is, and where",
  })),
];

/**
 * Status and body of a write. influxd ends its error bodies with a newline, EpochNexus' /write
 * does not (a difference of the HTTP layer, older than these checks): it is cut here.
 */
async function write(url: string, db: string, body: string, params = ""): Promise<string> {
  const r = await fetch(`${url}/write?db=${db}${params}`, { method: "POST", body });
  return `${r.status} ${(await r.text()).replace(/\n$/, "")}`;
}

Deno.test("differential: /write refuses time keys and non-finite values as InfluxDB 1.6.7 does", async () => {
  const influx = await startInfluxd();
  const nexus = await startServer();
  try {
    let n = 0;
    const fresh = async () => {
      const db = `w${n++}`;
      for (const url of [influx.url, nexus.url]) {
        const r = await fetch(`${url}/query`, {
          method: "POST",
          body: new URLSearchParams({ q: `CREATE DATABASE ${db}` }),
        });
        assert.equal(r.status, 200, await r.text());
      }
      return db;
    };
    for (const body of SAME) {
      const db = await fresh();
      const expected = await write(influx.url, db, body);
      assert.equal(await write(nexus.url, db, body), expected, JSON.stringify(body));
    }
    for (const { body, params, influxd, epochnexus, why } of DIFFERENT) {
      const db = await fresh();
      assert.equal(await write(influx.url, db, body, params), influxd, `influxd on ${body}`);
      assert.equal(await write(nexus.url, db, body, params), epochnexus, `${body}: ${why}`);
    }
  } finally {
    await nexus.stop();
    await influx.stop();
  }
});
