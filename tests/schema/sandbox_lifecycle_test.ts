/**
 * Script sandboxes live exactly as long as their schema, through the real HTTP API and real
 * child processes: re-PUT, DELETE, reload and shutdown stop them (the operating system is asked,
 * not only the host's accounting), `max_script_sandboxes` bounds them, and a script schema
 * beyond it is refused with a 409 that says why, not started and leaked.
 */
import assert from "node:assert/strict";
import { setupNode } from "./_setup.ts";
import { eventually, sandboxChildren, stillThere, threadCount } from "./_processes.ts";

const SCRIPT =
  "export default (ps: any[]) => ps.map((p) => ({ ...p, tags: { ...p.tags, v: 'N' } }))";

function scriptSchema(version: number) {
  return {
    fields: { value: { type: "float" } },
    pipeline: [{ script: { source: SCRIPT.replace("N", String(version)), timeout_ms: 5000 } }],
  };
}

type Node = Awaited<ReturnType<typeof setupNode>>;

function put(node: Node, measurement: string, body: unknown) {
  return node.call(`/api/v1/schemas/${measurement}`, {
    method: "PUT",
    body: JSON.stringify(body),
  });
}

/** Waits until the sandbox children of this process number `n`; returns their pids. */
async function childrenSettleAt(n: number, what: string): Promise<number[]> {
  const pids = await eventually(sandboxChildren, (p) => p.length === n);
  assert.equal(pids.length, n, `${what}: ${pids.length} sandbox children (${pids})`);
  return pids;
}

Deno.test("sandboxes (process): re-PUT and DELETE stop the child; the host and the OS agree", async () => {
  const node = await setupNode({}, { host: "process", maxScriptSandboxes: 3 });
  const seen = new Set<number>();
  try {
    for (let version = 1; version <= 6; version++) {
      const r = await put(node, "s", scriptSchema(version));
      assert.equal(r.status, 200, r.text);
      assert.equal((await node.write(`s,host=a value=${version} ${version}`)).status, 204);
      const pids = await childrenSettleAt(1, `after PUT #${version} and a write`);
      pids.forEach((p) => seen.add(p));
      assert.equal(node.host.stats().live, 1);
    }
    assert.equal(seen.size, 6, "each PUT ran its script in a fresh child");
    const rows = await node.query("SELECT value FROM s GROUP BY v");
    assert.equal(rows.length, 6, "every version ran");
    assert.equal((await node.call("/api/v1/schemas/s", { method: "DELETE" })).status, 200);
    await childrenSettleAt(0, "after DELETE");
    assert.deepEqual(await stillThere([...seen]), [], "every child exited and was reaped");
    assert.equal(node.host.stats().live, 0);
  } finally {
    await node.close();
  }
});

Deno.test("sandboxes (process): max_script_sandboxes refuses one more script schema with 409, at PUT and in dry runs", async () => {
  const node = await setupNode({}, { host: "process", maxScriptSandboxes: 3 });
  try {
    for (const m of ["a", "b", "c"]) {
      // A dry run's sandbox (run at once) ends with it and gives its place back to the PUT.
      const dry = await node.call(`/api/v1/pipelines/${m}/test`, {
        method: "POST",
        body: JSON.stringify({ points: `${m} value=1 1`, schema: scriptSchema(9) }),
      });
      assert.equal(dry.status, 200, dry.text);
      assert.deepEqual(dry.json.stored[0].tags, { v: "9" });
      assert.equal((await put(node, m, scriptSchema(1))).status, 200);
      assert.equal((await node.write(`${m},host=x value=1 1`)).status, 204);
    }
    await childrenSettleAt(3, "three script schemas");
    const refused = await put(node, "d", scriptSchema(1));
    assert.equal(refused.status, 409, refused.text);
    assert.match(
      refused.json.error.message,
      /schema d: pipeline\.0\.script: refused: 3 script sandboxes are in use, the most this node allows \(max_script_sandboxes = 3\)/,
    );
    assert.equal((await node.call("/api/v1/schemas/d")).status, 404);
    // Replacing a script schema at the limit is fine (its sandbox is given back), as is a schema
    // without scripts.
    assert.equal((await put(node, "a", scriptSchema(2))).status, 200);
    assert.equal((await put(node, "d", { fields: { value: { type: "float" } } })).status, 200);
    const dry = await node.call("/api/v1/pipelines/d/test", {
      method: "POST",
      body: JSON.stringify({ points: "d value=1 1", schema: scriptSchema(3) }),
    });
    assert.equal(dry.status, 409, dry.text);
    assert.equal((await node.write("a,host=x value=2 2")).status, 204);
    await childrenSettleAt(3, "at the limit");
    assert.ok(node.host.stats().live <= 3);
    // Deleting one frees its slot.
    assert.equal((await node.call("/api/v1/schemas/b", { method: "DELETE" })).status, 200);
    assert.equal((await put(node, "d", scriptSchema(4))).status, 200);
    assert.equal((await node.write("d value=1 3")).status, 204);
    await childrenSettleAt(3, "b deleted, d added");
    for (const m of ["a", "c", "d"]) {
      assert.equal((await node.call(`/api/v1/schemas/${m}`, { method: "DELETE" })).status, 200);
    }
    await childrenSettleAt(0, "every schema deleted");
  } finally {
    await node.close();
  }
});

Deno.test("sandboxes (process): a reload stops the old children; a folder beyond the limit is refused and changes nothing", async () => {
  const file = (m: string, version: number) =>
    JSON.stringify({ measurements: { [m]: scriptSchema(version) } });
  const node = await setupNode({ "a.json": file("a", 1), "b.json": file("b", 1) }, {
    host: "process",
    maxScriptSandboxes: 3,
  });
  try {
    assert.equal((await node.write("a value=1 1\nb value=1 1")).status, 204);
    const before = await childrenSettleAt(2, "two file schemas");
    await Deno.writeTextFile(`${node.folder}/a.json`, file("a", 2));
    assert.equal((await node.call("/api/v1/schemas/reload", { method: "POST" })).status, 200);
    await childrenSettleAt(0, "after the reload, before any write");
    assert.deepEqual(await stillThere(before), []);
    assert.equal((await node.write("a value=2 2")).status, 204);
    await childrenSettleAt(1, "one write after the reload");
    for (const m of ["c", "d"]) await Deno.writeTextFile(`${node.folder}/${m}.json`, file(m, 1));
    const refused = await node.call("/api/v1/schemas/reload", { method: "POST" });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.json.error.message, /max_script_sandboxes = 3/);
    assert.deepEqual(node.registry.measurements(), ["a", "b"]);
    assert.equal((await node.write("b value=2 2")).status, 204, "the old schemas still run");
  } finally {
    await node.close();
  }
  await childrenSettleAt(0, "after shutdown");
});

Deno.test("sandboxes (process): shutdown stops every child, also one busy in a long batch", async () => {
  const node = await setupNode({}, { host: "process" });
  let pending: Promise<unknown> = Promise.resolve();
  try {
    assert.equal(
      (await put(node, "slow", {
        pipeline: [{
          script: {
            source:
              "export default (ps: any[]) => { const t = Date.now(); while (Date.now() - t < 60000); return ps; }",
            timeout_ms: 60000,
          },
        }],
      })).status,
      200,
    );
    assert.equal((await put(node, "s", scriptSchema(1))).status, 200);
    assert.equal((await node.write("s value=1 1")).status, 204);
    pending = node.write("slow value=1 1");
    await childrenSettleAt(2, "one idle, one busy");
  } finally {
    await node.close();
  }
  await childrenSettleAt(0, "after shutdown");
  const r = await pending as { status: number; text: string };
  assert.equal(r.status, 400, "the batch in flight failed");
});

Deno.test("sandboxes (worker): DELETE and re-PUT terminate the workers; their threads end", async () => {
  const node = await setupNode({}, { host: "worker", maxScriptSandboxes: 12 });
  try {
    const base = await threadCount();
    for (let i = 0; i < 10; i++) {
      assert.equal((await put(node, `w${i}`, scriptSchema(1))).status, 200);
      assert.equal((await node.write(`w${i} value=1 1`)).status, 204);
    }
    assert.equal(node.host.stats().live, 10);
    const busy = await threadCount();
    // A thread each (give or take the runtime's own pool threads coming and going).
    assert.ok(busy >= base + 8, `ten workers run ten threads (${base} -> ${busy})`);
    for (let round = 2; round <= 4; round++) {
      assert.equal((await put(node, "w0", scriptSchema(round))).status, 200);
      assert.equal((await node.write(`w0 value=${round} ${round}`)).status, 204);
    }
    assert.equal(node.host.stats().live, 10, "re-PUT replaced the worker");
    for (let i = 0; i < 10; i++) {
      assert.equal((await node.call(`/api/v1/schemas/w${i}`, { method: "DELETE" })).status, 200);
    }
    assert.equal(node.host.stats().live, 0);
    const after = await eventually(threadCount, (n) => n <= busy - 8);
    assert.ok(after <= busy - 8, `the workers' threads ended (${busy} -> ${after})`);
    const refused = await setupNode({}, { host: "worker", maxScriptSandboxes: 1 });
    try {
      assert.equal((await put(refused, "x", scriptSchema(1))).status, 200);
      assert.equal((await put(refused, "y", scriptSchema(1))).status, 409);
    } finally {
      await refused.close();
    }
  } finally {
    await node.close();
  }
});
