/**
 * The script hosts with real child processes and Workers: no error shows a script's source.
 */
import assert from "node:assert/strict";
import { cleanSandboxMessage } from "./sandbox_error.ts";
import { createProcessScriptHost, createWorkerScriptHost } from "./worker_host.ts";

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
    }
  }
});
