/**
 * What the operating system says about script sandboxes, independently of the host's own
 * accounting: the sandbox children of a process (zombies included, so a child that was killed
 * but never reaped still counts) and the thread count of a process (Worker sandboxes).
 * @module
 */

/** The marker every sandbox child carries on its command line (its heap limit flag). */
const SANDBOX_ARG = "--max-old-space-size=";

async function ps(args: string[]): Promise<string> {
  const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
  // ps exits 1 when it selects nothing.
  return new TextDecoder().decode(out.stdout);
}

/**
 * The heap limit of the sandboxes of in-process test nodes (`_setup.ts`), used by no other
 * test: `deno test --parallel` runs every test file in this one process, so the children of
 * `Deno.pid` include other files' sandboxes and servers (a zombie among them looks like any
 * other); this tells this file's apart.
 */
export const TEST_SANDBOX_MEMORY_MB = 61;

/** Children of this process seen carrying the test sandboxes' flag. */
const seenTestSandboxes = new Set<number>();

/**
 * The pids of the script sandbox children of `parent`, zombies included. Of this process's
 * children, only the sandboxes of `_setup.ts` nodes: those carrying their heap limit, and the
 * zombies of those seen carrying it.
 */
export async function sandboxChildren(parent: number = Deno.pid): Promise<number[]> {
  const text = await ps(["-o", "pid=,args=", "--ppid", String(parent)]);
  const own = parent === Deno.pid;
  const marker = own ? `${SANDBOX_ARG}${TEST_SANDBOX_MEMORY_MB} ` : SANDBOX_ARG;
  const pids: number[] = [];
  for (const line of text.split("\n")) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    if (line.includes(marker)) {
      if (own) seenTestSandboxes.add(pid);
      pids.push(pid);
    } else if (line.includes("<defunct>") && (!own || seenTestSandboxes.has(pid))) {
      pids.push(pid);
    }
  }
  return pids;
}

/** Which of `pids` still exist (zombies included). */
export async function stillThere(pids: readonly number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  const text = await ps(["-o", "pid=", "-p", pids.join(",")]);
  return text.split("\n").map((s) => s.trim()).filter((s) => s !== "").map(Number);
}

/** The number of threads of a process. */
export async function threadCount(pid: number = Deno.pid): Promise<number> {
  return Number((await ps(["-o", "nlwp=", "-p", String(pid)])).trim());
}

/**
 * Waits until `check` returns true, polling every 25 ms for at most `timeoutMs`; returns the
 * last value `read` gave, for the assertion's message.
 */
export async function eventually<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    value = await read();
  }
  return value;
}
