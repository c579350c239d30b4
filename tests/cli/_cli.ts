/**
 * Running the `epochnexus` command as a user does: `deno task cli ...` from another folder (so
 * `INIT_CWD` and the task's permissions are the real ones), or `deno run` with exactly the cli
 * task's permissions, read from deno.json.
 * @module
 */

export const ROOT = new URL("../../", import.meta.url).pathname;

const TASK = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.cli as string;

/** The cli task's permission flags: a missing permission fails a test, not a user. */
export const CLI_PERMISSIONS: string[] = TASK.split(/\s+/).filter((w) => w.startsWith("--allow-"));

/** What a run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli} and {@linkcode runTask}. */
export interface CliOptions {
  /** The folder the user is in. */
  cwd?: string;
  env?: Record<string, string>;
  /** Text piped to stdin (none: stdin is closed). */
  stdin?: string;
  /** Killed after this long (a command that should end but does not fails the test). */
  timeoutMs?: number;
}

const BASE_ENV = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", RUST_BACKTRACE: "0" };

/**
 * The test's environment without `INIT_CWD`: npm and `deno task` keep one that is set (the test
 * runner's, started in the repository), and the child must see the folder it is started in.
 */
function environment(extra: Record<string, string> | undefined): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return { ...env, ...BASE_ENV, ...extra };
}

async function spawn(args: string[], options: CliOptions): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    clearEnv: true,
    env: environment(options.env),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
  }, options.timeoutMs ?? 60_000);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** `deno run <cli task permissions> src/cli/main.ts ...args`. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return spawn(["run", ...CLI_PERMISSIONS, `${ROOT}src/cli/main.ts`, ...args], options);
}

/** `deno task --cwd <repository> cli ...args`, from `options.cwd`: what the README tells users. */
export function runTask(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return spawn(["task", "--quiet", "--cwd", ROOT, "cli", ...args], options);
}
