/**
 * The command-line flags of the simulation runners (`deno task sim`, `deno task sim:cluster`):
 * `--name value`, and non-negative integers refused with exit code 2 and the tool's name.
 * @module
 */

/** Flag readers for the tool called `tool` (named in its error messages). */
export function simFlags(tool: string): {
  flag(name: string): string | undefined;
  intFlag(name: string, fallback: number): number;
} {
  const flag = (name: string): string | undefined => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const intFlag = (name: string, fallback: number): number => {
    const raw = flag(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) {
      console.error(`${tool}: --${name} needs a non-negative integer, got ${JSON.stringify(raw)}`);
      Deno.exit(2);
    }
    return n;
  };
  return { flag, intFlag };
}
