//! Hostile input (property tests): arbitrary text and integers in every kind of argument get data
//! or a clear client error, never an internal error, a panic or a hang.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, property_harness};

/// One request built from an arbitrary string and integer.
fn request(which: usize, text: &str, number: i64) -> (&'static str, Value) {
    match which {
        0 => (
            "query($t: String) { authors(filter: { nameContains: $t }) { totalCount nodes { books(filter: { titleContains: $t }) { nodes { id } } } } }",
            json!({ "t": text }),
        ),
        1 => (
            "query($c: String) { authors(after: $c) { nodes { id } } }",
            json!({ "c": text }),
        ),
        2 => (
            "query($c: String) { books(before: $c, last: 2, orderBy: [{ field: TITLE }]) { nodes { id } } }",
            json!({ "c": text }),
        ),
        3 => (
            "query($id: ID!) { author(id: $id) { name } book(id: $id) { title } }",
            json!({ "id": text }),
        ),
        4 => (
            "mutation($n: String!) { createAuthor(input: { name: $n, books: [{ title: $n }] }) { name } }",
            json!({ "n": text }),
        ),
        5 => (
            "query($n: Int) { authors(first: $n) { nodes { books(first: $n) { nodes { id } } } } }",
            json!({ "n": number }),
        ),
        6 => (
            "mutation($y: Int) { createBook(input: { authorId: \"1\", title: \"Year\", publishedYear: $y }) { id } }",
            json!({ "y": number }),
        ),
        _ => (
            "query($id: ID!) { author(id: $id) { name } }",
            json!({ "id": number }),
        ),
    }
}

/// Whether a response is data, or errors a client can act on.
fn is_clear(response: &Value) -> bool {
    match response.get("errors").and_then(Value::as_array) {
        None => response.get("data").is_some(),
        Some(errors) => errors.iter().all(|error| {
            let code = error["extensions"]["code"].as_str();
            // Variables of the wrong type are refused by async-graphql's validation, which keeps
            // its own shape (no code), as docs/reference.md § Errors says.
            code.is_none_or(|code| code != "INTERNAL_SERVER_ERROR") && error["message"].is_string()
        }),
    }
}

fn run(backend: Backend, cases: u32) {
    let (runtime, mut runner) = property_harness(cases);
    let app = runtime.block_on(async {
        let app = TestApp::spawn(backend).await;
        app.author_with_books("Seed", &[("Seed book", Some(2000))])
            .await;
        app
    });
    let strings = prop_oneof![
        any::<String>(),
        "[%_\\\\'\"\\\\\\u{0}.*()\\[\\]{}|^$]{0,12}",
        Just("x".repeat(70_000)),
    ];
    let numbers = prop_oneof![
        any::<i64>(),
        -2i64..=2,
        Just(i64::from(i32::MAX) + 1),
        Just(10_000)
    ];
    runner
        .run(&(0usize..8, strings, numbers), |(which, text, number)| {
            let (query, variables) = request(which, &text, number);
            let response = runtime.block_on(app.graphql_with(query, variables));
            prop_assert!(is_clear(&response), "{query} gave {response}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_arguments_get_data_or_a_clear_error_on_sqlite() {
    run(Backend::Sqlite, 400);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "set TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn arbitrary_arguments_get_data_or_a_clear_error_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        run(backend, 200);
    }
}
