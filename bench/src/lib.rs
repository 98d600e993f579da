//! The benchmark's shared pieces: the deterministic dataset and the statements each read query
//! runs, used by the `bench` tool (its floor) and by the Criterion benchmarks.

use std::time::{Duration, Instant};

use api::store::{
    self, Direction, Ordering, Window,
    author::{AuthorFilter, AuthorSort},
    book::{BookFilter, BookSort},
};
use entity::{author, book};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait,
};

/// The workload's read queries (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Query {
    /// `authors(first: N) { nodes { id name books { nodes { id title publishedYear } } } }`
    Q1,
    /// `books(first: 100) { nodes { title author { name books(first: 3) { nodes { title } } } } }`
    Q2,
    /// `author(id: "5000") { name books { nodes { title } } }` (the middle author of the dataset)
    Q3,
}

/// Fresh tables, then `authors` authors with `books_per_author` books each, `published_year`
/// spread over 125 years; multi-row inserts of 1,000 rows in one transaction, then `ANALYZE`.
///
/// # Errors
/// When the database fails.
pub async fn load(
    db: &DatabaseConnection,
    authors: u32,
    books_per_author: u32,
) -> Result<(), String> {
    let started = Instant::now();
    Migrator::fresh(db).await.map_err(|e| e.to_string())?;
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    let ids: Vec<u32> = (1..=authors).collect();
    for chunk in ids.chunks(1000) {
        let rows = chunk.iter().map(|a| author::ActiveModel {
            name: Set(format!("Author {a:05}")),
            ..Default::default()
        });
        author::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| e.to_string())?;
    }
    let books: Vec<(u32, u32)> = ids
        .iter()
        .flat_map(|a| (1..=books_per_author).map(move |b| (*a, b)))
        .collect();
    for chunk in books.chunks(1000) {
        let rows = chunk.iter().map(|(a, b)| book::ActiveModel {
            title: Set(format!("Book {a}.{b}")),
            published_year: Set(Some(
                1900 + i32::try_from((a * 7 + b * 13) % 125).unwrap_or(0),
            )),
            author_id: Set(i64::from(*a)),
            ..Default::default()
        });
        book::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    // Fresh planner statistics, as autovacuum would gather soon after such a load: without them
    // PostgreSQL takes 100,000 books for a few thousand and scans instead of using the index.
    db.execute_unprepared("ANALYZE")
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "loaded {authors} authors and {} books in {:.1} s",
        books.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One request's statements, as the server issues them for `query` (`page` authors for Q1, the
/// author `author` for Q3); returns the rows read.
///
/// # Errors
/// When the database fails.
pub async fn statements_of(
    db: &DatabaseConnection,
    query: Query,
    page: u64,
    author: i64,
) -> Result<usize, String> {
    let by_id = Ordering::new([(AuthorSort::Id, Direction::Asc)]);
    let books_by_id = Ordering::new([(BookSort::Id, Direction::Asc)]);
    let window = |limit| Window {
        after: None,
        before: None,
        limit,
        from_end: false,
    };
    let no_filter = BookFilter::default();
    let rows = match query {
        Query::Q1 => {
            let authors = store::author::page(db, &AuthorFilter::default(), &by_id, &window(page))
                .await
                .map_err(|e| format!("{e:?}"))?;
            let ids: Vec<i64> = authors.rows.iter().map(|a| a.id).collect();
            let books = store::book::page_per_author(db, &ids, &no_filter, &books_by_id, 20, None)
                .await
                .map_err(|e| format!("{e:?}"))?;
            authors.rows.len() + books.values().map(|p| p.rows.len()).sum::<usize>()
        }
        Query::Q2 => {
            let books = store::book::page(db, &no_filter, &books_by_id, &window(100))
                .await
                .map_err(|e| format!("{e:?}"))?;
            let mut ids: Vec<i64> = books.rows.iter().map(|b| b.author_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let authors = store::author::by_ids(db, &ids)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let nested = store::book::page_per_author(db, &ids, &no_filter, &books_by_id, 3, None)
                .await
                .map_err(|e| format!("{e:?}"))?;
            books.rows.len() + authors.len() + nested.values().map(|p| p.rows.len()).sum::<usize>()
        }
        Query::Q3 => {
            let found = store::author::find(db, author)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let books =
                store::book::page_per_author(db, &[author], &no_filter, &books_by_id, 20, None)
                    .await
                    .map_err(|e| format!("{e:?}"))?;
            usize::from(found.is_some()) + books.values().map(|p| p.rows.len()).sum::<usize>()
        }
    };
    Ok(rows)
}

/// The `p` quantile (0 to 1) of `sorted` latencies, in milliseconds; 0 for none.
#[must_use]
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
