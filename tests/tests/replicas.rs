//! Read replicas, against a real streaming replica of the test server (`deploy/replicas.sh`;
//! `TEST_POSTGRES_REPLICA_URL` names its server, e.g. `postgres://postgres@127.0.0.1:5433/postgres`,
//! and `TEST_POSTGRES_REPLICA_CLUSTER` its Debian cluster, `15/replica1` by default).
//!
//! These tests pause the replica's replay and stop it, which touches every database on it: they
//! live in a test binary of their own, which cargo runs after the others, and run one at a time.

#[allow(dead_code, unused_macros, unused_imports)]
#[macro_use]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::{
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, header},
};
use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use helpers::TestApp;

/// One test at a time: each pauses or stops the replica.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Setup {
    primary: String,
    replica_admin: String,
    port: u16,
    cluster: (String, String),
}

fn setup() -> Option<Setup> {
    let primary = std::env::var("TEST_POSTGRES_URL").ok()?;
    let replica_admin = std::env::var("TEST_POSTGRES_REPLICA_URL").ok()?;
    let port = replica_admin
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .expect("TEST_POSTGRES_REPLICA_URL names a port");
    let cluster =
        std::env::var("TEST_POSTGRES_REPLICA_CLUSTER").unwrap_or_else(|_| "15/replica1".to_owned());
    let (version, name) = cluster.split_once('/').expect("VERSION/NAME");
    Some(Setup {
        primary,
        replica_admin,
        port,
        cluster: (version.to_owned(), name.to_owned()),
    })
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .expect("a row");
    row.try_get::<i64>("", "n").expect("an integer `n`")
}

/// A connection to the replica's copy of the test database, once it holds the author written.
async fn replayed(replica_url: &str) -> DatabaseConnection {
    let replica = Database::connect(replica_url).await.expect("the replica");
    let started = Instant::now();
    while scalar(&replica, "SELECT count(*) AS n FROM author").await < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the author written reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replica
}

fn replicas_in_service(app: &TestApp) -> bool {
    app.metrics
        .render(&app.db)
        .contains(r#"db_replicas{state="in_service"} 1"#)
}

async fn until(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// POSTs `query`, with `Read-From: primary` when `primary`.
async fn post(app: &TestApp, query: &str, primary: bool) -> Value {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if primary {
        request = request.header("read-from", "primary");
    }
    let body = json!({ "query": query }).to_string();
    let (_, _, bytes) = app
        .send(request.body(Body::from(body)).expect("a request"))
        .await;
    serde_json::from_slice(&bytes).expect("JSON")
}

fn names(response: &Value) -> Vec<String> {
    assert!(response["errors"].is_null(), "{response}");
    response["data"]["authors"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|author| author["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn pool_counts(app: &TestApp) -> (u64, u64) {
    (
        app.metrics.statements_executed_on("primary"),
        app.metrics.statements_executed_on("replica1"),
    )
}

/// The lag limit of the lag test: above what a small write and the background produce (pages
/// written whole after a checkpoint), below what its bulk writes do.
const LAG_LIMIT: u64 = 1024 * 1024;

const NAMES: &str = "{ authors(first: 100) { nodes { name books { nodes { title } } } } }";

#[tokio::test]
#[cfg_attr(
    not(replica_tests),
    ignore = "run deploy/replicas.sh and set TEST_POSTGRES_REPLICA_URL"
)]
async fn reads_go_to_the_replica_and_writes_to_the_primary() {
    let Some(setup) = setup() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let (app, replica_url) = TestApp::spawn_with_replica(&setup.primary, setup.port, |_| {}).await;
    until("the replica in service", || replicas_in_service(&app)).await;

    let (primary_before, replica_before) = pool_counts(&app);
    let created = post(
        &app,
        r#"mutation { createAuthor(input: {name: "Replicated", books: [{title: "Copied"}]}) { name books { nodes { title } } } }"#,
        false,
    )
    .await;
    assert_eq!(
        created["data"]["createAuthor"]["books"]["nodes"][0]["title"],
        "Copied"
    );
    let (primary_after, replica_after) = pool_counts(&app);
    assert!(
        primary_after > primary_before,
        "the write ran on the primary"
    );
    assert_eq!(
        replica_after, replica_before,
        "nothing of a mutation reads the replica"
    );

    let replica = replayed(&replica_url).await;
    for _ in 0..3 {
        assert_eq!(names(&post(&app, NAMES, false).await), ["Replicated"]);
    }
    let (primary_now, replica_now) = pool_counts(&app);
    assert_eq!(primary_now, primary_after, "queries left the primary alone");
    assert_eq!(
        replica_now - replica_after,
        6,
        "two statements a query, on the replica"
    );
    // Counted on the replica itself: its sessions on this database ran the reads.
    let on_replica = scalar(
        &replica,
        r#"SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()
           AND pid <> pg_backend_pid() AND query LIKE '%FROM "book"%'"#,
    )
    .await;
    assert!(on_replica >= 1, "the replica ran the reads");

    // Asked for, the primary answers.
    assert_eq!(names(&post(&app, NAMES, true).await), ["Replicated"]);
    let (primary_last, replica_last) = pool_counts(&app);
    assert_eq!(primary_last - primary_now, 2);
    assert_eq!(replica_last, replica_now);
    replica.close().await.ok();
}

/// Runs `test` with the replica's replay paused, and resumes it whatever happens.
async fn with_replay_paused<F: std::future::Future<Output = ()>>(
    admin: &DatabaseConnection,
    test: F,
) {
    admin
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let outcome = AssertUnwindSafe(test).catch_unwind().await;
    admin
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
#[cfg_attr(
    not(replica_tests),
    ignore = "run deploy/replicas.sh and set TEST_POSTGRES_REPLICA_URL"
)]
async fn a_mutation_sees_its_write_while_the_replica_lags_and_a_lagging_replica_is_taken_out() {
    let Some(setup) = setup() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let (app, _) = TestApp::spawn_with_replica(&setup.primary, setup.port, |config| {
        config.replica_max_lag_bytes = LAG_LIMIT;
    })
    .await;
    until("the replica in service", || replicas_in_service(&app)).await;
    let admin = Database::connect(setup.replica_admin.as_str())
        .await
        .expect("the replica's server");
    with_replay_paused(&admin, async {
        let created = post(
            &app,
            r#"mutation { createAuthor(input: {name: "Fresh", books: [{title: "New"}]}) { name bookCount } }"#,
            false,
        )
        .await;
        assert_eq!(
            created["data"]["createAuthor"],
            json!({ "name": "Fresh", "bookCount": 1 }),
            "the response shows its own write"
        );
        // Within the lag limit the replica serves (a check has run since the write), and does
        // not have it yet; the primary does.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(replicas_in_service(&app));
        assert_eq!(names(&post(&app, NAMES, false).await), Vec::<String>::new());
        assert_eq!(names(&post(&app, NAMES, true).await), ["Fresh"]);

        // Past the limit (1 MiB of WAL here) it is taken out, and reads go to the primary.
        let title = "t".repeat(200);
        let books: Vec<String> = (0..1000).map(|_| format!(r#"{{title: "{title}"}}"#)).collect();
        let bulk = format!(
            r#"mutation {{ createAuthor(input: {{name: "Bulk", books: [{}]}}) {{ id }} }}"#,
            books.join(",")
        );
        for _ in 0..3 {
            assert!(post(&app, &bulk, false).await["errors"].is_null());
        }
        let out = until("the lagging replica out of service", || !replicas_in_service(&app)).await;
        eprintln!("a replica lagging past the limit was out of service {out:?} after the write");
        assert_eq!(names(&post(&app, NAMES, false).await), ["Fresh", "Bulk", "Bulk", "Bulk"]);
    })
    .await;
    let back = until("the replica back in service", || replicas_in_service(&app)).await;
    eprintln!("a replica that caught up was in service again {back:?} after replay resumed");
    let (_, before) = pool_counts(&app);
    assert_eq!(
        names(&post(&app, NAMES, false).await),
        ["Fresh", "Bulk", "Bulk", "Bulk"]
    );
    assert!(pool_counts(&app).1 > before, "read from the replica again");
    admin.close().await.ok();
}

fn pg_ctlcluster(cluster: &(String, String), action: &str) {
    let status = std::process::Command::new("pg_ctlcluster")
        .args([cluster.0.as_str(), cluster.1.as_str(), action])
        .args(if action == "stop" {
            &["-m", "fast"][..]
        } else {
            &[][..]
        })
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "pg_ctlcluster {action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(replica_tests),
    ignore = "run deploy/replicas.sh and set TEST_POSTGRES_REPLICA_URL"
)]
async fn a_replica_stopped_mid_run_fails_no_request_and_serves_again_when_back() {
    let Some(setup) = setup() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let (app, replica_url) = TestApp::spawn_with_replica(&setup.primary, setup.port, |_| {}).await;
    let router = app.router.clone();
    post(
        &app,
        r#"mutation { createAuthor(input: {name: "Steady"}) { id } }"#,
        false,
    )
    .await;
    until("the replica in service", || replicas_in_service(&app)).await;
    replayed(&replica_url).await.close().await.ok();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let (mut ok, mut failed) = (0_u32, Vec::new());
        while !*stopped.borrow() {
            let (status, body) =
                helpers::send_graphql(router.clone(), json!({ "query": NAMES })).await;
            if status == 200 && body["errors"].is_null() && names(&body) == ["Steady"] {
                ok += 1;
            } else {
                failed.push(body);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (ok, failed)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cluster = setup.cluster.clone();
    let stopped_at = Instant::now();
    tokio::task::spawn_blocking(move || pg_ctlcluster(&cluster, "stop"))
        .await
        .expect("stop");
    let out = until("the stopped replica out of service", || {
        !replicas_in_service(&app)
    })
    .await;
    eprintln!(
        "the stopped replica was out of service {:?} after the stop began ({out:?} after it ended)",
        stopped_at.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cluster = setup.cluster.clone();
    tokio::task::spawn_blocking(move || pg_ctlcluster(&cluster, "start"))
        .await
        .expect("start");
    let started_at = Instant::now();
    until("the replica back in service", || replicas_in_service(&app)).await;
    let (_, before) = pool_counts(&app);
    until("a read on the replica again", || {
        pool_counts(&app).1 > before
    })
    .await;
    eprintln!(
        "the restarted replica served reads again {:?} after it started",
        started_at.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.send_replace(true);
    let (ok, failed) = reader.await.expect("the reader");
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    // How many depends on whether a read or the check met the stopped replica first.
    eprintln!(
        "{} reads ran again on the primary",
        app.metrics.reads_run_again()
    );
    eprintln!("{ok} reads, none failed, through the stop and the start");
}
