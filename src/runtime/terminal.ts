/**
 * The terminal around an interactive command (the shell): raw input, the user's home folder,
 * and the history file.
 * @module
 */

/** True when standard input is a terminal (not a pipe or a file). */
export function stdinIsTerminal(): boolean {
  return Deno.stdin.isTerminal();
}

/** Raw mode: keys arrive one by one, unechoed, Ctrl-C as a byte (the shell edits lines itself). */
export function setRawInput(raw: boolean): void {
  Deno.stdin.setRaw(raw);
}

/** Standard input as text, chunk by chunk. */
export async function* stdinText(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/** `$HOME`, when granted and set. */
export function homeDirectory(): string | undefined {
  try {
    return Deno.env.get("HOME") || undefined;
  } catch {
    return undefined;
  }
}

/** The last `max` lines of a history file (none when it is missing or unreadable). */
export async function readHistory(path: string, max: number): Promise<string[]> {
  try {
    const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
    return lines.slice(-max);
  } catch {
    return [];
  }
}

/** Appends a line to a history file (created with mode 0600); a failure is ignored. */
export async function appendHistory(path: string, line: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, line.replace(/\n/g, " ") + "\n", {
      append: true,
      create: true,
      mode: 0o600,
    });
  } catch { /* no history is no reason to stop the shell */ }
}
