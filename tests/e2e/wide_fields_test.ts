/**
 * A body naming tens of thousands of distinct fields of one measurement, sent to a real server:
 * past `max_fields_per_measurement` each point that names new fields is refused with a partial
 * write naming the measurement, the field and the limit, while every other point of the same
 * body is written; without a limit (0) the same kind of body is written whole, in bounded time
 * (each new field of a series was a column as long as the series: rows x fields doubles).
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const SECOND = 1_000_000_000;

/** `lines` lines of measurement `wide`, each naming `perLine` fields no line before named. */
function wideLines(lines: number, perLine: number): string[] {
  return Array.from({ length: lines }, (_, l) => {
    const fields = Array.from({ length: perLine }, (_, k) => `f${l * perLine + k}=${l}`);
    return `wide,host=a ${fields.join(",")} ${(l + 1) * SECOND}`;
  });
}

Deno.test("max_fields_per_measurement refuses the points past it and keeps the rest", async () => {
  const server = await startServer({ env: { EPOCHNEXUS_MAX_FIELDS_PER_MEASUREMENT: "50" } });
  try {
    await query(server.url, "CREATE DATABASE w");
    // Lines 1-5 bring 50 fields; line 6 would be the 51st to 60th; known fields stay writable,
    // as do other measurements.
    const lines = [
      ...wideLines(6, 10),
      `wide,host=a f0=7,f49=7 ${100 * SECOND}`,
      `other,host=a v=1 ${101 * SECOND}`,
    ];
    const answer = await writeLines(server.url, "w", lines.join("\n"));
    assert.equal(answer.status, 400, answer.body);
    assert.equal(
      JSON.parse(answer.body).error,
      `partial write: max-fields-per-measurement limit exceeded (50/50): measurement="wide" ` +
        `field="f50" (the point names 10 new fields) dropped=1`,
    );
    const counted = await query(server.url, 'SELECT count("f0"), count("f49") FROM "wide"', {
      db: "w",
    });
    assert.deepEqual(counted.results[0].series[0].values[0].slice(1), [2, 2]);
    const other = await query(server.url, "SELECT v FROM other", { db: "w" });
    assert.equal(other.results[0].series[0].values.length, 1);
    const fields = await query(server.url, "SHOW FIELD KEYS FROM wide", { db: "w" });
    assert.equal(fields.results[0].series[0].values.length, 50, "no field of the refused line");
  } finally {
    await server.stop();
  }
});

Deno.test("60,000 fields in 600 lines of one series are written whole, in bounded memory, without a limit", async () => {
  const server = await startServer({ env: { EPOCHNEXUS_MAX_FIELDS_PER_MEASUREMENT: "0" } });
  try {
    await query(server.url, "CREATE DATABASE w");
    const memory = async (key: "VmRSS" | "VmHWM") => {
      // Through `cat`: the suite's permissions (the README's test command) do not let Deno read
      // another process's /proc files itself (NotCapable: "Requires all access").
      const out = await new Deno.Command("cat", { args: [`/proc/${server.process.pid}/status`] })
        .output();
      const status = new TextDecoder().decode(out.stdout);
      const kB = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status);
      return kB === null ? undefined : Number(kB[1]);
    };
    // What the server holds before the write: its start (module load and transpile: ~100 MB
    // warm, ~160 MB when a suite run starts it on a cold cache) is not what is measured.
    const [before, startPeak] = [await memory("VmRSS"), await memory("VmHWM")];
    const answer = await writeLines(server.url, "w", wideLines(600, 100).join("\n"));
    const logs = () => server.logs().split("\n").slice(-20).join("\n");
    assert.equal(answer.status, 204, `${answer.body}\nserver log:\n${logs()}`);
    // How far the write took the server's peak resident memory (Linux) past that: ~990 MB when
    // every field was a column as long as the series (and 9-18 s), about 0.12 GB since. Memory,
    // not time: the machine is shared, its load is not ours.
    const peak = await memory("VmHWM");
    // A peak not moved by the write is the start's own.
    assert.ok(before !== undefined && peak !== undefined, "the server's memory is readable");
    if (peak !== startPeak) {
      assert.ok(
        peak - before < 400 * 1024,
        `server peak RSS ${peak} kB, ${peak - before} kB past the ${before} kB before the write` +
          `\nserver log:\n${logs()}`,
      );
    }
    const last = await query(server.url, 'SELECT "f59999" FROM "wide"', { db: "w" });
    assert.deepEqual(last.results[0].series[0].values[0][1], 599);
  } finally {
    await server.stop();
  }
});
