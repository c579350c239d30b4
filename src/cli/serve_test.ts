import assert from "node:assert/strict";
import { openApiWarning } from "./serve.ts";

Deno.test("a node without authentication warns when it listens beyond loopback", () => {
  assert.match(
    openApiWarning({ auth_enabled: false, bind_address: "0.0.0.0:8080" })!,
    /authentication is off and the HTTP API listens beyond loopback/,
  );
  assert.ok(openApiWarning({ auth_enabled: false, bind_address: "[::]:8080" }));
  assert.ok(openApiWarning({ auth_enabled: false, bind_address: "10.0.0.5:8080" }));
  assert.equal(openApiWarning({ auth_enabled: false, bind_address: "127.0.0.1:8080" }), undefined);
  assert.equal(openApiWarning({ auth_enabled: false, bind_address: "[::1]:8080" }), undefined);
  assert.equal(openApiWarning({ auth_enabled: true, bind_address: "0.0.0.0:8080" }), undefined);
});
