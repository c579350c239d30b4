/**
 * `deno task bundle [OUT]`: the whole `epochnexus` command (server, CLI, console, npm packages)
 * as one JavaScript file, `dist/epochnexus.js` by default. Its first line is a shebang that runs
 * it with `deno run`, the unstable features of deno.json and the permissions of the `start` and
 * `cli` tasks, so the file runs as `./epochnexus.js serve` wherever `deno` is on the PATH.
 *
 * Linux reads at most 255 bytes of a shebang line and drops the rest, so the shebang grants
 * every variable (`--allow-env`) and system value (`--allow-sys`) instead of the tasks' lists; the
 * exact flags, lists included, are printed for `deno run <flags> epochnexus.js serve` (and the
 * bundle needs no more than them).
 * @module
 */
import { envWords, startSettings } from "./start_task.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const out = Deno.args[0] ?? `${ROOT}dist/epochnexus.js`;

const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));

/** The flags the bundle runs with: the union of the start and cli tasks' grants and V8 flags. */
export function runFlags(denoJson: {
  unstable?: string[];
  tasks: Record<string, string>;
}, exactLists = true): string[] {
  const env = new Set<string>();
  const sys = new Set<string>();
  const other = new Set<string>();
  for (const task of ["start", "cli"]) {
    for (const word of denoJson.tasks[task].split(/\s+/)) {
      if (word.startsWith("--allow-env=")) {
        for (const name of word.slice("--allow-env=".length).split(",")) env.add(name);
      } else if (word.startsWith("--allow-sys=")) {
        for (const name of word.slice("--allow-sys=".length).split(",")) sys.add(name);
      } else if (word.startsWith("--allow-") || word.startsWith("--v8-flags=")) other.add(word);
    }
  }
  const list = (flag: string, names: Set<string>) =>
    exactLists ? `${flag}=${[...names].sort().join(",")}` : flag;
  return [
    ...(denoJson.unstable ?? []).map((feature) => `--unstable-${feature}`),
    ...[...other].sort(),
    ...(sys.size > 0 ? [list("--allow-sys", sys)] : []),
    list("--allow-env", env),
  ];
}

if (import.meta.main) {
  const dir = out.slice(0, out.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, `${ROOT}src/cli/main.ts`],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (bundled.code !== 0) Deno.exit(bundled.code);
  const code = await Deno.readTextFile(out);
  // `env -S` sets the start task's variables (the allocator's) before it runs deno.
  const run = (envList: boolean) =>
    [...envWords(startSettings(config).env), "deno", "run", ...runFlags(config, envList)].join(" ");
  const shebang = `#!/usr/bin/env -S ${run(false)}\n`;
  if (shebang.length > 255) throw new Error(`the shebang is over 255 bytes: ${shebang}`);
  await Deno.writeTextFile(out, shebang + code.replace(/^#!.*\n/, ""), { mode: 0o755 });
  await Deno.chmod(out, 0o755);
  console.error(
    `wrote ${out} (${(code.length / 1e6).toFixed(1)} MB); run it as ${out} serve, or with the ` +
      `tasks' exact permissions:\n  ${run(true)} ${out} serve`,
  );
}
