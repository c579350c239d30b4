/// <reference lib="dom" />
/**
 * Chromium for the console's browser tests: the Debian package (`apt-get install chromium`,
 * which .ci/run does) driven by puppeteer-core over a pipe, headless, with a fresh profile and
 * everything that would reach the network switched off (on this kind of machine Chromium
 * otherwise hangs on closed connections). A page records what would mean a broken console:
 * console errors, uncaught exceptions, failed requests and HTTP errors.
 * @module
 */
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";

/** Where the browser is: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Where screenshots go (CI keeps this folder; git ignores it). */
export const ARTIFACTS = new URL("../../test-artifacts/console/", import.meta.url).pathname;

/** A launched browser and its throwaway profile. */
export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Launches Chromium; fails with the reason when it is not installed. */
export async function launchBrowser(): Promise<TestBrowser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium, as .ci/run does) ` +
        "or set CHROMIUM_PATH",
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "epochnexus-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    pipe: true,
    headless: true,
    timeout: 60_000,
    protocolTimeout: 60_000,
    args: [
      "--no-sandbox", // root in CI
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** What went wrong in a page, as it happened. */
export interface PageProblems {
  list: string[];
}

/**
 * Opens a page of `width` x `height` that records console errors, page errors, failed requests
 * and answers of 400 or more (`allowStatus` names the expected ones, such as a 401 before
 * signing in).
 */
export async function openPage(
  browser: Browser | BrowserContext,
  options: {
    width?: number;
    height?: number;
    allowStatus?: (url: string, status: number) => boolean;
  } = {},
): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage();
  await page.setViewport({ width: options.width ?? 1360, height: options.height ?? 900 });
  page.setDefaultTimeout(30_000);
  const problems: PageProblems = { list: [] };
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // Chromium logs every 4xx/5xx answer as a console error; expected ones are not problems.
    const status = /status of (\d+)/.exec(message.text());
    const url = message.location().url ?? "";
    if (status && options.allowStatus?.(url, Number(status[1]))) return;
    problems.list.push(`console error: ${message.text()} (${url})`);
  });
  page.on("pageerror", (error) => problems.list.push(`page error: ${String(error)}`));
  page.on("requestfailed", (request) => {
    const reason = request.failure()?.errorText ?? "";
    // A request the page cancels on purpose (a newer query replaces it) is not a failure.
    if (reason !== "net::ERR_ABORTED") {
      problems.list.push(`request failed: ${request.url()} ${reason}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && !options.allowStatus?.(response.url(), response.status())) {
      problems.list.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  return { page, problems };
}

/** Saves a screenshot of the page as `name`.png under {@linkcode ARTIFACTS}. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/**
 * How many pixels of each colour (`#rrggbb`, within a small tolerance for anti-aliasing) the
 * first canvas inside `selector` has: the proof that a chart drew its lines.
 */
export function linePixels(page: Page, selector: string, colors: string[]): Promise<number[]> {
  return page.evaluate(
    (selector, colors) => {
      const canvas = document.querySelector(selector)?.querySelector("canvas");
      if (!canvas) return colors.map(() => -1);
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      const targets = colors.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
      const counts = colors.map(() => 0);
      for (let p = 0; p < data.length; p += 4) {
        if (data[p + 3] < 200) continue;
        targets.forEach(([r, g, b], i) => {
          if (
            Math.abs(data[p] - r) < 24 && Math.abs(data[p + 1] - g) < 24 &&
            Math.abs(data[p + 2] - b) < 24
          ) counts[i]++;
        });
      }
      return counts;
    },
    selector,
    colors,
  );
}
