/**
 * An InfluxDB 1.x `/query` answer (asked with `epoch=ms`) as the console shows it: one table per
 * series, the statements' errors, and the numeric columns of series that have a time column as
 * chart lines on one shared, sorted time axis (missing points are null, as uPlot wants).
 * Integers beyond 2^53 keep their exact digits as strings for the table ({@linkcode parseAnswer}).
 * @module
 */

/** A cell: what JSON gave, with unsafe integers as their decimal text. */
export type Cell = string | number | boolean | null;

/** One series of one statement. */
export interface ResultTable {
  statementId: number;
  name: string;
  tags: Record<string, string>;
  columns: string[];
  rows: Cell[][];
}

/** A chart line. */
export interface ChartLine {
  label: string;
  values: (number | null)[];
}

/** What the chart draws: times in seconds (uPlot's unit) and one line per numeric column. */
export interface ChartData {
  times: number[];
  lines: ChartLine[];
}

/** The console's reading of an answer. */
export interface QueryResult {
  tables: ResultTable[];
  errors: { statementId: number; message: string }[];
  messages: string[];
  chart: ChartData | undefined;
  rowCount: number;
}

interface RawSeries {
  name?: string;
  tags?: Record<string, string>;
  columns?: string[];
  values?: Cell[][];
}

interface RawAnswer {
  error?: string;
  results?: {
    statement_id?: number;
    error?: string;
    series?: RawSeries[];
    messages?: { level?: string; text?: string }[];
  }[];
}

/**
 * JSON.parse that keeps integers beyond 2^53 as their exact decimal text (the reviver's source
 * text, which browsers give since 2023), so an int64 field shows every digit.
 */
export function parseAnswer(text: string): unknown {
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value) &&
        context?.source && /^-?\d+$/.test(context.source)
        ? context.source
        : value,
  );
}

/** Reads a parsed answer. @throws Error when it is not an InfluxDB answer. */
export function readResult(answer: unknown): QueryResult {
  const raw = answer as RawAnswer;
  if (raw === null || typeof raw !== "object") throw new Error("the answer is not a JSON object");
  const result: QueryResult = {
    tables: [],
    errors: [],
    messages: [],
    chart: undefined,
    rowCount: 0,
  };
  if (typeof raw.error === "string") result.errors.push({ statementId: 0, message: raw.error });
  for (const [i, statement] of (raw.results ?? []).entries()) {
    const statementId = statement.statement_id ?? i;
    if (statement.error) result.errors.push({ statementId, message: statement.error });
    for (const m of statement.messages ?? []) {
      if (m.text) result.messages.push(`${m.level ?? "info"}: ${m.text}`);
    }
    for (const s of statement.series ?? []) {
      const rows = s.values ?? [];
      result.tables.push({
        statementId,
        name: s.name ?? "",
        tags: s.tags ?? {},
        columns: s.columns ?? [],
        rows,
      });
      result.rowCount += rows.length;
    }
  }
  result.chart = chartOf(result.tables);
  return result;
}

/** A series' label: `name.column {tag=value, ...}` (name and tags only where they tell apart). */
export function lineLabel(table: ResultTable, column: string, multipleNames: boolean): string {
  const tags = Object.entries(table.tags).map(([k, v]) => `${k}=${v}`).join(", ");
  const base = multipleNames ? `${table.name}.${column}` : column;
  return tags ? `${base} {${tags}}` : base;
}

/**
 * The chart of the tables that have a time column and numbers; undefined when none has, or when
 * every series is a single row (an aggregate without `GROUP BY time()`: a table says it better).
 */
export function chartOf(tables: ResultTable[]): ChartData | undefined {
  const sources: { table: ResultTable; column: number }[] = [];
  for (const table of tables) {
    if (table.columns[0] !== "time") continue;
    for (let c = 1; c < table.columns.length; c++) {
      if (table.rows.some((r) => typeof r[c] === "number")) sources.push({ table, column: c });
    }
  }
  if (sources.every(({ table }) => table.rows.length < 2)) return undefined;
  const times = [...new Set(sources.flatMap(({ table }) => table.rows.map((r) => Number(r[0]))))]
    .sort((a, b) => a - b);
  const slot = new Map(times.map((t, i) => [t, i]));
  const names = new Set(sources.map((s) => s.table.name));
  const lines = sources.map(({ table, column }) => {
    const values: (number | null)[] = new Array(times.length).fill(null);
    for (const row of table.rows) {
      const v = row[column];
      const at = slot.get(Number(row[0]))!;
      if (typeof v === "number") values[at] = v;
      else if (typeof v === "string" && /^-?\d+$/.test(v)) values[at] = Number(v); // int64 text
    }
    return { label: lineLabel(table, table.columns[column], names.size > 1), values };
  });
  return { times: times.map((ms) => ms / 1000), lines };
}
