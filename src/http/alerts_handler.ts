/**
 * Alerts:
 *
 * - `GET /api/v1/alerts` (any authenticated caller) -> every alert rule in force (rules files and
 *   API) with its state (`inactive`, `pending`, `firing`), health, last evaluation, last error,
 *   the node that evaluated it, and its alerts (labels, annotations, state, since when, value);
 * - `GET /api/v1/alert-rules` (admin) -> the rules made through the API;
 * - `PUT /api/v1/alert-rules/<name>` (admin), a rule as JSON or YAML (`name` may be left out)
 *   -> 200 with the rule; 400 naming the key of a mistake; 409 for a rule a rules file defines;
 * - `DELETE /api/v1/alert-rules/<name>` (admin) -> 204; its firing alerts resolve.
 * @module
 */
import { parse as parseYaml } from "yaml";
import { NotFoundError, ValidationError } from "../core/mod.ts";
import type { AppContext } from "./app.ts";
import { readBody } from "./body.ts";
import { json, nativeError } from "./responses.ts";
import { methodNotAllowed } from "./routes.ts";

const ALERTS = "/api/v1/alerts";
const RULES = "/api/v1/alert-rules";

/** True for `GET /api/v1/alerts`. */
export function isAlertsRoute(path: string): boolean {
  return path === ALERTS;
}

/** True for the alert rule routes. */
export function isAlertRulesRoute(path: string): boolean {
  return path === RULES || path.startsWith(`${RULES}/`);
}

/** Answers `GET /api/v1/alerts`. */
export function handleAlerts(ctx: AppContext, request: Request): Promise<Response> {
  if (request.method !== "GET") return Promise.resolve(methodNotAllowed("GET"));
  if (!ctx.jobs) return Promise.resolve(nativeError(new NotFoundError("this node runs no jobs")));
  return Promise.resolve(json(ctx.jobs.alerts()));
}

/** Answers the alert rule routes. */
export async function handleAlertRules(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  const jobs = ctx.jobs;
  if (!jobs) return nativeError(new NotFoundError("this node runs no jobs"));
  try {
    if (url.pathname === RULES) {
      if (request.method !== "GET") return methodNotAllowed("GET");
      return json({ rules: jobs.apiAlertRules() });
    }
    const name = decodeURIComponent(url.pathname.slice(RULES.length + 1));
    if (request.method === "DELETE") {
      await jobs.deleteAlertRule(name);
      return new Response(null, { status: 204 });
    }
    if (request.method !== "PUT") return methodNotAllowed("PUT, DELETE");
    const text = new TextDecoder().decode(await readBody(request, 1024 * 1024));
    let raw: unknown;
    try {
      raw = parseYaml(text); // JSON is YAML too
    } catch (error) {
      throw new ValidationError(`the rule is neither JSON nor YAML: ${(error as Error).message}`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ValidationError("the rule must be an object");
    }
    const body = raw as Record<string, unknown>;
    if (body.name !== undefined && body.name !== name) {
      throw new ValidationError(`the rule's name ${JSON.stringify(body.name)} is not ${name}`);
    }
    return json(await jobs.putAlertRule({ ...body, name }));
  } catch (error) {
    return nativeError(error);
  }
}
