// Automatic persisted queries through the links frontends use, unmodified from npm: Apollo
// Client's createPersistedQueryLink and urql's persistedExchange, over POST and over GET.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client as UrqlClient, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { startServer } from "./server.mjs";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A `fetch` that records what it sent and what came back: method, body and query-string fields. */
function recordingFetch() {
  const sent = [];
  const fetcher = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const method = (init.method ?? "GET").toUpperCase();
    const body =
      method === "POST"
        ? JSON.parse(init.body)
        : {
            query: url.searchParams.get("query") ?? undefined,
            extensions: JSON.parse(url.searchParams.get("extensions") ?? "null") ?? undefined,
          };
    const response = await fetch(input, init);
    sent.push({
      method,
      accept: new Headers(init.headers).get("accept"),
      query: body.query,
      hasQuery: typeof body.query === "string" && body.query.length > 0,
      hash: body.extensions?.persistedQuery?.sha256Hash,
      status: response.status,
      cacheControl: response.headers.get("cache-control"),
      vary: response.headers.get("vary"),
      codes: (await response.clone().json()).errors?.map((error) => error.extensions?.code) ?? [],
    });
    return response;
  };
  return { sent, fetcher };
}

function apollo(fetcher, options = {}) {
  const link = createPersistedQueryLink({ sha256, ...options }).concat(
    new HttpLink({ uri: `${server.url}/graphql`, fetch: fetcher }),
  );
  return new ApolloClient({ cache: new InMemoryCache(), link });
}

function urql(fetcher, options = {}) {
  return new UrqlClient({
    url: `${server.url}/graphql`,
    fetch: fetcher,
    requestPolicy: "network-only",
    exchanges: [persistedExchange(options), fetchExchange],
  });
}

const AUTHORS = `query FirstAuthors($first: Int!) {
  authors(first: $first) { nodes { id name books(first: 2) { nodes { title } } } }
}`;

/** The server's own answer to `query`, sent the ordinary way. */
async function plain(query, variables) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()).data;
}

test("Apollo Client: hash alone, then hash with query, then the hash alone over GET from a new client", async () => {
  const expected = await plain(AUTHORS, { first: 3 });
  const first = recordingFetch();
  const client = apollo(first.fetcher, { useGETForHashedQueries: true });
  const { data } = await client.query({
    query: gql(AUTHORS),
    variables: { first: 3 },
    fetchPolicy: "no-cache",
  });
  assert.deepEqual(stripTypename(data), expected);

  // The link sent the hash alone, was told PERSISTED_QUERY_NOT_FOUND, and sent both.
  assert.equal(first.sent.length, 2, JSON.stringify(first.sent));
  const [miss, store] = first.sent;
  // Apollo asks for application/graphql-response+json first, so the miss (nothing executed) is a
  // 400, as the GraphQL-over-HTTP spec says; the link retries on it all the same.
  assert.match(miss.accept, /^application\/graphql-response\+json/);
  assert.deepEqual(
    [miss.method, miss.hasQuery, miss.status, miss.codes],
    ["GET", false, 400, ["PERSISTED_QUERY_NOT_FOUND"]],
  );
  assert.equal(store.hasQuery, true);
  assert.equal(store.hash, miss.hash);
  assert.equal(store.hash, sha256(store.query));
  assert.deepEqual(store.codes, []);

  // Another client (another browser) sends the hash alone over GET and is answered at once,
  // with a response a CDN may cache.
  const second = recordingFetch();
  const other = apollo(second.fetcher, { useGETForHashedQueries: true });
  const again = await other.query({ query: gql(AUTHORS), variables: { first: 3 }, fetchPolicy: "no-cache" });
  assert.deepEqual(stripTypename(again.data), expected);
  assert.equal(second.sent.length, 1, JSON.stringify(second.sent));
  assert.deepEqual(
    [second.sent[0].method, second.sent[0].hasQuery, second.sent[0].status, second.sent[0].cacheControl],
    ["GET", false, 200, "public, max-age=0, s-maxage=10"],
  );
  // A cache keeps the HTML playground and the JSON answer of one URL apart.
  assert.match(second.sent[0].vary ?? "", /accept/i);

  // Over POST, the hash alone is answered too.
  const third = recordingFetch();
  const posting = apollo(third.fetcher);
  const posted = await posting.query({
    query: gql(AUTHORS),
    variables: { first: 3 },
    fetchPolicy: "no-cache",
  });
  assert.deepEqual(stripTypename(posted.data), expected);
  assert.deepEqual(
    third.sent.map((sent) => [sent.method, sent.hasQuery]),
    [["POST", false]],
  );
});

test("Apollo Client: a mutation goes over POST even when hashed queries use GET, and writes once", async () => {
  const recorded = recordingFetch();
  const client = apollo(recorded.fetcher, { useGETForHashedQueries: true });
  const mutation = gql`
    mutation Create($name: String!) {
      createAuthor(input: { name: $name, books: [{ title: "A Persisted Book" }] }) {
        id
        name
        bookCount
      }
    }
  `;
  const { data } = await client.mutate({ mutation, variables: { name: "Apollo Persisted" } });
  assert.equal(data.createAuthor.name, "Apollo Persisted");
  assert.equal(data.createAuthor.bookCount, 1);
  assert.ok(
    recorded.sent.every((sent) => sent.method === "POST"),
    JSON.stringify(recorded.sent),
  );

  const count = await plain('{ authors(filter: { nameContains: "Apollo Persisted" }) { totalCount } }');
  assert.equal(count.authors.totalCount, 1);
});

test("Apollo Client with a hash that is not the query's sha256 gets BAD_USER_INPUT", async () => {
  const recorded = recordingFetch();
  const client = apollo(recorded.fetcher, { generateHash: () => "0".repeat(64) });
  const result = await client
    .query({
      query: gql("{ authors(first: 1) { totalCount } }"),
      fetchPolicy: "no-cache",
      errorPolicy: "all",
    })
    .catch((error) => ({ error }));
  const codes = recorded.sent.flatMap((sent) => sent.codes);
  assert.ok(result.error, "the client reports an error");
  assert.equal(codes.at(-1), "BAD_USER_INPUT", JSON.stringify(recorded.sent));
});

test("urql: the persisted exchange misses, stores, then answers the hash alone over GET", async () => {
  const query = "query Count { authors { totalCount } books { totalCount } }";
  const expected = await plain(query);

  const first = recordingFetch();
  const result = await urql(first.fetcher, { preferGetForPersistedQueries: true })
    .query(query, {})
    .toPromise();
  assert.equal(result.error, undefined);
  assert.deepEqual(result.data, expected);
  assert.equal(first.sent.length, 2, JSON.stringify(first.sent));
  assert.deepEqual(first.sent[0].codes, ["PERSISTED_QUERY_NOT_FOUND"]);
  assert.equal(first.sent[0].hasQuery, false);
  assert.equal(first.sent[1].hasQuery, true);
  assert.equal(first.sent[0].hash, first.sent[1].hash);
  assert.equal(first.sent[1].hash, sha256(first.sent[1].query));
  assert.deepEqual(
    first.sent.map((sent) => sent.status),
    [400, 200],
  );

  const second = recordingFetch();
  const again = await urql(second.fetcher, { preferGetForPersistedQueries: true })
    .query(query, {})
    .toPromise();
  assert.deepEqual(again.data, expected);
  assert.deepEqual(
    second.sent.map((sent) => [sent.method, sent.hasQuery, sent.cacheControl]),
    [["GET", false, "public, max-age=0, s-maxage=10"]],
  );
});

test("urql: a mutation through the persisted exchange is sent over POST and writes once", async () => {
  const recorded = recordingFetch();
  const client = urql(recorded.fetcher, { preferGetForPersistedQueries: true });
  const result = await client
    .mutation("mutation Make($name: String!) { createAuthor(input: { name: $name }) { name } }", {
      name: "urql Persisted",
    })
    .toPromise();
  assert.equal(result.error, undefined);
  assert.equal(result.data.createAuthor.name, "urql Persisted");
  assert.ok(
    recorded.sent.length >= 1 && recorded.sent.every((sent) => sent.method === "POST"),
    JSON.stringify(recorded.sent),
  );
  const count = await plain('{ authors(filter: { nameContains: "urql Persisted" }) { totalCount } }');
  assert.equal(count.authors.totalCount, 1);
});

/** Apollo adds `__typename` to every selection; the plain answer has none. */
function stripTypename(value) {
  if (Array.isArray(value)) return value.map(stripTypename);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== "__typename")
        .map(([key, inner]) => [key, stripTypename(inner)]),
    );
  }
  return value;
}
