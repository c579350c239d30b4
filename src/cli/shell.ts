/**
 * The interactive shell's commands, as the `influx` shell has them: `use db[.rp]`, `precision`,
 * `format`, `pretty`, `settings`, `history`, `help`, `exit`; any other line is InfluxQL sent to
 * the server. {@linkcode Shell.handle} takes one line and returns what to print: the terminal
 * (line editing, the history file) is `shell_command.ts`'s.
 * @module
 */
import type { OutputFormat, QueryOutcome, QueryTarget } from "./query_client.ts";
import { formatColumns, parseAnswer, type WireResult } from "./result_table.ts";

/** The session's settings (what `settings` shows). */
export interface ShellSettings {
  url: string;
  db?: string;
  rp?: string;
  /** `rfc3339`, or an epoch unit (`ns u ms s m h`). */
  precision: string;
  format: OutputFormat;
  pretty: boolean;
  token?: string;
}

/** What the shell needs from outside. */
export interface ShellDeps {
  /** Runs statements (the `query` command's client). */
  run(statements: string, target: QueryTarget): Promise<QueryOutcome>;
  /** The lines entered so far, oldest first. */
  history(): readonly string[];
}

/** What to print for a line, and whether the session ends. */
export interface ShellAnswer {
  output: string;
  exit?: boolean;
}

const PRECISIONS = ["rfc3339", "h", "m", "s", "ms", "u", "ns"];

const HELP = `Usage:
  use <db>[.<rp>]       set the database (and retention policy) of the statements that follow
  precision <format>    times as rfc3339 (the default), or integers in h, m, s, ms, u or ns
  format <format>       answers as column (tables), json or csv
  pretty                toggle indented JSON (format json)
  settings              show the settings above
  history               show the lines entered (Up and Down recall them)
  help                  this help
  exit, quit, Ctrl-D    leave
Any other line is InfluxQL, sent as it is: SHOW DATABASES, SELECT * FROM cpu LIMIT 10 ...
`;

/** One shell session. */
export class Shell {
  readonly settings: ShellSettings;
  readonly #deps: ShellDeps;

  constructor(settings: ShellSettings, deps: ShellDeps) {
    this.settings = settings;
    this.#deps = deps;
  }

  /** The prompt: `> `, with the database when one is in use (`telegraf> `). */
  get prompt(): string {
    const s = this.settings;
    return s.db ? `${s.db}${s.rp ? `.${s.rp}` : ""}> ` : "> ";
  }

  /** Handles one entered line. */
  async handle(line: string): Promise<ShellAnswer> {
    const text = line.trim();
    if (text === "") return { output: "" };
    const [word, ...rest] = text.split(/\s+/);
    const arg = rest.join(" ");
    switch (word.toLowerCase()) {
      case "exit":
      case "quit":
        return { output: "", exit: true };
      case "help":
        return { output: HELP };
      case "use":
        return await this.#use(arg);
      case "precision":
        return this.#precision(arg);
      case "format":
        return this.#format(arg);
      case "pretty":
        this.settings.pretty = !this.settings.pretty;
        return { output: `Pretty print ${this.settings.pretty ? "enabled" : "disabled"}\n` };
      case "settings":
        return { output: this.#settings() };
      case "history":
        return {
          output: this.#deps.history().map((l, i) => `${String(i + 1).padStart(4)}  ${l}\n`)
            .join(""),
        };
      default: {
        const s = this.settings;
        const outcome = await this.#deps.run(text, {
          url: s.url,
          db: s.db,
          rp: s.rp,
          epoch: s.precision === "rfc3339" ? undefined : s.precision,
          format: s.format,
          pretty: s.pretty,
          token: s.token,
        });
        return { output: outcome.output + outcome.errors };
      }
    }
  }

  async #use(arg: string): Promise<ShellAnswer> {
    const target = parseUse(arg);
    if (!target) return { output: "ERR: use <db> or use <db>.<rp>, e.g. use telegraf\n" };
    // As influx does: refuse a database the server does not have.
    const answer = await this.#deps.run("SHOW DATABASES", {
      url: this.settings.url,
      format: "json",
      token: this.settings.token,
    });
    if (answer.code !== 0) return { output: answer.output + answer.errors };
    let names: string[] = [];
    try {
      const body = parseAnswer(answer.output) as { results?: WireResult[] };
      names = (body.results?.[0]?.series?.[0]?.values ?? []).map((r) => String(r[0]));
    } catch {
      return { output: `ERR: unexpected answer to SHOW DATABASES: ${answer.output}` };
    }
    if (!names.includes(target.db)) {
      return {
        output: `ERR: Database ${target.db} doesn't exist. Run SHOW DATABASES for a list of ` +
          "existing databases.\n",
      };
    }
    this.settings.db = target.db;
    this.settings.rp = target.rp;
    return {
      output: `Using database ${target.db}${target.rp ? `, retention policy ${target.rp}` : ""}\n`,
    };
  }

  #precision(arg: string): ShellAnswer {
    const p = arg.toLowerCase();
    if (!PRECISIONS.includes(p)) {
      return { output: `ERR: unknown precision "${arg}": use ${PRECISIONS.join(", ")}\n` };
    }
    this.settings.precision = p;
    return { output: "" };
  }

  #format(arg: string): ShellAnswer {
    const f = arg.toLowerCase();
    if (f !== "column" && f !== "json" && f !== "csv") {
      return { output: `ERR: unknown format "${arg}": use column, json or csv\n` };
    }
    this.settings.format = f;
    return { output: "" };
  }

  #settings(): string {
    const s = this.settings;
    const rows = [
      ["Url", s.url],
      ["Database", s.db ?? ""],
      ["RetentionPolicy", s.rp ?? ""],
      ["Precision", s.precision],
      ["Format", s.format],
      ["Pretty", String(s.pretty)],
      ["Authentication", s.token ? "token" : "none"],
    ];
    return formatColumns([{
      statement_id: 0,
      series: [{ columns: ["Setting", "Value"], values: rows }],
    }]);
  }
}

/** `db`, `db.rp`, `"my db"."rp"`: the database and retention policy named. */
export function parseUse(arg: string): { db: string; rp?: string } | undefined {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^."\s]+))\s*(\.|$)/y;
  let at = 0;
  while (at < arg.length) {
    re.lastIndex = at;
    const m = re.exec(arg);
    if (!m) return undefined;
    parts.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]);
    at = re.lastIndex;
    if (m[3] === "") break;
  }
  if (at < arg.length || parts.length === 0 || parts.length > 2) return undefined;
  return parts.length === 2 ? { db: parts[0], rp: parts[1] } : { db: parts[0] };
}
