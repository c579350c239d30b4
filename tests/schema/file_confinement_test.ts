/**
 * Files named by schemas (`script.file`, `lookup.file`) through the real HTTP API: they resolve
 * inside the schema folder only (no absolute path, no `..`, no symlink out, checked on the real
 * path), a node without a schema folder refuses them, and no answer (PUT, write, dry run,
 * reload) ever carries a file's contents. The "secret" files sit beside the schema folder.
 */
import assert from "node:assert/strict";
import { setupNode } from "./_setup.ts";

const SECRET_CSV = "SECRETHEADER,zz\nsecretrow,1\n";
const SECRET_TS = "SECRET_TOKEN_ABC123 root:x:0:0 is not a script\n";
/** Everything that would betray the secret files: their words, and their base64 (data URLs). */
const LEAKS = ["SECRET", "secretrow", "root:x", btoa(SECRET_TS).slice(0, 16)];

function assertNoLeak(text: string, what: string): void {
  for (const leak of LEAKS) {
    assert.ok(!text.includes(leak), `${what} leaks ${JSON.stringify(leak)}: ${text}`);
  }
}

/** A node whose config folder has good files, symlinks out of it and a secret folder beside it. */
async function nodeWithSecrets() {
  const outside = await Deno.makeTempDir({ prefix: "schema_secret_" });
  await Deno.writeTextFile(`${outside}/secret.csv`, SECRET_CSV);
  await Deno.writeTextFile(`${outside}/secret.ts`, SECRET_TS);
  const folder = `${outside}/schemas`;
  const node = await setupNode({
    "scripts/ok.ts": "export default (ps: unknown[]) => ps;",
    "lookups/hosts.csv": "host,rack\na,r1\n",
  }, { folder, host: "process" });
  await Deno.symlink(`${outside}/secret.ts`, `${folder}/scripts/link.ts`);
  await Deno.symlink(`${outside}/secret.csv`, `${folder}/lookups/link.csv`);
  await Deno.symlink(outside, `${folder}/up`);
  // A symlink that stays inside the folder is fine.
  await Deno.symlink(`${folder}/scripts/ok.ts`, `${folder}/current.ts`);
  return { node, outside, folder };
}

function put(node: Awaited<ReturnType<typeof setupNode>>, measurement: string, body: unknown) {
  return node.call(`/api/v1/schemas/${measurement}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("schema files: script and lookup files outside the schema folder are refused through the API, and nothing leaks", async () => {
  const { node, outside } = await nodeWithSecrets();
  try {
    const escapes = (dir: string, ext: string): [string, RegExp][] => [
      [`${outside}/secret${ext}`, /must be a relative path inside the schema folder/],
      ["/etc/passwd", /must be a relative path inside the schema folder/],
      [`../secret${ext}`, /must not contain "\.\."/],
      [`${dir}/../../secret${ext}`, /must not contain "\.\."/],
      [`up/secret${ext}`, /resolves outside the schema folder/],
      [`${dir}/link${ext}`, /resolves outside the schema folder/],
      [`nope${ext}`, /does not exist in the schema folder/],
      [dir, /is not a regular file/],
    ];
    const steps = {
      script: (file: string) => ({ script: { file } }),
      lookup: (file: string) => ({ lookup: { tag: "host", file, key_column: "nope" } }),
    };
    for (
      const [kind, dir, ext] of [["script", "scripts", ".ts"], [
        "lookup",
        "lookups",
        ".csv",
      ]] as const
    ) {
      for (const [file, reason] of escapes(dir, ext)) {
        const what = `PUT ${kind}.file ${file}`;
        const r = await put(node, "m", { pipeline: [steps[kind](file)] });
        // Had it been accepted, the first write (which loads a script) must not leak it either.
        const w = await node.write("m,host=a value=1 1");
        assertNoLeak(r.text, what);
        assertNoLeak(w.text, `write after ${what}`);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.match(r.json.error.message, /invalid schema for m: /, what);
        assert.match(r.json.error.message, new RegExp(`pipeline\\.0\\.${kind}\\.file: `), what);
        assert.match(r.json.error.message, reason, `${what}: ${r.json.error.message}`);
      }
    }
    assert.equal((await node.call("/api/v1/schemas/m")).status, 404, "no bad schema took effect");
    // Files inside the folder (directly or through a symlink that stays inside) still work.
    const ok = await put(node, "good", {
      pipeline: [
        { lookup: { tag: "host", file: "./lookups/hosts.csv", key_column: "host" } },
        { script: { file: "current.ts" } },
      ],
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await node.write("good,host=a value=1 1")).status, 204);
    assert.deepEqual((await node.query("SELECT value FROM good GROUP BY rack"))[0].tags, {
      rack: "r1",
    });
    // The dry run compiles a proposed schema: the same rules.
    const dry = await node.call("/api/v1/pipelines/good/test", {
      method: "POST",
      body: JSON.stringify({
        points: "good,host=a value=1 1",
        schema: { pipeline: [{ script: { file: "up/secret.ts" } }] },
      }),
    });
    assertNoLeak(dry.text, "dry run");
    assert.equal(dry.status, 400, dry.text);
    assert.match(dry.json.error.message, /pipeline\.0\.script\.file: .*outside the schema folder/);
  } finally {
    await node.close();
  }
});

Deno.test("schema files: a reload (the folder's own files, symlinked schema files) follows the same rules", async () => {
  const { node, outside, folder } = await nodeWithSecrets();
  try {
    await Deno.writeTextFile(
      `${folder}/bad.yaml`,
      "measurements:\n  m:\n    pipeline:\n      - lookup: { tag: host, file: up/secret.csv, key_column: nope }\n",
    );
    const r = await node.call("/api/v1/schemas/reload", { method: "POST" });
    assertNoLeak(r.text, "reload");
    assert.equal(r.status, 400, r.text);
    assert.match(
      r.json.error.message,
      /bad\.yaml: measurements\.m\.pipeline\.0\.lookup\.file: .*resolves outside the schema folder/,
    );
    await Deno.remove(`${folder}/bad.yaml`);
    // A schema file that is a symlink out of the folder is not read either.
    await Deno.writeTextFile(`${outside}/evil.yaml`, "measurements:\n  SECRET: {}\n");
    await Deno.symlink(`${outside}/evil.yaml`, `${folder}/evil.yaml`);
    const s = await node.call("/api/v1/schemas/reload", { method: "POST" });
    assertNoLeak(s.text, "reload of a symlinked schema file");
    assert.equal(s.status, 400, s.text);
    assert.match(s.json.error.message, /evil\.yaml: resolves outside the schema folder/);
    await Deno.remove(`${folder}/evil.yaml`);
    assert.equal((await node.call("/api/v1/schemas/reload", { method: "POST" })).status, 200);
  } finally {
    await node.close();
  }
});

Deno.test("schema files: no error echoes a file's contents (a lookup's header row, a script's code)", async () => {
  const node = await setupNode({
    "lookups/hosts.csv": "SECRETHEADER,zz\nsecretrow,1\n",
    "lookups/bad.yaml": "SECRET: [unclosed\n",
    "scripts/broken.ts": SECRET_TS,
  }, { host: "process" });
  try {
    const column = await put(node, "m", {
      pipeline: [{ lookup: { tag: "host", file: "lookups/hosts.csv", key_column: "nope" } }],
    });
    assertNoLeak(column.text, "missing lookup column");
    assert.equal(column.status, 400);
    assert.match(column.json.error.message, /no column "nope" in the header row/);
    const yaml = await put(node, "m", {
      pipeline: [{ lookup: { tag: "host", file: "lookups/bad.yaml" } }],
    });
    assertNoLeak(yaml.text, "bad lookup YAML");
    assert.equal(yaml.status, 400);
    assert.match(yaml.json.error.message, /lookups\/bad\.yaml:\d+:\d+: invalid YAML/);
    // A script that does not parse is reported by line and column, its code never shown.
    assert.equal(
      (await put(node, "s", { pipeline: [{ script: { file: "scripts/broken.ts" } }] }))
        .status,
      200,
    );
    const w = await node.write("s value=1 1");
    assertNoLeak(w.text, "broken script");
    assert.equal(w.status, 400);
    assert.match(
      w.json.error,
      /script s\/script#1 cannot be loaded: SyntaxError at line 1, column \d+/,
    );
  } finally {
    await node.close();
  }
});

Deno.test("schema files: a node without a schema folder refuses every file reference, clearly", async () => {
  const node = await setupNode({}, { folder: null });
  try {
    for (const step of [{ script: { file: "x.ts" } }, { lookup: { tag: "h", file: "x.csv" } }]) {
      const r = await put(node, "m", { pipeline: [step] });
      assert.equal(r.status, 400, r.text);
      assert.match(
        r.json.error.message,
        /pipeline\.0\.(script|lookup)\.file: "x\.(ts|csv)" cannot be read: no schema folder is configured \(EPOCHNEXUS_SCHEMA_DIR\)/,
      );
    }
    // Inline scripts and tables need no folder.
    const inline = await put(node, "m", {
      pipeline: [{ lookup: { tag: "h", table: { a: { rack: "r1" } } } }],
    });
    assert.equal(inline.status, 200, inline.text);
  } finally {
    await node.close();
  }
});
