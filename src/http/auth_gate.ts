/**
 * Who a request is, and whether its route lets it in, as InfluxDB 1.x answers (`auth-enabled =
 * true`), texts and statuses taken from influxd 1.6.7:
 *
 * - no credentials: 401 `unable to parse authentication credentials`, `WWW-Authenticate: Basic`;
 * - wrong user or password (or an unknown token): 401 `authorization failed`;
 * - a route the caller lacks the privilege for: 403;
 * - no admin user yet (the bootstrap): every route but /ping and /health answers 403 `create
 *   admin user first or disable authentication`, except a /query made only of `CREATE USER ...
 *   WITH ALL PRIVILEGES`.
 *
 * Credentials: `u`/`p` parameters, HTTP Basic, `Authorization: Token user:password` (InfluxDB
 * 1.8) and `Authorization: Bearer <API token>`. Failed logins and denials are logged with the
 * user name and path, never a password or token.
 * @module
 */
import {
  type AuthDirectory,
  constantTimeEqual,
  holds,
  OPEN_PRINCIPAL,
  type Principal,
} from "../auth/mod.ts";
import { Privilege } from "../cluster/mod.ts";
import { CLUSTER_SECRET_HEADER } from "../rpc/mod.ts";
import {
  type Clock,
  type Logger,
  LogLimiter,
  PermissionDeniedError,
  type PlainRequest,
  UnauthenticatedError,
} from "../core/mod.ts";
import type { AppContext } from "./app.ts";
import type { Route } from "./routes.ts";
import { influxError, nativeError } from "./responses.ts";

/** Authentication settings of an app. */
export interface AuthContext {
  /** `auth_enabled`: off, every request acts as an admin (InfluxDB's default). */
  enabled: boolean;
  directory: AuthDirectory;
  /** Records admin and destructive statements (`audit_log`); none when absent. */
  audit?: (entry: Record<string, unknown>) => void;
  /** A joining node that presents it is admitted without user credentials. */
  clusterSecret?: string;
}

/**
 * The log of requests refused for missing or wrong credentials: anyone who reaches the port can
 * send them, so each kind is logged at once, then summed up at most once per 10 s.
 */
export interface RefusalLogs {
  noCredentials: LogLimiter;
  failed: LogLimiter;
}

/** The {@linkcode RefusalLogs} of an app. */
export function refusalLogs(
  options: { logger: Logger; clock: Clock; later?: (fn: () => void, ms: number) => void },
): RefusalLogs {
  return {
    noCredentials: new LogLimiter(
      "request without credentials refused",
      (n, seconds) => `${n} more requests without credentials refused in the last ${seconds} s`,
      options,
    ),
    failed: new LogLimiter(
      "authentication failed",
      (n, seconds) => `${n} more authentications failed in the last ${seconds} s`,
      options,
    ),
  };
}

/**
 * Writes the summaries still due (at shutdown: their timers do not keep the process alive, so a
 * flood in the last interval would never be logged).
 */
export function flushRefusalLogs(logs: RefusalLogs): void {
  logs.noCredentials.flush();
  logs.failed.flush();
}

/** InfluxDB's answer while no admin exists. */
export const BOOTSTRAP_MESSAGE = "create admin user first or disable authentication";

/** Credentials found in a request. */
export type Credentials =
  | { kind: "password"; user: string; password: string }
  | { kind: "token"; token: string }
  | { kind: "none" }
  | { kind: "malformed" };

/** What the gate reads of a request: its headers (a fetch `Request` or a {@linkcode PlainRequest}). */
export type RequestHeaders = Pick<PlainRequest, "headers">;

/** Reads the credentials of a request (parameters first, as InfluxDB). */
export function credentialsOf(request: RequestHeaders, url: URL): Credentials {
  const u = url.searchParams.get("u");
  if (u !== null && u !== "") {
    return { kind: "password", user: u, password: url.searchParams.get("p") ?? "" };
  }
  const header = request.headers.get("authorization");
  if (!header) return { kind: "none" };
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? "" : header.slice(space + 1).trim();
  if (scheme === "basic") {
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
    } catch {
      return { kind: "malformed" };
    }
    const colon = decoded.indexOf(":");
    if (colon <= 0) return { kind: "malformed" };
    return { kind: "password", user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (scheme === "token") {
    const colon = value.indexOf(":");
    if (colon <= 0) return { kind: "malformed" };
    return { kind: "password", user: value.slice(0, colon), password: value.slice(colon + 1) };
  }
  if (scheme === "bearer" && value !== "") return { kind: "token", token: value };
  return { kind: "malformed" };
}

/** The outcome of the gate: the principal to act as, or the answer to send. */
export type GateResult = { principal: Principal } | { response: Response };

/**
 * Authenticates a request and checks its route's access. Statement-level checks of /query and
 * the per-call checks of RPC come later, in their handlers, with the principal returned here.
 */
export async function passGate(
  ctx: AppContext,
  route: Route,
  request: RequestHeaders,
  where: { url: URL; remoteAddr?: string },
): Promise<GateResult> {
  const { auth, logger } = ctx;
  const { url, remoteAddr } = where;
  const from = remoteAddr === undefined ? {} : { remote: remoteAddr };
  if (!auth?.enabled || route.access.kind === "public") return { principal: OPEN_PRINCIPAL };
  const deny = (error: Error) => ({ response: errorResponse(route, error) });
  if (!auth.directory.hasAdmin()) {
    // The bootstrap: /query decides (it admits only CREATE USER ... WITH ALL PRIVILEGES).
    if (route.access.kind === "query") return { principal: BOOTSTRAP_PRINCIPAL };
    if (route.access.kind === "join" && presentsClusterSecret(auth, request)) {
      return { principal: OPEN_PRINCIPAL };
    }
    return deny(new PermissionDeniedError(BOOTSTRAP_MESSAGE));
  }
  if (route.access.kind === "join" && presentsClusterSecret(auth, request)) {
    return { principal: OPEN_PRINCIPAL };
  }
  const credentials = credentialsOf(request, url);
  if (credentials.kind === "none" || credentials.kind === "malformed") {
    ctx.refusalLogs.noCredentials.warn({ path: url.pathname, ...from });
    return deny(new UnauthenticatedError("unable to parse authentication credentials"));
  }
  const principal = credentials.kind === "password"
    ? await auth.directory.authenticatePassword(credentials.user, credentials.password)
    : await auth.directory.authenticateToken(credentials.token);
  if (!principal) {
    ctx.refusalLogs.failed.warn({
      path: url.pathname,
      ...from,
      user: credentials.kind === "password" ? credentials.user : "(bearer token)",
    });
    return deny(new UnauthenticatedError("authorization failed"));
  }
  const refusal = routeRefusal(ctx, route, principal, url);
  if (refusal) {
    logger.warn("request denied", { path: url.pathname, user: principal.name, reason: refusal });
    return deny(new PermissionDeniedError(refusal));
  }
  return { principal };
}

/** Why the principal may not call the route (undefined: it may). */
function routeRefusal(
  ctx: AppContext,
  route: Route,
  principal: Principal,
  url: URL,
): string | undefined {
  const access = route.access;
  switch (access.kind) {
    case "public":
    case "user":
    case "query":
    case "rpc":
      return undefined;
    case "admin":
    case "join":
      return principal.isAdmin()
        ? undefined
        : `"${principal.name}" user is not authorized to use ${url.pathname}: requires admin privilege`;
    case "read": {
      const db = access.database(ctx, url);
      if (db === "" || holds(principal, db, Privilege.read)) return undefined;
      if (!ctx.engine.hasDatabase(db)) return undefined; // the handler answers 404, as influxd
      return `"${principal.name}" user is not authorized to read from database "${db}"`;
    }
    case "write": {
      const db = access.database(ctx, url);
      if (db === "" || holds(principal, db, Privilege.write)) return undefined;
      // influxd answers 404 for a database that does not exist, whoever asks; the handler does
      // too (the default database, which a handler would create, stays checked).
      if (db !== ctx.defaultDatabase && !ctx.engine.hasDatabase(db)) return undefined;
      return `"${principal.name}" user is not authorized to write to database "${db}"`;
    }
  }
}

/**
 * The principal of a /query during the bootstrap: it may run only `CREATE USER ... WITH ALL
 * PRIVILEGES` (the query handler checks it by kind).
 */
export const BOOTSTRAP_PRINCIPAL: Principal = {
  kind: "user",
  name: "(bootstrap)",
  isAdmin: () => false,
  privilege: () => Privilege.none,
};

function presentsClusterSecret(auth: AuthContext, request: RequestHeaders): boolean {
  const secret = auth.clusterSecret;
  const presented = request.headers.get(CLUSTER_SECRET_HEADER);
  if (!secret || presented === null) return false;
  const enc = new TextEncoder();
  return constantTimeEqual(enc.encode(presented), enc.encode(secret));
}

/** A 401 or 403 in the route's error shape; a 401 names the Basic scheme, as InfluxDB. */
export function errorResponse(route: { influx: boolean }, error: Error): Response {
  const response = route.influx ? influxError(error) : nativeError(error);
  if (response.status === 401) response.headers.set("www-authenticate", 'Basic realm="InfluxDB"');
  if (response.status === 405) response.headers.set("allow", "POST");
  return response;
}
