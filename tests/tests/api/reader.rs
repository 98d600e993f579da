//! `store::Reader`, as it runs behind a transaction-mode pooler (docs/reference.md § Behind
//! PgBouncer): a request's statements in one transaction, a failed statement failing alone.

use std::time::Duration;

use api::store::Reader;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, TransactionTrait};

use crate::helpers::{Backend, TestApp};

/// The start of the transaction `reader`'s next statement runs in (`now()`).
async fn started(reader: &Reader) -> Result<String, DbErr> {
    let row = reader
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT now()::text AS t",
        ))
        .await?
        .expect("a row");
    row.try_get("", "t")
}

async fn a_pinned_reader_reads_in_one_transaction_until_released(admin_url: String) {
    let app = TestApp::spawn(Backend::Postgres(admin_url)).await;
    let pinned = Reader::new(app.db.clone(), true);
    let unpinned = Reader::new(app.db.clone(), false);

    let first = started(&pinned).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = started(&pinned).await.unwrap();
    pinned.release().await.unwrap();
    pinned.release().await.unwrap();
    let after_release = started(&pinned).await.unwrap();
    let apart = (
        started(&unpinned).await.unwrap(),
        started(&unpinned).await.unwrap(),
    );

    assert_eq!(first, second, "one transaction");
    assert_ne!(second, after_release, "another after the release");
    assert_ne!(
        apart.0, apart.1,
        "without pinning, a transaction per statement"
    );
}

async fn a_failed_statement_fails_alone(admin_url: String) {
    let app = TestApp::spawn(Backend::Postgres(admin_url)).await;
    let reader = Reader::new(app.db.clone(), true);
    let before = started(&reader).await.unwrap();

    let failed = reader
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 / 0 AS t",
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let next = started(&reader).await;

    assert!(failed.is_err());
    // Not "current transaction is aborted": the next statement runs in a new transaction.
    assert_ne!(next.expect("the next statement runs"), before);
    reader.release().await.unwrap();
}

async fn a_write_begins_after_the_reading_transaction_ends(admin_url: String) {
    let app = TestApp::spawn_with(Backend::Postgres(admin_url), |config| {
        config.db_max_connections = 1;
    })
    .await;
    let reader = Reader::new(app.db.clone(), true);
    started(&reader).await.unwrap();

    // On a pool of one connection: waits forever unless the reading transaction ended.
    let write = tokio::time::timeout(Duration::from_secs(5), reader.begin()).await;

    let txn = write.expect("no wait").expect("a transaction");
    txn.execute_unprepared("INSERT INTO author (name) VALUES ('Written')")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(app.count_rows("author").await, 1);
}

on_every_backend!(postgres_only:
    a_pinned_reader_reads_in_one_transaction_until_released,
    a_failed_statement_fails_alone,
    a_write_begins_after_the_reading_transaction_ends,
);
