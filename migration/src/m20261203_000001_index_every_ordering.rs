//! An index for every ordering and filter the API offers, so that a page costs what it returns,
//! not what the table holds.
//!
//! Each ordering ends with `id` in the direction of the key before it, and a numeric key sorted
//! against the ordering's text key is negated (`store::Ordering::terms`), so one B-tree on the
//! keys serves an ordering forwards and backwards, and a cursor is a range to seek to:
//!
//! | index | serves |
//! |---|---|
//! | `idx_author_name (name, id)` | `authors(orderBy: NAME)` |
//! | `idx_book_title (title, id)` | `books(orderBy: TITLE)` |
//! | `idx_book_year (YEAR, id)` | `books(orderBy: PUBLISHED_YEAR)`, the year filters |
//! | `idx_book_year_title (0 - YEAR, title, id)` | `books(orderBy: [PUBLISHED_YEAR DESC, TITLE])`: newest first, then by title (and its reverse) |
//! | `idx_book_author_id (author_id, id)` | `Author.books`, `Author.bookCount`, the foreign key |
//! | `idx_book_author_title (author_id, title, id)` | `Author.books(orderBy: TITLE)` |
//! | `idx_book_author_year (author_id, YEAR, id)` | `Author.books(orderBy: PUBLISHED_YEAR)` |
//! | `idx_author_name_trgm`, `idx_book_title_trgm` (PostgreSQL) | `nameContains`, `titleContains` |
//! | `idx_author_name_symbols`, `idx_book_title_symbols` (PostgreSQL, partial) | the same, for a term of punctuation |
//!
//! `YEAR` is `COALESCE(published_year, 2147483648)`: a book without a year sorts after every year
//! in ascending order, and the constant (one past `i32::MAX`) is written into the expression, so
//! a query that writes the same expression is served by the index; NULL itself could not be
//! compared with a cursor. `idx_book_author_id` keeps its name (docs/reference.md § Database
//! schema) and gains `id`, which the per-author pages are sorted by. On PostgreSQL the per-author indexes also carry the
//! book's other columns (`INCLUDE`), so a nested page is read from the index alone, not from rows
//! spread over the table. The trigram indexes are on `lower(…)`, exactly what the `contains`
//! filter compares, with a partial one for terms of punctuation (see `TRIGRAMS`). They need the
//! `pg_trgm` extension, shipped with PostgreSQL's contrib modules and trusted since PostgreSQL
//! 13, so a database owner may create it. `down` leaves the extension, which other objects may
//! use.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The B-tree indexes of the orderings at the root, the same on every backend.
const ROOT: [&str; 4] = [
    "CREATE INDEX idx_author_name ON author (name, id)",
    "CREATE INDEX idx_book_title ON book (title, id)",
    "CREATE INDEX idx_book_year ON book ((COALESCE(published_year, 2147483648)), id)",
    "CREATE INDEX idx_book_year_title ON book \
     ((0 - COALESCE(published_year, 2147483648)), title, id)",
];

/// The per-author indexes on PostgreSQL, carrying the book's other columns.
const PER_AUTHOR_POSTGRES: [&str; 3] = [
    "CREATE INDEX idx_book_author_id ON book (author_id, id) INCLUDE (title, published_year)",
    "CREATE INDEX idx_book_author_title ON book (author_id, title, id) INCLUDE (published_year)",
    "CREATE INDEX idx_book_author_year ON book \
     (author_id, (COALESCE(published_year, 2147483648)), id) INCLUDE (title, published_year)",
];

/// The same on SQLite, which has no `INCLUDE`.
const PER_AUTHOR_SQLITE: [&str; 3] = [
    "CREATE INDEX idx_book_author_id ON book (author_id, id)",
    "CREATE INDEX idx_book_author_title ON book (author_id, title, id)",
    "CREATE INDEX idx_book_author_year ON book \
     (author_id, (COALESCE(published_year, 2147483648)), id)",
];

/// MariaDB, which indexes columns only: the year key and its negation as generated columns, and
/// `idx_book_author_id` replaced in one statement, since the foreign key needs an index at all
/// times. There is no trigram index: `contains` reads along the ordering (docs/reference.md).
const MARIADB: [&str; 7] = [
    "ALTER TABLE book \
     ADD COLUMN year_key BIGINT AS (COALESCE(published_year, 2147483648)) VIRTUAL, \
     ADD COLUMN year_key_desc BIGINT AS (0 - COALESCE(published_year, 2147483648)) VIRTUAL",
    "CREATE INDEX idx_author_name ON author (name, id)",
    "CREATE INDEX idx_book_title ON book (title, id)",
    "CREATE INDEX idx_book_year ON book (year_key, id)",
    "CREATE INDEX idx_book_year_title ON book (year_key_desc, title, id)",
    "ALTER TABLE book DROP INDEX idx_book_author_id, ADD INDEX idx_book_author_id (author_id, id), \
     ADD INDEX idx_book_author_title (author_id, title, id), \
     ADD INDEX idx_book_author_year (author_id, year_key, id)",
    "ANALYZE TABLE author, book",
];

/// Undoes [`MARIADB`].
const MARIADB_DOWN: [&str; 3] = [
    "ALTER TABLE book DROP INDEX idx_book_title, DROP INDEX idx_book_year, \
     DROP INDEX idx_book_year_title, DROP INDEX idx_book_author_title, \
     DROP INDEX idx_book_author_year, \
     DROP INDEX idx_book_author_id, ADD INDEX idx_book_author_id (author_id)",
    "ALTER TABLE book DROP COLUMN year_key, DROP COLUMN year_key_desc",
    "ALTER TABLE author DROP INDEX idx_author_name",
];

/// The trigram indexes of the `contains` filters (PostgreSQL): on `lower(…)`, which the filter
/// compares; and, since `pg_trgm` ignores punctuation, a partial one on the rows that hold
/// ASCII punctuation, with each such character folded into a `q`, so that a term of punctuation
/// ("%_\", "c++") is found through an index too. `store::contains` writes the same expressions.
const TRIGRAMS: [&str; 5] = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX idx_author_name_trgm ON author USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX idx_book_title_trgm ON book USING gin (lower(title) gin_trgm_ops)",
    "CREATE INDEX idx_author_name_symbols ON author USING gin \
     ((translate(lower(name), '!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~', 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq')) gin_trgm_ops) \
     WHERE name ~ '[[:punct:]]'",
    "CREATE INDEX idx_book_title_symbols ON book USING gin \
     ((translate(lower(title), '!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~', 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq')) gin_trgm_ops) \
     WHERE title ~ '[[:punct:]]'",
];

const DROP: [&str; 11] = [
    "DROP INDEX idx_author_name_trgm",
    "DROP INDEX idx_book_title_trgm",
    "DROP INDEX idx_author_name_symbols",
    "DROP INDEX idx_book_title_symbols",
    "DROP INDEX idx_author_name",
    "DROP INDEX idx_book_title",
    "DROP INDEX idx_book_year",
    "DROP INDEX idx_book_year_title",
    "DROP INDEX idx_book_author_title",
    "DROP INDEX idx_book_author_year",
    "DROP INDEX idx_book_author_id",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too (the migrator's default there is none): every statement then
    /// runs on one connection, where a second one could still hold the dropped index in its
    /// cached schema and refuse to create it again.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let per_author = match backend {
            DbBackend::Postgres => PER_AUTHOR_POSTGRES,
            DbBackend::Sqlite => PER_AUTHOR_SQLITE,
            DbBackend::MySql => {
                for statement in MARIADB {
                    db.execute_unprepared(statement).await?;
                }
                return Ok(());
            }
            _ => {
                return Err(DbErr::Migration(format!(
                    "indexes for {backend:?} are not written yet"
                )));
            }
        };
        db.execute_unprepared("DROP INDEX idx_book_author_id")
            .await?;
        for statement in ROOT.iter().chain(&per_author) {
            db.execute_unprepared(statement).await?;
        }
        if backend == DbBackend::Postgres {
            for statement in TRIGRAMS {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::MySql {
            for statement in MARIADB_DOWN {
                db.execute_unprepared(statement).await?;
            }
            return Ok(());
        }
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for statement in DROP {
            if postgres || !(statement.ends_with("_trgm") || statement.ends_with("_symbols")) {
                db.execute_unprepared(statement).await?;
            }
        }
        db.execute_unprepared("CREATE INDEX idx_book_author_id ON book (author_id)")
            .await?;
        Ok(())
    }
}
