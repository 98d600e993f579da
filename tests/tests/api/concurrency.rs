//! Concurrent writers (multi-threaded runtime, a pool of connections on a SQLite file and on
//! PostgreSQL, two server instances on one database): nothing is lost, nothing is orphaned, and
//! races end in a clear outcome.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
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

/// What one client knows from the answers it got: its own authors with their books, and the books
/// it keeps under the shared authors. Only this client writes these rows, so its knowledge is
/// exact, while every client writes into the same tables, indexes and shared authors at once.
#[derive(Default)]
struct Ledger {
    /// Author id to the ids of its books.
    authors: BTreeMap<i64, BTreeSet<i64>>,
    /// Book id to (title, author id), for every book this client created and has not deleted.
    books: BTreeMap<i64, (String, i64)>,
}

/// A small deterministic generator, so that a failing run can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % sides as u64).unwrap()
    }
}

fn id_of(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an ID: {value}"))
}

/// One client: `steps` writes, each sent to a random instance and read back through the other.
async fn client(
    instances: [Router; 2],
    shared: Vec<i64>,
    client: u64,
    steps: usize,
) -> (Ledger, usize, usize) {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (client + 1));
    let mut ledger = Ledger::default();
    let (mut reads, mut writes) = (0, 0);
    for step in 0..steps {
        let via = dice.roll(2);
        let (writer, reader) = (instances[via].clone(), instances[1 - via].clone());
        let title = format!("c{client}-{step}");
        let own: Vec<i64> = ledger.authors.keys().copied().collect();
        let targets: Vec<i64> = own.iter().chain(&shared).copied().collect();
        let books: Vec<i64> = ledger.books.keys().copied().collect();
        let send = |router: Router, query: &str, variables: Value| {
            let body = json!({ "query": query, "variables": variables });
            async move {
                let (_, response) = send_graphql(router, body).await;
                assert!(
                    response.get("errors").is_none(),
                    "client {client}, step {step}: {response}"
                );
                response["data"].clone()
            }
        };
        match dice.roll(if books.is_empty() { 2 } else { 6 }) {
            0 => {
                let data = send(writer, "mutation($name: String!, $books: [NewBookInput!]) { createAuthor(input: { name: $name, books: $books }) { id books { nodes { id title } } } }",
                    json!({ "name": title, "books": [{ "title": format!("{title}a") }, { "title": format!("{title}b") }] })).await;
                let author = id_of(&data["createAuthor"]["id"]);
                let created = data["createAuthor"]["books"]["nodes"].as_array().unwrap();
                assert_eq!(created.len(), 2);
                for book in created {
                    let id = id_of(&book["id"]);
                    ledger
                        .books
                        .insert(id, (book["title"].as_str().unwrap().to_owned(), author));
                    ledger.authors.entry(author).or_default().insert(id);
                }
                let seen = send(
                    reader,
                    "query($id: ID!) { author(id: $id) { bookCount } }",
                    json!({ "id": author }),
                )
                .await;
                assert_eq!(
                    seen["author"]["bookCount"], 2,
                    "the other instance sees the new author"
                );
                reads += 1;
            }
            1 => {
                let author = targets[dice.roll(targets.len())];
                let data = send(
                    writer,
                    CREATE_BOOK,
                    json!({ "input": { "authorId": author, "title": title } }),
                )
                .await;
                let id = id_of(&data["createBook"]["id"]);
                ledger.books.insert(id, (title, author));
                if let Some(books) = ledger.authors.get_mut(&author) {
                    books.insert(id);
                }
            }
            2 | 3 => {
                let book = books[dice.roll(books.len())];
                let to = targets[dice.roll(targets.len())];
                send(writer, "mutation($id: ID!, $to: ID!) { updateBook(id: $id, input: { authorId: $to }) { authorId } }",
                    json!({ "id": book, "to": to })).await;
                let from = std::mem::replace(&mut ledger.books.get_mut(&book).unwrap().1, to);
                if let Some(books) = ledger.authors.get_mut(&from) {
                    books.remove(&book);
                }
                if let Some(books) = ledger.authors.get_mut(&to) {
                    books.insert(book);
                }
                let seen = send(
                    reader,
                    "query($id: ID!) { book(id: $id) { author { id } } }",
                    json!({ "id": book }),
                )
                .await;
                assert_eq!(
                    id_of(&seen["book"]["author"]["id"]),
                    to,
                    "the other instance sees the move"
                );
                reads += 1;
            }
            4 => {
                let book = books[dice.roll(books.len())];
                let data = send(
                    writer,
                    "mutation($id: ID!) { deleteBook(id: $id) { deletedBookId } }",
                    json!({ "id": book }),
                )
                .await;
                assert_eq!(id_of(&data["deleteBook"]["deletedBookId"]), book);
                let (_, author) = ledger.books.remove(&book).unwrap();
                if let Some(books) = ledger.authors.get_mut(&author) {
                    books.remove(&book);
                }
            }
            _ => {
                let Some(&author) = own.get(dice.roll(own.len().max(1))) else {
                    continue; // no author of its own to delete yet: no write
                };
                let data = send(writer, DELETE_AUTHOR, json!({ "id": author })).await;
                let deleted: BTreeSet<i64> = data["deleteAuthor"]["deletedBookIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(id_of)
                    .collect();
                let expected = ledger.authors.remove(&author).unwrap();
                assert_eq!(
                    deleted, expected,
                    "the cascade deletes exactly the author's books"
                );
                for book in deleted {
                    ledger.books.remove(&book);
                }
            }
        }
        writes += 1;
    }
    (ledger, reads, writes)
}

/// Two server instances (two pools) on one database, eight clients writing through both at once:
/// at the end the rows are exactly the acknowledged writes.
async fn two_instances_keep_exactly_the_acknowledged_writes_of_concurrent_clients(
    backend: Backend,
) {
    const CLIENTS: u64 = 8;
    const STEPS: usize = 40;
    let first = TestApp::spawn_pooled(backend).await;
    let second = first.another_instance().await;
    let mut shared = Vec::new();
    for name in ["Shared A", "Shared B"] {
        shared.push(first.author_with_books(name, &[]).await.0);
    }

    let mut clients = JoinSet::new();
    for n in 0..CLIENTS {
        clients.spawn(client(
            [first.router.clone(), second.router.clone()],
            shared.clone(),
            n,
            STEPS,
        ));
    }
    let mut expected_authors: BTreeSet<i64> = shared.iter().copied().collect();
    let mut expected_books = BTreeMap::new();
    let (mut reads, mut writes) = (0, 0);
    while let Some(outcome) = clients.join_next().await {
        let (ledger, read, written) = outcome.expect("no client panicked");
        writes += written;
        expected_authors.extend(ledger.authors.keys());
        expected_books.extend(ledger.books);
        reads += read;
    }

    let rows = |sql: &'static str| {
        let db = first.db.clone();
        async move {
            let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
            db.query_all_raw(statement).await.expect("a readable table")
        }
    };
    let authors: BTreeSet<i64> = rows("SELECT id FROM author")
        .await
        .iter()
        .map(|row| row.try_get("", "id").unwrap())
        .collect();
    let books: BTreeMap<i64, (String, i64)> = rows("SELECT id, title, author_id FROM book")
        .await
        .iter()
        .map(|row| {
            (
                row.try_get("", "id").unwrap(),
                (
                    row.try_get("", "title").unwrap(),
                    row.try_get("", "author_id").unwrap(),
                ),
            )
        })
        .collect();
    let distinct_titles: BTreeSet<&String> = books.values().map(|(title, _)| title).collect();
    eprintln!(
        "two instances: {} writes by {CLIENTS} clients, {reads} reads across instances; {} authors and {} books left",
        writes,
        authors.len(),
        books.len()
    );
    assert_eq!(authors, expected_authors, "no lost or extra author");
    assert_eq!(
        books, expected_books,
        "no lost, moved-back, orphaned or extra book"
    );
    assert_eq!(distinct_titles.len(), books.len(), "no duplicate");
    assert!(
        books.values().all(|(_, author)| authors.contains(author)),
        "no orphan"
    );
}

on_every_backend!(
    multi_thread: fifty_concurrent_create_books_for_one_author_all_persist,
    two_instances_keep_exactly_the_acknowledged_writes_of_concurrent_clients,
    one_connection_serves_concurrent_nested_reads_and_writes,
    racing_delete_author_and_create_book_never_leave_an_orphan,
);
