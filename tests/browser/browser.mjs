// Debian's Chromium driven by playwright-core, with every request that is not to 127.0.0.1 blocked.
import { chromium } from "playwright-core";

const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * A headless Chromium page. Requests to anything but 127.0.0.1 are aborted and listed in
 * `blocked`; uncaught page errors and console errors are listed in `errors`.
 */
export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const blocked = [];
  const errors = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" && (url.protocol === "http:" || url.protocol === "ws:")) {
      return route.continue();
    }
    if (url.protocol === "data:" || url.protocol === "blob:") return route.continue();
    blocked.push(url.href);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A failed response is judged by its body below, not by the console's line about it.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(`console error: ${message.text()}`);
    }
  });
  page.on("response", async (response) => {
    if (response.status() < 400) return;
    const body = await response.text().catch(() => "");
    // The first request of an automatic persisted query is refused so, by design: the client
    // then sends the query's text.
    if (!body.includes('"PERSISTED_QUERY_NOT_FOUND"')) {
      errors.push(`HTTP ${response.status()} from ${response.url()}: ${body.slice(0, 200)}`);
    }
  });
  return { browser, page, blocked, errors, close: () => browser.close() };
}
