/**
 * The error of a sandboxed script, and what of a sandbox's own error text may be shown.
 *
 * A script's source reaches its sandbox as a `data:` URL holding the whole source in base64,
 * and Deno's load errors quote that URL and a code frame of the offending line. Those errors
 * go back to whoever wrote the points, who must not read the script (or a file it came from)
 * through them: {@linkcode cleanSandboxMessage} keeps the first line, replaces every script
 * URL with `<script>`, and reduces a syntax error at load time to its line and column.
 * @module
 */

/** Why a sandboxed batch failed; `kind` is the failure class the schema room reports. */
export class SandboxError extends Error {
  constructor(
    message: string,
    readonly kind: "threw" | "timeout" | "memory" | "invalid" | "limit",
  ) {
    super(message);
    this.name = "SandboxError";
  }
}

/** A script's data: URL, with the `:line:column` Deno appends to locations. */
const SCRIPT_URL =
  /data:application\/(?:java|type)script[;,][A-Za-z0-9+/=%._~!$&'()*,;-]*(?::(\d+):(\d+))?/g;
/** Longest message kept from a sandbox. */
const MAX_MESSAGE = 500;

/**
 * What may be shown of a sandbox's error: its first line, no script URL, no code frame; at
 * load time a syntax error is only its position.
 *
 * @example
 * ```ts
 * cleanSandboxMessage("TypeError: SyntaxError: Expected ';'\n1 | secret\n at data:application/typescript;base64,c2VjcmV0:1:7", "load");
 * // "SyntaxError at line 1, column 7"
 * ```
 */
export function cleanSandboxMessage(message: string, phase: "load" | "run"): string {
  let line: string | undefined;
  let column: string | undefined;
  for (const m of message.matchAll(SCRIPT_URL)) {
    if (m[1] !== undefined) [line, column] = [m[1], m[2]];
  }
  const first = message.split("\n")[0].replace(SCRIPT_URL, "<script>").trim();
  if (phase === "load" && /SyntaxError/.test(first)) {
    // The parser's reason can quote tokens of the source ("got 'string literal (...)'").
    return `SyntaxError at line ${line ?? "?"}, column ${column ?? "?"}`;
  }
  const where = phase === "load" && line !== undefined ? ` (line ${line}, column ${column})` : "";
  const text = first.length > MAX_MESSAGE ? `${first.slice(0, MAX_MESSAGE)}...` : first;
  return text + where;
}
