//! Concurrent writers (multi-threaded runtime, a pool of connections on a SQLite file and on
//! PostgreSQL): nothing is lost, nothing is orphaned, and races end in a clear outcome.

use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{Backend, TestApp, send_graphql};

const CREATE_BOOK: &str = "mutation($input: CreateBookInput!) { createBook(input: $input) { id } }";
const DELETE_AUTHOR: &str = "mutation($id: ID!) { deleteAuthor(id: $id) { deletedBookIds } }";

async fn fifty_concurrent_create_books_for_one_author_all_persist(backend: Backend) {
    let app = TestApp::spawn_pooled(backend).await;
    let (author, _) = app.author_with_books("Prolific", &[]).await;

    let mut writers = JoinSet::new();
    for i in 0..50 {
        let body = json!({ "query": CREATE_BOOK, "variables": { "input": { "authorId": author, "title": format!("Book {i}") } } });
        let router = app.router.clone();
        writers.spawn(async move { send_graphql(router, body).await.1 });
    }
    let mut ids = Vec::new();
    while let Some(response) = writers.join_next().await {
        let response = response.unwrap();
        assert!(response.get("errors").is_none(), "{response}");
        ids.push(
            response["data"]["createBook"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert_eq!(app.count_rows("book").await, 50);
    let count = app
        .graphql(&format!(r#"{{ author(id: "{author}") {{ bookCount }} }}"#))
        .await;
    assert_eq!(count["data"]["author"]["bookCount"], 50);
}

async fn racing_delete_author_and_create_book_never_leave_an_orphan(backend: Backend) {
    let app = TestApp::spawn_pooled(backend).await;

    for round in 0..20 {
        let (author, _) = app
            .author_with_books(&format!("Racer {round}"), &[("Old", None)])
            .await;
        let create = json!({ "query": CREATE_BOOK, "variables": { "input": { "authorId": author, "title": "New" } } });
        let delete = json!({ "query": DELETE_AUTHOR, "variables": { "id": author } });
        let (created, deleted) = tokio::join!(
            tokio::spawn(send_graphql(app.router.clone(), create)),
            tokio::spawn(send_graphql(app.router.clone(), delete)),
        );
        let (created, deleted) = (created.unwrap().1, deleted.unwrap().1);

        let deleted_ids = &deleted["data"]["deleteAuthor"]["deletedBookIds"];
        assert!(
            deleted.get("errors").is_none(),
            "deleteAuthor always finds its author: {deleted}"
        );
        match created.get("errors") {
            None => {
                let id = &created["data"]["createBook"]["id"];
                assert!(
                    deleted_ids.as_array().unwrap().contains(id),
                    "round {round}: the book created first was deleted and reported: {deleted}"
                );
            }
            Some(errors) => assert_eq!(
                errors[0]["extensions"]["code"], "NOT_FOUND",
                "round {round}: {created}"
            ),
        }
        let orphans =
            "SELECT COUNT(*) AS n FROM book WHERE author_id NOT IN (SELECT id FROM author)";
        assert_eq!(app.scalar(orphans).await, 0, "round {round}");
    }
    assert_eq!(app.count_rows("book").await, 0);
}

async fn one_connection_serves_concurrent_nested_reads_and_writes(backend: Backend) {
    let app = TestApp::spawn_pooled_with(backend, |c| c.db_max_connections = 1).await;
    let authors = app.authors_with_books(20, 3).await;
    let nested = "{ books(first: 50) { nodes { author { name bookCount books(first: 2) { totalCount nodes { title } } } } } }";

    let mut clients = JoinSet::new();
    for i in 0..40 {
        let body = if i % 2 == 0 {
            json!({ "query": nested })
        } else {
            json!({ "query": CREATE_BOOK, "variables": { "input": { "authorId": authors[i % 20], "title": format!("Under pressure {i}") } } })
        };
        let router = app.router.clone();
        clients.spawn(async move { send_graphql(router, body).await.1 });
    }
    let finished = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut responses = Vec::new();
        while let Some(response) = clients.join_next().await {
            responses.push(response.unwrap());
        }
        responses
    })
    .await
    .expect("no deadlock between a transaction and the loaders on a single connection");

    for response in &finished {
        assert!(response.get("errors").is_none(), "{response}");
    }
    assert_eq!(finished.len(), 40);
    assert_eq!(app.count_rows("book").await, 60 + 20);
}

on_every_backend!(
    multi_thread: fifty_concurrent_create_books_for_one_author_all_persist,
    one_connection_serves_concurrent_nested_reads_and_writes,
    racing_delete_author_and_create_book_never_leave_an_orphan,
);
