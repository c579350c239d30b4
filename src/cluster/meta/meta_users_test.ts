/** Users, grants and tokens in the replicated metadata: apply, refusals, snapshot round trip. */
import assert from "node:assert/strict";
import { MetaState } from "./meta_state.ts";
import { Privilege } from "./meta_users.ts";

function stateWithDb(): MetaState {
  const s = new MetaState();
  s.apply({ op: "add_node", httpAddress: "h:1", raftAddress: "r:1", version: "1" });
  s.apply({
    op: "create_database",
    name: "db1",
    partitions: 1,
    hash: "fnv1a64",
    hashKey: "series",
    replicationFactor: 1,
  });
  return s;
}

Deno.test("user commands: create, grant, revoke clears bits, InfluxDB's refusal texts", () => {
  const s = stateWithDb();
  assert.deepEqual(s.apply({ op: "create_user", name: "a", passwordHash: "h1", admin: true }), {
    ok: true,
  });
  assert.deepEqual(s.apply({ op: "create_user", name: "a", passwordHash: "h2", admin: false }), {
    ok: false,
    error: "user already exists",
  });
  s.apply({ op: "create_user", name: "r", passwordHash: "h", admin: false });
  assert.deepEqual(
    s.apply({ op: "grant", name: "r", database: "nodb", privilege: Privilege.read }),
    { ok: false, error: "database not found: nodb" },
  );
  assert.deepEqual(
    s.apply({ op: "grant", name: "x", database: "db1", privilege: Privilege.read }),
    { ok: false, error: "user not found" },
  );
  s.apply({ op: "grant", name: "r", database: "db1", privilege: Privilege.all });
  s.apply({ op: "revoke", name: "r", database: "db1", privilege: Privilege.write });
  assert.equal(s.users.users.get("r")!.privileges.get("db1"), Privilege.read);
  s.apply({ op: "revoke", name: "r", database: "db1", privilege: Privilege.all });
  assert.equal(s.users.users.get("r")!.privileges.get("db1"), Privilege.none);
});

Deno.test("the last admin can be neither dropped nor demoted (the bootstrap stays closed)", () => {
  const s = stateWithDb();
  s.apply({ op: "create_user", name: "a", passwordHash: "h", admin: true });
  const refused = { ok: false, error: "cannot remove the last admin user" };
  assert.deepEqual(s.apply({ op: "drop_user", name: "a" }), refused);
  assert.deepEqual(s.apply({ op: "set_admin", name: "a", admin: false }), refused);
  s.apply({ op: "create_user", name: "b", passwordHash: "h", admin: true });
  assert.deepEqual(s.apply({ op: "drop_user", name: "a" }), { ok: true });
  assert.ok(s.users.hasAdmin());
});

Deno.test("dropping a database drops its grants and token scopes", () => {
  const s = stateWithDb();
  s.apply({ op: "create_user", name: "r", passwordHash: "h", admin: false });
  s.apply({ op: "grant", name: "r", database: "db1", privilege: Privilege.read });
  s.apply({
    op: "create_token",
    token: {
      id: "t1",
      digest: "d",
      description: "",
      createdBy: "",
      createdMs: 1,
      admin: false,
      databases: { db1: Privilege.write },
    },
  });
  s.apply({ op: "drop_database", name: "db1" });
  assert.equal(s.users.users.get("r")!.privileges.size, 0);
  assert.deepEqual(s.users.tokens.get("t1")!.databases, {});
});

Deno.test("users and tokens survive a snapshot and restore; a version 1 snapshot has none", () => {
  const s = stateWithDb();
  s.apply({ op: "create_user", name: "a", passwordHash: "pbkdf2$x", admin: true });
  s.apply({ op: "create_user", name: "r", passwordHash: "h", admin: false });
  s.apply({ op: "grant", name: "r", database: "db1", privilege: Privilege.write });
  s.apply({
    op: "create_token",
    token: {
      id: "t1",
      digest: "abc",
      description: "ci",
      createdBy: "a",
      createdMs: 5,
      admin: false,
      databases: { db1: Privilege.read },
    },
  });
  const copy = new MetaState();
  copy.restore(s.snapshot());
  assert.deepEqual(copy.users.toJSON(), s.users.toJSON());
  assert.equal(copy.users.users.get("r")!.privileges.get("db1"), Privilege.write);
  // Revoke on the copy: the table is its own.
  copy.apply({ op: "revoke_token", id: "t1" });
  assert.ok(s.users.tokens.has("t1"));
  const v1 = JSON.parse(new TextDecoder().decode(s.snapshot()));
  v1.version = 1;
  delete v1.users;
  delete v1.tokens;
  const old = new MetaState();
  old.restore(new TextEncoder().encode(JSON.stringify(v1)));
  assert.equal(old.users.users.size, 0);
  assert.ok(old.databases.has("db1"));
});
