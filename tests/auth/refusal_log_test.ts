/** Requests refused at the gate are logged at most once per 10 s per kind: anyone can send them. */
import assert from "node:assert/strict";
import type { Clock } from "../../src/core/mod.ts";
import { authApp, NOW_NS } from "./_app.ts";

Deno.test("a flood of requests without or with wrong credentials: one line and one summary each", async () => {
  let now = 0;
  const clock: Clock = {
    nowMs: () => Number(NOW_NS / 1_000_000n),
    nowNanos: () => NOW_NS,
    monotonicMs: () => now,
  };
  const due: (() => void)[] = [];
  const { app, logger, close } = await authApp({
    enabled: true,
    users: true,
    clock,
    later: (fn) => due.push(fn),
  });
  try {
    const ask = async (path: string, info?: { remoteAddr: string }) => {
      const r = await app(new Request(`http://node${path}`), info);
      await r.body?.cancel();
      return r.status;
    };
    for (let i = 0; i < 1_000; i++) {
      assert.equal(
        await ask(`/query?q=SHOW+DATABASES&n=${i}`, { remoteAddr: "198.51.100.4:5000" }),
        401,
      );
    }
    for (let i = 0; i < 50; i++) {
      assert.equal(await ask(`/query?q=SHOW+DATABASES&u=admin&p=guess${i}`), 401);
    }
    const warned = () => logger.lines.filter((l) => l.startsWith("warn "));
    assert.deepEqual(warned(), [
      'warn request without credentials refused {"path":"/query","remote":"198.51.100.4:5000"}',
      'warn authentication failed {"path":"/query","user":"admin"}',
    ]);
    assert.equal(due.length, 2, "one summary due per kind");
    now = 10_000;
    for (const fn of due.splice(0)) fn();
    assert.deepEqual(warned().slice(2), [
      'warn 999 more requests without credentials refused in the last 10 s {"last_path":"/query","last_remote":"198.51.100.4:5000"}',
      'warn 49 more authentications failed in the last 10 s {"last_path":"/query","last_user":"admin"}',
    ]);
    assert.ok(!logger.lines.join("\n").includes("guess"), "no password in the log");
  } finally {
    await close();
  }
});
