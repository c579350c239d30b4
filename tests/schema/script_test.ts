/**
 * Script steps through the HTTP surface: a good script modifies, adds, drops and rejects;
 * hostile scripts (endless loop, fetch, file read, env read, spawning a process, reaching host
 * globals, throwing, returning nonsense) are each stopped and reported, while another
 * measurement keeps ingesting throughout.
 */
import assert from "node:assert/strict";
import { setupNode } from "./_setup.ts";
import { TEST_SANDBOX_MEMORY_MB } from "./_processes.ts";

function schemaWith(measurement: string, source: string, timeoutMs = 300): string {
  return JSON.stringify({
    measurements: {
      [measurement]: {
        fields: { value: { type: "float" } },
        pipeline: [{ script: { source, timeout_ms: timeoutMs } }],
      },
    },
  });
}

Deno.test("script: modifies, adds, drops and rejects points of a batch", async () => {
  const source = `
    export default function (points: any[]) {
      const out = [];
      const reject = [];
      for (const p of points) {
        if (p.tags.kind === "drop") continue;
        if (p.fields.value < 0) { reject.push({ index: p.index, reason: "negative " + p.fields.value }); continue; }
        p.fields.value = p.fields.value * 10;
        p.fields.count = 3n;
        out.push(p);
      }
      out.push({ measurement: "s", tags: { kind: "summary" }, fields: { value: out.length }, timeMs: 1700000000000 });
      return { points: out, reject };
    }`;
  const node = await setupNode({ "s.json": schemaWith("s", source) });
  try {
    const r = await node.write("s,kind=a value=1 1\ns,kind=drop value=2 2\ns,kind=b value=-1 3");
    assert.equal(r.status, 400, r.text);
    assert.match(
      r.json.error,
      /script on "s\/script#1": expected accepted by the script, got negative -1/,
    );
    const rows = await node.query("SELECT value, count FROM s GROUP BY kind");
    const byKind = Object.fromEntries(
      rows.map((
        s: { tags: { kind: string }; values: unknown[][] },
      ) => [s.tags.kind, s.values[0].slice(1)]),
    );
    assert.deepEqual(byKind, { a: [10, 3], summary: [1, null] });
  } finally {
    await node.close();
  }
});

// Deno Workers take no heap limit and Worker.terminate() does not stop a runaway allocation, so
// only the process sandbox is asked to survive a memory bomb (see src/runtime/worker_host.ts).
const MEMORY_BOMB: [string, string, RegExp] = [
  "bomb",
  "export default () => { const a = []; while (true) a.push(new Array(1e6).fill(1.5)); }",
  new RegExp(`script_memory .*exceeded its memory limit of ${TEST_SANDBOX_MEMORY_MB} MiB`),
];

const HOSTILE: [string, string, RegExp][] = [
  [
    "loop",
    "export default () => { while (true) {} }",
    /script_timeout .*exceeded its time limit of \d+ ms/,
  ],
  [
    "fetch",
    "export default async () => { await fetch('http://127.0.0.1:8086/'); return []; }",
    /script_threw .*NotCapable: Requires net access/,
  ],
  [
    "read",
    "export default () => { Deno.readTextFileSync('/etc/hostname'); return []; }",
    /script_threw .*NotCapable: Requires read access/,
  ],
  [
    "env",
    "export default () => { Deno.env.get('HOME'); return []; }",
    /script_threw .*NotCapable: Requires env access/,
  ],
  [
    "run",
    "export default () => { new Deno.Command('/bin/sh', { args: ['-c', 'true'] }).outputSync(); return []; }",
    /script_threw .*NotCapable: Requires run access/,
  ],
  [
    "exit",
    "export default () => { Deno.exit(3); }",
    /script_timeout .*exceeded its time limit|script_threw .*script process exited \(code 3\)/,
  ],
  [
    "throws",
    "export default () => { throw new RangeError('bad batch'); }",
    /script_threw .*RangeError: bad batch/,
  ],
  ["nonsense", "export default () => 42", /script_invalid .*must return an array of points/],
  [
    "badpoint",
    "export default () => [{ measurement: 'x', fields: { v: {} }, timeMs: 1 }]",
    /script_invalid .*field v has an unsupported value/,
  ],
];

for (const host of ["worker", "process"] as const) {
  Deno.test(`script (${host} sandbox): hostile scripts are stopped and reported, other measurements keep ingesting`, async () => {
    const hostile = host === "process" ? [...HOSTILE, MEMORY_BOMB] : HOSTILE;
    const files: Record<string, string> = {};
    for (const [name, source] of hostile) {
      // Only the loop (and exit) may run out of time; the others are stopped by what they do,
      // however long a loaded machine takes to start their sandbox.
      const short = name === "loop" || name === "exit"; // these may end by running out of time
      const limitMs = short ? (host === "process" ? 1000 : 300) : 10_000;
      files[`${name}.json`] = schemaWith(name, source, limitMs);
    }
    const node = await setupNode(files, { host, maxScriptSandboxes: 16 });
    let n = 0;
    let stop = false;
    let background: Promise<void> = Promise.resolve();
    try {
      background = (async () => {
        // Another measurement keeps ingesting while the hostile scripts run.
        while (!stop) {
          const r = await node.write(`healthy,host=a value=${n} ${++n}`);
          assert.equal(r.status, 204, r.text);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      for (const [name, , expected] of hostile) {
        const r = await node.write(`${name},host=a value=1 1\n${name},host=b value=2 2`);
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.match(r.json.error, expected, `${name}: ${r.json.error}`);
        assert.equal((await node.query(`SELECT * FROM "${name}"`)).length, 0, name);
      }
      // Host globals are out of reach: the worker has a global object of its own.
      (globalThis as Record<string, unknown>).hostSecret = "s3cret";
      await node.registry.put("globals", {
        fields: { value: { type: "float" } },
        pipeline: [{
          script: {
            source: "export default (ps: any[]) => ps.map((p) => ({ ...p, tags: { seen: " +
              "String((globalThis as any).hostSecret ?? 'nothing') } }))",
          },
        }],
      });
      assert.equal((await node.write("globals,host=a value=1 1")).status, 204);
      assert.deepEqual((await node.query("SELECT value FROM globals GROUP BY seen"))[0].tags, {
        seen: "nothing",
      });
      // A failed script is restarted: the next batch runs again (and fails again, reported).
      const again = await node.write("throws value=1 3");
      assert.match(again.json.error, /RangeError: bad batch/);
      stop = true;
      await background;
      assert.ok(n > 5, `the healthy measurement kept ingesting (${n} writes)`);
      assert.equal((await node.query("SELECT count(value) FROM healthy"))[0].values[0][1], n);
      const metrics = (await node.call("/metrics")).text;
      assert.match(
        metrics,
        /epochnexus_schema_rejections_total\{measurement="loop",rule="script_timeout"\} 2/,
      );
    } finally {
      stop = true;
      await background.catch(() => {});
      await node.close();
    }
  });
}
