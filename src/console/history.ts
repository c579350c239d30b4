/**
 * The query history: the most recent queries first, each once (running an old query again moves
 * it to the top), at most {@linkcode HISTORY_LIMIT}. The page keeps it in localStorage; reading
 * tolerates anything stored there (another version's shape, a hand edit).
 * @module
 */

/** A query as it was run. */
export interface HistoryEntry {
  query: string;
  database: string;
  /** When it last ran, epoch milliseconds. */
  ranAtMs: number;
}

/** Entries kept. */
export const HISTORY_LIMIT = 100;

/** The history with `entry` on top. */
export function remember(history: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const query = entry.query.trim();
  if (query === "") return history;
  const rest = history.filter((h) => !(h.query === query && h.database === entry.database));
  return [{ ...entry, query }, ...rest].slice(0, HISTORY_LIMIT);
}

/** The history stored as `text` (JSON); an empty one when it is missing or not a history. */
export function readHistory(text: string | null): HistoryEntry[] {
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((h): h is HistoryEntry =>
      h !== null && typeof h === "object" && typeof h.query === "string" &&
      typeof h.database === "string" && typeof h.ranAtMs === "number"
    ).slice(0, HISTORY_LIMIT);
  } catch {
    return [];
  }
}
