// Debian's Chromium driven by playwright-core, with every host but 127.0.0.1 unresolvable.
import { chromium } from "playwright-core";

const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * A headless Chromium page. Names other than 127.0.0.1 do not resolve (the browser's own rule,
 * so its HTTP cache works as it does for users: Playwright's request interception would turn it
 * off); every request the page makes elsewhere is listed in `blocked`. Uncaught page errors,
 * console errors and failed responses are listed in `errors`; `settled()` waits until the
 * responses seen so far have been judged.
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
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const blocked = [];
  const errors = [];
  const judging = new Set();
  const page = await context.newPage();
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["data:", "blob:"].includes(url.protocol) && url.hostname !== "127.0.0.1") blocked.push(url.href);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A failed response is judged by its body below, not by the console's line about it.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(`console error: ${message.text()}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() < 400) return;
    const judged = response
      .text()
      .catch(() => "")
      .then((body) => {
        // The first request of an automatic persisted query is refused so, by design: the
        // client then sends the query's text.
        if (!body.includes('"PERSISTED_QUERY_NOT_FOUND"')) {
          errors.push(`HTTP ${response.status()} from ${response.url()}: ${body.slice(0, 200)}`);
        }
      })
      .finally(() => judging.delete(judged));
    judging.add(judged);
  });
  return {
    browser,
    page,
    blocked,
    errors,
    settled: () => Promise.all([...judging]),
    close: () => browser.close(),
  };
}
