/** Passwords, the verification cache, tokens and the statement rules, over a real MetaState. */
import assert from "node:assert/strict";
import { MetaState } from "../cluster/meta/meta_state.ts";
import type { Clock } from "../core/mod.ts";
import { parseQuery } from "../query/mod.ts";
import { authorizeStatements, STATEMENT_ACCESS } from "./access.ts";
import { AuthDirectory } from "./directory.ts";
import { constantTimeEqual, hashPassword, verifyPassword } from "./password.ts";

const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));

function setup(options: { cacheTtlMs?: number; cacheSize?: number } = {}) {
  const state = new MetaState();
  state.apply({ op: "add_node", httpAddress: "h:1", raftAddress: "r:1", version: "1" });
  state.apply({
    op: "create_database",
    name: "db1",
    partitions: 1,
    hash: "fnv1a64",
    hashKey: "series",
    replicationFactor: 1,
  });
  let now = 1_000;
  const clock: Clock = {
    nowMs: () => now,
    nowNanos: () => BigInt(now) * 1_000_000n,
    monotonicMs: () => now,
  };
  let hashes = 0;
  const directory = new AuthDirectory({
    meta: {
      table: () => state.users,
      propose: (command) => Promise.resolve(state.apply(command)),
    },
    clock,
    randomBytes,
    iterations: 1_000,
    verify: (password, encoded) => {
      hashes++;
      return verifyPassword(password, encoded);
    },
    ...options,
  });
  return { state, directory, advance: (ms: number) => now += ms, hashes: () => hashes };
}

Deno.test("a password hash is salted, names its iterations, and verifies only its password", async () => {
  const a = await hashPassword("s3cret", { randomBytes, iterations: 1_000 });
  const b = await hashPassword("s3cret", { randomBytes, iterations: 1_000 });
  assert.notEqual(a, b);
  assert.match(a, /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await verifyPassword("s3cret", a), true);
  assert.equal(await verifyPassword("s3cret ", a), false);
  assert.equal(await verifyPassword("s3cret", "pbkdf2-sha256$x$y$z"), false);
  assert.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])));
});

Deno.test("the stored metadata holds a hash, never the password", async () => {
  const { state, directory } = setup();
  await directory.createUser("alice", "wonderland", true);
  const snapshot = new TextDecoder().decode(state.snapshot());
  assert.ok(!snapshot.includes("wonderland"), snapshot);
  assert.match(snapshot, /pbkdf2-sha256\$1000\$/);
});

Deno.test("login: right password, wrong password, unknown user; CREATE USER again with the same password", async () => {
  const { directory } = setup();
  await directory.createUser("alice", "pw", true);
  assert.equal((await directory.authenticatePassword("alice", "pw"))?.name, "alice");
  assert.equal(await directory.authenticatePassword("alice", "wrong"), undefined);
  assert.equal(await directory.authenticatePassword("bob", "pw"), undefined);
  await directory.createUser("alice", "pw", true); // same password: no error, as InfluxDB
  await assert.rejects(() => directory.createUser("alice", "other", true), /user already exists/);
});

Deno.test("the verification cache: bounded, expires, and a password change ends it at once", async () => {
  const { directory, advance, hashes } = setup({ cacheTtlMs: 1_000, cacheSize: 2 });
  await directory.createUser("a", "pa", true);
  await directory.createUser("b", "pb", false);
  await directory.createUser("c", "pc", false);
  for (const [u, p] of [["a", "pa"], ["b", "pb"], ["c", "pc"]]) {
    assert.ok(await directory.authenticatePassword(u, p));
  }
  assert.equal(directory.cachedVerifications, 2);
  // A cached login pays no slow hash; an evicted one pays it again.
  const before = hashes();
  assert.ok(await directory.authenticatePassword("c", "pc"));
  assert.equal(hashes(), before);
  assert.ok(await directory.authenticatePassword("a", "pa"));
  assert.equal(hashes(), before + 1, "a was evicted (bound of 2)");
  // A wrong password is never served from the cache.
  assert.equal(await directory.authenticatePassword("a", "pA"), undefined);
  // A changed password: the old one fails although it was cached a moment ago.
  assert.ok(await directory.authenticatePassword("c", "pc"));
  await directory.setPassword("c", "new");
  assert.equal(await directory.authenticatePassword("c", "pc"), undefined);
  assert.ok(await directory.authenticatePassword("c", "new"));
  // A dropped user is gone at once.
  await directory.dropUser("c");
  assert.equal(await directory.authenticatePassword("c", "new"), undefined);
  advance(2_000);
  const beforeExpiry = hashes();
  assert.ok(await directory.authenticatePassword("a", "pa"));
  assert.equal(hashes(), beforeExpiry + 1, "re-verified after expiry");
});

Deno.test("privileges are read live: a REVOKE counts on the next check of the same principal", async () => {
  const { directory } = setup();
  await directory.createUser("admin", "x", true);
  await directory.createUser("r", "r", false);
  await directory.grant("r", "db1", "READ");
  const r = (await directory.authenticatePassword("r", "r"))!;
  const select = parseQuery("SELECT * FROM m");
  assert.equal(authorizeStatements(r, select, "db1"), undefined);
  await directory.revoke("r", "db1", "READ");
  assert.equal(
    authorizeStatements(r, select, "db1"),
    "r not authorized to execute statement 'SELECT * FROM m', requires READ on db1",
  );
  assert.deepEqual(directory.grantsOf("r"), [{ database: "db1", privilege: "NO PRIVILEGES" }]);
});

Deno.test("tokens: scoped, only a digest stored, revocable; a forged one fails", async () => {
  const { state, directory } = setup();
  const issued = await directory.createToken({ databases: { db1: "WRITE" } }, "admin");
  assert.match(issued.token, /^enx_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const snapshot = new TextDecoder().decode(state.snapshot());
  assert.ok(!snapshot.includes(issued.token.slice(18)), "the secret is not stored");
  const p = (await directory.authenticateToken(issued.token))!;
  assert.equal(p.privilege("db1"), 2);
  assert.equal(p.isAdmin(), false);
  const forged = issued.token.slice(0, -1) + (issued.token.endsWith("A") ? "B" : "A");
  assert.equal(await directory.authenticateToken(forged), undefined);
  assert.equal(directory.listTokens()[0].id, issued.id);
  assert.ok(!("digest" in directory.listTokens()[0]));
  await directory.revokeToken(issued.id);
  assert.equal(await directory.authenticateToken(issued.token), undefined);
  assert.equal(p.privilege("db1"), 0, "a principal made before the revoke holds nothing");
  await assert.rejects(() => directory.createToken({}, "admin"), /needs "admin": true/);
});

Deno.test("statement rules: SELECT INTO needs WRITE on the target, DELETE needs ALL", () => {
  const reader = {
    kind: "user" as const,
    name: "r",
    isAdmin: () => false,
    privilege: (db: string) => (db === "db1" ? 1 : db === "db2" ? 2 : 0) as 0 | 1 | 2 | 3,
  };
  const check = (q: string) => authorizeStatements(reader, parseQuery(q), "db1");
  assert.equal(check("SELECT * FROM m"), undefined);
  assert.match(check("SELECT * INTO db3..m2 FROM m")!, /requires WRITE on db3$/);
  assert.equal(check("SELECT * INTO db2..m2 FROM m"), undefined);
  assert.match(check("SELECT * FROM (SELECT * FROM db3..m)")!, /requires READ on db3$/);
  assert.match(check("DELETE FROM m")!, /requires ALL PRIVILEGES on db1$/);
  assert.match(check("SELECT * FROM m; DROP DATABASE db1")!, /'DROP DATABASE db1', requires admin/);
  assert.match(check("SET PASSWORD FOR r = 'x'")!, /'SET PASSWORD FOR r = \[REDACTED\]'/);
  assert.ok(Object.keys(STATEMENT_ACCESS).length >= 29);
});
