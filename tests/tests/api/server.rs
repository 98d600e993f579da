//! The server as an operator and a browser see it (docs/reference.md § GraphQL endpoint, § Limits):
//! CORS, body limit, timeouts, graceful shutdown, introspection switch, metrics, health under a
//! database outage. Transport behaviour is tested over real sockets.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

use crate::helpers::{Backend, TcpProxy, TestApp, error_code};

const QUERY: &str = "{ authors { nodes { name } } }";

async fn cors_allows_only_the_configured_origins_and_answers_preflight(backend: Backend) {
    let allowed = TestApp::spawn_with(backend.clone(), |c| {
        c.cors_allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let any = TestApp::spawn_with(backend.clone(), |c| {
        c.cors_allowed_origins = vec!["*".into()];
    })
    .await;
    let closed = TestApp::spawn(backend).await;
    let (allowed, any, closed) = (
        allowed.listen().await,
        any.listen().await,
        closed.listen().await,
    );
    let client = reqwest::Client::new();
    let preflight = |address, origin: &'static str| {
        client
            .request(Method::OPTIONS, format!("http://{address}/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    let ok = preflight(allowed, "https://app.example").await.unwrap();
    let other = preflight(allowed, "https://evil.example").await.unwrap();
    let default = preflight(closed, "https://app.example").await.unwrap();
    let wildcard = preflight(any, "https://anywhere.example").await.unwrap();
    let post = client
        .post(format!("http://{allowed}/graphql"))
        .header("origin", "https://app.example")
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();

    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert!(
        default
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(wildcard.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        post.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

/// A frontend that sends a token asks in its preflight for `authorization`: allowed by default,
/// as are `content-type` and `accept`; `CORS_ALLOWED_HEADERS` replaces the list, and `*` allows
/// whatever the browser asks for.
async fn cors_allows_the_authorization_header_and_the_configured_headers(backend: Backend) {
    let origin = |c: &mut api::config::Config| {
        c.cors_allowed_origins = vec!["https://app.example".into()];
    };
    let default = TestApp::spawn_with(backend.clone(), origin).await;
    let custom = TestApp::spawn_with(backend.clone(), |c| {
        origin(c);
        c.cors_allowed_headers = vec!["content-type".into(), "x-trace".into()];
    })
    .await;
    let any = TestApp::spawn_with(backend, |c| {
        origin(c);
        c.cors_allowed_headers = vec!["*".into()];
    })
    .await;
    let (default, custom, any) = (
        default.listen().await,
        custom.listen().await,
        any.listen().await,
    );
    let client = reqwest::Client::new();
    let allowed = |address, headers: &'static str| {
        let request = client
            .request(Method::OPTIONS, format!("http://{address}/graphql"))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response
                .headers()
                .get("access-control-allow-headers")
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        }
    };

    let by_default = allowed(default, "authorization,content-type").await;
    let listed = allowed(custom, "authorization,content-type").await;
    let mirrored = allowed(any, "authorization,x-other").await;

    for header in ["accept", "authorization", "content-type"] {
        assert!(by_default.contains(header), "{header} in {by_default}");
    }
    assert!(
        listed.contains("x-trace") && !listed.contains("authorization"),
        "{listed}"
    );
    assert!(
        mirrored.contains("authorization") && mirrored.contains("x-other"),
        "{mirrored}"
    );
}

/// Responses of `COMPRESSION_MIN_BYTES` (1,400) or more come compressed to a client that accepts
/// br or gzip, and decompress to the same JSON; smaller ones, and every response to a client
/// that accepts neither, come as they are.
async fn large_responses_are_compressed_for_clients_that_accept_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(30, 5).await;
    let address = app.listen().await;
    let large = json!({ "query": "{ authors(first: 30) { nodes { id name books { nodes { id title publishedYear } } } } }" });
    let small = json!({ "query": "{ authors(first: 1) { nodes { name } } }" });
    let raw = reqwest::Client::builder()
        .no_brotli()
        .no_gzip()
        .build()
        .unwrap();
    let decoding = reqwest::Client::new();
    let post = |client: &reqwest::Client, body: &Value, encoding: &'static str| {
        client
            .post(format!("http://{address}/graphql"))
            .header("accept-encoding", encoding)
            .json(body)
            .send()
    };

    let identity = post(&raw, &large, "identity").await.unwrap();
    let identity_encoding = identity.headers().get("content-encoding").cloned();
    let plain = identity.bytes().await.unwrap();
    let mut sizes = Vec::new();
    for encoding in ["br", "gzip"] {
        let compressed = post(&raw, &large, encoding).await.unwrap();
        assert_eq!(compressed.headers()["content-encoding"], encoding);
        sizes.push(compressed.bytes().await.unwrap().len());
        let decoded: Value = post(&decoding, &large, encoding)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(decoded, serde_json::from_slice::<Value>(&plain).unwrap());
    }
    let small = post(&raw, &small, "br, gzip").await.unwrap();

    assert!(identity_encoding.is_none());
    assert!(plain.len() > 5_000, "{} bytes", plain.len());
    assert!(
        sizes.iter().all(|size| size * 4 < plain.len()),
        "{sizes:?} against {}",
        plain.len()
    );
    assert!(small.headers().get("content-encoding").is_none());
}

async fn a_body_over_the_limit_is_413_before_any_sql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let address = app.listen().await;
    let padding = " ".repeat(1024 * 1024);
    let body = format!(r#"{{"query": "{{ authors {{ totalCount }} }}{padding}"}}"#);
    let before = app.metrics.statements_executed();

    let response = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1048576"),
        "{body}"
    );
    assert_eq!(app.metrics.statements_executed(), before);
}

/// Opens a connection and sends the headers and the first half of a POST whose body never
/// completes unless `rest` is written; the request is then in flight on the server.
async fn start_slow_request(address: std::net::SocketAddr) -> (TcpStream, String) {
    let body = json!({ "query": QUERY }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    (stream, rest.to_owned())
}

async fn read_response(stream: &mut TcpStream) -> String {
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

async fn a_request_slower_than_the_timeout_gets_408(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.request_timeout_secs = 1).await;
    let address = app.listen().await;

    let (mut stream, _never_sent) = start_slow_request(address).await;
    let response = read_response(&mut stream).await;

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
}

async fn shutdown_finishes_requests_in_flight_and_refuses_new_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("In Flight", &[]).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let (address, server) = app
        .listen_until(
            async { stopped.await.unwrap_or(()) },
            Duration::from_secs(10),
        )
        .await;
    let (mut stream, rest) = start_slow_request(address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = TcpStream::connect(address).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let response = read_response(&mut stream).await;
    let result = tokio::time::timeout(Duration::from_secs(5), server).await;

    assert!(
        refused.is_err(),
        "the listener is closed once shutdown starts"
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"data":{"authors":{"nodes":[{"name":"In Flight"}]}}}"#),
        "{response}"
    );
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "the server stopped cleanly: {result:?}"
    );
}

async fn shutdown_is_bounded_when_a_request_never_finishes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let (address, server) = app
        .listen_until(
            async { stopped.await.unwrap_or(()) },
            Duration::from_millis(300),
        )
        .await;
    let (_stream, _never_sent) = start_slow_request(address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server).await;

    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

async fn introspection_can_be_switched_off(backend: Backend) {
    let open = TestApp::spawn(backend.clone()).await;
    let closed = TestApp::spawn_with(backend, |c| c.disable_introspection = true).await;
    let query = "{ __schema { queryType { name } } }";

    let allowed = open.graphql(query).await;
    let refused = closed.graphql(query).await;
    let still_works = closed.graphql(QUERY).await;

    assert_eq!(allowed["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(
        refused,
        json!({ "data": { "__schema": null } }),
        "async-graphql hides the schema"
    );
    assert!(still_works.get("errors").is_none(), "{still_works}");
}

async fn metrics_count_requests_statements_batches_and_the_pool(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(3, 2).await;
    app.graphql("{ authors { nodes { books { nodes { title } } } } }")
        .await;
    app.graphql("{ authors(first: -1) { nodes { name } } }")
        .await;
    let (status, _) = app.post_json(&json!({ "nope": 1 })).await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);

    let (status, headers, body) = app
        .send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let text = String::from_utf8(body).unwrap();

    assert_eq!(status, axum::http::StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        "graphql_requests_total{outcome=\"ok\"} 1",
        "graphql_requests_total{outcome=\"error\"} 1",
        "graphql_requests_total{outcome=\"rejected\"} 1",
        "graphql_request_duration_seconds_count 2",
        "dataloader_batch_keys_count{loader=\"books_by_author\"} 1",
        "dataloader_batch_keys_sum{loader=\"books_by_author\"} 3",
        "db_pool_connections ",
        "db_pool_idle_connections ",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let statements = app.metrics.statements_executed();
    assert!(
        text.contains(&format!(
            r#"sql_statements_total{{pool="primary"}} {statements}"#
        )),
        "{text}"
    );
}

on_every_backend!(
    cors_allows_only_the_configured_origins_and_answers_preflight,
    cors_allows_the_authorization_header_and_the_configured_headers,
    large_responses_are_compressed_for_clients_that_accept_it,
    a_body_over_the_limit_is_413_before_any_sql,
    a_request_slower_than_the_timeout_gets_408,
    shutdown_finishes_requests_in_flight_and_refuses_new_ones,
    shutdown_is_bounded_when_a_request_never_finishes,
    introspection_can_be_switched_off,
    metrics_count_requests_statements_batches_and_the_pool,
);

mod outage {
    use super::*;

    async fn status_of(app: &TestApp, path: &str) -> axum::http::StatusCode {
        app.send(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .0
    }

    /// The database goes away under a running server and comes back.
    async fn a_database_outage_gives_internal_errors_and_not_ready_then_heals(admin_url: String) {
        let proxy = TcpProxy::start("127.0.0.1:5432".into()).await;
        let app = TestApp::spawn_behind(&admin_url, &proxy, |c| c.db_timeout_secs = 1).await;
        app.author_with_books("Survivor", &[]).await;
        assert!(app.graphql(QUERY).await.get("errors").is_none());

        proxy.cut();
        let during = app.graphql(QUERY).await;
        let ready_during = status_of(&app, "/readyz").await;
        let healthy_during = status_of(&app, "/healthz").await;

        proxy.restore();
        wait_until_ready(&app).await;
        let after = app.graphql(QUERY).await;

        assert_eq!(error_code(&during), "INTERNAL_SERVER_ERROR", "{during}");
        assert_eq!(during["errors"][0]["message"], "internal server error");
        let extensions = during["errors"][0]["extensions"].as_object().unwrap();
        assert!(extensions["errorId"].is_string(), "{during}");
        assert_eq!(
            extensions.len(),
            2,
            "only the code and the errorId: {during}"
        );
        assert_eq!(ready_during, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(healthy_during, axum::http::StatusCode::OK);
        assert_eq!(
            after["data"]["authors"]["nodes"],
            json!([{ "name": "Survivor" }])
        );
    }

    async fn wait_until_ready(app: &TestApp) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while status_of(app, "/readyz").await != axum::http::StatusCode::OK {
            assert!(Instant::now() < deadline, "/readyz did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The authors, with their books, as rows: what a half-written transaction would change.
    async fn state(app: &TestApp) -> Value {
        app.graphql("{ authors(first: 100) { nodes { id name books(first: 100) { nodes { id title } } } } }")
            .await["data"]
            .clone()
    }

    /// The connection to PostgreSQL breaks between two statements of a mutation's transaction, or
    /// just before its COMMIT: the client gets an error, nothing of the transaction remains, and
    /// the same mutation succeeds once the database is reachable again.
    async fn a_connection_cut_in_the_middle_of_a_mutation_leaves_nothing_half_written(
        admin_url: String,
    ) {
        let proxy = TcpProxy::start("127.0.0.1:5432".into()).await;
        let app = TestApp::spawn_behind(&admin_url, &proxy, |c| c.db_timeout_secs = 2).await;
        // Three books, so that its INSERT is not the statement the two-book mutation below runs:
        // a statement already prepared on a connection travels without its SQL text.
        let (kept, _) = app
            .author_with_books(
                "Kept",
                &[("Kept 1", None), ("Kept 2", Some(1999)), ("Kept 3", None)],
            )
            .await;
        let create = r#"mutation { createAuthor(input: { name: "Cut", books: [{ title: "A" }, { title: "B" }] }) { name books { nodes { title } } } }"#;
        let delete = format!(r#"mutation {{ deleteAuthor(id: "{kept}") {{ deletedBookIds }} }}"#);
        let faults: [(&str, &str, &[u8]); 3] = [
            // After the author's INSERT, before its books' INSERT.
            ("createAuthor", create, br#"INSERT INTO "book""#),
            // After both INSERTs: the COMMIT never reaches the server.
            ("createAuthor", create, b"COMMIT"),
            // After the books' DELETE, before the author's.
            ("deleteAuthor", delete.as_str(), br#"DELETE FROM "author""#),
        ];

        let before = state(&app).await;
        for (round, (field, mutation, wire)) in faults.iter().enumerate() {
            proxy.cut_when_sent(wire);
            let response = app.graphql(mutation).await;
            assert_eq!(
                proxy.tripped(),
                u32::try_from(round).unwrap() + 1,
                "{response}"
            );
            assert_eq!(error_code(&response), "INTERNAL_SERVER_ERROR", "{response}");
            assert!(response["data"].is_null(), "{response}");

            proxy.restore();
            wait_until_ready(&app).await;
            assert_eq!(
                state(&app).await,
                before,
                "after the cut in {field}, round {round}"
            );
        }

        let created = app.graphql(create).await;
        let deleted = app.graphql(&delete).await;
        assert_eq!(
            created["data"]["createAuthor"],
            json!({ "name": "Cut", "books": { "nodes": [{ "title": "A" }, { "title": "B" }] } })
        );
        assert_eq!(
            deleted["data"]["deleteAuthor"]["deletedBookIds"]
                .as_array()
                .map(Vec::len),
            Some(3),
            "{deleted}"
        );
        assert_eq!(app.count_rows("author").await, 1);
        assert_eq!(app.count_rows("book").await, 2);
    }

    on_every_backend!(postgres_only:
        a_database_outage_gives_internal_errors_and_not_ready_then_heals,
        a_connection_cut_in_the_middle_of_a_mutation_leaves_nothing_half_written,
    );
}

/// `serve` on a first run (the default database URL, its SQLite file not there yet) fills the new
/// database with the demo data, so the first nested query shows authors and books; never a
/// database it was pointed at, nor one that existed before the start.
#[tokio::test]
async fn a_first_run_on_the_default_database_has_demo_data_and_no_other_does() {
    use api::{config::Config, db, metrics::Metrics, seed};

    let dir = std::env::temp_dir().join(format!("first-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("authors.db");
    let _ = std::fs::remove_file(&file);
    let mut config = Config::for_database(&format!("sqlite://{}?mode=rwc", file.display()));
    assert!(!seed::is_first_run(&config), "a URL that was given");
    config.database_url_is_default = true;
    assert!(seed::is_first_run(&config));
    let no_migrate = Config {
        no_migrate: true,
        ..config.clone()
    };
    assert!(!seed::is_first_run(&no_migrate));

    let database = db::connect_and_migrate(&config, &Metrics::new())
        .await
        .unwrap();
    assert!(
        !seed::is_first_run(&config),
        "the file exists once connected"
    );
    let seeded = seed::seed(&database).await.unwrap();
    let app = api::app::build_app(
        api::app::AppState::new(database, Metrics::new(), &config).expect("valid settings"),
    );
    let (_, response) = crate::helpers::send_graphql(
        app,
        json!({ "query": "{ authors(first: 2) { nodes { name books(first: 1) { nodes { title } } } } }" }),
    )
    .await;

    assert!(matches!(seeded, seed::Seeded::Inserted { authors: 40, .. }));
    let authors = response["data"]["authors"]["nodes"].as_array().unwrap();
    assert_eq!(authors.len(), 2, "{response}");
    assert_eq!(
        authors[0]["books"]["nodes"].as_array().map(Vec::len),
        Some(1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `DATABASE_REPLICA_URLS` naming the primary itself (a mistake, or a test setup): accepted with
/// a warning, and reads go there (the real replica is tested in `tests/replicas.rs`).
mod replica_urls {
    use super::*;

    async fn a_replica_url_that_leads_to_the_primary_is_accepted_and_serves_reads(
        admin_url: String,
    ) {
        let app = TestApp::spawn_with(Backend::Postgres(admin_url), |config| {
            config.database_replica_urls = vec![config.database_url.clone()];
        })
        .await;
        let started = Instant::now();
        while !app
            .metrics
            .render(&app.db)
            .contains(r#"db_replicas{state="in_service"} 1"#)
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the replica in service"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = app.metrics.statements_executed_on("replica1");
        let answer = app.graphql(QUERY).await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert!(app.metrics.statements_executed_on("replica1") > before);
    }

    /// A replica that answers, but fails the reads (here its connections search a schema with no
    /// tables): each read runs again on the primary and succeeds, and the replica, answering its
    /// probe, stays in service.
    async fn a_read_that_fails_on_a_replica_is_answered_by_the_primary(admin_url: String) {
        let app = TestApp::spawn_with(Backend::Postgres(admin_url), |config| {
            let separator = if config.database_url.contains('?') {
                '&'
            } else {
                '?'
            };
            config.database_replica_urls = vec![format!(
                "{}{separator}options=-c%20search_path%3Dnowhere",
                config.database_url
            )];
        })
        .await;
        app.author_with_books("Ada", &[]).await;
        let started = Instant::now();
        while !in_service(&app) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the replica in service"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..3 {
            let answer = app.graphql(QUERY).await;
            assert_eq!(
                answer["data"]["authors"]["nodes"][0]["name"], "Ada",
                "{answer}"
            );
        }
        assert_eq!(app.metrics.reads_run_again(), 3);
        assert!(app.metrics.statements_executed_on("replica1") >= 3);
        assert!(in_service(&app), "a replica that answers stays in service");
    }

    fn in_service(app: &TestApp) -> bool {
        app.metrics
            .render(&app.db)
            .contains(r#"db_replicas{state="in_service"} 1"#)
    }

    on_every_backend!(postgres_only:
        a_replica_url_that_leads_to_the_primary_is_accepted_and_serves_reads,
        a_read_that_fails_on_a_replica_is_answered_by_the_primary,
    );
}
