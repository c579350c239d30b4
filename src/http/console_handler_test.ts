/**
 * The console's serving, through the whole app with no socket: the page and every asset it
 * names answer 200 with the right caching (no-cache page, immutable hashed assets), gzip when
 * asked, 304 on a matching ETag, 404 for an unknown asset, 405 for other methods.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "fflate";
import { type Clock, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { createApp } from "./app.ts";
import { acceptsGzip } from "./console_handler.ts";

const clock: Clock = {
  nowMs: () => 1_700_000_000_000,
  nowNanos: () => 1_700_000_000_000_000_000n,
  monotonicMs: () => performance.now(),
};

async function setup() {
  const engine = await StorageEngine.open({
    dir: await Deno.makeTempDir(),
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
  });
  const app = createApp({
    engine,
    clock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 1_000_000,
  });
  return { app, close: () => engine.close() };
}

/** The asset paths the page names (`console/app.<hash>.js` and `.css`), made absolute. */
function assetsNamedBy(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(console\/[^"]+)"/g)].map((m) => `/${m[1]}`);
}

Deno.test("GET / serves the page, not a 404, and revalidates it on every visit", async () => {
  const { app, close } = await setup();
  try {
    const r = await app(new Request("http://node/"));
    const html = await r.text();
    assert.equal(r.status, 200, html);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(r.headers.get("cache-control"), "no-cache");
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(html, /<div id="app"><\/div>/);
    // Nothing from elsewhere: every URL in the page is relative to the node (or a data: URI).
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      assert.match(m[1], /^(console\/|data:)/, `the page loads ${m[1]}`);
    }
  } finally {
    await close();
  }
});

Deno.test("every asset the page names is served, hashed and cached as immutable", async () => {
  const { app, close } = await setup();
  try {
    const html = await (await app(new Request("http://node/"))).text();
    const paths = assetsNamedBy(html);
    assert.equal(paths.length, 2, `expected a script and a stylesheet in ${html}`);
    for (const path of paths) {
      const r = await app(new Request(`http://node${path}`));
      const body = await r.text();
      assert.equal(r.status, 200, `${path}: ${body.slice(0, 200)}`);
      assert.match(path, /\/console\/app\.[0-9a-f]{10}\.(js|css)$/);
      assert.equal(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.match(
        r.headers.get("content-type")!,
        path.endsWith(".js") ? /javascript/ : /text\/css/,
      );
      assert.ok(body.length > 1000, `${path} is ${body.length} bytes`);
      // The name's hash is the body's: a changed body gets a new name, so caching forever is safe.
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)),
      );
      const hex = [...digest.slice(0, 5)].map((b) => b.toString(16).padStart(2, "0")).join("");
      assert.ok(path.includes(`.${hex}.`), `${path} does not carry its hash ${hex}`);
    }
  } finally {
    await close();
  }
});

Deno.test("gzip when the client takes it, identity otherwise, and ETag revalidation", async () => {
  const { app, close } = await setup();
  try {
    const html = await (await app(new Request("http://node/"))).text();
    const script = assetsNamedBy(html).find((p) => p.endsWith(".js"))!;
    const plain = await app(new Request(`http://node${script}`));
    const plainBytes = new Uint8Array(await plain.arrayBuffer());
    assert.equal(plain.headers.get("content-encoding"), null);
    const zipped = await app(
      new Request(`http://node${script}`, { headers: { "accept-encoding": "gzip, br" } }),
    );
    assert.equal(zipped.headers.get("content-encoding"), "gzip");
    assert.equal(zipped.headers.get("vary"), "accept-encoding");
    const zippedBytes = new Uint8Array(await zipped.arrayBuffer());
    assert.equal(Number(zipped.headers.get("content-length")), zippedBytes.length);
    assert.ok(zippedBytes.length < plainBytes.length / 2, `${zippedBytes.length} gzip bytes`);
    assert.deepEqual(gunzipSync(zippedBytes), plainBytes);

    const etag = plain.headers.get("etag")!;
    const again = await app(
      new Request(`http://node${script}`, { headers: { "if-none-match": etag } }),
    );
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    const page = await app(new Request("http://node/"));
    await page.body?.cancel();
    const revalidated = await app(
      new Request("http://node/", { headers: { "if-none-match": page.headers.get("etag")! } }),
    );
    assert.equal(revalidated.status, 304);

    const head = await app(new Request(`http://node${script}`, { method: "HEAD" }));
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get("content-length")), plainBytes.length);
    assert.equal(await head.text(), "");
  } finally {
    await close();
  }
});

Deno.test("an unknown asset is a JSON 404, another method a 405", async () => {
  const { app, close } = await setup();
  try {
    const missing = await app(new Request("http://node/console/app.0000000000.js"));
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
    const post = await app(new Request("http://node/", { method: "POST", body: "x" }));
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
    // The API next to it is untouched.
    const other = await app(new Request("http://node/nothing-here"));
    assert.equal(other.status, 404);
    await other.body?.cancel();
  } finally {
    await close();
  }
});

Deno.test("Accept-Encoding: gzip by name or *, not when its q is 0", () => {
  const cases: [string | null, boolean][] = [
    [null, false],
    ["", false],
    ["gzip", true],
    ["deflate, gzip;q=0.5", true],
    ["br, *", true],
    ["gzip;q=0", false],
    ["GZIP", true],
    ["identity", false],
  ];
  for (const [header, expected] of cases) assert.equal(acceptsGzip(header), expected, `${header}`);
});
