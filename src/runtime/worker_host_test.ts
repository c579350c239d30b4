/**
 * The script hosts with real child processes and Workers: the memory limit covers what V8's
 * heap limit does not (ArrayBuffers), a host keeps at most `maxSandboxes` alive and says so,
 * `close()` leaves no process behind, a Worker stopped mid-batch keeps its slot, and no error
 * shows a script's source.
 */
import assert from "node:assert/strict";
import { cleanSandboxMessage, SandboxError } from "./sandbox_error.ts";
import { SandboxSlots } from "./sandbox_slots.ts";
import { createProcessScriptHost, createWorkerScriptHost } from "./worker_host.ts";

const IDENTITY = { name: "id", source: "export default (ps) => ps", typescript: false };

/** Which of `pids` the OS still has (zombies included). */
async function stillThere(pids: number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  const out = await new Deno.Command("ps", { args: ["-o", "pid=", "-p", pids.join(",")] })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((s) => s.trim()).map(Number);
}

Deno.test("sandbox errors: the first line, no script URL, no code frame; a load-time syntax error is its position", () => {
  const url = `data:application/typescript;base64,${btoa("SECRET x")}`;
  const cases: [string, "load" | "run", string][] = [
    [
      `TypeError: SyntaxError: Expected ';', got 'string literal (SECRET, "SECRET")'\n  |\n1 | SECRET x\n  |        ~\n    at ${url}:1:8`,
      "load",
      "SyntaxError at line 1, column 8",
    ],
    [
      `TypeError: Requires import access to "example.com:443"\n    at ${url}:1:20`,
      "load",
      'TypeError: Requires import access to "example.com:443" (line 1, column 20)',
    ],
    [`RangeError: bad batch\nsecond line SECRET`, "run", "RangeError: bad batch"],
    [`Error: at ${url}:3:4 it broke`, "run", "Error: at <script> it broke"],
    [
      "SyntaxError: Unexpected token 'r', \"root\" is not valid JSON",
      "run",
      "SyntaxError: Unexpected token 'r', \"root\" is not valid JSON",
    ],
    [`Error: ${"x".repeat(600)}`, "run", `Error: ${"x".repeat(493)}...`],
  ];
  for (const [message, phase, expected] of cases) {
    assert.equal(cleanSandboxMessage(message, phase), expected);
  }
});

Deno.test("sandbox slots: at most max; a start waits for a stopping sandbox; a pinned slot stays taken", async () => {
  const slots = new SandboxSlots(2, { waitMs: 300 });
  const a = await slots.acquire("a");
  const b = await slots.acquire("b");
  await assert.rejects(
    slots.acquire("c"),
    (e) =>
      e instanceof SandboxError && e.kind === "limit" &&
      /script c cannot start: 2 script sandboxes are running, the most this node allows \(max_script_sandboxes = 2\)/
        .test(e.message),
  );
  let exit!: () => void;
  a.stopping(new Promise<void>((resolve) => (exit = resolve)));
  const waiting = slots.acquire("c");
  setTimeout(() => {
    a.release();
    exit();
  }, 50);
  const c = await waiting;
  assert.deepEqual(slots.stats(), { live: 2, pinned: 0, max: 2 });
  b.pin();
  b.release();
  c.release();
  c.release();
  assert.deepEqual(slots.stats(), { live: 1, pinned: 1, max: 2 });
});

Deno.test("process host: ArrayBuffers beyond the data limit stop the script (V8's heap limit alone does not)", async () => {
  const host = createProcessScriptHost({ memoryLimitMb: 64, maxSandboxes: 1 });
  const box = host({
    name: "buffers",
    // 2 GiB of touched ArrayBuffer memory, none of it on V8's heap.
    source: "export default () => { const keep = []; for (let i = 0; i < 32; i++) " +
      "keep.push(new Uint8Array(64 * 1024 * 1024).fill(1)); return []; }",
    typescript: false,
  });
  try {
    await assert.rejects(
      box.run([], { timeoutMs: 30_000 }),
      (e) =>
        e instanceof SandboxError &&
        (e.kind === "memory" || /Array buffer allocation failed/.test(e.message)),
    );
  } finally {
    box.close();
    await host.close();
  }
});

Deno.test("process host: at most maxSandboxes children; close() of a sandbox frees its slot once the child exits; the host's close leaves none", async () => {
  const host = createProcessScriptHost({ maxSandboxes: 2 });
  const boxes = [host(IDENTITY), host(IDENTITY), host(IDENTITY)];
  try {
    assert.deepEqual(await boxes[0].run([1], { timeoutMs: 10_000 }), [1]);
    assert.deepEqual(await boxes[1].run([2], { timeoutMs: 10_000 }), [2]);
    assert.equal(host.stats().live, 2);
    const pids = host.stats().pids;
    assert.equal(pids.length, 2);
    assert.deepEqual((await stillThere(pids)).sort(), [...pids].sort());
    await assert.rejects(
      boxes[2].run([3], { timeoutMs: 10_000 }),
      (e) => e instanceof SandboxError && e.kind === "limit",
    );
    // Closing one: the next start waits for its child to exit, then runs.
    boxes[0].close();
    assert.deepEqual(await boxes[2].run([3], { timeoutMs: 10_000 }), [3]);
    assert.deepEqual(await stillThere([pids[0]]), [], "the closed sandbox's child is gone");
    assert.equal(host.stats().live, 2);
    const before = host.stats().pids;
    await host.close();
    assert.deepEqual(host.stats(), { live: 0, pinned: 0, max: 2, pids: [] });
    assert.deepEqual(await stillThere(before), []);
    await assert.rejects(boxes[1].run([4], { timeoutMs: 10_000 }), /the host is closed/);
  } finally {
    for (const box of boxes) box.close();
    await host.close();
  }
});

Deno.test("process and worker hosts: a script that does not parse is reported by position, never by its source", async () => {
  for (const host of [createProcessScriptHost(), createWorkerScriptHost()]) {
    const box = host({ name: "broken", source: "SECRET_TOKEN root:x:0:0\n", typescript: true });
    try {
      const error = await box.run([], { timeoutMs: 10_000 }).then(
        () => assert.fail("a broken script loaded"),
        (e) => e as Error,
      );
      assert.match(
        error.message,
        /^script broken cannot be loaded: SyntaxError at line 1, column \d+$/,
      );
    } finally {
      box.close();
      await host.close();
    }
  }
});

Deno.test("worker host: a worker stopped mid-batch keeps its slot (its thread may spin on); an idle one gives it back", async () => {
  const host = createWorkerScriptHost({ maxSandboxes: 2, maxStrikes: 1 });
  const idle = host(IDENTITY);
  const loop = host({
    name: "loop",
    source:
      "export default () => { const t = Date.now(); while (Date.now() - t < 1500); return []; }",
    typescript: false,
  });
  try {
    assert.deepEqual(await idle.run([1], { timeoutMs: 5000 }), [1]);
    await assert.rejects(loop.run([], { timeoutMs: 100 }), /exceeded its time limit/);
    assert.deepEqual(host.stats(), { live: 2, pinned: 1, max: 2, pids: [] });
    idle.close();
    assert.deepEqual(host.stats(), { live: 1, pinned: 1, max: 2, pids: [] });
  } finally {
    idle.close();
    loop.close();
    await host.close();
  }
});
