/// <reference lib="dom" />
/**
 * The web console's weight and speed, as a person meets it: a node with half an hour of two
 * series, then `runs` visits of a link that runs a query, each in a fresh Chromium profile (cold
 * cache) and once more warm. Prints the page's bytes (gzip on the wire, and unpacked) and the
 * time from navigation to the first chart drawn (median and range).
 *
 *   npx --yes deno@2.9.6 task bench:console [runs]
 *
 * @module
 */
import { query, startServer, writeLines } from "../tests/_server.ts";
import { launchBrowser } from "../tests/console/_browser.ts";

const runs = Number(Deno.args[0] ?? 7);
const Q = 'SELECT mean("usage") FROM "cpu" WHERE $timeFilter GROUP BY time($__interval), "host"';

const server = await startServer();
try {
  await query(server.url, "CREATE DATABASE bench");
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < 1800; i++) {
    lines.push(`cpu,host=a usage=${50 + 20 * Math.sin(i / 60)} ${now - 1800 + i}`);
    lines.push(`cpu,host=b usage=${30 + 10 * Math.cos(i / 45)} ${now - 1800 + i}`);
  }
  await writeLines(server.url, "bench", lines.join("\n"), "&precision=s");
  const link = `${server.url}/#/query?${new URLSearchParams({ db: "bench", range: "1h", q: Q })}`;
  const measure = async (page: import("puppeteer-core").Page) => {
    await page.goto("about:blank"); // else the same link is a same-document hash change
    await page.goto(link, { waitUntil: "load" });
    await page.waitForFunction(
      () => (document.querySelector("#query-chart") as HTMLElement)?.dataset.drawn === "1",
      { timeout: 30_000, polling: 10 },
    );
    return await page.evaluate(() => {
      const entries = [
        ...performance.getEntriesByType("navigation"),
        ...performance.getEntriesByType("resource"),
      ] as PerformanceResourceTiming[];
      const own = entries.filter((e) =>
        e.entryType === "navigation" || new URL(e.name).pathname.startsWith("/console/")
      );
      return {
        firstChartMs: performance.getEntriesByName("epochnexus:first-chart")[0].startTime,
        gzipBytes: own.reduce((n, e) => n + e.encodedBodySize, 0),
        rawBytes: own.reduce((n, e) => n + e.decodedBodySize, 0),
      };
    });
  };
  const cold: number[] = [];
  const warm: number[] = [];
  let sizes = { gzipBytes: 0, rawBytes: 0 };
  for (let i = 0; i < runs; i++) {
    const chromium = await launchBrowser();
    try {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1360, height: 900 });
      const first = await measure(page);
      cold.push(first.firstChartMs);
      sizes = first;
      warm.push((await measure(page)).firstChartMs);
    } finally {
      await chromium.close();
    }
  }
  const summary = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms (${s[0].toFixed(0)}-${
      s[s.length - 1].toFixed(0)
    })`;
  };
  const load = Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  console.log(`page: ${sizes.gzipBytes} B gzip, ${sizes.rawBytes} B unpacked (3 files)`);
  console.log(`first chart, cold cache: ${summary(cold)} over ${runs} fresh profiles`);
  console.log(`first chart, warm cache: ${summary(warm)}`);
  console.log(`load average: ${load}`);
} finally {
  await server.stop();
}
