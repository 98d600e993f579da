// The example frontend (examples/web) in Debian's Chromium, every request not to 127.0.0.1
// blocked, against the debug binary on a fresh SQLite file with the demo data. Each step checks
// what the user sees, and the rows in the database after each write.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { serveApp } from "./app.mjs";
import { openBrowser } from "./browser.mjs";
import { startServer } from "./server.mjs";
import { rows } from "./sqlite.mjs";

let server;
let app;
let browser;
/** Every request the page sent to /graphql: method and whether it carried the query's text. */
const graphqlRequests = [];

before(async () => {
  server = await startServer();
  app = await serveApp(server.url);
  browser = await openBrowser();
  browser.page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname !== "/graphql") return;
    const body = request.method() === "POST" ? JSON.parse(request.postData() ?? "{}") : {};
    const text = body.query ?? url.searchParams.get("query");
    const hashed = JSON.stringify(body.extensions ?? url.searchParams.get("extensions") ?? "").includes(
      "sha256Hash",
    );
    graphqlRequests.push({
      method: request.method(),
      hasText: Boolean(text),
      hashed,
      operation: body.operationName ?? url.searchParams.get("operationName"),
    });
  });
  page().on("dialog", (dialog) => dialog.accept());
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.stop();
});

const page = () => browser.page;
const db = (sql) => rows(server.database, sql);
const count = (table) => db(`SELECT COUNT(*) AS n FROM ${table}`)[0].n;

/** The authors on the screen: name and the titles under it. */
async function shownAuthors() {
  return page()
    .getByTestId("author")
    .evaluateAll((items) =>
      items.map((item) => ({
        name: item.querySelector(".row a").textContent,
        books: [...item.querySelectorAll("ul.books li")].map((li) => li.textContent),
      })),
    );
}

/** What the database holds for the authors of page `index` (10 a page, by ID): names and first three titles. */
function storedAuthors(index) {
  const authors = db(`SELECT id, name FROM author ORDER BY id LIMIT 10 OFFSET ${index * 10}`);
  return authors.map(({ id, name }) => ({
    name,
    books: db(`SELECT title, published_year FROM book WHERE author_id = ${id} ORDER BY id LIMIT 3`).map(
      titleLine,
    ),
  }));
}

const titleLine = ({ title, published_year }) =>
  published_year === null ? title : `${title} (${published_year})`;

test("the list of authors pages forward and back, each author with their first three books", async () => {
  await page().goto(`${app.url}/#/`);
  await page().getByText("40 authors, page 1").waitFor();
  assert.deepEqual(await shownAuthors(), storedAuthors(0));
  if (process.env.SCREENSHOT_DIR)
    await page().screenshot({ path: `${process.env.SCREENSHOT_DIR}/example-web.png` });

  await page().getByRole("button", { name: "Next page" }).click();
  await page().getByText("40 authors, page 2").waitFor();
  assert.deepEqual(await shownAuthors(), storedAuthors(1));

  for (const n of [3, 4]) {
    await page().getByRole("button", { name: "Next page" }).click();
    await page().getByText(`40 authors, page ${n}`).waitFor();
  }
  assert.deepEqual(await shownAuthors(), storedAuthors(3));
  assert.equal(await page().getByRole("button", { name: "Next page" }).isDisabled(), true);

  await page().getByRole("button", { name: "Previous page" }).click();
  await page().getByText("40 authors, page 3").waitFor();
  assert.deepEqual(await shownAuthors(), storedAuthors(2));
  await assertClean();
});

test("an author's page loads their books five at a time through the nested cursor", async () => {
  // The author with the most books, so that several pages follow one another.
  const [author] = db(
    "SELECT author.id, author.name, COUNT(*) AS n FROM author JOIN book ON book.author_id = author.id GROUP BY author.id ORDER BY n DESC, author.id LIMIT 1",
  );
  assert.ok(author.n > 10, `the demo data has an author with more than 10 books (${author.n})`);
  await page().goto(`${app.url}/#/authors/${author.id}`);
  await page().getByRole("heading", { name: author.name }).waitFor();
  await page().getByText(`${author.n} books`).waitFor();
  await page().getByTestId("book").nth(4).waitFor();
  assert.equal(await page().getByTestId("book").count(), 5);

  let clicks = 0;
  while (await page().getByRole("button", { name: "Load more" }).isVisible()) {
    await page().getByRole("button", { name: "Load more" }).click();
    clicks += 1;
    await page()
      .getByTestId("book")
      .nth(Math.min(5 * (clicks + 1), author.n) - 1)
      .waitFor();
    await page().waitForFunction(() => !document.querySelector("ol.books")?.textContent?.includes("Loading"));
  }
  const shown = await page().getByTestId("book").allTextContents();
  const stored = db(`SELECT title, published_year FROM book WHERE author_id = ${author.id} ORDER BY id`).map(
    titleLine,
  );
  assert.deepEqual(shown, stored);
  assert.equal(clicks, Math.ceil(author.n / 5) - 1);
  await assertClean();
});

/** The message the page ties to the input labelled `label` (`aria-describedby`), or null. */
function messageOf(label) {
  return page()
    .getByLabel(label, { exact: true })
    .evaluate((input) => {
      const id = input.getAttribute("aria-describedby");
      return id ? (document.getElementById(id)?.textContent ?? null) : null;
    });
}

test("the form shows the server's message next to each field it refuses, and writes nothing", async () => {
  const before = { authors: count("author"), books: count("book") };
  const sent = graphqlRequests.length;
  await page().goto(`${app.url}/#/new`);
  await page().getByLabel("Name").fill("   ");
  await page().getByLabel("Title of book 1").fill("x".repeat(300));
  await page().getByRole("button", { name: "Add a book" }).click();
  await page().getByLabel("Title of book 2").fill("A Fine Title");
  await page().getByLabel("Year of book 2").fill("12000");
  await page().getByRole("button", { name: "Add a book" }).click();
  await page().getByLabel("Title of book 3").fill("Third");
  await page().getByLabel("Year of book 3").fill("19x9");

  // A year that is not a number is caught before anything is sent.
  await page().getByRole("button", { name: "Create author" }).click();
  await page().locator(".field.invalid").first().waitFor();
  assert.equal(await messageOf("Year of book 3"), "The year must be a whole number, such as 1969 or -450.");
  assert.equal(graphqlRequests.length, sent, "nothing was sent");

  // The rest goes to the server, whose messages land next to their fields.
  await page().getByLabel("Year of book 3").fill("");
  assert.equal(await messageOf("Year of book 3"), null, "an edited field loses its message");
  await page().getByRole("button", { name: "Create author" }).click();
  await page().getByLabel("Name").and(page().locator("[aria-invalid=true]")).waitFor();
  assert.equal(await messageOf("Name"), "`input.name` must not be blank");
  assert.equal(
    await messageOf("Title of book 1"),
    "`input.books[0].title` must be at most 200 characters, got 300",
  );
  assert.equal(
    await messageOf("Year of book 2"),
    "`input.books[1].publishedYear` must be between -9999 and 9999, got 12000",
  );
  assert.equal(await messageOf("Title of book 2"), null);
  assert.equal(await messageOf("Title of book 3"), null);
  if (process.env.SCREENSHOT_DIR)
    await page().screenshot({ path: `${process.env.SCREENSHOT_DIR}/example-web-form.png`, fullPage: true });

  // Removing the first book moves the others up; each keeps its own message.
  await page().getByRole("button", { name: "Remove book 1" }).click();
  assert.equal(await page().getByLabel("Title of book 1").inputValue(), "A Fine Title");
  assert.equal(
    await messageOf("Year of book 1"),
    "`input.books[1].publishedYear` must be between -9999 and 9999, got 12000",
  );
  assert.equal(await messageOf("Title of book 2"), null);

  assert.deepEqual({ authors: count("author"), books: count("book") }, before);
  await assertClean();
});

test("the form creates an author with books in one request and opens their page", async () => {
  // Continuing from the refused form: the user corrects each field.
  await page().getByLabel("Name").fill("  Ursula Example  ");
  await page().getByLabel("Year of book 1").fill("");
  await page().getByLabel("Year of book 2").fill("1969");
  const sent = graphqlRequests.length;
  await page().getByRole("button", { name: "Create author" }).click();

  await page().getByRole("heading", { name: "Ursula Example" }).waitFor();
  await page().getByText("2 books").waitFor();
  // The books come by their own query, after the author's.
  await page().getByTestId("book").nth(1).waitFor();
  assert.deepEqual(await page().getByTestId("book").allTextContents(), ["A Fine Title", "Third (1969)"]);
  assert.match(page().url(), /#\/authors\/\d+$/);

  const id = Number(page().url().split("/").pop());
  assert.deepEqual(db(`SELECT name FROM author WHERE id = ${id}`), [{ name: "Ursula Example" }]);
  assert.deepEqual(db(`SELECT title, published_year FROM book WHERE author_id = ${id} ORDER BY id`), [
    { title: "A Fine Title", published_year: null },
    { title: "Third", published_year: 1969 },
  ]);
  // One request wrote the author and both books. (urql's persisted exchange hashes queries
  // only: a mutation goes whole, over POST.)
  const writes = graphqlRequests.slice(sent).filter((request) => request.operation === "CreateAuthor");
  assert.deepEqual(writes, [{ method: "POST", hasText: true, hashed: false, operation: "CreateAuthor" }]);
  await assertClean();
});

test("deleting an author says how many books went with them and updates the list without a reload", async () => {
  const [author] = db("SELECT id, name FROM author WHERE name = 'Ursula Example'");
  await page().goto(`${app.url}/#/`);
  await page().getByText("41 authors, page 1").waitFor();
  for (const n of [2, 3, 4, 5]) {
    await page().getByRole("button", { name: "Next page" }).click();
    await page().getByText(`41 authors, page ${n}`).waitFor();
  }
  assert.deepEqual(
    (await shownAuthors()).map((shown) => shown.name),
    ["Ursula Example"],
  );
  await page().evaluate(() => (window.notReloaded = true));

  await page()
    .getByTestId("author")
    .filter({ hasText: "Ursula Example" })
    .getByRole("button", { name: "Delete" })
    .click();
  await page().getByRole("status").filter({ hasText: "Deleted Ursula Example and 2 books." }).waitFor();
  // The emptied page gives way to the one before it, read afresh (not from the HTTP cache).
  await page().getByText("40 authors, page 4").waitFor();
  assert.deepEqual(await shownAuthors(), storedAuthors(3));
  assert.equal(await page().evaluate(() => window.notReloaded), true, "the page was not reloaded");
  assert.deepEqual(db(`SELECT id FROM author WHERE id = ${author.id}`), []);
  assert.deepEqual(db(`SELECT id FROM book WHERE author_id = ${author.id}`), []);

  // Back on page 1, the count is the database's, not a cached page's.
  await page().getByRole("button", { name: "Previous page" }).click();
  await page().getByText("40 authors, page 3").waitFor();
  await page().goto(`${app.url}/#/new`);
  await page().goto(`${app.url}/#/`);
  await page().getByText("40 authors, page 1").waitFor();
  await assertClean();
});

test("queries travel as persisted hashes over GET; writes over POST", () => {
  const queries = graphqlRequests.filter(
    (request) => !["CreateAuthor", "DeleteAuthor"].includes(request.operation),
  );
  assert.ok(queries.length > 5);
  assert.ok(
    queries.every((request) => request.hashed),
    JSON.stringify(queries),
  );
  // Once the server knows a query, the page sends its hash alone, over GET.
  assert.ok(queries.some((request) => request.method === "GET" && !request.hasText));
  const writes = graphqlRequests.filter((request) =>
    ["CreateAuthor", "DeleteAuthor"].includes(request.operation),
  );
  assert.ok(
    writes.length >= 2 && writes.every((request) => request.method === "POST"),
    JSON.stringify(writes),
  );
});

test("with the server down, the page says so instead of going blank", async () => {
  await server.stop();
  await page().goto(`${app.url}/#/authors/1`);
  const alert = page().getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.textContent(), /The service is not answering \(HTTP 502\)/);
  assert.deepEqual(browser.blocked, []);
});

/** Nothing left the machine, and the page raised no error. */
async function assertClean() {
  await browser.settled();
  assert.deepEqual(browser.blocked, []);
  assert.deepEqual(browser.errors, []);
}
