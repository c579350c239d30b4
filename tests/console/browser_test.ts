/// <reference lib="dom" />
/**
 * The web console in a real browser against a real node: Chromium (Debian's, driven by
 * puppeteer-core) opens `GET /` of a server started as the README starts it, with data written
 * over `/write`. Each view is used as a person would (run a query with Ctrl+Enter, read the
 * table, look at the chart, open the explorer, the activity, the schemas and their dry run, the
 * cluster, the dark theme, the sign-in form), and checked against the server's own answers:
 * the table has the query's rows, the chart's canvas has pixels of each line's colour, and the
 * browser saw no console error, uncaught exception, failed request or HTTP error. Screenshots of
 * every view land in test-artifacts/console/ (kept by CI). The time to the first chart and the
 * bytes the page transferred are printed.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { formatBytes } from "../../src/core/mod.ts";
import { query, type ServerProcess, startServer, writeLines } from "../_server.ts";
import { launchBrowser, linePixels, openPage, screenshot, type TestBrowser } from "./_browser.ts";

const DB = "telegraf";
const SCHEMA = `measurements:
  cpu:
    description: CPU usage per host
    unknown_fields: reject
    tags:
      host: { required: true, pattern: "[a-z0-9-]+" }
    fields:
      usage: { type: float, required: true, min: 0, max: 100, unit: percent }
    pipeline:
      - rename_field: { from: u, to: usage }
`;
const CHART_QUERY = 'SELECT mean("usage") FROM "cpu" WHERE $timeFilter GROUP BY time(1m), "host" ' +
  "fill(none)";

/** Half an hour of `cpu` every 10 s for hosts a and b, ending now (seconds precision). */
function cpuLines(nowS: number): string {
  const lines = [];
  for (let i = 0; i < 180; i++) {
    const t = nowS - (179 - i) * 10;
    lines.push(`cpu,host=a usage=${(50 + 20 * Math.sin(i / 12)).toFixed(3)} ${t}`);
    lines.push(`cpu,host=b usage=${(30 + 10 * Math.cos(i / 9)).toFixed(3)} ${t}`);
  }
  return lines.join("\n");
}

/** Waits until `check` (run in the page) is true, or fails with `what` after `timeoutMs`. */
async function waitInPage(page: Page, what: string, check: () => boolean, timeoutMs = 20_000) {
  try {
    await page.waitForFunction(check, { timeout: timeoutMs, polling: 50 });
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

function tableRowCount(page: Page): Promise<number> {
  return page.$$eval(".result-body table.data tbody tr", (rows) => rows.length);
}

async function chartColors(page: Page, selector: string): Promise<string[]> {
  return JSON.parse(await page.$eval(selector, (el) => (el as HTMLElement).dataset.colors ?? "[]"));
}

async function gotoView(page: Page, view: string) {
  await page.click(`.nav-link[data-view="${view}"]`);
  await page.waitForSelector(`.nav-link.active[data-view="${view}"]`);
}

Deno.test({
  name:
    "the console in Chromium: query, table, chart, explorer, activity, schemas, cluster, sign-in",
  // puppeteer's pipe and child process outlive single steps; both are closed in `finally`.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const schemaDir = await Deno.makeTempDir({ prefix: "epochnexus-console-schemas-" });
    await Deno.writeTextFile(`${schemaDir}/cpu.yaml`, SCHEMA);
    let server: ServerProcess | undefined;
    let chromium: TestBrowser | undefined;
    try {
      [server, chromium] = await Promise.all([
        startServer({ env: { EPOCHNEXUS_SCHEMA_DIR: schemaDir } }),
        launchBrowser(),
      ]);
      const url = server.url;
      await query(url, `CREATE DATABASE ${DB}`);
      const written = await writeLines(
        url,
        DB,
        cpuLines(Math.floor(Date.now() / 1000)),
        "&precision=s",
      );
      assert.equal(written.status, 204, written.body);
      const { browser } = chromium;
      const { page, problems } = await openPage(browser);
      const expanded = CHART_QUERY.replace("$timeFilter", "time >= now() - 1h");
      const expected = await query(url, expanded, { db: DB, epoch: "ms" });
      const expectedSeries = expected.results[0].series as { values: unknown[][] }[];
      const expectedRows = expectedSeries.reduce((n, s) => n + s.values.length, 0);
      assert.equal(expectedSeries.length, 2);
      assert.ok(expectedRows >= 60, `the server answered ${expectedRows} rows`);

      await t.step("a link with a query opens the page, runs it and draws the chart", async () => {
        const link = `${url}/#/query?${new URLSearchParams({
          db: DB,
          range: "1h",
          q: CHART_QUERY,
        })}`;
        await page.goto(link, { waitUntil: "load" });
        await waitInPage(
          page,
          "the chart",
          () => (document.querySelector("#query-chart") as HTMLElement)?.dataset.drawn === "1",
        );
        const timing = await page.evaluate(() => {
          const first = performance.getEntriesByName("epochnexus:first-chart")[0];
          const entries = [
            ...performance.getEntriesByType("navigation"),
            ...performance.getEntriesByType("resource"),
          ] as PerformanceResourceTiming[];
          const page = entries.filter((e) =>
            e.entryType === "navigation" || new URL(e.name).pathname.startsWith("/console/")
          );
          return {
            firstChartMs: first?.startTime,
            transferBytes: page.reduce((n, e) => n + e.transferSize, 0),
            bodyBytes: page.reduce((n, e) => n + e.encodedBodySize, 0),
            decodedBytes: page.reduce((n, e) => n + e.decodedBodySize, 0),
            files: page.length,
          };
        });
        console.log(
          `console: first chart ${timing.firstChartMs?.toFixed(0)} ms after navigation (cold ` +
            `cache); page ${timing.files} files, ${timing.bodyBytes} B gzip bodies ` +
            `(${timing.decodedBytes} B raw), ${timing.transferBytes} B on the wire with headers`,
        );
        assert.ok(timing.firstChartMs !== undefined, "the page marked no first chart");
        assert.equal(timing.files, 3, "the page, its script and its stylesheet");
        assert.ok(timing.bodyBytes < timing.decodedBytes / 2, "the assets came gzipped");

        const colors = await chartColors(page, "#query-chart");
        assert.equal(colors.length, 2, "one line per host");
        const pixels = await linePixels(page, "#query-chart", colors);
        for (const [i, n] of pixels.entries()) {
          assert.ok(n > 40, `line ${i} (${colors[i]}) has ${n} pixels on the canvas`);
        }
        const status = await page.$eval(".result-status", (el) => el.textContent ?? "");
        assert.match(status, new RegExp(`2 series · ${expectedRows} rows`));
        await screenshot(page, "query-chart-light");
      });

      await t.step("the table has the query's rows, as the server answered them", async () => {
        await page.click('.tab[data-tab="table"]');
        await page.waitForSelector(".result-body table.data");
        assert.equal(await tableRowCount(page), expectedRows);
        const firstSeries = await page.$$eval(
          ".result-series",
          (sections) =>
            sections.map((s) => ({
              tags: [...s.querySelectorAll("header .tag-chip")].map((c) => c.textContent),
              firstValue: s.querySelector("tbody tr td.num")?.textContent,
            })),
        );
        assert.deepEqual(firstSeries.map((s) => s.tags), [["host=a"], ["host=b"]]);
        assert.equal(firstSeries[0].firstValue, String(expectedSeries[0].values[0][1]));
        await screenshot(page, "query-table-light");
      });

      await t.step("Ctrl+Enter runs what was typed; the history keeps it", async () => {
        await page.click(".editor-input", { count: 3 });
        await page.keyboard.down("Control");
        await page.keyboard.press("a");
        await page.keyboard.up("Control");
        await page.keyboard.type(
          'SELECT count("usage") FROM "cpu" WHERE $timeFilter GROUP BY "host"',
        );
        const before = await page.$eval(".result-status", (el) => el.textContent);
        await page.keyboard.down("Control");
        await page.keyboard.press("Enter");
        await page.keyboard.up("Control");
        await page.waitForFunction(
          (before) => {
            const s = document.querySelector(".result-status")?.textContent ?? "";
            return s !== before && !s.includes("Running");
          },
          { timeout: 20_000 },
          before,
        );
        // No time column worth a chart: the answer opens as a table, one row per host.
        const counts = await page.$$eval(
          ".result-body tbody tr td.num",
          (cells) => cells.map((c) => c.textContent),
        );
        assert.deepEqual(counts, ["180", "180"]);
        const highlighted = await page.$$eval(
          ".editor-highlight .tok-keyword",
          (spans) => spans.map((s) => s.textContent),
        );
        assert.deepEqual(highlighted, ["SELECT", "FROM", "WHERE", "GROUP", "BY"]);
        await page.click(".popover .button[title='Query history']");
        const history = await page.$$eval(
          ".history-list code",
          (codes) => codes.map((c) => c.textContent),
        );
        assert.deepEqual(history, [
          'SELECT count("usage") FROM "cpu" WHERE $timeFilter GROUP BY "host"',
          CHART_QUERY,
        ]);
        await screenshot(page, "query-history-light");
        await page.keyboard.press("Escape");
      });

      await t.step("the time range picker refills $timeFilter and runs again", async () => {
        await page.click(".time-button");
        await page.waitForSelector(".time-presets");
        await screenshot(page, "query-time-range-light");
        const before = await page.$eval(".result-status span", (el) => el.getAttribute("title"));
        assert.match(before ?? "", /now\(\) - 1h/);
        await page.click(".time-presets .preset:nth-child(2)"); // Last 15m
        await waitInPage(
          page,
          "the query over the last 15 minutes",
          () =>
            (document.querySelector(".result-status span")?.getAttribute("title") ?? "")
              .includes("now() - 15m"),
        );
        assert.match(await page.$eval(".time-button", (el) => el.textContent ?? ""), /Last 15m/);
      });

      await t.step("the explorer lists measurements, fields, tags and values", async () => {
        await page.waitForSelector('.explorer [data-measurement="cpu"]');
        await page.click('.explorer [data-measurement="cpu"] > summary');
        await page.waitForSelector('.explorer [data-field="usage"]');
        await page.click('.explorer [data-tag="host"] > summary');
        await waitInPage(
          page,
          "the host tag's values",
          () => document.querySelectorAll('.explorer [data-tag="host"] .tree-leaf').length === 2,
        );
        const field = await page.$eval('.explorer [data-field="usage"]', (el) => el.textContent);
        assert.equal(field, "usagefloat");
        // A click on the field charts it.
        await page.click('.explorer [data-field="usage"]');
        await waitInPage(
          page,
          "the field's chart",
          () =>
            (document.querySelector("#query-chart") as HTMLElement)?.dataset.drawn === "1" &&
            (document.querySelector(".editor-input") as HTMLTextAreaElement).value
              .startsWith('SELECT mean("usage") FROM "cpu"'),
        );
        const colors = await chartColors(page, "#query-chart");
        const pixels = await linePixels(page, "#query-chart", colors);
        assert.ok(pixels[0] > 40, `the field's line has ${pixels[0]} pixels`);
        await screenshot(page, "query-explorer-light");
      });

      await t.step("the activity view charts the node's own metrics", async () => {
        await gotoView(page, "activity");
        // Writes keep coming until the scrapes (every 2 s) have drawn them as a rate: a line that
        // is one sample old sits on the chart's right edge, so wait for it to have some length.
        const ingest = '[data-chart="ingest"] .chart';
        let writing = true;
        const writer = (async () => {
          for (let i = 0; writing && i < 150; i++) {
            await writeLines(url, DB, `cpu,host=c usage=${i % 100} ${Date.now()}`, "&precision=ms");
            await new Promise((r) => setTimeout(r, 200));
          }
        })();
        let pixels = [0];
        try {
          await waitInPage(
            page,
            "a points/s above zero",
            () => {
              const card = [...document.querySelectorAll(".stat-card")]
                .find((c) => c.querySelector(".stat-label")?.textContent === "Points/s");
              return Number(card?.querySelector(".stat-value")?.textContent) > 0;
            },
          );
          await waitInPage(
            page,
            "three drawn charts",
            () => document.querySelectorAll('.activity-view .chart[data-drawn="1"]').length === 3,
          );
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            pixels = await linePixels(page, ingest, await chartColors(page, ingest));
            if (pixels[0] > 20) break;
            await new Promise((r) => setTimeout(r, 500));
          }
        } finally {
          writing = false;
          await writer;
        }
        assert.ok(pixels[0] > 20, `the written points line has ${pixels[0]} pixels`);
        await screenshot(page, "activity-light");
      });

      await t.step("the schemas view shows the schema and dry-runs points", async () => {
        await gotoView(page, "schemas");
        await page.waitForSelector('.list-item[data-measurement="cpu"].active');
        // The schema's fields are fetched after the list: wait for its table, not the list.
        await page.waitForSelector(".schema-fields tbody td:first-child");
        const fields = await page.$$eval(
          ".schema-fields tbody td:first-child",
          (cells) => cells.map((c) => c.textContent),
        );
        assert.deepEqual(fields, ["usage"]);
        // The prefilled sample satisfies the schema: stored, nothing rejected.
        await page.click(".dry-run .button.primary");
        await page.waitForSelector('.dry-run [data-result="stored"]');
        assert.match(
          await page.$eval('.dry-run [data-result="stored"] tbody', (el) => el.textContent ?? ""),
          /host=example/,
        );
        await page.$eval(".dry-run textarea", (el) => (el as HTMLTextAreaElement).value = "");
        await page.type(".dry-run textarea", "cpu,host=web-1 u=12.5\ncpu,host=BAD usage=500");
        await page.click(".dry-run .button.primary");
        await waitInPage(
          page,
          "the dry run's rejection",
          () =>
            (document.querySelector(".dry-run .error-box")?.textContent ?? "").includes("point 2"),
        );
        const rejected = await page.$eval(".dry-run .error-box", (el) => el.textContent ?? "");
        assert.match(rejected, /tag_pattern/);
        const stored = await page.$eval(
          '.dry-run [data-result="stored"] tbody',
          (el) => el.textContent,
        );
        assert.match(stored ?? "", /usage=12\.5/, "the pipeline renamed u to usage");
        await screenshot(page, "schemas-light");
      });

      await t.step("the cluster view lists nodes and partitions with their leaders", async () => {
        await gotoView(page, "cluster");
        await page.waitForSelector('[data-table="nodes"] tbody tr');
        const status = await (await fetch(`${url}/api/v1/cluster`)).json();
        const nodes = await page.$$eval('[data-table="nodes"] tbody tr', (rows) => rows.length);
        assert.equal(nodes, status.nodes.length);
        const partitions = await page.$$eval(
          '[data-table="partitions"] tbody tr',
          (rows) => rows.length,
        );
        const expectedPartitions = status.databases.reduce(
          (n: number, d: { partitions: unknown[] }) => n + d.partitions.length,
          0,
        );
        assert.equal(partitions, expectedPartitions);
        const leaders = await page.$$eval(".replica.leader", (els) => els.length);
        assert.equal(leaders, expectedPartitions, "every partition shows its leader");

        // Bytes per node and per partition, as the status gives them once measured (the view
        // read again until it shows a status that did not change around it: sizes move on).
        type Sized = { bytes?: number };
        const sizes = (s: { nodes: Sized[]; databases: { partitions: Sized[] }[] }) =>
          [...s.nodes, ...s.databases.flatMap((d) => d.partitions)].map((x) => x.bytes);
        let shown: string[] = [], expected: string[] = [];
        for (let attempt = 0; attempt < 50; attempt++) {
          const before = sizes(await (await fetch(`${url}/api/v1/cluster`)).json());
          await gotoView(page, "query");
          await gotoView(page, "cluster");
          await page.waitForSelector('[data-table="nodes"] tbody tr');
          shown = await page.$$eval("td[data-bytes]", (cells) => cells.map((c) => c.textContent!));
          const after = sizes(await (await fetch(`${url}/api/v1/cluster`)).json());
          expected = after.map(formatBytes);
          const measured = after.every((b) => b !== undefined);
          if (measured && JSON.stringify(before) === JSON.stringify(after)) break;
          await new Promise((r) => setTimeout(r, 300));
        }
        assert.deepEqual(shown, expected, "bytes per node, then per partition");
        // Measured (a number, even 0B while the points are still in the heads), never "-".
        assert.ok(shown.every((b) => /^[\d.]+(B|KiB|MiB)$/.test(b)), shown.join(" "));
        await screenshot(page, "cluster-light");
      });

      await t.step("the dark theme, every view", async () => {
        await page.click('[data-action="theme"]');
        const background = await page.evaluate(() =>
          getComputedStyle(document.body).backgroundColor
        );
        assert.equal(background, "rgb(14, 17, 22)");
        await screenshot(page, "cluster-dark");
        // The query view's chart, drawn in the light theme, is drawn again in the dark one.
        await gotoView(page, "query");
        await waitInPage(
          page,
          "the chart redrawn in the dark theme",
          () => {
            const chart = document.querySelector("#query-chart") as HTMLElement | null;
            return chart?.dataset.theme === "dark" && chart.dataset.drawn === "1";
          },
        );
        await screenshot(page, "query-explorer-dark");
        await gotoView(page, "schemas");
        await page.waitForSelector('.list-item[data-measurement="cpu"].active');
        await screenshot(page, "schemas-dark");
        await gotoView(page, "activity");
        await waitInPage(
          page,
          "the activity charts",
          () => document.querySelectorAll('.activity-view .chart[data-drawn="1"]').length === 3,
        );
        await screenshot(page, "activity-dark");
        await page.goto(
          `${url}/#/query?${new URLSearchParams({ db: DB, range: "1h", q: CHART_QUERY })}`,
        );
        await page.reload({ waitUntil: "load" }); // the theme survives a reload
        await waitInPage(
          page,
          "the chart",
          () => (document.querySelector("#query-chart") as HTMLElement)?.dataset.drawn === "1",
        );
        // Hosts a and b over half an hour; host c (the activity step's writes) is one bucket.
        const colors = await chartColors(page, "#query-chart");
        assert.equal(colors.length, 3);
        const pixels = await linePixels(page, "#query-chart", colors.slice(0, 2));
        assert.ok(pixels.every((n) => n > 40), `dark chart pixels ${pixels}`);
        await screenshot(page, "query-chart-dark");
      });

      assert.deepEqual(problems.list, [], "the browser saw problems");

      await t.step(
        "sign-in: Basic for a password, Bearer for a token, sent on every call",
        async () => {
          // The node's authentication is another branch's; here the browser plays a node that
          // wants credentials: every API call without the right header is answered 401.
          const context = await browser.createBrowserContext();
          const { page: p, problems: signInProblems } = await openPage(context, {
            allowStatus: (_url, status) => status === 401,
          });
          const accepted = new Set([`Basic ${btoa("admin:s3cret")}`, "Bearer tok-123"]);
          const seen: string[] = [];
          await p.setRequestInterception(true);
          p.on("request", (request) => {
            const path = new URL(request.url()).pathname;
            if (path === "/" || path.startsWith("/console/")) return void request.continue();
            const auth = request.headers()["authorization"] ?? "";
            seen.push(`${path} ${auth}`);
            if (accepted.has(auth)) return void request.continue();
            void request.respond({
              status: 401,
              contentType: "application/json",
              body: JSON.stringify({ error: "authorization failed" }),
            });
          });
          await p.goto(`${url}/`, { waitUntil: "load" });
          await p.waitForSelector(".login-overlay");
          await screenshot(p, "sign-in-light");
          await p.type('input[name="username"]', "admin");
          await p.type('input[name="password"]', "wrong");
          await p.click('.login button[type="submit"]');
          await waitInPage(
            p,
            "the refusal",
            () =>
              (document.querySelector(".login-reason")?.textContent ?? "").startsWith(
                "Sign-in refused",
              ),
          );
          await p.type('input[name="username"]', "admin");
          await p.type('input[name="password"]', "s3cret");
          await p.click('.login button[type="submit"]');
          await waitInPage(
            p,
            "the databases after signing in",
            () =>
              !document.querySelector(".login-overlay") &&
              [...document.querySelectorAll("select option")].some((o) =>
                o.textContent === "telegraf"
              ),
          );
          assert.equal(await p.$eval(".user-chip", (el) => el.textContent), "admin");
          const afterSignIn = seen.slice(
            seen.findIndex((s) => s.includes("Basic YWRtaW46czNjcmV0")),
          );
          assert.ok(afterSignIn.length > 0);
          await p.waitForFunction(() => true); // let the header's own calls go out
          for (const s of seen.slice(seen.indexOf(afterSignIn[0]))) {
            assert.match(
              s,
              / Basic YWRtaW46czNjcmV0$/,
              `a call after signing in went without: ${s}`,
            );
          }

          // Signing out forgets the password; a token goes as Bearer.
          await Promise.all([
            p.waitForNavigation({ waitUntil: "load" }),
            p.click('button[aria-label="Sign out"]'),
          ]);
          await p.waitForSelector(".login-overlay");
          await p.click('.login .tab[data-mode="token"]');
          await p.type('input[name="token"]', "tok-123");
          await p.click('.login button[type="submit"]');
          await waitInPage(
            p,
            "the token's user chip",
            () => document.querySelector(".user-chip")?.textContent === "token",
          );
          assert.ok(seen.some((s) => s.endsWith(" Bearer tok-123")));
          assert.deepEqual(signInProblems.list, [], "the browser saw problems");
          await context.close();
        },
      );
    } finally {
      await chromium?.close();
      await server?.stop();
      await Deno.remove(schemaDir, { recursive: true }).catch(() => {});
    }
  },
});
