//! The benchmark's shared pieces: the deterministic catalogue and the statements each read query
//! runs, used by the `bench` tool (its floor) and by the Criterion benchmarks.

pub mod dataset;

use std::time::{Duration, Instant};

use api::store::{
    self, Direction, Ordering, Window,
    author::{AuthorFilter, AuthorSort},
    book::{BookFilter, BookSort},
};
use dataset::{Catalogue, Layout};
use entity::{author, book};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, TransactionTrait,
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
    /// `books(first: 10, filter: { titleContains: TERM }, orderBy: [{ field: TITLE }]) { totalCount nodes { id title } }`
    Q5,
    /// `authors(first: 20, orderBy: [{ field: NAME }]) { nodes { name books(first: 3, orderBy:
    /// [{ field: PUBLISHED_YEAR, direction: DESC }]) { nodes { title } } } }`
    Q6,
    /// Q6 after a cursor: page 50 when the cursor is the end of page 49.
    Q7,
    /// `books(first: 20, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }])
    /// { nodes { title publishedYear author { name } } }`
    Q8,
}

/// What the queries of one run ask for.
#[derive(Clone, Debug)]
pub struct Params {
    /// Authors per page (Q1).
    pub page: u64,
    /// The author of Q3.
    pub author: i64,
    /// The search term of Q5.
    pub term: String,
    /// The cursor Q7 reads after.
    pub after: Option<String>,
}

/// Fresh tables through the project's migrations, then the [`Catalogue`] of `authors` authors
/// and `books` books in `layout`: multi-row inserts of 1,000 rows in one transaction, then
/// `ANALYZE`. The indexes of the last migration are built after the rows are in (its `down`
/// before, its `up` after), which is much faster than keeping them up to date row by row.
///
/// # Errors
/// When the database fails.
pub async fn load(
    db: &DatabaseConnection,
    authors: u32,
    books: u32,
    layout: Layout,
) -> Result<(), String> {
    let started = Instant::now();
    let catalogue = Catalogue::new(authors, books, layout);
    Migrator::fresh(db).await.map_err(|e| e.to_string())?;
    Migrator::down(db, Some(1))
        .await
        .map_err(|e| e.to_string())?;
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    let ids: Vec<u32> = (1..=authors).collect();
    for chunk in ids.chunks(1000) {
        let rows = chunk.iter().map(|a| author::ActiveModel {
            name: Set(catalogue.author_name(*a)),
            ..Default::default()
        });
        author::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut rows = Vec::with_capacity(1000);
    for book in catalogue.books() {
        rows.push(book::ActiveModel {
            title: Set(book.title),
            published_year: Set(book.published_year),
            author_id: Set(book.author_id),
            ..Default::default()
        });
        if rows.len() == 1000 {
            book::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if !rows.is_empty() {
        book::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    Migrator::up(db, None).await.map_err(|e| e.to_string())?;
    // Planner statistics and, on PostgreSQL, the visibility map, as autovacuum leaves them soon
    // after such a load: without statistics PostgreSQL takes 100,000 books for a few thousand
    // and scans instead of using an index, and without the map an index-only scan still visits
    // every row it returns.
    let analyze = match db.get_database_backend() {
        DbBackend::Postgres => "VACUUM ANALYZE",
        DbBackend::MySql => "ANALYZE TABLE author, book",
        _ => "ANALYZE",
    };
    db.execute_unprepared(analyze)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "loaded {authors} authors and {books} books ({layout:?}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A two-word phrase of the catalogue whose `titleContains` search matches between `min` and
/// `max` books of the loaded database (counted there, with the API's own filter); the first
/// such phrase from the rarest up.
///
/// # Errors
/// When the database fails or no phrase matches that many books.
pub async fn search_term(
    db: &DatabaseConnection,
    catalogue: &Catalogue,
    min: u64,
    max: u64,
) -> Result<(String, u64), String> {
    for (phrase, titles) in catalogue.phrases() {
        if u64::from(titles) < min || u64::from(titles) > max {
            continue;
        }
        let filter = BookFilter {
            title_contains: Some(phrase.clone()),
            ..BookFilter::default()
        };
        let matches = store::book::count(db, &filter)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if (min..=max).contains(&matches) {
            return Ok((phrase, matches));
        }
    }
    Err(format!("no phrase matches {min} to {max} books"))
}

/// One request's statements, as the server issues them for `query`; returns the rows read.
///
/// # Errors
/// When the database fails, or Q7's cursor is missing or malformed.
pub async fn statements_of(
    db: &DatabaseConnection,
    query: Query,
    params: &Params,
) -> Result<usize, String> {
    let by_id = Ordering::new([(AuthorSort::Id, Direction::Asc)]);
    let books_by_id = Ordering::new([(BookSort::Id, Direction::Asc)]);
    let window = |limit| Window {
        after: None,
        before: None,
        limit,
        from_end: false,
    };
    let failed = |e| format!("{e:?}");
    let no_filter = BookFilter::default();
    let rows = match query {
        Query::Q1 => {
            let authors =
                store::author::page(db, &AuthorFilter::default(), &by_id, &window(params.page))
                    .await
                    .map_err(failed)?;
            let ids: Vec<i64> = authors.rows.iter().map(|a| a.id).collect();
            let books = store::book::page_per_author(
                db,
                &ids,
                &no_filter,
                &books_by_id,
                &Window::forward(20, None),
            )
            .await
            .map_err(failed)?;
            authors.rows.len() + books.values().map(|p| p.rows.len()).sum::<usize>()
        }
        Query::Q2 => {
            let books = store::book::page(db, &no_filter, &books_by_id, &window(100))
                .await
                .map_err(failed)?;
            let ids: Vec<i64> = books.rows.iter().map(|b| b.author_id).collect();
            let authors = store::book::authors_with_pages(
                db,
                &ids,
                &no_filter,
                &books_by_id,
                &Window::forward(3, None),
            )
            .await
            .map_err(failed)?;
            books.rows.len()
                + authors
                    .values()
                    .map(|(_, p)| 1 + p.rows.len())
                    .sum::<usize>()
        }
        Query::Q3 => {
            let found = store::book::author_with_page(
                db,
                params.author,
                &no_filter,
                &books_by_id,
                &Window::forward(20, None),
            )
            .await
            .map_err(failed)?;
            found.map_or(0, |(_, books)| 1 + books.rows.len())
        }
        Query::Q5 => {
            let filter = BookFilter {
                title_contains: Some(params.term.clone()),
                ..BookFilter::default()
            };
            let by_title = Ordering::new([(BookSort::Title, Direction::Asc)]);
            let page = store::book::page(db, &filter, &by_title, &window(10))
                .await
                .map_err(failed)?;
            store::book::count(db, &filter).await.map_err(failed)?;
            page.rows.len() + 1
        }
        Query::Q6 | Query::Q7 => {
            let by_name = Ordering::new([(AuthorSort::Name, Direction::Asc)]);
            let mut page = window(20);
            if let Query::Q7 = query {
                let after = params.after.as_deref().ok_or("Q7 needs a cursor")?;
                page.after = Some(by_name.parse_cursor("after", after).map_err(failed)?);
            }
            let authors = store::author::page(db, &AuthorFilter::default(), &by_name, &page)
                .await
                .map_err(failed)?;
            let ids: Vec<i64> = authors.rows.iter().map(|a| a.id).collect();
            let newest = Ordering::new([(BookSort::PublishedYear, Direction::Desc)]);
            let books = store::book::page_per_author(
                db,
                &ids,
                &no_filter,
                &newest,
                &Window::forward(3, None),
            )
            .await
            .map_err(failed)?;
            authors.rows.len() + books.values().map(|p| p.rows.len()).sum::<usize>()
        }
        Query::Q8 => {
            let ordering = Ordering::new([
                (BookSort::PublishedYear, Direction::Desc),
                (BookSort::Title, Direction::Asc),
            ]);
            let books = store::book::page(db, &no_filter, &ordering, &window(20))
                .await
                .map_err(failed)?;
            let (_, authors) = authors_of(db, &books.rows).await?;
            books.rows.len() + authors.len()
        }
    };
    Ok(rows)
}

/// The distinct authors of `books` and their rows, in one statement, as `Book.author` reads them.
async fn authors_of(
    db: &DatabaseConnection,
    books: &[book::Model],
) -> Result<(Vec<i64>, Vec<author::Model>), String> {
    let mut ids: Vec<i64> = books.iter().map(|b| b.author_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let authors = store::author::by_ids(db, &ids)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok((ids, authors))
}

/// The `p` quantile (0 to 1) of `sorted` latencies, in milliseconds; 0 for none.
#[must_use]
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
