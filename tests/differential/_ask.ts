/**
 * One /query request as the differential tests send it, and its raw answer.
 * @module
 */
import type { HttpRequest } from "./_queries.ts";

/** The database every differential query runs in. */
export const DB = "diff";

/** A raw answer: compared as it is, byte for byte. */
export interface Answer {
  status: number;
  type: string | null;
  body: string;
}

/** Sends `r` to `url`/query (with `db`) and reads the whole answer. */
export async function ask(url: string, r: HttpRequest): Promise<Answer> {
  const params = new URLSearchParams({ db: DB, ...r.params });
  const headers: Record<string, string> = {};
  if (r.accept) headers.accept = r.accept;
  let res: Response;
  if (r.multipart) {
    const form = new FormData();
    for (const [k, v] of params) form.set(k, v);
    res = await fetch(`${url}/query`, { method: "POST", body: form, headers });
  } else {
    res = await fetch(`${url}/query?${params}`, { method: r.method ?? "GET", headers });
  }
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}
