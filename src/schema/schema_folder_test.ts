import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { memoryFileSystem } from "./_test_util.ts";
import { readSchemaFile, resolveSchemaFile, SchemaFileError } from "./schema_folder.ts";

/** A real folder: `schemas/` with files and symlinks, a secret beside it. */
async function tree() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "schema_folder_" }));
  const folder = `${root}/schemas`;
  await Deno.mkdir(`${folder}/scripts`, { recursive: true });
  await Deno.writeTextFile(`${folder}/scripts/ok.ts`, "export default (p) => p;");
  await Deno.writeTextFile(`${root}/secret.txt`, "SECRET");
  await Deno.mkdir(`${root}/elsewhere`);
  await Deno.writeTextFile(`${root}/elsewhere/x.ts`, "SECRET");
  await Deno.symlink(`${root}/secret.txt`, `${folder}/out.ts`);
  await Deno.symlink(`${root}/elsewhere`, `${folder}/outdir`);
  await Deno.symlink(`${folder}/scripts/ok.ts`, `${folder}/in.ts`);
  await Deno.symlink("scripts", `${folder}/insidedir`);
  await Deno.symlink(`${root}/nowhere`, `${folder}/dangling.ts`);
  // A folder reached through a symlink: its real path is what files are checked against.
  await Deno.symlink(folder, `${root}/linked-schemas`);
  return { root, folder };
}

Deno.test("schema folder: files resolve inside the folder only, on their real path", async () => {
  const { root, folder } = await tree();
  const refused: [string, RegExp][] = [
    [`${root}/secret.txt`, /must be a relative path inside the schema folder/],
    ["/etc/passwd", /must be a relative path inside the schema folder/],
    ["\\etc\\passwd", /must be a relative path inside the schema folder/],
    ["C:/Windows/win.ini", /must be a relative path inside the schema folder/],
    ["", /must be a relative path inside the schema folder/],
    ["../secret.txt", /must not contain "\.\."/],
    ["scripts/../../secret.txt", /must not contain "\.\."/],
    ["scripts\\..\\..\\secret.txt", /must not contain "\.\."/],
    ["out.ts", /resolves outside the schema folder/],
    ["outdir/x.ts", /resolves outside the schema folder/],
    ["dangling.ts", /does not exist in the schema folder/],
    ["nope.ts", /does not exist in the schema folder/],
    ["scripts", /is not a regular file/],
    [".", /is not a regular file/],
    ["a\0b", /must not contain a NUL byte/],
  ];
  for (const [file, reason] of refused) {
    const error = await resolveSchemaFile(denoFileSystem, folder, file).then(
      () => assert.fail(`${JSON.stringify(file)} was accepted`),
      (e) => e,
    );
    assert.ok(error instanceof SchemaFileError, `${file}: ${error}`);
    assert.match(error.message, reason, file);
    assert.equal(error.file, file);
    assert.doesNotMatch(error.message, /SECRET/);
  }
  for (
    const [file, real] of [
      ["scripts/ok.ts", "scripts/ok.ts"],
      ["./scripts//ok.ts", "scripts/ok.ts"],
      ["in.ts", "scripts/ok.ts"],
      ["insidedir/ok.ts", "scripts/ok.ts"],
    ]
  ) {
    assert.equal(await resolveSchemaFile(denoFileSystem, folder, file), `${folder}/${real}`);
    assert.equal(
      await resolveSchemaFile(denoFileSystem, `${root}/linked-schemas`, file),
      `${folder}/${real}`,
    );
  }
  assert.equal(
    await readSchemaFile(denoFileSystem, folder, "in.ts"),
    "export default (p) => p;",
  );
});

Deno.test("schema folder: without a folder, or with a missing one, every file is refused", async () => {
  await assert.rejects(
    resolveSchemaFile(denoFileSystem, undefined, "scripts/ok.ts"),
    /"scripts\/ok\.ts" cannot be read: no schema folder is configured \(EPOCHNEXUS_SCHEMA_DIR\)/,
  );
  await assert.rejects(
    resolveSchemaFile(denoFileSystem, "/nonexistent-schema-folder", "a.ts"),
    /the schema folder \/nonexistent-schema-folder does not exist/,
  );
  // The in-memory file system (unit tests) follows the same rules.
  const fs = memoryFileSystem({ "/cfg/a.csv": "k,v\n", "/secret": "SECRET" });
  assert.equal(await readSchemaFile(fs, "/cfg", "a.csv"), "k,v\n");
  await assert.rejects(readSchemaFile(fs, "/cfg", "../secret"), /must not contain "\.\."/);
  await assert.rejects(readSchemaFile(fs, "/cfg", "/secret"), /must be a relative path/);
});
