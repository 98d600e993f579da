//! The books of many authors in one statement: a page of each author's books, and how many
//! books each author has.

use std::collections::HashMap;

use entity::{author, book};
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
    let statement = pages_of(
        db.get_database_backend(),
        &author_ids,
        filter,
        ordering,
        window,
    );
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

/// Authors and a page of each one's books, in ONE statement: each author's row beside each row
/// of the page that [`page_per_author`] reads for them (beside one row of nulls when the page is
/// empty). Authors that do not exist are absent from the map.
///
/// On PostgreSQL the page is read by a `JOIN LATERAL` on the author's row, as in
/// [`page_per_author`] but without its list of values:
///
/// ```sql
/// SELECT a.id, a.name, p.… FROM author AS a
/// LEFT JOIN LATERAL (SELECT … FROM book WHERE author_id = a.id … LIMIT first + 1) AS p ON TRUE
/// WHERE a.id IN (…)
/// ```
///
/// Elsewhere the windowed statement of [`page_per_author`] is joined on `author_id`.
///
/// # Errors
/// When the database fails.
pub async fn authors_with_pages(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> ApiResult<HashMap<i64, (author::Model, Page<book::Model>)>> {
    let mut author_ids = author_ids.to_vec();
    author_ids.sort_unstable();
    author_ids.dedup();
    if author_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let (a, p) = (Alias::new("a"), Alias::new("p"));
    let condition = page_condition(backend, filter, ordering, window);
    let mut select = Query::select();
    select
        .column((a.clone(), author::Column::Id))
        .column((a.clone(), author::Column::Name))
        .columns(BOOK_COLUMNS.map(|column| (p.clone(), column)))
        .column((p.clone(), Alias::new(RANK)))
        .from_as(author::Entity, a.clone());
    if backend == DbBackend::Postgres {
        let of_author = Expr::col((a.clone(), author::Column::Id));
        let page = top_of_author(of_author, condition, ordering, window.limit);
        select.join_lateral(JoinType::LeftJoin, page, p, Expr::cust("TRUE"));
    } else {
        let pages = ranked_per_author(backend, &author_ids, condition, ordering, window.limit);
        let on =
            Expr::col((p.clone(), book::Column::AuthorId)).equals((a.clone(), author::Column::Id));
        select.join_subquery(JoinType::LeftJoin, pages, p, on);
    }
    select.and_where(Expr::col((a, author::Column::Id)).is_in(author_ids.iter().copied()));

    let mut by_author: HashMap<i64, (author::Model, Vec<(i64, book::Model)>)> =
        HashMap::with_capacity(author_ids.len());
    for row in db.query_all(&select).await? {
        let (id, name): (i64, String) = row.try_get_many_by_index()?;
        let entry = by_author
            .entry(id)
            .or_insert_with(|| (author::Model { id, name }, Vec::new()));
        // A row of nulls beside an author whose page is empty.
        if let Some(book_id) = row.try_get_by_index::<Option<i64>>(2)? {
            let book = book::Model {
                id: book_id,
                title: row.try_get_by_index(3)?,
                published_year: row.try_get_by_index(4)?,
                author_id: row.try_get_by_index(5)?,
            };
            entry.1.push((row.try_get_by_index(6)?, book));
        }
    }
    Ok(by_author
        .into_iter()
        .map(|(id, (author, mut rows))| {
            rows.sort_unstable_by_key(|(rank, _)| *rank);
            let rows = rows.into_iter().map(|(_, book)| book).collect();
            (id, (author, Page::from_probe(rows, window.limit)))
        })
        .collect())
}

/// One author and a page of their books ([`authors_with_pages`] of one author); `None` when
/// there is no such author.
///
/// # Errors
/// When the database fails.
pub async fn author_with_page(
    db: &impl ConnectionTrait,
    author_id: i64,
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> ApiResult<Option<(author::Model, Page<book::Model>)>> {
    Ok(
        authors_with_pages(db, &[author_id], filter, ordering, window)
            .await?
            .remove(&author_id),
    )
}

/// The statement of the pages of `author_ids` in `window` (see [`page_per_author`]).
fn pages_of(
    backend: DbBackend,
    author_ids: &[i64],
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> SelectStatement {
    let condition = page_condition(backend, filter, ordering, window);
    if backend == DbBackend::Postgres {
        top_per_author(author_ids, condition, ordering, window.limit)
    } else {
        ranked_per_author(backend, author_ids, condition, ordering, window.limit)
    }
}

/// The books of a page: those matching `filter` beyond the window's cursor.
fn page_condition(
    backend: DbBackend,
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> Condition {
    let condition = filter.condition(backend);
    match &window.after {
        Some(after) => condition.add(ordering.beyond(backend, after, true)),
        None => condition,
    }
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
    backend: DbBackend,
    select: &mut SelectStatement,
    mut window: WindowStatement,
    ordering: &Ordering<BookSort>,
) {
    for (expr, order) in ordering.order_terms(backend, false) {
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
    let of_author = Expr::col((wanted.clone(), Alias::new("column1")));
    let top = top_of_author(of_author, condition, ordering, first);
    let mut outer = Query::select();
    outer
        .columns(BOOK_COLUMNS.map(|column| (page.clone(), column)))
        .column((page.clone(), Alias::new(RANK)))
        .from_values(author_ids.iter().copied(), wanted)
        .join_lateral(JoinType::InnerJoin, top, page, Expr::cust("TRUE"));
    outer
}

/// The page of the author whose ID is `author_id`, a column of the statement it is joined to
/// `LATERAL`: ranked, in `ordering`, cut at `first + 1` rows.
fn top_of_author(
    author_id: Expr,
    condition: Condition,
    ordering: &Ordering<BookSort>,
    first: u64,
) -> SelectStatement {
    let mut top = Query::select();
    top.columns(BOOK_COLUMNS)
        .from(book::Entity)
        .cond_where(condition.add(Expr::col((book::Entity, book::Column::AuthorId)).eq(author_id)))
        .limit(first.saturating_add(1));
    rank_in(
        DbBackend::Postgres,
        &mut top,
        WindowStatement::new(),
        ordering,
    );
    for (expr, order) in ordering.order_terms(DbBackend::Postgres, false) {
        top.order_by_expr(expr, order);
    }
    top
}

/// The windowed statement of [`page_per_author`] (every backend).
fn ranked_per_author(
    backend: DbBackend,
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
        backend,
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
