// The playground as a user meets it: a browser with no internet opens /graphql, GraphiQL loads
// from this server alone, introspects the schema and runs a query.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openBrowser } from "./browser.mjs";
import { startServer } from "./server.mjs";

const QUERY = `{
  authors(first: 2) {
    nodes {
      name
      books(first: 2) { nodes { title } }
    }
  }
}`;

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the server answers to `query` over plain HTTP, for comparison with the page. */
async function answer(query) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

/** The text of the CodeMirror editor inside `selector`. */
function editorText(page, selector) {
  return page.evaluate(
    (selector) => document.querySelector(`${selector} .CodeMirror`)?.CodeMirror.getValue() ?? null,
    selector,
  );
}

test("the playground loads offline, introspects the schema and runs the query from the URL", async () => {
  const { page, blocked, errors } = browser;
  const introspection = page.waitForResponse(
    (response) =>
      response.request().method() === "POST" && (response.request().postData() ?? "").includes("__schema"),
  );

  // A browser's GET asks for HTML: the playground, with the URL's query in its editor.
  const opened = await page.goto(`${server.url}/graphql?query=${encodeURIComponent(QUERY)}`);
  assert.equal(opened.status(), 200);
  assert.match(opened.headers()["content-type"], /^text\/html/);

  const schema = await (await introspection).json();
  assert.equal(schema.errors, undefined);
  assert.equal(schema.data.__schema.queryType.name, "Query");

  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  assert.equal(await editorText(page, ".graphiql-query-editor"), QUERY);

  // The schema reached the documentation explorer: Query and its fields are browsable.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  await page.locator(".graphiql-doc-explorer").getByText("Query", { exact: true }).click();
  await page.locator(".graphiql-doc-explorer").getByText("authors", { exact: true }).first().waitFor();

  // Run it: the result pane shows what the server answers over HTTP.
  await page.getByRole("button", { name: /Execute query/ }).click();
  await page.waitForFunction(() => {
    const text = document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "";
    return text.includes('"data"');
  });
  const shown = JSON.parse(await editorText(page, ".graphiql-response"));
  const expected = await answer(QUERY);
  assert.equal(expected.data.authors.nodes.length, 2);
  assert.deepEqual(shown, expected);

  if (process.env.SCREENSHOT_DIR)
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/playground.png` });

  await browser.settled();
  assert.deepEqual(blocked, [], "every file the page needs comes from this server");
  assert.deepEqual(errors, []);
});

test("a query typed in the editor runs with its variables", async () => {
  const { page, blocked, errors } = browser;
  await page.goto(`${server.url}/graphql`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  const query = "query Named($first: Int!) { authors(first: $first) { totalCount nodes { name } } }";
  await page.evaluate(
    ({ query }) => {
      document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(query);
      document.querySelector(".graphiql-editor-tool .CodeMirror").CodeMirror.setValue('{"first": 3}');
    },
    { query },
  );
  await page.getByRole("button", { name: /Execute query/ }).click();
  await page.waitForFunction(() =>
    (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "").includes(
      '"totalCount"',
    ),
  );
  const shown = JSON.parse(await editorText(page, ".graphiql-response"));
  assert.equal(shown.data.authors.nodes.length, 3);
  assert.equal(shown.data.authors.totalCount, 40);
  await browser.settled();
  assert.deepEqual(blocked, []);
  assert.deepEqual(errors, []);
});

test("a subscription runs in the playground and shows each change as it commits", async () => {
  const { page, blocked, errors } = browser;
  await page.goto(`${server.url}/graphql`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  const subscription = `subscription Watch {
  bookChanged {
    kind
    bookId
    book { title author { name } }
  }
}`;
  await page.evaluate(
    ({ subscription }) => {
      document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(subscription);
      document.querySelector(".graphiql-editor-tool .CodeMirror").CodeMirror.setValue("");
    },
    { subscription },
  );
  // GraphiQL reads the operation from its own state, which follows the editor after a debounce
  // (the same that saves the query): run it once the saved query is this one.
  await page.waitForFunction(
    (subscription) => localStorage.getItem("graphiql:query") === subscription,
    subscription,
  );
  const opened = page.waitForEvent("websocket");
  await page.getByRole("button", { name: /Execute query/ }).click();
  const socket = await opened;
  assert.equal(socket.url(), `${server.url.replace(/^http/, "ws")}/graphql`);
  // Once the server holds the subscription, a book written elsewhere shows up in the page.
  for (;;) {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    if (/^subscriptions 1$/m.test(metrics)) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const author = (await answer("{ authors(first: 1) { nodes { id name } } }")).data.authors.nodes[0];
  const written = await answer(
    `mutation { createBook(input: { authorId: "${author.id}", title: "Written while watching" }) { id } }`,
  );
  await page.waitForFunction(() =>
    (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "").includes(
      "Written while watching",
    ),
  );
  const shown = JSON.parse(await editorText(page, ".graphiql-response"));
  assert.deepEqual(shown, {
    data: {
      bookChanged: {
        kind: "CREATED",
        bookId: written.data.createBook.id,
        book: { title: "Written while watching", author: { name: author.name } },
      },
    },
  });
  if (process.env.SCREENSHOT_DIR)
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/playground-subscription.png` });
  await browser.settled();
  assert.deepEqual(blocked, []);
  assert.deepEqual(errors, []);
});
