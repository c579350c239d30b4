/**
 * Regenerates every generated module (the InfluxQL parser from grammar/, protobuf code from
 * proto/, the web console's bundle from src/console/). With `--check`, fails when anything
 * differs from what is committed, so CI catches a grammar, proto or console change whose output
 * was not regenerated.
 * @module
 */
const check = Deno.args.includes("--check");
const generators = [
  "scripts/gen_parser.ts",
  "scripts/gen_proto.ts",
  "scripts/gen_expression.ts",
  "scripts/build_console.ts",
];
let failed = false;
for (const script of generators) {
  try {
    await Deno.stat(script);
  } catch {
    continue;
  }
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run", script].concat(
      check ? ["--check"] : [],
    ),
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`${script} failed (exit ${code})`);
    failed = true;
  }
}
Deno.exit(failed ? 1 : 0);
