/**
 * Runs `epochnexus` commands as real processes with the permissions of deno.json's `cli` task,
 * as a user runs them.
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;

const CLI_PERMISSIONS: string[] = (() => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  return String(tasks.cli).split(/\s+/).filter((w) => w.startsWith("--allow-"));
})();

/** What a command did. */
export interface CliRun {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs `epochnexus ARGS...` and waits for it. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, `${ROOT}src/cli/main.ts`, ...args],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** Runs a command and fails with its output unless it exits with 0. */
export async function runCliOk(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const run = await runCli(args, env);
  if (run.code !== 0) {
    throw new Error(`epochnexus ${args.join(" ")} exited with ${run.code}:\n${run.stderr}`);
  }
  return run;
}
