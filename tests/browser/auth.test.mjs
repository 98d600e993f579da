// Tokens in the browser: the example app and the playground against a service that checks them
// (JWT_SECRET), with tokens made by the binary's own `api token`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { serveApp } from "./app.mjs";
import { openBrowser } from "./browser.mjs";
import { BIN, startServer } from "./server.mjs";
import { rows } from "./sqlite.mjs";

const SECRET = "a browser-test secret, long enough for HS256";

/** A token from `api token`, as the README tells a developer to make one. */
function token(role, subject) {
  return execFileSync(BIN, ["token", "--secret", SECRET, "--role", role, "--subject", subject], {
    encoding: "utf8",
    env: { PATH: process.env.PATH },
  }).trim();
}

let server;
let app;
let browser;

before(async () => {
  server = await startServer({ JWT_SECRET: SECRET });
  app = await serveApp(server.url);
  browser = await openBrowser();
  browser.page.on("dialog", (dialog) => dialog.accept());
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.stop();
});

const page = () => browser.page;
const authors = () => rows(server.database, "SELECT COUNT(*) AS n FROM author")[0].n;

async function deleteFirstAuthor() {
  await page().getByTestId("author").first().getByRole("button", { name: "Delete" }).click();
}

test("the example app reads without a token and deletes only with a writer's", async () => {
  const [first] = rows(server.database, "SELECT id, name FROM author ORDER BY id LIMIT 1");
  await page().goto(`${app.url}/#/`);
  await page().getByText("40 authors, page 1").waitFor();

  await deleteFirstAuthor();
  const refusal = page().getByRole("alert");
  await refusal.waitFor();
  assert.equal(
    await refusal.textContent(),
    `Could not delete ${first.name}: mutations need a bearer token: paste a writer's token in the bar above.`,
  );
  assert.equal(authors(), 40);

  await page().getByLabel("Token").fill(token("reader", "rita"));
  await page().getByRole("button", { name: "Use token" }).click();
  await deleteFirstAuthor();
  await page().getByRole("alert").filter({ hasText: "the token's role may not run mutations" }).waitFor();
  assert.equal(authors(), 40);

  await page().getByRole("button", { name: "Forget token" }).click();
  const writer = token("writer", "ada");
  await page().getByLabel("Token").fill(writer);
  await page().getByRole("button", { name: "Use token" }).click();
  await deleteFirstAuthor();
  await page()
    .getByRole("status")
    .filter({ hasText: `Deleted ${first.name}` })
    .waitFor();
  await page().getByText("39 authors, page 1").waitFor();
  assert.equal(authors(), 39);
  assert.deepEqual(rows(server.database, `SELECT id FROM author WHERE id = ${first.id}`), []);

  // The request's log line names the token's subject, and no log line holds a token.
  const log = server.log.join("\n");
  assert.match(log, /subject=ada/);
  assert.ok(!log.includes(writer.split(".")[2]), "a token's signature is in the log");
  assert.deepEqual(browser.blocked, []);
});

test("the playground sends the token of its Headers tab", async () => {
  const writer = token("writer", "grace");
  await page().goto(`${server.url}/graphql`);
  await page().waitForSelector(".graphiql-query-editor .CodeMirror");
  const run = async (headers) => {
    await page().evaluate(
      ({ headers }) => {
        document
          .querySelector(".graphiql-query-editor .CodeMirror")
          .CodeMirror.setValue('mutation { createAuthor(input: { name: "From GraphiQL" }) { name } }');
        document.querySelector(".graphiql-response .CodeMirror").CodeMirror.setValue("");
        window.__headers = headers;
      },
      { headers },
    );
    await page().getByRole("button", { name: "Headers" }).click();
    await page().evaluate(() => {
      const editors = [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")];
      editors[editors.length - 1].CodeMirror.setValue(window.__headers);
    });
    await page()
      .getByRole("button", { name: /Execute query/ })
      .click();
    await page().waitForFunction(
      () => (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "") !== "",
    );
    return JSON.parse(
      await page().evaluate(() =>
        document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue(),
      ),
    );
  };

  const refused = await run("{}");
  assert.equal(refused.errors[0].extensions.code, "UNAUTHENTICATED");
  assert.equal(authors(), 39);
  const written = await run(JSON.stringify({ Authorization: `Bearer ${writer}` }));
  assert.deepEqual(written, { data: { createAuthor: { name: "From GraphiQL" } } });
  assert.equal(authors(), 40);
});
