import assert from "node:assert/strict";
import { authorizationHeader, readCredentials } from "./credentials.ts";

Deno.test("a password goes as HTTP Basic (UTF-8), a token as Bearer", () => {
  assert.equal(
    authorizationHeader({ kind: "password", user: "admin", password: "s3cret" }),
    `Basic ${btoa("admin:s3cret")}`,
  );
  // RFC 7617: user and password as UTF-8 before base64.
  assert.equal(
    authorizationHeader({ kind: "password", user: "zoë", password: "pässword:1" }),
    "Basic em/Dqzpww6Rzc3dvcmQ6MQ==",
  );
  assert.equal(authorizationHeader({ kind: "token", token: "abc.def" }), "Bearer abc.def");
});

Deno.test("stored credentials read back; anything else is none", () => {
  const c = { kind: "password", user: "u", password: "p" } as const;
  assert.deepEqual(readCredentials(JSON.stringify(c)), c);
  assert.deepEqual(readCredentials('{"kind":"token","token":"t"}'), { kind: "token", token: "t" });
  assert.equal(readCredentials(null), undefined);
  assert.equal(readCredentials('{"kind":"token"}'), undefined);
  assert.equal(readCredentials("[1"), undefined);
});
