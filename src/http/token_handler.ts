/**
 * API tokens (admin only, the gate checks):
 *
 * - `POST /api/v1/tokens` `{"description": "...", "admin": false, "databases": {"db": "READ"}}`
 *   -> 201 `{"id": "...", "token": "enx_..."}` (the secret is shown once; only its digest is kept);
 * - `GET /api/v1/tokens` -> `{"tokens": [{id, description, admin, databases, createdBy,
 *   createdMs}]}`;
 * - `DELETE /api/v1/tokens/<id>` -> 204 (revoked at once on every node).
 *
 * A token authenticates as `Authorization: Bearer <token>` on every route.
 * @module
 */
import { type Principal, privilegeText } from "../auth/mod.ts";
import { NotFoundError, ValidationError } from "../core/mod.ts";
import type { AppContext } from "./app.ts";
import { readBody } from "./body.ts";
import { json, nativeError } from "./responses.ts";

const TOKENS = "/api/v1/tokens";

/** True for the token routes. */
export function isTokenRoute(path: string): boolean {
  return path === TOKENS || path.startsWith(`${TOKENS}/`);
}

/** Answers the token routes. */
export async function handleTokens(
  ctx: AppContext,
  request: Request,
  url: URL,
  principal: Principal,
): Promise<Response> {
  const directory = ctx.auth?.directory;
  if (!directory) return nativeError(new NotFoundError("this server keeps no users or tokens"));
  try {
    const id = url.pathname.slice(TOKENS.length + 1);
    if (url.pathname === TOKENS && request.method === "GET") {
      const tokens = directory.listTokens().map((t) => ({
        ...t,
        databases: Object.fromEntries(
          Object.entries(t.databases).map(([db, bits]) => [db, privilegeText(bits)]),
        ),
      }));
      return json({ tokens });
    }
    if (url.pathname === TOKENS && request.method === "POST") {
      const spec = parseSpec(new TextDecoder().decode(await readBody(request, 64 * 1024)));
      const by = principal.kind === "open" ? "" : principal.name;
      const issued = await directory.createToken(spec, by);
      ctx.auth?.audit?.({ user: principal.name, action: "create_token", id: issued.id });
      return json(issued, 201);
    }
    if (id !== "" && !id.includes("/") && request.method === "DELETE") {
      await directory.revokeToken(id);
      ctx.auth?.audit?.({ user: principal.name, action: "revoke_token", id });
      return new Response(null, { status: 204 });
    }
    const allow = url.pathname === TOKENS ? "GET, POST" : "DELETE";
    const response = nativeError(
      new ValidationError(`method not allowed: use ${allow}`, { httpStatus: 405 }),
    );
    response.headers.set("allow", allow);
    return response;
  } catch (error) {
    return nativeError(error);
  }
}

function parseSpec(
  text: string,
): Parameters<NonNullable<AppContext["auth"]>["directory"]["createToken"]>[0] {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`token request is not JSON: ${(error as Error).message}`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new ValidationError('token request must be an object like {"databases": {"db": "READ"}}');
  }
  const { description, admin, databases } = o as Record<string, unknown>;
  if (description !== undefined && typeof description !== "string") {
    throw new ValidationError('"description" must be a string');
  }
  if (admin !== undefined && typeof admin !== "boolean") {
    throw new ValidationError('"admin" must be true or false');
  }
  if (
    databases !== undefined &&
    (typeof databases !== "object" || databases === null || Array.isArray(databases))
  ) {
    throw new ValidationError('"databases" must map database names to READ, WRITE or ALL');
  }
  return {
    description: description as string | undefined,
    admin: admin as boolean | undefined,
    databases: databases as Record<string, "READ" | "WRITE" | "ALL"> | undefined,
  };
}
