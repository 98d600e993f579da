//! Subscriptions over WebSocket (graphql-transport-ws): which committed changes arrive, once
//! each, in order; the protocol's rules and limits.

use std::time::{Duration, Instant};

use api::config::Config;
use serde_json::{Value, json};

use crate::helpers::{Backend, Received, TcpProxy, TestApp, WsClient};

const BOOKS: &str = "subscription($author: ID) { bookChanged(authorId: $author) { kind bookId authorId book { title publishedYear authorId } } }";
const AUTHORS: &str =
    "subscription($id: ID) { authorChanged(id: $id) { kind authorId author { name } } }";

/// `(kind, bookId)` of a `bookChanged` payload.
fn book_event(payload: &Value) -> (String, String) {
    let change = &payload["data"]["bookChanged"];
    assert!(payload["errors"].is_null(), "{payload}");
    (
        change["kind"].as_str().unwrap().to_owned(),
        change["bookId"].as_str().unwrap().to_owned(),
    )
}

fn pairs(expected: &[(&str, &Value)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(kind, id)| ((*kind).to_owned(), id.as_str().unwrap().to_owned()))
        .collect()
}

async fn write(app: &TestApp, query: &str) -> Value {
    let response = app.graphql(query).await;
    assert!(response["errors"].is_null(), "{response}");
    response["data"].clone()
}

/// Creates a book titled `title` of `author` through `app`; returns its id.
async fn create_book(app: &TestApp, author: i64, title: &str) -> String {
    let created = write(
        app,
        &format!(
            r#"mutation {{ createBook(input: {{authorId: "{author}", title: "{title}"}}) {{ id }} }}"#
        ),
    )
    .await;
    created["createBook"]["id"].as_str().unwrap().to_owned()
}

/// Creates a book of `author` through `app`: `client`'s subscription `id` receives its
/// `CREATED`, and nothing more.
async fn a_created_book_arrives(app: &TestApp, client: &mut WsClient, id: &str, author: i64) {
    let book = create_book(app, author, "Emma").await;
    assert_eq!(
        book_event(&client.next_payload(id).await),
        ("CREATED".to_owned(), book)
    );
    assert_eq!(
        client.receive_within(Duration::from_millis(300)).await,
        None
    );
}

async fn spawn(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> (TestApp, std::net::SocketAddr) {
    let app = TestApp::spawn_with(backend, configure).await;
    let address = app.listen().await;
    (app, address)
}

async fn every_committed_book_change_arrives_once_in_order(backend: Backend) {
    let (app, address) = spawn(backend, |_| {}).await;
    let (austen, _) = app.author_with_books("Jane Austen", &[]).await;
    let (other, _) = app.author_with_books("George Eliot", &[]).await;
    let mut client = WsClient::connect(address, json!({})).await;
    client.subscribe("all", BOOKS, json!({})).await;
    client
        .subscribe("austen", BOOKS, json!({ "author": austen.to_string() }))
        .await;
    client
        .subscribe("eliot", BOOKS, json!({ "author": other.to_string() }))
        .await;
    app.subscriptions_open(3).await;

    let created = write(&app, &format!(r#"mutation {{ createBook(input: {{authorId: "{austen}", title: "Emma", publishedYear: 1815}}) {{ id }} }}"#)).await;
    let emma = &created["createBook"]["id"];
    // Refused and rolled-back writes, and an update that changes nothing, send nothing.
    let refused = app
        .graphql(
            r#"mutation { createBook(input: {authorId: "999999", title: "Nobody's"}) { id } }"#,
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let invalid = app.graphql(r#"mutation { createAuthor(input: {name: "A", books: [{title: "ok"}, {title: ""}]}) { id } }"#).await;
    assert_eq!(invalid["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    write(
        &app,
        &format!(r#"mutation {{ updateBook(id: {emma}, input: {{title: "Emma"}}) {{ id }} }}"#),
    )
    .await;
    write(
        &app,
        &format!(
            r#"mutation {{ updateBook(id: {emma}, input: {{publishedYear: 1816}}) {{ id }} }}"#
        ),
    )
    .await;
    // Moved: seen by the old author's subscribers (and would be by the new one's).
    write(
        &app,
        &format!(
            r#"mutation {{ updateBook(id: {emma}, input: {{authorId: "{other}"}}) {{ id }} }}"#
        ),
    )
    .await;
    write(
        &app,
        &format!(r#"mutation {{ deleteBook(id: {emma}) {{ deletedBookId }} }}"#),
    )
    .await;
    let austen_books = write(&app, &format!(r#"mutation {{ createBook(input: {{authorId: "{austen}", title: "Persuasion"}}) {{ id }} }}"#)).await;
    let persuasion = &austen_books["createBook"]["id"];
    write(
        &app,
        &format!(r#"mutation {{ deleteAuthor(id: "{austen}") {{ deletedBookIds }} }}"#),
    )
    .await;

    let mut all = Vec::new();
    let mut theirs = Vec::new();
    let mut eliots = Vec::new();
    let mut first_update = None;
    while all.len() < 6 || theirs.len() < 5 || eliots.len() < 2 {
        match client.receive().await {
            Received::Json(message) if message["type"] == "next" => {
                let payload = &message["payload"];
                if message["id"] == "all" {
                    if all.len() == 1 {
                        first_update = Some(payload["data"]["bookChanged"].clone());
                    }
                    all.push(book_event(payload));
                } else if message["id"] == "austen" {
                    theirs.push(book_event(payload));
                } else {
                    eliots.push(book_event(payload));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected = pairs(&[
        ("CREATED", emma),
        ("UPDATED", emma),
        ("UPDATED", emma),
        ("DELETED", emma),
        ("CREATED", persuasion),
        ("DELETED", persuasion),
    ]);
    assert_eq!(all, expected);
    // The move concerns the old author too; the deletion, after it, only the new one.
    let mut until_moved_away = expected.clone();
    until_moved_away.remove(3);
    assert_eq!(theirs, until_moved_away);
    // The new author's subscribers see it arrive, then go.
    assert_eq!(eliots, expected[2..4]);
    // The row as that commit left it, whatever came after.
    assert_eq!(
        first_update.unwrap(),
        json!({ "kind": "UPDATED", "bookId": emma, "authorId": austen.to_string(),
                "book": { "title": "Emma", "publishedYear": 1816, "authorId": austen.to_string() } })
    );
    // Nothing more: exactly once each.
    assert_eq!(
        client.receive_within(Duration::from_millis(300)).await,
        None
    );
}

async fn author_changes_arrive_and_book_changes_send_none(backend: Backend) {
    let (app, address) = spawn(backend, |_| {}).await;
    let mut client = WsClient::connect(address, json!({})).await;
    client.subscribe("all", AUTHORS, json!({})).await;
    app.subscriptions_open(1).await;
    let created = write(&app, r#"mutation { createAuthor(input: {name: "Mary Shelley", books: [{title: "Frankenstein"}]}) { id } }"#).await;
    let id = created["createAuthor"]["id"].as_str().unwrap().to_owned();
    let payload = client.next_payload("all").await;
    assert_eq!(
        payload,
        json!({ "data": { "authorChanged": { "kind": "CREATED", "authorId": id, "author": { "name": "Mary Shelley" } } } })
    );
    client.subscribe("one", AUTHORS, json!({ "id": id })).await;
    app.subscriptions_open(2).await;
    write(
        &app,
        &format!(
            r#"mutation {{ updateAuthor(id: "{id}", input: {{name: "Mary Shelley"}}) {{ id }} }}"#
        ),
    )
    .await;
    write(&app, &format!(r#"mutation {{ createBook(input: {{authorId: "{id}", title: "The Last Man"}}) {{ id }} }}"#)).await;
    write(&app, &format!(r#"mutation {{ updateAuthor(id: "{id}", input: {{name: "Mary W. Shelley"}}) {{ id }} }}"#)).await;
    write(
        &app,
        &format!(r#"mutation {{ deleteAuthor(id: "{id}") {{ deletedAuthorId }} }}"#),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        match client.receive().await {
            Received::Json(message) => {
                let change = &message["payload"]["data"]["authorChanged"];
                seen.push((
                    message["id"].as_str().unwrap().to_owned(),
                    change["kind"].as_str().unwrap().to_owned(),
                    change["author"]["name"].clone(),
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    seen.sort_by_key(|(id, kind, _)| (kind.clone(), id.clone()));
    assert_eq!(
        seen,
        [
            ("all".to_owned(), "DELETED".to_owned(), Value::Null),
            ("one".to_owned(), "DELETED".to_owned(), Value::Null),
            (
                "all".to_owned(),
                "UPDATED".to_owned(),
                json!("Mary W. Shelley")
            ),
            (
                "one".to_owned(),
                "UPDATED".to_owned(),
                json!("Mary W. Shelley")
            ),
        ]
    );
    assert_eq!(
        client.receive_within(Duration::from_millis(300)).await,
        None
    );
}

async fn a_malformed_id_fails_that_subscription_only(backend: Backend) {
    let (app, address) = spawn(backend, |_| {}).await;
    let (author, _) = app.author_with_books("Jane Austen", &[]).await;
    let mut client = WsClient::connect(address, json!({})).await;
    client
        .subscribe("bad", BOOKS, json!({ "author": "not-a-number" }))
        .await;
    let payload = client.next_payload("bad").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{payload}"
    );
    assert_eq!(payload["errors"][0]["extensions"]["argument"], "authorId");
    assert_eq!(
        client.receive().await,
        Received::Json(json!({ "type": "complete", "id": "bad" }))
    );
    client
        .subscribe("good", BOOKS, json!({ "author": author.to_string() }))
        .await;
    app.subscriptions_open(1).await;
    a_created_book_arrives(&app, &mut client, "good", author).await;
}

/// Many clients of one subscription cost what one does: the change is resolved once per
/// distinct subscription on an instance.
async fn one_change_costs_the_same_statements_for_one_subscriber_or_many(backend: Backend) {
    const WITH_AUTHOR: &str =
        "subscription { bookChanged { bookId book { title author { name bookCount } } } }";
    let (app, address) = spawn(backend, |_| {}).await;
    let (author, _) = app.author_with_books("Jane Austen", &[]).await;
    let create = format!(
        r#"mutation {{ createBook(input: {{authorId: "{author}", title: "Emma"}}) {{ id }} }}"#
    );
    let mut cost = Vec::new();
    let mut clients = Vec::new();
    for subscribers in [1, 12] {
        while clients.len() < subscribers {
            let mut client = WsClient::connect(address, json!({})).await;
            client.subscribe("s", WITH_AUTHOR, json!({})).await;
            clients.push(client);
        }
        app.subscriptions_open(subscribers as i64).await;
        let before = app.metrics.statements_executed();
        write(&app, &create).await;
        for client in &mut clients {
            let payload = client.next_payload("s").await;
            assert_eq!(
                payload["data"]["bookChanged"]["book"]["author"]["name"],
                "Jane Austen"
            );
        }
        cost.push(app.metrics.statements_executed() - before);
    }
    assert_eq!(
        cost[0], cost[1],
        "statements for 1 and for 12 subscribers: {cost:?}"
    );
}

async fn queries_run_over_the_socket_and_mutations_do_not(backend: Backend) {
    let (app, address) = spawn(backend, |_| {}).await;
    app.author_with_books("Jane Austen", &[("Emma", None)])
        .await;
    let mut client = WsClient::connect(address, json!({})).await;
    client
        .subscribe("q", "{ authors { totalCount } }", json!({}))
        .await;
    assert_eq!(
        client.next_payload("q").await,
        json!({ "data": { "authors": { "totalCount": 1 } } })
    );
    assert_eq!(
        client.receive().await,
        Received::Json(json!({ "type": "complete", "id": "q" }))
    );
    client
        .subscribe(
            "m",
            r#"mutation { createAuthor(input: {name: "X"}) { id } }"#,
            json!({}),
        )
        .await;
    match client.receive().await {
        Received::Json(message) => {
            assert_eq!(message["type"], "error");
            assert_eq!(
                message["payload"][0]["extensions"]["code"],
                "MUTATION_OVER_WEBSOCKET"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(app.count_rows("author").await, 1);
}

async fn a_subscription_over_http_is_refused_with_where_to_go(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app
        .post_json(&json!({ "query": "subscription { bookChanged { kind } }" }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("graphql-transport-ws"),
        "{body}"
    );
}

/// One transaction of the largest size (`createAuthor` with 1,000 books) reaches a subscriber
/// that reads as changes come, whole and in order; one book more is refused.
async fn a_thousand_changes_at_once_reach_a_reader(backend: Backend) {
    let (app, address) = spawn(backend, |_| {}).await;
    let mut client = WsClient::connect(address, json!({})).await;
    client
        .subscribe(
            "s",
            "subscription { bookChanged { bookId book { title } } }",
            json!({}),
        )
        .await;
    app.subscriptions_open(1).await;
    let books = |n: usize| -> String {
        let books: Vec<String> = (0..n)
            .map(|i| format!(r#"{{title: "Volume {i}"}}"#))
            .collect();
        format!(
            r#"mutation {{ createAuthor(input: {{name: "Prolific", books: [{}]}}) {{ id }} }}"#,
            books.join(",")
        )
    };
    let refused = app.graphql(&books(1001)).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        refused["errors"][0]["extensions"]["argument"],
        "input.books"
    );
    write(&app, &books(1000)).await;
    for i in 0..1000 {
        let payload = client.next_payload("s").await;
        assert_eq!(
            payload["data"]["bookChanged"]["book"]["title"],
            format!("Volume {i}")
        );
    }
    assert_eq!(
        client.receive_within(Duration::from_millis(300)).await,
        None
    );
}

on_every_backend!(
    a_thousand_changes_at_once_reach_a_reader,
    a_subscription_over_http_is_refused_with_where_to_go,
    every_committed_book_change_arrives_once_in_order,
    author_changes_arrive_and_book_changes_send_none,
    a_malformed_id_fails_that_subscription_only,
    one_change_costs_the_same_statements_for_one_subscriber_or_many,
    queries_run_over_the_socket_and_mutations_do_not,
);

/// Across instances, through PostgreSQL.
mod listening {
    use super::*;

    /// On PostgreSQL: a change written through one instance reaches the subscribers of another.
    async fn a_change_written_on_one_instance_reaches_the_subscribers_of_another(
        admin_url: String,
    ) {
        let first = TestApp::spawn(Backend::Postgres(admin_url)).await;
        let second = first.another_instance().await;
        let address = second.listen().await;
        let (author, _) = first.author_with_books("Jane Austen", &[]).await;
        let mut client = WsClient::connect(address, json!({})).await;
        client
            .subscribe("s", BOOKS, json!({ "author": author.to_string() }))
            .await;
        second.subscriptions_open(1).await;
        a_created_book_arrives(&first, &mut client, "s", author).await;
    }

    /// On PostgreSQL: when the listening connection drops, the instance listens again, tells its
    /// subscribers that changes may have been missed, and delivers those committed from then on.
    async fn a_dropped_listener_reconnects_and_says_changes_may_be_missed(admin_url: String) {
        let (app, address) = spawn(Backend::Postgres(admin_url), |_| {}).await;
        let (author, _) = app.author_with_books("Jane Austen", &[]).await;
        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("s", BOOKS, json!({})).await;
        app.subscriptions_open(1).await;
        let dropped = Instant::now();
        let terminated = app
            .scalar(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE application_name = 'authors-api listener' AND query LIKE 'LISTEN%' AND datname = current_database()",
            )
            .await;
        assert_eq!(terminated, 1, "one listening connection");
        let payload = client.next_payload("s").await;
        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "EVENTS_MISSED",
            "{payload}"
        );
        eprintln!(
            "listening again, and subscribers told, {:?} after the drop",
            dropped.elapsed()
        );
        a_created_book_arrives(&app, &mut client, "s", author).await;
        let metrics = app.metrics.render(&app.db);
        assert!(
            metrics.contains("live_listener_reconnects_total 1"),
            "{metrics}"
        );
    }

    /// The payload of the next `next` message for `id`, within `wait`.
    async fn next_payload_within(client: &mut WsClient, id: &str, wait: Duration) -> Value {
        match client.receive_within(wait).await {
            Some(Received::Json(message)) if message["type"] == "next" && message["id"] == id => {
                message["payload"].clone()
            }
            other => panic!("expected a `next` for {id} within {wait:?}, got {other:?}"),
        }
    }

    async fn ready(app: &TestApp) -> axum::http::StatusCode {
        let request = axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap();
        app.send(request).await.0
    }

    /// On PostgreSQL: a listening connection whose network goes silent (nothing arrives, nothing
    /// closes) is found out by its heartbeat, replaced, and the subscribers are told.
    async fn a_listener_gone_silent_is_found_out_by_its_heartbeat(admin_url: String) {
        let proxy = TcpProxy::start("127.0.0.1:5432".into()).await;
        let app = TestApp::spawn_listening_behind(&admin_url, &proxy).await;
        let listening = tokio::time::timeout(Duration::from_secs(10), async {
            while ready(&app).await != axum::http::StatusCode::OK {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(listening.is_ok(), "the app listens through the proxy");
        let address = app.listen().await;
        let (author, _) = app.author_with_books("Jane Austen", &[]).await;
        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("s", BOOKS, json!({})).await;
        app.subscriptions_open(1).await;

        proxy.silence();
        let silenced = Instant::now();
        // Committed while nobody can hear: lost, which is what the subscribers are told.
        create_book(&app, author, "Lost").await;
        let told = next_payload_within(&mut client, "s", Duration::from_secs(30)).await;

        assert_eq!(
            told["errors"][0]["extensions"]["code"], "EVENTS_MISSED",
            "{told}"
        );
        let took = silenced.elapsed();
        eprintln!("a silent listener found out and replaced {took:?} after the silence");
        // Its heartbeat is due every 10 s, with 5 s of grace.
        assert!(took >= Duration::from_secs(5), "{took:?}");
        a_created_book_arrives(&app, &mut client, "s", author).await;
    }

    /// On PostgreSQL: subscribers who joined while the instance could not LISTEN yet (its
    /// database unreachable at start) are told, once it does, that changes may have been missed;
    /// meanwhile the instance is not ready.
    async fn subscribers_before_the_first_listen_are_told_changes_may_be_missed(admin_url: String) {
        let proxy = TcpProxy::start("127.0.0.1:5432".into()).await;
        proxy.cut();
        let app = TestApp::spawn_listening_behind(&admin_url, &proxy).await;
        let address = app.listen().await;
        let (author, _) = app.author_with_books("Jane Austen", &[]).await;
        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("s", BOOKS, json!({})).await;
        app.subscriptions_open(1).await;
        let not_ready = ready(&app).await;

        proxy.restore();
        let told = next_payload_within(&mut client, "s", Duration::from_secs(15)).await;

        assert_eq!(not_ready, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            told["errors"][0]["extensions"]["code"], "EVENTS_MISSED",
            "{told}"
        );
        assert_eq!(ready(&app).await, axum::http::StatusCode::OK);
        a_created_book_arrives(&app, &mut client, "s", author).await;
    }

    /// On PostgreSQL: a query over the socket that outlasts `REQUEST_TIMEOUT_SECS` (its
    /// database gone silent) ends with `REQUEST_TIMEOUT`, and the connection serves the next.
    async fn a_query_over_the_socket_that_takes_too_long_times_out(admin_url: String) {
        let proxy = TcpProxy::start("127.0.0.1:5432".into()).await;
        let app = TestApp::spawn_behind(&admin_url, &proxy, |config| {
            config.request_timeout_secs = 1;
            config.db_max_connections = 1;
        })
        .await;
        let address = app.listen().await;
        let mut client = WsClient::connect(address, json!({})).await;
        client
            .subscribe("before", "{ authors { totalCount } }", json!({}))
            .await;
        assert_eq!(
            client.next_payload("before").await,
            json!({ "data": { "authors": { "totalCount": 0 } } })
        );
        client.receive().await; // its `complete`

        proxy.silence();
        let sent = Instant::now();
        client
            .subscribe("slow", "{ authors { totalCount } }", json!({}))
            .await;
        let answer = client.receive().await;

        let took = sent.elapsed();
        match answer {
            Received::Json(message) => {
                assert_eq!(message["type"], "error", "{message}");
                assert_eq!(message["id"], "slow");
                assert_eq!(
                    message["payload"][0]["extensions"]["code"],
                    "REQUEST_TIMEOUT"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            (Duration::from_secs(1)..Duration::from_secs(5)).contains(&took),
            "{took:?}"
        );
        client.sync().await;
    }

    on_every_backend!(postgres_only:
        a_change_written_on_one_instance_reaches_the_subscribers_of_another,
        a_query_over_the_socket_that_takes_too_long_times_out,
        a_dropped_listener_reconnects_and_says_changes_may_be_missed,
        a_listener_gone_silent_is_found_out_by_its_heartbeat,
        subscribers_before_the_first_listen_are_told_changes_may_be_missed,
    );
}

/// The protocol's rules: each broken one closes the connection with its code, and nobody
/// else's connection.
mod protocol {
    use super::*;

    async fn app(configure: impl FnOnce(&mut Config)) -> (TestApp, std::net::SocketAddr) {
        spawn(Backend::Sqlite, configure).await
    }

    async fn opened(address: std::net::SocketAddr) -> WsClient {
        WsClient::open(address, Some("graphql-transport-ws"), &[])
            .await
            .expect("the upgrade succeeds")
    }

    #[tokio::test]
    async fn each_broken_rule_closes_with_its_code() {
        let (_app, address) = app(|_| {}).await;
        let mut bystander = WsClient::connect(address, json!({})).await;

        let mut client = opened(address).await;
        client.subscribe("1", BOOKS, json!({})).await;
        assert_eq!(
            client.closed().await.0,
            4401,
            "subscribe before connection_init"
        );

        let mut client = WsClient::connect(address, json!({})).await;
        client.init(json!({})).await;
        assert_eq!(client.closed().await.0, 4429, "a second connection_init");

        let mut client = WsClient::connect(address, json!({})).await;
        client
            .send(&json!({ "type": "subscribe_all_the_things" }))
            .await;
        assert_eq!(client.closed().await.0, 4400, "an unknown message type");

        let mut client = WsClient::connect(address, json!({})).await;
        client.send_text("not json".into()).await;
        assert_eq!(client.closed().await.0, 4400, "not JSON");

        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("1", BOOKS, json!({})).await;
        client.subscribe("1", BOOKS, json!({})).await;
        assert_eq!(client.closed().await.0, 4409, "an id already running");

        let mut client = WsClient::connect(address, json!({})).await;
        let huge = format!(
            r#"{{"type":"ping","payload":{{"x":"{}"}}}}"#,
            "x".repeat(100_000)
        );
        client.send_text(huge).await;
        assert_eq!(client.closed().await.0, 1009, "a message over the limit");

        let mut client = WsClient::open(address, None, &[])
            .await
            .expect("an upgrade");
        assert_eq!(client.closed().await.0, 4406, "no subprotocol");

        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("", BOOKS, json!({})).await;
        assert_eq!(client.closed().await.0, 4400, "an empty id");

        // An operation that does not validate gets the protocol's `error`, and the connection
        // goes on.
        let mut client = WsClient::connect(address, json!({})).await;
        client
            .subscribe("v", "subscription { nothingHere }", json!({}))
            .await;
        match client.receive().await {
            Received::Json(message) => {
                assert_eq!(message["type"], "error", "{message}");
                assert_eq!(message["id"], "v");
                assert!(
                    message["payload"][0]["message"]
                        .as_str()
                        .unwrap()
                        .contains("nothingHere")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let deep = format!(
            "subscription {{ bookChanged {{ book {{ {}name{} }} }} }}",
            "author { books { nodes { author { ".repeat(4),
            "} } } }".repeat(4)
        );
        client.subscribe("deep", &deep, json!({})).await;
        match client.receive().await {
            Received::Json(message) => {
                assert_eq!(message["type"], "error", "{message}");
                assert_eq!(
                    message["payload"][0]["extensions"]["code"],
                    "QUERY_TOO_COMPLEX"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        client.sync().await;

        // The bystander was not affected.
        bystander
            .send(&json!({ "type": "ping", "payload": { "n": 1 } }))
            .await;
        assert_eq!(
            bystander.receive().await,
            Received::Json(json!({ "type": "pong", "payload": { "n": 1 } }))
        );
    }

    #[tokio::test]
    async fn a_client_that_never_initialises_is_closed_after_the_timeout() {
        let (_app, address) = app(|config| config.ws_init_timeout_secs = 1).await;
        let mut client = opened(address).await;
        let started = Instant::now();
        assert_eq!(
            client.closed().await,
            (4408, "Connection initialisation timeout".to_owned())
        );
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn subscriptions_and_connections_past_their_caps_are_refused() {
        let (app, address) = app(|config| {
            config.ws_max_subscriptions = 2;
            config.ws_max_connections = 2;
        })
        .await;
        let (author, _) = app.author_with_books("Jane Austen", &[]).await;
        let mut client = WsClient::connect(address, json!({})).await;
        client.subscribe("1", BOOKS, json!({})).await;
        client.subscribe("2", AUTHORS, json!({})).await;
        client.subscribe("3", BOOKS, json!({})).await;
        match client.receive().await {
            Received::Json(message) => {
                assert_eq!(message["type"], "error");
                assert_eq!(message["id"], "3");
                assert_eq!(
                    message["payload"][0]["extensions"]["code"],
                    "TOO_MANY_SUBSCRIPTIONS"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        // Completing one makes room again.
        client.send(&json!({ "type": "complete", "id": "2" })).await;
        client
            .subscribe("3", BOOKS, json!({ "author": author.to_string() }))
            .await;
        client.sync().await;
        app.subscriptions_open(2).await;

        let _second = WsClient::connect(address, json!({})).await;
        match WsClient::open(address, Some("graphql-transport-ws"), &[]).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 503);
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
                assert_eq!(
                    body["errors"][0]["extensions"]["code"],
                    "TOO_MANY_CONNECTIONS"
                );
            }
            other => panic!("expected 503, got {:?}", other.map(|_| ())),
        }
        // The first client's subscriptions still work.
        create_book(&app, author, "Emma").await;
        let mut ids = vec![];
        for _ in 0..2 {
            match client.receive().await {
                Received::Json(message) => ids.push(message["id"].as_str().unwrap().to_owned()),
                other => panic!("unexpected {other:?}"),
            }
        }
        ids.sort();
        assert_eq!(ids, ["1", "3"]);
    }

    #[tokio::test]
    async fn only_allowed_origins_may_open_a_socket() {
        let (_app, address) =
            app(|config| config.cors_allowed_origins = vec!["https://app.example".into()]).await;
        let refused = WsClient::open(
            address,
            Some("graphql-transport-ws"),
            &[("origin", "https://evil.example")],
        )
        .await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403);
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
                assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN_ORIGIN");
            }
            other => panic!("expected 403, got {:?}", other.map(|_| ())),
        }
        WsClient::open(
            address,
            Some("graphql-transport-ws"),
            &[("origin", "https://app.example")],
        )
        .await
        .expect("an allowed origin");
        // The server's own origin: the playground.
        let own = format!("http://{address}");
        WsClient::open(address, Some("graphql-transport-ws"), &[("origin", &own)])
            .await
            .expect("the server's own origin");
        // No Origin: not a browser, so not a cross-site request.
        WsClient::open(address, Some("graphql-transport-ws"), &[])
            .await
            .expect("no origin");
    }

    /// A client that stops reading is disconnected; the others get every change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_does_not_read_is_disconnected_and_others_carry_on() {
        let (app, address) = app(|config| {
            config.ws_send_timeout_secs = 1;
            config.ws_max_subscriptions = 25;
        })
        .await;
        let (author, _) = app.author_with_books("Jane Austen", &[]).await;
        let query = "subscription { bookChanged { bookId book { title } } }";
        let mut stuck = WsClient::connect(address, json!({})).await;
        for id in 0..25 {
            stuck.subscribe(&id.to_string(), query, json!({})).await;
        }
        let mut reader = WsClient::connect(address, json!({})).await;
        reader.subscribe("r", query, json!({})).await;
        app.subscriptions_open(26).await;
        let title = "t".repeat(200);
        let books: Vec<String> = (0..100)
            .map(|_| format!(r#"{{title: "{title}"}}"#))
            .collect();
        let create = format!(
            r#"mutation {{ createAuthor(input: {{name: "N", books: [{}]}}) {{ id }} }}"#,
            books.join(",")
        );
        let started = Instant::now();
        // Until the server gives up on the client that does not read, the reader reads every
        // change.
        while app.metrics.subscriptions_open() > 1 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the stuck client is still connected"
            );
            write(&app, &create).await;
            for _ in 0..100 {
                let payload = reader.next_payload("r").await;
                assert_eq!(
                    payload["data"]["bookChanged"]["book"]["title"],
                    title.as_str()
                );
            }
        }
        assert_eq!(
            reader.receive_within(Duration::from_millis(300)).await,
            None
        );
        let metrics = app.metrics.render(&app.db);
        assert!(
            metrics.contains(r#"subscription_events_dropped_total{reason="send_timeout"}"#)
                || metrics.contains(r#"subscription_events_dropped_total{reason="fell_behind"}"#),
            "{metrics}"
        );
        let _ = author;
        drop(stuck);
    }
}
