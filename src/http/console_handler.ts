/**
 * Serves the web console: `GET /` is the page (`no-cache`: revalidated on each visit, so a new
 * build is picked up at once) and `GET /console/<name>` its assets, whose names carry a hash of
 * their bytes and so are cached for a year as immutable. Bodies go gzipped to clients that take
 * it (compressed once, on first use). Nothing is loaded from elsewhere; the page's
 * Content-Security-Policy says so to the browser too.
 * @module
 */
import { gzipSync } from "fflate";
import { NotFoundError, ValidationError } from "../core/mod.ts";
import { ASSETS, INDEX_HTML } from "../console/mod.ts";
import { nativeError } from "./responses.ts";

const ASSET_PREFIX = "/console/";

/** The page's policy: its own origin only (inline styles for the chart's positioning). */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; " +
  "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface ServedFile {
  type: string;
  body: Uint8Array;
  /** Built on first use: most nodes never serve the console. */
  gzip?: Uint8Array;
  etag: string;
  cacheControl: string;
  headers?: Record<string, string>;
}

let files: Map<string, ServedFile> | undefined;

/** The served files by path, built once (the assets are constants of the build). */
function servedFiles(): Map<string, ServedFile> {
  if (files) return files;
  const encoder = new TextEncoder();
  files = new Map();
  for (const asset of ASSETS) {
    files.set(`${ASSET_PREFIX}${asset.name}`, {
      type: asset.type,
      body: encoder.encode(asset.body),
      // The name holds the hash of the bytes, so it is a fine strong validator.
      etag: `"${asset.name}"`,
      cacheControl: "public, max-age=31536000, immutable",
    });
  }
  // The page names its assets, so its hashes identify the build.
  const build = ASSETS.map((a) => a.name.split(".")[1]).join("-");
  files.set("/", {
    type: "text/html; charset=utf-8",
    body: encoder.encode(INDEX_HTML),
    etag: `"index-${build}"`,
    cacheControl: "no-cache",
    headers: {
      "content-security-policy": CONSOLE_CSP,
      "referrer-policy": "same-origin",
    },
  });
  return files;
}

/** Whether a path is the console's. */
export function isConsoleRoute(path: string): boolean {
  return path === "/" || path.startsWith(ASSET_PREFIX);
}

/** Whether the client takes gzip (`Accept-Encoding`, with q-values). */
export function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding.trim() !== "gzip" && coding.trim() !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** Answers `GET|HEAD /` and `GET|HEAD /console/<asset>`. */
export function handleConsole(request: Request, url: URL): Response {
  const file = servedFiles().get(url.pathname);
  if (!file) return nativeError(new NotFoundError(`no console asset ${url.pathname}`));
  if (request.method !== "GET" && request.method !== "HEAD") {
    const response = nativeError(
      new ValidationError("method not allowed: use GET, HEAD", { httpStatus: 405 }),
    );
    response.headers.set("allow", "GET, HEAD");
    return response;
  }
  const headers: Record<string, string> = {
    "cache-control": file.cacheControl,
    etag: file.etag,
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
    ...file.headers,
  };
  const match = request.headers.get("if-none-match");
  if (match !== null && match.split(",").some((t) => t.trim().replace(/^W\//, "") === file.etag)) {
    return new Response(null, { status: 304, headers });
  }
  let body = file.body;
  if (acceptsGzip(request.headers.get("accept-encoding"))) {
    file.gzip ??= gzipSync(file.body, { level: 9, mtime: 0 });
    body = file.gzip;
    headers["content-encoding"] = "gzip";
  }
  headers["content-type"] = file.type;
  headers["content-length"] = String(body.length);
  return new Response(request.method === "HEAD" ? null : body as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers,
  });
}
