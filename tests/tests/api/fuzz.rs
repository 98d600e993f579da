//! A fuzz target for the request path, in the normal test command. cargo-fuzz needs a nightly
//! toolchain, so this is its stand-in on proptest: each case takes a valid request from a corpus,
//! mutates its query text (splices, deletions, duplications, tokens from a GraphQL dictionary,
//! random bytes), its variables (arbitrary JSON) and its envelope (operation name, batches, bodies
//! that are not JSON or not UTF-8), and sends the raw bytes through the whole router.
//!
//! Every response must be one a client can act on: an HTTP status below 500, a JSON body, errors
//! with a message, never `INTERNAL_SERVER_ERROR`, never SQL or Rust internals in the text, and an
//! answer within ten seconds. `FUZZ_CASES` sets the number of executions (default 300 on SQLite,
//! 100 on PostgreSQL); the long runs in `RELIABILITY.md` set it to 60,000 and 100,000.

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
    time::Duration,
};

use axum::{
    body::Body,
    http::{Request, header},
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, property_harness};

/// Valid requests the mutations start from, with variables that fit them: every root field,
/// argument and input of the schema.
const CORPUS: &[(&str, &str)] = &[
    (
        "{ authors(first: 5) { totalCount nodes { id name bookCount books(first: 2) { edges { cursor node { id title publishedYear authorId author { name } } } pageInfo { hasNextPage endCursor } } } } }",
        "{}",
    ),
    (
        "query($after: String) { authors(first: 2, after: $after, orderBy: [{ field: NAME, direction: DESC }]) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { name } } }",
        "{}",
    ),
    (
        "{ books(last: 3, filter: { titleContains: \"%_\", publishedYearFrom: 1900, publishedYearTo: 2000 }, orderBy: [{ field: PUBLISHED_YEAR }, { field: TITLE, direction: DESC }]) { nodes { title author { books(first: 1) { nodes { id } } } } } }",
        "{}",
    ),
    (
        "query($id: ID!) { author(id: $id) { name books { nodes { title } } bookCount(filter: { titleContains: \"a\" }) } book(id: $id) { title } }",
        r#"{"id": "1"}"#,
    ),
    (
        "{ authors(filter: { ids: [\"1\", 2, \"3\"], nameContains: \"A\" }) { nodes { id } } }",
        "{}",
    ),
    (
        "query Q($n: Int = 3) { a: authors(first: $n) { ...F } b: books(first: $n) { nodes { __typename author { ...G } } } } fragment F on AuthorConnection { nodes { ...G } } fragment G on Author { id name }",
        r#"{"n": 2}"#,
    ),
    (
        "mutation($name: String!) { createAuthor(input: { name: $name, books: [{ title: \"One\", publishedYear: 1999 }, { title: \"Two\" }] }) { id books { nodes { id } } } }",
        r#"{"name": "Fuzzed"}"#,
    ),
    (
        "mutation { updateAuthor(id: \"1\", input: { name: \"Renamed\" }) { name } }",
        "{}",
    ),
    (
        "mutation { createBook(input: { authorId: \"1\", title: \"T\", publishedYear: -9999 }) { id author { name } } }",
        "{}",
    ),
    (
        "mutation($id: ID!) { updateBook(id: $id, input: { title: \"U\", publishedYear: null, authorId: \"1\" }) { title } }",
        r#"{"id": "1"}"#,
    ),
    (
        "mutation { deleteBook(id: \"2\") { deletedBookId } deleteAuthor(id: \"3\") { deletedAuthorId deletedBookIds } }",
        "{}",
    ),
    (
        "{ __schema { types { name fields { name args { name type { kind name ofType { name } } } } } } }",
        "{}",
    ),
    (
        "query($skip: Boolean!) { authors @skip(if: $skip) { nodes { name @include(if: true) } } }",
        r#"{"skip": false}"#,
    ),
];

/// Tokens the mutations insert: GraphQL syntax, names from the schema, and hostile literals.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "...",
    "$",
    "!",
    "=",
    "@",
    "|",
    "&",
    ",",
    "\"",
    "\"\"\"",
    "query",
    "mutation",
    "subscription",
    "fragment F on Author { name }",
    "...F",
    "on",
    "__typename",
    "__schema { queryType { name } }",
    "__type(name: \"Book\") { name }",
    "authors",
    "books",
    "author",
    "book",
    "nodes",
    "edges",
    "node",
    "cursor",
    "totalCount",
    "bookCount",
    "first: ",
    "last: ",
    "after: ",
    "before: ",
    "filter: ",
    "orderBy: ",
    "id: ",
    "input: ",
    "$v",
    "$v: Int",
    "$v: String!",
    "$v: [ID!]",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "101",
    "1000000",
    "2147483648",
    "-9223372036854775809",
    "1e400",
    "0.5",
    "NaN",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\\"\"",
    "\"%\"",
    "\"_\\\\\"",
    "\"'; DROP TABLE book; --\"",
    "\"eyJrIjpbXX0=\"",
    "\"not a cursor\"",
    "ASC",
    "DESC",
    "ID",
    "NAME",
    "TITLE",
    "PUBLISHED_YEAR",
    "@skip(if: true)",
    "@include(if: $v)",
    "@deprecated",
    "#",
    "\n",
    "\u{feff}",
];

/// One change to the query text, at positions taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Insert {
        at: usize,
        token: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    Bytes {
        at: usize,
        bytes: Vec<u8>,
    },
    Splice {
        at: usize,
        other: usize,
        from: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0..DICTIONARY.len()).prop_map(|(at, token)| Edit::Insert { at, token }),
        2 => (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        1 => (any::<usize>(), 1usize..80).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Edit::Bytes { at, bytes }),
        1 => (any::<usize>(), 0..CORPUS.len(), any::<usize>())
            .prop_map(|(at, other, from)| Edit::Splice { at, other, from }),
    ]
}

fn apply(text: &mut Vec<u8>, edit: &Edit) {
    let at = |position: usize, text: &Vec<u8>| position % (text.len() + 1);
    match edit {
        Edit::Insert {
            at: position,
            token,
        } => {
            let position = at(*position, text);
            text.splice(position..position, DICTIONARY[*token].bytes());
        }
        Edit::Delete { at: position, len } => {
            let position = at(*position, text);
            let end = (position + len).min(text.len());
            text.drain(position..end);
        }
        Edit::Duplicate { at: position, len } => {
            let position = at(*position, text);
            let end = (position + len).min(text.len());
            let copy = text[position..end].to_vec();
            text.splice(end..end, copy);
        }
        Edit::Bytes {
            at: position,
            bytes,
        } => {
            let position = at(*position, text);
            text.splice(position..position, bytes.iter().copied());
        }
        Edit::Splice {
            at: position,
            other,
            from,
        } => {
            let position = at(*position, text);
            let other = CORPUS[*other].0.as_bytes();
            let from = from % other.len();
            text.truncate(position);
            text.extend_from_slice(&other[from..]);
        }
    }
}

/// Arbitrary JSON, a few levels deep, with the strings and numbers that break naive code.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        any::<String>().prop_map(Value::from),
        "[0-9]{1,25}".prop_map(Value::from),
        Just(Value::from("\u{0}")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z$]{1,6}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// How the mutated query travels.
#[derive(Debug, Clone)]
enum Envelope {
    /// `{"query", "variables", "operationName"}`, as clients send it.
    Request { operation: Option<String> },
    /// A JSON array of two such requests.
    Batch,
    /// The query text itself as the body, JSON or not.
    Raw,
}

fn envelope() -> impl Strategy<Value = Envelope> {
    prop_oneof![
        8 => prop::option::of(prop_oneof![Just("Q".to_owned()), "[A-Za-z_]{0,8}"])
            .prop_map(|operation| Envelope::Request { operation }),
        1 => Just(Envelope::Batch),
        1 => Just(Envelope::Raw),
    ]
}

/// One fuzz case.
#[derive(Debug, Clone)]
struct Case {
    seed: usize,
    edits: Vec<Edit>,
    /// Arbitrary variables, or (when `None`) the ones that fit the seed.
    variables: Option<BTreeMap<String, Value>>,
    envelope: Envelope,
}

fn case() -> impl Strategy<Value = Case> {
    let names = prop_oneof![
        Just("id".to_owned()),
        Just("name".to_owned()),
        Just("after".to_owned()),
        Just("n".to_owned()),
        Just("skip".to_owned()),
        Just("v".to_owned()),
        "[a-z]{1,4}",
    ];
    (
        0..CORPUS.len(),
        prop_oneof![
            1 => Just(Vec::new()),
            2 => prop::collection::vec(edit(), 1..3),
            1 => prop::collection::vec(edit(), 3..8),
        ],
        prop::option::weighted(0.3, prop::collection::btree_map(names, json_value(), 0..4)),
        envelope(),
    )
        .prop_map(|(seed, edits, variables, envelope)| Case {
            seed,
            edits,
            variables,
            envelope,
        })
}

impl Case {
    /// The request body: bytes that may not be JSON, or not even UTF-8.
    fn body(&self) -> Vec<u8> {
        let (seed, fitting) = CORPUS[self.seed];
        let mut text = seed.as_bytes().to_vec();
        for edit in &self.edits {
            apply(&mut text, edit);
        }
        let query = String::from_utf8_lossy(&text).into_owned();
        let request = |operation: &Option<String>| {
            let variables = match &self.variables {
                Some(variables) => json!(variables),
                None => serde_json::from_str(fitting).expect("the corpus's variables are JSON"),
            };
            let mut request = json!({ "query": query, "variables": variables });
            if let Some(operation) = operation {
                request["operationName"] = json!(operation);
            }
            request
        };
        match &self.envelope {
            Envelope::Request { operation } => request(operation).to_string().into_bytes(),
            Envelope::Batch => json!([request(&None), request(&None)])
                .to_string()
                .into_bytes(),
            Envelope::Raw => text,
        }
    }
}

/// Why a response is not one a client can act on, if it is not.
fn unclear(status: u16, body: &[u8]) -> Option<String> {
    if status >= 500 {
        return Some(format!("status {status}"));
    }
    let Ok(response) = serde_json::from_slice::<Value>(body) else {
        return Some("a body that is not JSON".into());
    };
    let text = response.to_string();
    for leak in [
        "SELECT ", "INSERT ", "sqlx", "sea_orm", "panicked", "src/", "DbErr",
    ] {
        if text.contains(leak) {
            return Some(format!("{leak:?} in the response"));
        }
    }
    match response.get("errors").map(|errors| errors.as_array()) {
        None if response.get("data").is_some() => None,
        None => Some("neither data nor errors".into()),
        Some(None) => Some("errors that are not a list".into()),
        Some(Some(errors)) => errors.iter().find_map(|error| {
            if !error["message"].is_string() {
                Some("an error without a message".into())
            } else if error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" {
                Some("an internal error".into())
            } else {
                None
            }
        }),
    }
}

fn run(backend: Backend, default_cases: u32) {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    let (runtime, mut runner) = property_harness(cases);
    let app = runtime.block_on(async {
        let app = TestApp::spawn(backend).await;
        app.authors_with_books(3, 2).await;
        app
    });
    // `TestRunner::run` takes an `Fn`: the tallies live in cells.
    let statuses = RefCell::new(BTreeMap::<u16, u32>::new());
    let resolved = Cell::new(0u32);
    runner
        .run(&case(), |case| {
            let body = case.body();
            let request = Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("a valid request");
            let answered = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), app.send(request)).await
            });
            let Ok((status, _, body)) = answered else {
                return Err(TestCaseError::fail("no answer within 10 s"));
            };
            *statuses.borrow_mut().entry(status.as_u16()).or_default() += 1;
            if serde_json::from_slice::<Value>(&body).is_ok_and(|r| r["data"].is_object()) {
                resolved.set(resolved.get() + 1);
            }
            if let Some(problem) = unclear(status.as_u16(), &body) {
                return Err(TestCaseError::fail(format!(
                    "{problem}: {status} {}",
                    String::from_utf8_lossy(&body)
                )));
            }
            Ok(())
        })
        .unwrap();
    let (statuses, resolved) = (statuses.into_inner(), resolved.get());
    let executions: u32 = statuses.values().sum();
    eprintln!(
        "fuzz: {executions} executions, none unclear; {resolved} reached the resolvers; \
         by status: {statuses:?}"
    );
    // The mutations must also reach the resolvers, not only the parser's error paths (RELIABILITY.md
    // gives the share that does). A low bar keeps false alarms on 100 cases rare.
    assert!(
        resolved * 100 >= executions,
        "{resolved} of {executions} resolved"
    );
}

/// The corpus is valid against the schema (so the fuzzer starts from requests that reach the
/// resolvers): each entry, with its variables, answers data and no error.
#[tokio::test]
async fn every_corpus_request_resolves() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.authors_with_books(3, 2).await;
    for (query, variables) in CORPUS {
        let response = app
            .graphql_with(query, serde_json::from_str(variables).unwrap())
            .await;
        assert!(response.get("errors").is_none(), "{query}: {response}");
        assert!(response["data"].is_object(), "{query}: {response}");
    }
}

#[test]
fn fuzzed_requests_get_a_clear_answer_on_sqlite() {
    run(Backend::Sqlite, 300);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "set TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn fuzzed_requests_get_a_clear_answer_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        run(backend, 100);
    }
}
