//! The schema the `migration` crate creates (docs/reference.md § Database schema), and the demo data.

use api::seed::{Seeded, seed};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::helpers::{Backend, TestApp};

async fn deleting_an_author_in_raw_sql_cascades_to_its_books(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (doomed, _) = app
        .author_with_books("Doomed", &[("One", None), ("Two", None)])
        .await;
    app.author_with_books("Kept", &[("Three", None)]).await;

    app.db
        .execute_unprepared(&format!("DELETE FROM author WHERE id = {doomed}"))
        .await
        .unwrap();

    assert_eq!(app.count_rows("author").await, 1);
    assert_eq!(app.count_rows("book").await, 1);
    let orphans = "SELECT COUNT(*) AS n FROM book WHERE author_id NOT IN (SELECT id FROM author)";
    assert_eq!(app.scalar(orphans).await, 0);
}

async fn a_book_cannot_name_a_missing_author(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let insert = app
        .db
        .execute_unprepared("INSERT INTO book (title, author_id) VALUES ('Orphan', 424242)")
        .await;

    assert!(insert.is_err(), "the foreign key is enforced");
    assert_eq!(app.count_rows("book").await, 0);
}

async fn the_author_index_exists_and_the_migration_rolls_back_and_forth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (index, tables) = match app.db.get_database_backend() {
        DatabaseBackend::Postgres => (
            "SELECT COUNT(*) AS n FROM pg_indexes WHERE indexname = 'idx_book_author_id' AND tablename = 'book'",
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name IN ('author', 'book') AND table_schema = current_schema()",
        ),
        DatabaseBackend::MySql => (
            "SELECT COUNT(DISTINCT index_name) AS n FROM information_schema.statistics WHERE index_name = 'idx_book_author_id' AND table_name = 'book' AND table_schema = DATABASE()",
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name IN ('author', 'book') AND table_schema = DATABASE()",
        ),
        _ => (
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'idx_book_author_id' AND tbl_name = 'book'",
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('author', 'book')",
        ),
    };
    assert_eq!(app.scalar(index).await, 1);

    Migrator::down(&app.db, None).await.unwrap();
    assert_eq!(app.scalar(tables).await, 0);

    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(app.scalar(tables).await, 2);
    assert_eq!(app.scalar(index).await, 1);
}

/// The indexes of the last migration, by name, with the columns `idx_book_author_id` starts with.
async fn index_names(app: &TestApp) -> (Vec<String>, String) {
    let (names, author_index) = match app.db.get_database_backend() {
        DatabaseBackend::Postgres => (
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'idx_%' ORDER BY 1",
            "SELECT indexdef AS name FROM pg_indexes WHERE indexname = 'idx_book_author_id'",
        ),
        // The columns of `idx_book_author_id`, written as the other backends write them.
        DatabaseBackend::MySql => (
            "SELECT DISTINCT CAST(index_name AS CHAR) AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE 'idx\\_%' ORDER BY 1",
            "SELECT CAST(CONCAT('(', GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ', '), ')') AS CHAR) AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'idx_book_author_id'",
        ),
        _ => (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY 1",
            "SELECT sql AS name FROM sqlite_master WHERE name = 'idx_book_author_id'",
        ),
    };
    let backend = app.db.get_database_backend();
    let read = |sql: &str| sea_orm::Statement::from_string(backend, sql);
    let names = app
        .db
        .query_all_raw(read(names))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    let author_index = app
        .db
        .query_one_raw(read(author_index))
        .await
        .unwrap()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .unwrap_or_default();
    (names, author_index)
}

async fn every_ordering_has_its_index_and_the_index_migration_rolls_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let postgres = app.db.get_database_backend() == DatabaseBackend::Postgres;
    let mut expected = vec![
        "idx_author_name",
        "idx_author_name_symbols",
        "idx_author_name_trgm",
        "idx_book_author_id",
        "idx_book_author_title",
        "idx_book_author_year",
        "idx_book_title",
        "idx_book_title_symbols",
        "idx_book_title_trgm",
        "idx_book_year",
        "idx_book_year_title",
    ];
    if !postgres {
        expected.retain(|name| !name.ends_with("_trgm") && !name.ends_with("_symbols"));
    }

    let (applied, author_index) = index_names(&app).await;
    assert_eq!(applied, expected);
    assert!(author_index.contains("(author_id, id)"), "{author_index}");

    Migrator::down(&app.db, Some(1)).await.unwrap();
    let (rolled_back, author_index) = index_names(&app).await;
    assert_eq!(rolled_back, ["idx_book_author_id"]);
    assert!(author_index.contains("(author_id)"), "{author_index}");

    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(index_names(&app).await.0, expected);
}

async fn seeding_fills_an_empty_database_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let first = seed(&app.db).await.unwrap();
    let second = seed(&app.db).await.unwrap();
    let response = app
        .graphql(r#"{ authors(filter: { nameContains: "村上" }) { totalCount nodes { name bookCount } } }"#)
        .await;

    let books = app.count_rows("book").await;
    assert_eq!(
        first,
        Seeded::Inserted {
            authors: 40,
            books: usize::try_from(books).unwrap()
        }
    );
    assert!(
        (250..=350).contains(&books),
        "a few hundred books, got {books}"
    );
    assert_eq!(second, Seeded::AlreadyPopulated);
    assert_eq!(app.count_rows("author").await, 40);
    assert_eq!(response["data"]["authors"]["totalCount"], 1);
    assert_eq!(response["data"]["authors"]["nodes"][0]["name"], "村上春樹");
}

on_every_backend!(
    deleting_an_author_in_raw_sql_cascades_to_its_books,
    a_book_cannot_name_a_missing_author,
    the_author_index_exists_and_the_migration_rolls_back_and_forth,
    every_ordering_has_its_index_and_the_index_migration_rolls_back,
    seeding_fills_an_empty_database_once,
);
