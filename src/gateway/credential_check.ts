/**
 * The gateway never answers a query without the cluster checking the caller: before it plans a
 * query itself it asks a node whether these credentials may read these databases, with a query
 * that needs exactly that (`SHOW RETENTION POLICIES ON <db>` per database: READ on each, after
 * authentication), sent with the caller's own credentials at `any` consistency (no read
 * barrier: a catalog answer). Before it splits a write itself it sends a node an empty write
 * on the same path and database (WRITE on it, after authentication; nothing is written). A pass
 * is kept a short while per credentials and databases; a refusal is not kept, and the caller's request then goes to a node, which answers it (its own
 * 401 or 403, byte for byte).
 * @module
 */
import type { Clock } from "../core/mod.ts";
import { quoteIdent } from "../query/mod.ts";

/** Options of {@linkcode CredentialCheck}. */
export interface CredentialCheckOptions {
  clock: Clock;
  /** How long a pass is kept (ms). */
  ttlMs: number;
  /** Sends the probe to a node (the gateway's node choice and failover). */
  send: (probe: (nodeBase: string) => Request) => Promise<Response>;
}

/**
 * How long a write pass is kept (ms). Longer than a read pass: every part of a split write
 * carries the caller's credentials to its node, which checks them again, so the pass only
 * decides who gets a node's own 401/403 at once and whose bad lines are reported; a probe on
 * every metadata refresh cost a node round trip on every other write.
 */
const WRITE_PASS_MS = 60_000;

/** Passes kept at most (a cache of callers, not a store: cleared when full). */
const MAX_PASSES = 10_000;

/** Checks of one gateway copy. */
export class CredentialCheck {
  readonly #options: CredentialCheckOptions;
  /** Digest of credentials and databases -> monotonic time the pass ends. */
  readonly #passes = new Map<string, number>();

  constructor(options: CredentialCheckOptions) {
    this.#options = options;
  }

  /** Whether the request's credentials may read `databases` (asked of a node when not known). */
  mayRead(request: Request, url: URL, databases: readonly string[]): Promise<boolean> {
    const query = databases.map((db) => `SHOW RETENTION POLICIES ON ${quoteIdent(db)}`).join("; ");
    const what = ["read", ...databases];
    return this.#check(request, url, what, this.#options.ttlMs, passed, (base, credentials) => {
      const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
      if (credentials.authorization !== "") headers.set("authorization", credentials.authorization);
      return new Request(credentials.url(`${base}/query`), {
        method: "POST",
        headers,
        body: new URLSearchParams({ q: query, consistency: "any" }),
      });
    });
  }

  /**
   * Whether the request's credentials may write to `database` through `path` (`/write` or
   * `/ingest`): a node is sent an empty write there, which needs exactly WRITE on the database
   * after authentication, and writes nothing.
   */
  mayWrite(request: Request, url: URL, path: string, database: string): Promise<boolean> {
    const what = ["write", path, database];
    return this.#check(request, url, what, WRITE_PASS_MS, written, (base, credentials) => {
      const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
      if (credentials.authorization !== "") headers.set("authorization", credentials.authorization);
      const probe = credentials.url(`${base}${path}`);
      probe.searchParams.set("db", database);
      return new Request(probe, { method: "POST", headers, body: "" });
    });
  }

  /** A pass kept from an earlier probe, else the node's answer to `probe` (a pass is kept). */
  async #check(
    request: Request,
    url: URL,
    what: readonly string[],
    keepMs: number,
    pass: (answer: Response) => Promise<boolean>,
    probe: (nodeBase: string, credentials: ProbeCredentials) => Request,
  ): Promise<boolean> {
    const authorization = request.headers.get("authorization") ?? "";
    const user = url.searchParams.get("u") ?? "";
    const password = url.searchParams.get("p") ?? "";
    const key = await digest(JSON.stringify([authorization, user, password, what]));
    const now = this.#options.clock.monotonicMs();
    const until = this.#passes.get(key);
    if (until !== undefined && until > now) return true;
    this.#passes.delete(key);
    const credentials: ProbeCredentials = {
      authorization,
      url: (target) => {
        const at = new URL(target);
        if (user !== "") [at.searchParams.set("u", user), at.searchParams.set("p", password)];
        return at;
      },
    };
    let answer: Response;
    try {
      answer = await this.#options.send((base) => probe(base, credentials));
    } catch {
      return false; // no node answered: the request is sent on and fails there, clearly
    }
    if (!(await pass(answer))) return false;
    if (this.#passes.size >= MAX_PASSES) this.#passes.clear();
    this.#passes.set(key, this.#options.clock.monotonicMs() + keepMs);
    return true;
  }
}

/** The caller's credentials as a probe carries them. */
interface ProbeCredentials {
  authorization: string;
  /** `target` with the caller's `u`/`p` parameters, if any. */
  url: (target: string) => URL;
}

/** A write that wrote nothing and was let in: 204 (/write) or 200 (/ingest). */
async function written(answer: Response): Promise<boolean> {
  await answer.body?.cancel();
  return answer.status === 204 || answer.status === 200;
}

/** A 200 whose every statement answered without an error. */
async function passed(answer: Response): Promise<boolean> {
  if (answer.status !== 200) {
    await answer.body?.cancel();
    return false;
  }
  try {
    const body = await answer.json() as { results?: { error?: unknown }[]; error?: unknown };
    return body.error === undefined && Array.isArray(body.results) &&
      body.results.every((r) => r.error === undefined);
  } catch {
    return false;
  }
}

async function digest(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
