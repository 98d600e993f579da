// The `api` binary as a user starts it, on a loopback port and a fresh SQLite file.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const BIN = process.env.API_BIN ?? new URL("../../target/debug/api", import.meta.url).pathname;

/**
 * Starts the server on 127.0.0.1 (port chosen by the system) over a new SQLite file filled with
 * the demo data of `api seed`. Resolves to `{ url, database, stop() }` once it has said where it
 * listens; `stop()` ends it and removes the file.
 */
export async function startServer(environment = {}) {
  const dir = mkdtempSync(join(tmpdir(), "books-browser-"));
  const database = join(dir, "books.db");
  const url = `sqlite://${database}?mode=rwc`;
  const clean = { ...process.env };
  for (const name of Object.keys(clean)) {
    if (
      /^(DATABASE_URL|LISTEN_ADDR|PLAYGROUND|CORS_|RUST_LOG|LOG_FORMAT|JWT_|ANONYMOUS_READS|MUTATION_RATE)/.test(
        name,
      )
    )
      delete clean[name];
  }
  const env = { ...clean, DATABASE_URL: url, LISTEN_ADDR: "127.0.0.1:0", ...environment };
  await run(BIN, ["seed"], env);
  const child = spawn(BIN, [], { env, stdio: ["ignore", "ignore", "pipe"] });
  const log = [];
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address after 30 s:\n${log.join("\n")}`)), 30_000);
    createInterface({ input: child.stderr }).on("line", (line) => {
      log.push(line);
      const found = line.match(/http:\/\/(127\.0\.0\.1:\d+)\/graphql/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${log.join("\n")}`));
    });
  });
  return {
    url: `http://${address}`,
    database,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${stderr}`)),
    );
  });
}
