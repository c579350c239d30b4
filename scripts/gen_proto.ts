/**
 * Regenerates src/rpc/gen/ from every .proto file under proto/ with buf and protoc-gen-es
 * (buf.yaml and buf.gen.yaml at the repository root), after linting the protos.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-run scripts/gen_proto.ts          # regenerate
 *   deno run --allow-read --allow-write --allow-env --allow-run scripts/gen_proto.ts --check  # exit 1 if stale
 *
 * `--check` generates into a temporary directory and compares it file by file with the
 * committed src/rpc/gen/, so it never touches the working tree.
 * @module
 */

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const GEN_DIR = "src/rpc/gen";
const check = Deno.args.includes("--check");

function findBuf(): string {
  const candidates = [
    `${root}/node_modules/.bin/buf`,
    `${root}/node_modules/.deno/@bufbuild+buf-linux-x64@1.75.0/node_modules/@bufbuild/buf-linux-x64/bin/buf`,
  ];
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  console.error(
    `gen_proto: buf not found in node_modules (looked at ${
      candidates.join(", ")
    }); run \`deno install\``,
  );
  Deno.exit(1);
}

async function run(cmd: string, args: string[]): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, cwd: root }).output();
  if (code !== 0) {
    const text = new TextDecoder().decode(stderr) + new TextDecoder().decode(stdout);
    console.error(
      `gen_proto: ${cmd.split("/").pop()} ${args.join(" ")} failed (exit ${code}):\n${text}`,
    );
    Deno.exit(1);
  }
}

/** Relative paths of the files under `dir` (empty when it does not exist). */
function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return out;
    throw error;
  }
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...listFiles(`${dir}/${e.name}`, rel));
    else out.push(rel);
  }
  return out.sort();
}

const buf = findBuf();
await run(buf, ["lint"]);

if (!check) {
  await Deno.remove(`${root}/${GEN_DIR}`, { recursive: true }).catch(() => {});
  await run(buf, ["generate"]);
  console.log(
    `gen_proto: regenerated ${GEN_DIR}/ (${listFiles(`${root}/${GEN_DIR}`).length} files)`,
  );
  Deno.exit(0);
}

const temp = await Deno.makeTempDir({ prefix: "gen_proto_" });
try {
  await run(buf, ["generate", "--output", temp]);
  const fresh = `${temp}/${GEN_DIR}`;
  const committed = `${root}/${GEN_DIR}`;
  const want = listFiles(fresh);
  const have = listFiles(committed);
  const problems: string[] = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing ${GEN_DIR}/${f}`);
    else if (
      Deno.readTextFileSync(`${fresh}/${f}`) !== Deno.readTextFileSync(`${committed}/${f}`)
    ) {
      problems.push(`stale ${GEN_DIR}/${f}`);
    }
  }
  for (const f of have) {
    if (!want.includes(f)) problems.push(`extra ${GEN_DIR}/${f} (no .proto makes it)`);
  }
  if (problems.length > 0) {
    console.error(
      `gen_proto: generated code is out of date with proto/:\n  ${problems.join("\n  ")}\n` +
        "run: deno run --allow-read --allow-write --allow-env --allow-run scripts/gen_proto.ts",
    );
    Deno.exit(1);
  }
  console.log(`gen_proto: ${GEN_DIR}/ is up to date (${want.length} files)`);
} finally {
  await Deno.remove(temp, { recursive: true });
}
