import assert from "node:assert/strict";
import type { QueryTarget } from "./query_client.ts";
import { parseUse, Shell } from "./shell.ts";

Deno.test("parseUse: db, db.rp, quoted names", () => {
  assert.deepEqual(parseUse("telegraf"), { db: "telegraf" });
  assert.deepEqual(parseUse("telegraf.autogen"), { db: "telegraf", rp: "autogen" });
  assert.deepEqual(parseUse('"my db"."rp.1"'), { db: "my db", rp: "rp.1" });
  assert.equal(parseUse(""), undefined);
  assert.equal(parseUse("a.b.c"), undefined);
});

Deno.test("shell: use checks the database, precision and format reach the request, settings show", async () => {
  const asked: [string, QueryTarget][] = [];
  const shell = new Shell({
    url: "http://x",
    precision: "rfc3339",
    format: "column",
    pretty: false,
  }, {
    history: () => ["SHOW DATABASES"],
    run: (q, target) => {
      asked.push([q, target]);
      const output = q === "SHOW DATABASES"
        ? '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],' +
          '"values":[["telegraf"]]}]}]}'
        : "rows\n";
      return Promise.resolve({ output, errors: "", code: 0 });
    },
  });
  assert.equal(shell.prompt, "> ");
  assert.match((await shell.handle("use nope")).output, /^ERR: Database nope doesn't exist/);
  assert.equal(
    (await shell.handle("USE telegraf.autogen")).output,
    "Using database telegraf, retention policy autogen\n",
  );
  assert.equal(shell.prompt, "telegraf.autogen> ");
  assert.equal((await shell.handle("precision ms")).output, "");
  assert.equal((await shell.handle("format csv")).output, "");
  assert.match((await shell.handle("format xml")).output, /^ERR: unknown format "xml"/);
  assert.equal((await shell.handle("SELECT * FROM cpu")).output, "rows\n");
  assert.deepEqual(asked.at(-1), ["SELECT * FROM cpu", {
    url: "http://x",
    db: "telegraf",
    rp: "autogen",
    epoch: "ms",
    format: "csv",
    pretty: false,
    token: undefined,
  }]);
  assert.match((await shell.handle("settings")).output, /Precision\s+ms\nFormat\s+csv/);
  assert.equal((await shell.handle("history")).output, "   1  SHOW DATABASES\n");
  assert.deepEqual(await shell.handle("exit"), { output: "", exit: true });
});
