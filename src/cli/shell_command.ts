/**
 * `epochnexus shell`: an interactive InfluxQL shell, as `influx` is (see `shell.ts` for its
 * commands). On a terminal it edits lines itself (raw mode, `line_editor.ts`) with a history kept
 * in `~/.epochnexus_history`; from a pipe it runs each line it reads.
 * @module
 */
import {
  appendHistory,
  homeDirectory,
  httpFetch,
  readHistory,
  setRawInput,
  stdinIsTerminal,
  stdinText,
  writeStdout,
} from "../runtime/mod.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { LineEditor } from "./line_editor.ts";
import { authorization, outputFormat, runStatements } from "./query_client.ts";
import { CONNECTION_OPTIONS } from "./query_command.ts";
import { Shell } from "./shell.ts";

const HISTORY_LINES = 1000;

/** The `shell` command. */
export const shellCommand: Command = {
  name: "shell",
  summary: "An interactive InfluxQL shell with history, USE, precision and formats.",
  usage: "shell [options]",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "db", value: "NAME", help: "the database to start in" },
    {
      name: "precision",
      value: "FORMAT",
      help: "rfc3339, h, m, s, ms, u or ns",
      defaultText: "rfc3339",
    },
    { name: "format", value: "FORMAT", help: "column, json or csv", defaultText: "column" },
  ],
  details: `Type help in the shell for its commands. Lines are kept in ~/.epochnexus_history.`,
  async run({ flags, positional }, context) {
    if (positional.length > 0) {
      throw new UsageError(
        `shell takes no statements (got ${JSON.stringify(positional[0])}); use the query command`,
      );
    }
    const format = outputFormat(flags.format ?? "column");
    if (!format) throw new UsageError(`--format must be column, json or csv, not ${flags.format}`);
    const historyPath = homeDirectory() ? `${homeDirectory()}/.epochnexus_history` : undefined;
    const history = historyPath ? await readHistory(historyPath, HISTORY_LINES) : [];
    const shell = new Shell({
      url: (flags.url ?? context.defaultUrl).replace(/\/+$/, ""),
      precision: "rfc3339",
      format,
      pretty: false,
      token: flags.token,
    }, { run: runStatements, history: () => history });
    const interactive = stdinIsTerminal();
    const banner = await connect(shell.settings.url, flags.token);
    if (interactive || banner.error) await writeStdout(banner.text);
    if (banner.error) return 2;
    for (const [command, value] of [["use", flags.db], ["precision", flags.precision]]) {
      if (value === undefined) continue;
      const answer = await shell.handle(`${command} ${value}`);
      if (answer.output.startsWith("ERR")) {
        await writeStdout(answer.output);
        return 2;
      }
      if (interactive) await writeStdout(answer.output);
    }
    return interactive
      ? await interactiveLoop(shell, history, historyPath)
      : await pipedLoop(shell);
  },
};

/** Checks the server answers, and says which it is. */
async function connect(url: string, token: string | undefined) {
  try {
    const r = await httpFetch(`${url}/health`, {
      headers: token ? { authorization: authorization(token) } : {},
    });
    const body = await r.json().catch(() => ({}));
    const version = body.version ? `EpochNexus ${body.version}` : "a server";
    return { text: `Connected to ${url} (${version})\nType help for the commands.\n` };
  } catch (error) {
    return { text: `cannot reach ${url}: ${(error as Error).message}\n`, error: true };
  }
}

async function interactiveLoop(
  shell: Shell,
  history: string[],
  historyPath: string | undefined,
): Promise<number> {
  const editor = new LineEditor(shell.prompt, history);
  setRawInput(true);
  try {
    await writeStdout(editor.prompt);
    for await (const chunk of stdinText()) {
      let input = chunk;
      while (true) {
        const out = editor.feed(input);
        input = "";
        if (out.write) await writeStdout(out.write);
        if (out.eof) return 0;
        if (out.line === undefined) break;
        const line = out.line;
        if (historyPath && line.trim() !== "") await appendHistory(historyPath, line);
        const answer = await shell.handle(line);
        // Raw mode: a line feed alone would not return the cursor to the start.
        if (answer.output) await writeStdout(answer.output.replace(/\r?\n/g, "\r\n"));
        if (answer.exit) return 0;
        editor.setPrompt(shell.prompt);
        await writeStdout(editor.prompt + editor.text);
      }
    }
    return 0;
  } finally {
    setRawInput(false);
  }
}

/** Statements from a pipe: each line runs; the exit code is 1 when any failed. */
async function pipedLoop(shell: Shell): Promise<number> {
  let buffered = "";
  let failed = false;
  const runLine = async (line: string) => {
    const answer = await shell.handle(line);
    if (answer.output) await writeStdout(answer.output);
    if (/^ERR/m.test(answer.output)) failed = true;
    return answer.exit === true;
  };
  for await (const chunk of stdinText()) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (await runLine(line)) return failed ? 1 : 0;
    }
  }
  if (buffered.trim() !== "") await runLine(buffered);
  return failed ? 1 : 0;
}
