//! Lists resolved a field at a time for all their items (`api::graphql::lists`) answer exactly
//! what async-graphql's executor answers object by object, which an inline fragment forces: the
//! same data, the same errors at the same paths, and the same number of SQL statements.

use api::{app::AppState, config::Config};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

/// A query shape written twice: with each `<…>` left out (resolved a field at a time) and made an
/// inline fragment (resolved object by object). Spaces keep every position the same, so that
/// errors point at the same line and column.
pub fn both_ways(shape: &str) -> (String, String) {
    let batched = shape.replace('<', "     ").replace('>', " ");
    let resolved = shape.replace('<', "... {").replace('>', "}");
    (batched, resolved)
}

/// A response whose errors are sorted (the executor records them in the order its futures
/// finish) and without their `errorId` (which differs by design: see `lists`).
pub fn normalized(mut response: Value) -> Value {
    if let Some(errors) = response.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors.iter_mut() {
            if let Some(extensions) = error.get_mut("extensions").and_then(Value::as_object_mut) {
                extensions.remove("errorId");
            }
        }
        errors.sort_by_key(Value::to_string);
    }
    response
}

/// Runs `shape` both ways and checks that they agree; returns the batched response.
pub async fn same_both_ways(app: &TestApp, shape: &str) -> Value {
    let (batched, resolved) = both_ways(shape);
    let (fast, fast_statements) = app.counted(&batched).await;
    let (slow, slow_statements) = app.counted(&resolved).await;
    assert_eq!(normalized(fast.clone()), normalized(slow), "{shape}");
    assert_eq!(fast_statements, slow_statements, "statements of {shape}");
    fast
}

/// The response to `query` as the server wrote it, keys in its order.
pub async fn raw(app: &TestApp, query: &str) -> String {
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({ "query": query }).to_string(),
        ))
        .expect("a request");
    String::from_utf8(app.send(request).await.2).expect("UTF-8")
}

/// How many lists of `query`'s response were written as JSON at once, executed in process.
async fn lists_written_as_json(app: &TestApp, query: &str) -> usize {
    let state = AppState::new(
        app.db.clone(),
        app.metrics.clone(),
        &Config::for_database("sqlite::memory:"),
    )
    .expect("valid settings");
    let reply = state
        .graphql
        .execute(async_graphql::Request::new(query))
        .await;
    assert!(reply.errors().is_empty(), "{:?}", reply.errors());
    reply.lists_written_as_json()
}

/// Every field a list resolves for all its items, nested, aliased, repeated, with arguments, next
/// to connection fields that resolve object by object.
const SHAPES: &[&str] = &[
    "{ authors(first: 10) { nodes { < id name bookCount books { nodes { < id title publishedYear authorId __typename > } } __typename > } } }",
    r#"{ books(first: 30) { nodes { < title author { < name books(first: 2, orderBy: [{ field: TITLE, direction: DESC }]) { nodes { < title > } } > } > } } }"#,
    r#"{ authors { nodes { < a: books(first: 1) { nodes { < title > } } b: books(first: 3, filter: { publishedYearFrom: 1903 }) { __typename n: nodes { < id > } nodes { < title t: title > } } c: bookCount(filter: { titleContains: "1" }) bookCount name n: name name > } } }"#,
    "{ authors(first: 4) { nodes { < books(first: 2) { nodes { < id > } } books(first: 2) { nodes { < title > } } > } } }",
    "{ authors(first: 3) { nodes { < books(first: 2) { nodes { < author { < books(first: 2) { nodes { < title author { < name > } > } } > } > } } > } } }",
    "{ authors(first: 4) { nodes { < books(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { < title > } } nodes { < title > } } > } } }",
    "{ authors(first: 5, orderBy: [{ field: NAME, direction: DESC }]) { nodes { < name books(orderBy: [{ field: PUBLISHED_YEAR }]) { nodes { < publishedYear > } } > } } }",
    // Wrong arguments: every author gets the error at its own path.
    "{ authors(first: 3) { nodes { < name books(first: -1) { nodes { < title > } } > } } }",
    r#"{ authors(first: 3) { nodes { < books(after: "nonsense") { nodes { < title > } } > } } }"#,
    r#"{ books(first: 4) { nodes { < title author { < name bookCount(filter: { titleContains: "a\u0000b" }) > } > } } }"#,
    // Every field skipped: objects with no field are null.
    "{ authors(first: 3) { nodes { < id @skip(if: true) > } } }",
    "{ authors(first: 3) { nodes { < books(first: 2) { nodes { < title @include(if: false) > } } > } } }",
];

async fn lists_resolved_a_field_at_a_time_answer_what_the_executor_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(6, 3).await;
    app.author_with_books("Nobody", &[]).await;
    app.author_with_books(
        "Ὅμηρος \"Homer\"",
        &[("Ἰλιάς", Some(-750)), ("Untitled \u{1F4DA}", None)],
    )
    .await;

    let responses: Vec<Value> = {
        let mut responses = Vec::new();
        for shape in SHAPES {
            responses.push(same_both_ways(&app, shape).await);
        }
        responses
    };

    // The comparison is not between two empty answers.
    let first = &responses[0]["data"]["authors"]["nodes"];
    assert_eq!(first.as_array().map(Vec::len), Some(8), "{first}");
    assert_eq!(first[0]["bookCount"], 3);
    assert_eq!(first[0]["books"]["nodes"][2]["title"], "Book 1.3");
    assert_eq!(first[6]["books"]["nodes"], json!([]));
    let homer = &first[7]["books"]["nodes"][1];
    assert_eq!(homer["title"], "Untitled \u{1F4DA}");
    assert_eq!(homer["publishedYear"], Value::Null);
    assert_eq!(
        responses[1]["data"]["books"]["nodes"][4]["author"],
        json!({ "name": "Author 2", "books": { "nodes": [{ "title": "Book 2.3" }, { "title": "Book 2.2" }] } })
    );
    let wrong_first = &responses[7];
    assert_eq!(wrong_first["errors"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        wrong_first["errors"][2]["path"],
        json!(["authors", "nodes", 2, "books"])
    );
    assert_eq!(
        wrong_first["data"]["authors"]["nodes"][2],
        json!({ "name": "Author 3" })
    );

    // Only the batched path puts the fields in the order of the selection: this is the path the
    // comparisons above took.
    let (batched, resolved) = both_ways(
        "{ authors(first: 1) { nodes { < books(first: 1) { nodes { < id > } } name > } } }",
    );
    let batched = raw(&app, &batched).await;
    let resolved = raw(&app, &resolved).await;
    assert!(
        batched.contains(r#"{"books":{"nodes":[{"id":"#),
        "{batched}"
    );
    assert!(
        resolved.contains(r#"{"name":"Author 1","books":"#),
        "{resolved}"
    );

    // Lists of columns are written as JSON only when nothing in the query can be merged
    // (`graphql::json`). A root field given twice is merged with itself: the same answer, built
    // as `Value`s. Both are the same bytes.
    for body in [
        "authors(first: 10) { nodes { id name books { nodes { id title publishedYear authorId __typename } } } }",
        "books(first: 30) { nodes { title author { name books(first: 2) { nodes { title } } } } }",
        r#"author(id: "8") { name books { nodes { title publishedYear } } }"#,
    ] {
        let written = raw(&app, &format!("{{ {body} }}")).await;
        assert!(written.contains("books"), "{written}");
        assert_eq!(written, raw(&app, &format!("{{ {body} {body} }}")).await);
    }
    assert!(
        raw(&app, r#"{ author(id: "8") { books { nodes { title } } } }"#)
            .await
            .contains(r#"[{"title":"Ἰλιάς"},{"title":"Untitled 📚"}]"#)
    );
    // The lists of columns above were written as JSON; where a merge is possible, or every field
    // is skipped, they are not.
    let nested = "authors(first: 2) { nodes { books(first: 2) { nodes { id title } } } }";
    // Two authors' `books.nodes`.
    assert_eq!(
        lists_written_as_json(&app, &format!("{{ {nested} }}")).await,
        2
    );
    for query in [
        format!("{{ {nested} {nested} }}"),
        format!("{{ ... on Query {{ {nested} }} }}"),
        "{ authors(first: 2) { nodes { books(first: 2) { nodes { id @skip(if: true) } } } } }"
            .to_owned(),
    ] {
        assert_eq!(lists_written_as_json(&app, &query).await, 0, "{query}");
    }

    // A fragment that repeats a key is merged into the same objects.
    let (merged, _) = app
        .counted("{ authors(first: 2) { nodes { books(first: 2) { nodes { id } } ... on Author { books(first: 2) { nodes { title } } } } } }")
        .await;
    assert_eq!(
        merged["data"]["authors"]["nodes"][1]["books"]["nodes"],
        json!([{ "id": "4", "title": "Book 2.1" }, { "id": "5", "title": "Book 2.2" }])
    );

    // The authors' statement fails: every book reports it, and keeps its other fields.
    app.db
        .execute_unprepared("ALTER TABLE author RENAME TO author_gone")
        .await
        .expect("hide the authors");
    let orphaned = same_both_ways(
        &app,
        "{ books(first: 4) { nodes { < title author { < name > } > } } }",
    )
    .await;
    let errors = orphaned["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 4, "{orphaned}");
    assert_eq!(errors[3]["path"], json!(["books", "nodes", 3, "author"]));
    assert_eq!(errors[3]["extensions"]["code"], "INTERNAL_SERVER_ERROR");
    assert_eq!(
        orphaned["data"]["books"]["nodes"][0],
        json!({ "title": "Book 1.1" })
    );
    app.db
        .execute_unprepared("ALTER TABLE author_gone RENAME TO author")
        .await
        .expect("bring the authors back");

    // The books' statement fails: every author reports it, and keeps its other fields.
    app.db
        .execute_unprepared("DROP TABLE book")
        .await
        .expect("drop the books");
    let failed = same_both_ways(&app, SHAPES[0]).await;
    let errors = failed["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 16, "{failed}");
    assert!(
        errors
            .iter()
            .all(|error| error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"),
        "{failed}"
    );
    assert_eq!(
        failed["data"]["authors"]["nodes"][0],
        json!({ "id": first[0]["id"], "name": "Author 1", "__typename": "Author" })
    );
}

on_every_backend!(lists_resolved_a_field_at_a_time_answer_what_the_executor_answers);
