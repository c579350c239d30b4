/**
 * The runtime settings of deno.json's `start` task: the variables it sets before `deno`
 * (`GLIBC_TUNABLES=...`) and its `deno run` permission and V8 flags. The end-to-end harness,
 * the benchmarks and the bundle read them here, so every way the server is started runs as
 * `deno task start` does, and the memory a benchmark measures is the memory users get.
 * @module
 */

/** What `deno task start` sets: `env` before the command, `flags` of `deno run`. */
export interface StartSettings {
  env: Record<string, string>;
  flags: string[];
}

/** The start task's variables and its `--allow-*` and `--v8-flags=` words. */
export function startSettings(denoJson: { tasks: Record<string, string> }): StartSettings {
  const words = String(denoJson.tasks.start).trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  // `NAME=value deno run ...`: deno task's shell sets the variables for that command only.
  for (; i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]); i++) {
    const eq = words[i].indexOf("=");
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
  }
  if (words[i] !== "deno") {
    throw new Error(`deno.json: the start task should run deno, found "${words[i]}"`);
  }
  const flags = words.slice(i).filter((w) =>
    w.startsWith("--allow-") || w.startsWith("--v8-flags=")
  );
  return { env, flags };
}

/** The start task's variables as `NAME=value` words (for a shell line or `env -S`). */
export function envWords(env: Record<string, string>): string[] {
  return Object.entries(env).map(([name, value]) => `${name}=${value}`);
}
