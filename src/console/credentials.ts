/**
 * What the login form collects and the header it becomes: a user name and password go as HTTP
 * Basic, an API token as `Bearer`. Both are headers (never URL parameters, which end up in logs
 * and history). With authentication off the page never asks, and sends no header.
 * @module
 */

/** Credentials the user typed. */
export type Credentials =
  | { kind: "password"; user: string; password: string }
  | { kind: "token"; token: string };

/** The `Authorization` header value for `credentials`. */
export function authorizationHeader(credentials: Credentials): string {
  if (credentials.kind === "token") return `Bearer ${credentials.token}`;
  const bytes = new TextEncoder().encode(`${credentials.user}:${credentials.password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/** Who is signed in, as the header shows it. */
export function credentialsLabel(credentials: Credentials): string {
  return credentials.kind === "token" ? "token" : credentials.user;
}

/** Credentials stored as `text` (JSON), or undefined when missing or malformed. */
export function readCredentials(text: string | null): Credentials | undefined {
  if (!text) return undefined;
  try {
    const c = JSON.parse(text);
    if (c?.kind === "token" && typeof c.token === "string") {
      return { kind: "token", token: c.token };
    }
    if (c?.kind === "password" && typeof c.user === "string" && typeof c.password === "string") {
      return { kind: "password", user: c.user, password: c.password };
    }
  } catch { /* not ours */ }
  return undefined;
}
