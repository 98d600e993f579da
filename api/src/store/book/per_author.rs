//! The books of many authors in one statement: a page of each author's books, and how many
//! books each author has.

use std::collections::HashMap;

use entity::book;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryResult,
    QuerySelect,
    sea_query::{
        Alias, Condition, Expr, ExprTrait, JoinType, Order, Query, SelectStatement, WindowStatement,
    },
};

use super::{BookFilter, BookSort};
use crate::{
    error::ApiResult,
    store::{Ordering, Page, Window},
};

/// The first `window.limit` books after `window.after` of EACH of `author_ids`, plus one probe
/// row per author that has more, in ONE statement. Authors without matching books are absent
/// from the map. The window reads forwards (a nested page has no `last` or `before`).
///
/// On PostgreSQL each author's page is read on its own, along the index that starts with
/// `author_id` and continues with the ordering's keys (`idx_book_author_id`,
/// `idx_book_author_title`, `idx_book_author_year`), and cut at `first + 1` rows, so the rows of
/// the other authors, or beyond the page, are never read:
///
/// ```sql
/// SELECT page.… FROM (VALUES (…), …) AS wanted
/// JOIN LATERAL (SELECT …, ROW_NUMBER() OVER (ORDER BY <ordering>) AS rn FROM book
///               WHERE author_id = wanted.column1 AND <filter> AND <after>
///               ORDER BY <ordering> LIMIT first + 1) AS page ON TRUE
/// ```
///
/// SQL does not promise the order of the rows, so each page is put in `rn` order here. SQLite
/// has no `LATERAL`; there every matching row of the authors is ranked, along the same indexes:
///
/// ```sql
/// SELECT … FROM (SELECT …, ROW_NUMBER() OVER (PARTITION BY author_id ORDER BY <ordering>) AS rn
///                FROM book WHERE author_id IN (…) AND <filter> AND <after>) AS ranked
/// WHERE rn <= first + 1 ORDER BY author_id, rn
/// ```
///
/// # Errors
/// When the database fails.
pub async fn page_per_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> ApiResult<HashMap<i64, Page<book::Model>>> {
    debug_assert!(
        !window.from_end && window.before.is_none(),
        "a nested page reads forwards"
    );
    let first = window.limit;
    // Each id of the `LATERAL` statement reads its own page, so a repeated id would repeat it.
    let mut author_ids = author_ids.to_vec();
    author_ids.sort_unstable();
    author_ids.dedup();
    if author_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let mut condition = filter.condition(backend);
    if let Some(after) = &window.after {
        condition = condition.add(ordering.beyond(after, true));
    }
    let statement = if backend == DbBackend::Postgres {
        top_per_author(&author_ids, condition, ordering, first)
    } else {
        ranked_per_author(&author_ids, condition, ordering, first)
    };
    let mut by_author: HashMap<i64, Vec<(i64, book::Model)>> =
        HashMap::with_capacity(author_ids.len());
    for row in db.query_all(&statement).await? {
        let (rank, book) = ranked_book_at(&row)?;
        by_author
            .entry(book.author_id)
            .or_default()
            .push((rank, book));
    }
    Ok(by_author
        .into_iter()
        .map(|(author_id, mut rows)| {
            rows.sort_unstable_by_key(|(rank, _)| *rank);
            let rows = rows.into_iter().map(|(_, book)| book).collect();
            (author_id, Page::from_probe(rows, first))
        })
        .collect())
}

/// The columns of a book row.
const BOOK_COLUMNS: [book::Column; 4] = [
    book::Column::Id,
    book::Column::Title,
    book::Column::PublishedYear,
    book::Column::AuthorId,
];

/// The name of the rank column of [`page_per_author`]'s statements.
const RANK: &str = "rn";

/// A row of [`BOOK_COLUMNS`] and its rank, read by position: a nested page holds up to 10,000
/// books, and by name every value costs a lookup of the column.
fn ranked_book_at(row: &QueryResult) -> Result<(i64, book::Model), DbErr> {
    let (id, title, published_year, author_id, rank) = row.try_get_many_by_index()?;
    Ok((
        rank,
        book::Model {
            id,
            title,
            published_year,
            author_id,
        },
    ))
}

/// `ROW_NUMBER() OVER (<window>) AS rn`, ranking rows in `ordering`.
fn rank_in(
    select: &mut SelectStatement,
    mut window: WindowStatement,
    ordering: &Ordering<BookSort>,
) {
    for (expr, order) in ordering.order_terms(false) {
        window.order_by_expr(expr, order);
    }
    select.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new(RANK));
}

/// The `LATERAL` statement of [`page_per_author`] (PostgreSQL only).
fn top_per_author(
    author_ids: &[i64],
    condition: Condition,
    ordering: &Ordering<BookSort>,
    first: u64,
) -> SelectStatement {
    let wanted = Alias::new("wanted");
    let page = Alias::new("page");
    let mut top = Query::select();
    top.columns(BOOK_COLUMNS)
        .from(book::Entity)
        .cond_where(
            condition.add(
                Expr::col((book::Entity, book::Column::AuthorId))
                    .equals((wanted.clone(), Alias::new("column1"))),
            ),
        )
        .limit(first.saturating_add(1));
    rank_in(&mut top, WindowStatement::new(), ordering);
    for (expr, order) in ordering.order_terms(false) {
        top.order_by_expr(expr, order);
    }
    let mut outer = Query::select();
    outer
        .columns(BOOK_COLUMNS.map(|column| (page.clone(), column)))
        .column((page.clone(), Alias::new(RANK)))
        .from_values(author_ids.iter().copied(), wanted)
        .join_lateral(JoinType::InnerJoin, top, page, Expr::cust("TRUE"));
    outer
}

/// The windowed statement of [`page_per_author`] (every backend).
fn ranked_per_author(
    author_ids: &[i64],
    condition: Condition,
    ordering: &Ordering<BookSort>,
    first: u64,
) -> SelectStatement {
    let rank = Alias::new(RANK);
    let mut ranked = Query::select();
    ranked
        .columns(BOOK_COLUMNS)
        .from(book::Entity)
        .cond_where(condition.add(book::Column::AuthorId.is_in(author_ids.iter().copied())));
    rank_in(
        &mut ranked,
        WindowStatement::partition_by(book::Column::AuthorId),
        ordering,
    );
    let mut outer = Query::select();
    outer
        .columns(BOOK_COLUMNS)
        .column(rank.clone())
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(rank.clone()).lte(first.saturating_add(1)))
        // The rows are put in rank order in Rust anyway, but SQLite answers much faster when the
        // order is asked for (BENCHMARKS.md, Q1's floor).
        .order_by(book::Column::AuthorId, Order::Asc)
        .order_by(rank, Order::Asc);
    outer
}

/// How many books matching `filter` each of `author_ids` has, in one `GROUP BY` statement.
/// Authors without matching books are absent from the map.
///
/// # Errors
/// When the database fails.
pub async fn count_per_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    filter: &BookFilter,
) -> ApiResult<HashMap<i64, u64>> {
    let counts: Vec<(i64, i64)> = book::Entity::find()
        .select_only()
        .column(book::Column::AuthorId)
        .column_as(book::Column::Id.count(), "count")
        .filter(filter.condition(db.get_database_backend()))
        .filter(book::Column::AuthorId.is_in(author_ids.iter().copied()))
        .group_by(book::Column::AuthorId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .map(|(author_id, count)| (author_id, u64::try_from(count).unwrap_or(0)))
        .collect())
}
