// deploy/three-instances.sh: three instances of the `api` binary on one PostgreSQL database
// behind HAProxy. Subscribers on each instance, writers through the balancer, one instance killed
// with SIGKILL in the middle; then every instance's listening connection dropped at once. The
// database is the truth each subscriber's view is compared with at the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const BIN = process.env.API_BIN ?? new URL("../../target/debug/api", import.meta.url).pathname;
const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: process.env.PGPORT ?? "5432",
  user: process.env.PGUSER ?? "postgres",
};
const WRITERS = 4;
const OPERATIONS = 60; // per writer
const SUBSCRIBERS_PER_INSTANCE = 2;

const BOOK_CHANGED = "subscription { bookChanged { kind bookId book { title authorId } } }";
const SNAPSHOT = "{ authors(first: 100) { nodes { books(first: 1000) { nodes { id title authorId } } } } }";

function psql(database, sql) {
  return execFileSync(
    "psql",
    ["-h", PG.host, "-p", PG.port, "-U", PG.user, "-d", database, "-At", "-F", "|", "-c", sql],
    {
      encoding: "utf8",
    },
  ).trim();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(what, check, timeout = 20_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeout) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const SCRIPT = new URL("../../deploy/three-instances.sh", import.meta.url).pathname;

/**
 * Runs deploy/three-instances.sh on free ports: resolves to its instances (`{ name, pid,
 * address }`), the balancer's address, and the script's process, once it has printed them.
 */
async function startCluster(databaseUrl) {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (/^(DATABASE_|LISTEN_ADDR|JWT_|CORS_|MAX_|RUST_LOG)/.test(key)) delete env[key];
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    API_BIN: BIN,
    BALANCER_PORT: String(await freePort()),
    INSTANCE_PORTS: [await freePort(), await freePort(), await freePort()].join(" "),
    MAX_PAGE_SIZE: "1000",
    MAX_QUERY_COMPLEXITY: "1000000",
  });
  const script = spawn(SCRIPT, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  script.stderr.on("data", (chunk) => (stderr += chunk));
  const instances = [];
  const balancer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not start in 60 s\n${stderr}`)), 60_000);
    createInterface({ input: script.stdout }).on("line", (line) => {
      const instance = line.match(/^instance (\S+) (\d+) http:\/\/(\S+)$/);
      if (instance) instances.push({ name: instance[1], pid: Number(instance[2]), address: instance[3] });
      const balancer = line.match(/^balancer http:\/\/(\S+)\/graphql$/);
      if (balancer) {
        clearTimeout(timer);
        resolve({ address: balancer[1] });
      }
    });
    script.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster script exited with ${code}\n${stderr}`));
    });
  });
  return { script, instances, balancer };
}

async function graphql(address, query, variables = {}) {
  const response = await fetch(`http://${address}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function subscriptionsOn(instance) {
  const text = await (await fetch(`http://${instance.address}/metrics`)).text();
  return Number(text.match(/^subscriptions (\d+)/m)?.[1] ?? -1);
}

/**
 * A client that shows every book: it subscribes to `bookChanged`, keeps the books it was told
 * of, and when told that it may have missed changes (its connection closed, or `EVENTS_MISSED`)
 * it subscribes again through the balancer and refetches, over the same socket after the
 * subscription so that nothing committed in between is lost.
 */
class Viewer {
  constructor(name, firstAddress, balancer) {
    this.name = name;
    this.balancer = balancer;
    this.books = new Map();
    this.events = [];
    this.connections = [];
    this.told = [];
    this.stopped = false;
    this.connect(firstAddress, false);
  }

  connect(address, refetch) {
    this.connections.push(address);
    const client = createClient({
      url: `ws://${address}/graphql`,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => {},
    });
    this.client = client;
    // The changes received since the last refetch was asked for, and whether its answer came.
    const view = { received: [], ready: !refetch };
    const lost = (reason) => {
      if (this.stopped || this.client !== client) return;
      this.told.push({ reason, at: Date.now() });
      client.dispose();
      setTimeout(() => this.connect(this.balancer, true), 50);
    };
    client.subscribe(
      { query: BOOK_CHANGED },
      {
        next: (payload) => {
          if (payload.errors) {
            // Told that changes may have been missed: refetch over this socket.
            assert.equal(payload.errors[0].extensions.code, "EVENTS_MISSED");
            this.told.push({ reason: "EVENTS_MISSED", at: Date.now() });
            this.refetch(client, view);
            return;
          }
          const change = payload.data.bookChanged;
          const event = {
            kind: change.kind,
            id: change.bookId,
            title: change.book?.title,
            authorId: change.book?.authorId,
          };
          this.events.push(event);
          view.received.push(event);
          if (view.ready) this.apply(event);
        },
        error: (error) => lost(error?.code ?? String(error)),
        complete: () => lost("complete"),
      },
    );
    if (refetch) this.refetch(client, view);
  }

  apply(event) {
    if (event.kind === "DELETED") this.books.delete(event.id);
    else this.books.set(event.id, { title: event.title, authorId: event.authorId });
  }

  /**
   * Replaces the books with a snapshot read after every change received from now on was
   * subscribed to (the server handles one socket's messages in order), then replays those
   * changes: each carries its row, so one the snapshot already holds changes nothing.
   */
  refetch(client, view) {
    view.received = [];
    view.ready = false;
    client.subscribe(
      { query: SNAPSHOT },
      {
        next: ({ data }) => {
          this.books = new Map(
            data.authors.nodes.flatMap((a) =>
              a.books.nodes.map((b) => [b.id, { title: b.title, authorId: b.authorId }]),
            ),
          );
          for (const event of view.received) this.apply(event);
          view.ready = true;
        },
        error: () => {},
        complete: () => {},
      },
    );
  }

  stop() {
    this.stopped = true;
    this.client.dispose();
  }
}

test(
  "three instances behind HAProxy: every committed change reaches every subscriber exactly once, through a SIGKILL",
  { timeout: 180_000 },
  async (t) => {
    const database = `cluster_${process.pid}_${Date.now()}`;
    psql("postgres", `CREATE DATABASE ${database}`);
    const url = `postgres://${PG.user}@${PG.host}:${PG.port}/${database}`;
    let cluster;
    let viewers = [];
    t.after(async () => {
      for (const viewer of viewers) viewer.stop();
      if (cluster && cluster.script.exitCode === null) {
        const exited = new Promise((resolve) => cluster.script.once("exit", resolve));
        cluster.script.kill("SIGTERM");
        await exited;
      }
      psql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });
    cluster = await startCluster(url);
    const { instances, balancer } = cluster;
    assert.equal(instances.length, 3);
    const [, , victim] = instances;

    const authors = [];
    for (const name of ["Jane Austen", "George Eliot", "Mary Shelley", "Toni Morrison", "Chinua Achebe"]) {
      authors.push(
        (
          await graphql(
            balancer.address,
            `
              mutation ($n: String!) {
                createAuthor(input: { name: $n }) {
                  id
                }
              }
            `,
            { n: name },
          )
        ).createAuthor.id,
      );
    }

    viewers = instances.flatMap((instance) =>
      Array.from({ length: SUBSCRIBERS_PER_INSTANCE }, (_, i) =>
        Object.assign(new Viewer(`${instance.name}${i}`, instance.address, balancer.address), { instance }),
      ),
    );
    for (const instance of instances) {
      await until(
        `subscriptions on ${instance.name}`,
        async () => (await subscriptionsOn(instance)) === SUBSCRIBERS_PER_INSTANCE,
      );
    }

    // Writers through the balancer; `c` is killed once 40% of the writes are acknowledged.
    const acknowledged = [];
    let failed = 0;
    let killedAt = null;
    const total = WRITERS * OPERATIONS;
    const writer = async (w) => {
      const mine = [];
      let seed = w + 1;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let n = 0; n < OPERATIONS; n++) {
        const title = `w${w}-op${n}`;
        const choice = mine.length === 0 ? 0 : random();
        try {
          if (choice < 0.5) {
            const author = authors[Math.floor(random() * authors.length)];
            const { createBook } = await graphql(
              balancer.address,
              `
                mutation ($a: ID!, $t: String!) {
                  createBook(input: { authorId: $a, title: $t }) {
                    id
                  }
                }
              `,
              { a: author, t: title },
            );
            mine.push(createBook.id);
            acknowledged.push({ kind: "CREATED", id: createBook.id, title });
          } else if (choice < 0.85) {
            const id = mine[Math.floor(random() * mine.length)];
            const author = authors[Math.floor(random() * authors.length)];
            await graphql(
              balancer.address,
              `
                mutation ($id: ID!, $t: String!, $a: ID) {
                  updateBook(id: $id, input: { title: $t, authorId: $a }) {
                    id
                  }
                }
              `,
              { id, t: title, a: author },
            );
            acknowledged.push({ kind: "UPDATED", id, title });
          } else {
            const id = mine.splice(Math.floor(random() * mine.length), 1)[0];
            await graphql(
              balancer.address,
              `
                mutation ($id: ID!) {
                  deleteBook(id: $id) {
                    deletedBookId
                  }
                }
              `,
              { id },
            );
            acknowledged.push({ kind: "DELETED", id });
          }
        } catch {
          failed += 1; // in flight on the killed instance: committed or not, the database knows
        }
        if (killedAt === null && acknowledged.length >= total * 0.4) {
          killedAt = Date.now();
          process.kill(victim.pid, "SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    assert.ok(killedAt, "the instance was killed");

    // A last change: once every viewer has it, each has every change committed before it.
    const final = (
      await graphql(
        balancer.address,
        `
          mutation ($a: ID!) {
            createBook(input: { authorId: $a, title: "FINAL" }) {
              id
            }
          }
        `,
        { a: authors[0] },
      )
    ).createBook.id;
    await until("every viewer to see the last change", () => viewers.every((v) => v.books.has(final)));

    const rows = psql(database, "SELECT id, title, author_id FROM book ORDER BY id")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split("|"));
    const truth = new Map(rows.map(([id, title, authorId]) => [id, { title, authorId }]));
    const survivors = viewers.filter((v) => v.instance !== victim);
    const rescued = viewers.filter((v) => v.instance === victim);
    const reference = [...survivors[0].events];
    const key = (e) => `${e.kind}:${e.id}:${e.title ?? ""}`;

    for (const viewer of survivors) {
      assert.deepEqual(viewer.told, [], `${viewer.name} was never told it missed anything`);
      assert.equal(viewer.connections.length, 1, `${viewer.name} kept its connection`);
      assert.equal(
        new Set(viewer.events.map(key)).size,
        viewer.events.length,
        `${viewer.name}: no change twice`,
      );
      assert.deepEqual(viewer.events, reference, `${viewer.name}: the same changes in the same order`);
      assert.equal(viewer.events.at(-1).id, final);
      assert.deepEqual(viewer.books, truth, `${viewer.name} shows what the database holds`);
    }
    const seen = new Set(reference.map(key));
    for (const write of acknowledged)
      assert.ok(seen.has(key(write)), `acknowledged ${key(write)} was delivered`);
    for (const viewer of rescued) {
      assert.ok(viewer.told.length >= 1, `${viewer.name} was told it may have missed changes`);
      assert.equal(
        viewer.connections.at(-1),
        balancer.address,
        `${viewer.name} came back through the balancer`,
      );
      assert.deepEqual(viewer.books, truth, `${viewer.name} shows what the database holds after refetching`);
    }

    // Every listening connection dropped at once: each surviving instance listens again and tells
    // its subscribers, who refetch; a change after that reaches them all.
    const dropped = Date.now();
    const terminated = psql(
      database,
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'authors-api listener' AND query LIKE 'LISTEN%' AND datname = current_database()",
    );
    assert.equal(terminated, "2");
    const toldCount = new Map(viewers.map((v) => [v, v.told.length]));
    await until("every survivor to be told", () => survivors.every((v) => v.told.length > toldCount.get(v)));
    const reconnectMs = survivors.map((v) => v.told.at(-1).at - dropped);
    // The balancer takes the instances back after two good readiness checks.
    const after = await until("the balancer to take a write again", async () => {
      try {
        return (
          await graphql(
            balancer.address,
            `
              mutation ($a: ID!) {
                createBook(input: { authorId: $a, title: "AFTER" }) {
                  id
                }
              }
            `,
            { a: authors[1] },
          )
        ).createBook.id;
      } catch {
        return null;
      }
    });
    await until("every viewer to see the change after the drop", () =>
      viewers.every((v) => v.books.has(after)),
    );

    const committed = reference.length + 1; // and the one after the drop
    const delivered = viewers.reduce((sum, v) => sum + v.events.length, 0);
    const missedByRescued = rescued.map(
      (v) => reference.filter((e) => !new Set(v.events.map(key)).has(key(e))).length,
    );
    console.log(
      JSON.stringify({
        writesAttempted: total,
        writesAcknowledged: acknowledged.length,
        writesFailedInFlight: failed,
        changesCommitted: committed,
        delivered,
        lostBySurvivors: 0,
        missedWhileReconnecting: missedByRescued,
        rescuedReconnectedAfterMs: rescued.map((v) => v.told[0].at - killedAt),
        listenerDropToToldMs: reconnectMs,
      }),
    );
  },
);
