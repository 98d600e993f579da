//! All SQL of the service goes through here; resolvers and loaders never build queries.
//!
//! Functions take `&impl ConnectionTrait`, so they run on the pool or inside a transaction alike,
//! and return entity models. Keyset pagination, ordering and the case-insensitive `contains` are
//! written once, below, for every backend.

pub mod author;
pub mod book;
mod cursor;
mod ordering;
mod reader;
mod search;

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, QuerySelect, QueryTrait, Select,
    SqliteTransactionMode, TransactionOptions, TransactionSession, TransactionTrait,
    sea_query::{Alias, Asterisk, CommonTableExpression, Query, WithClause},
};

use self::search::{contains, found_by_trigrams};
pub use self::{
    cursor::{Cursor, CursorValue},
    ordering::{Direction, Ordering, SortField},
    reader::Reader,
};
use crate::error::ApiResult;

/// Which slice of an ordered list to read (docs/reference.md § Pagination).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    /// Only rows after this cursor.
    pub after: Option<Cursor>,
    /// Only rows before this cursor.
    pub before: Option<Cursor>,
    /// How many rows, at most.
    pub limit: u64,
    /// Take the last `limit` rows of the slice instead of the first.
    pub from_end: bool,
}

impl Window {
    /// The first `limit` rows after `after`, or from the start.
    pub fn forward(limit: u64, after: Option<Cursor>) -> Self {
        Self {
            after,
            before: None,
            limit,
            from_end: false,
        }
    }
}

/// A page of rows in display order, and whether more rows lie beyond it in the reading direction.
#[derive(Debug, Clone)]
pub struct Page<M> {
    /// The rows, at most `limit` of them.
    pub rows: Vec<M>,
    /// Whether the read found a row past the last one returned.
    pub has_more: bool,
}

impl<M> Default for Page<M> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            has_more: false,
        }
    }
}

impl<M> Page<M> {
    /// Splits `limit + 1` fetched rows into a page and whether the extra row exists.
    fn from_probe(mut rows: Vec<M>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_more }
    }
}

/// Reads one window of `select` in `ordering`: one statement, fetching one row more than the page
/// so that `has_more` needs no second query.
///
/// Each ordering of one key, and newest first then by title, has an index (`migration`), so the
/// page is read along it from the cursor on.
/// A search (`matches_first`, see [`found_by_trigrams`]) is the exception on PostgreSQL: the
/// rows it matches are found first, through the trigram index, and only they are sorted.
/// Otherwise a plan cached for all search terms could walk the ordering's index and test every
/// row against a term that matches few; the fence makes the plan the same for every term.
async fn read_page<E, F>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    ordering: &Ordering<F>,
    window: &Window,
    matches_first: bool,
) -> ApiResult<Page<E::Model>>
where
    E: EntityTrait,
    F: SortField<Model = E::Model>,
{
    let backend = db.get_database_backend();
    let mut query = select.into_query();
    if matches_first && backend == DbBackend::Postgres {
        let matched = Alias::new("matched");
        let cte = CommonTableExpression::new()
            .query(query)
            .table_name(matched.clone())
            .materialized(true)
            .to_owned();
        query = Query::select()
            .column(Asterisk)
            .from(matched)
            .with_cte(WithClause::new().cte(cte).to_owned())
            .to_owned();
    }
    if let Some(after) = &window.after {
        query.cond_where(ordering.beyond(backend, after, true));
    }
    if let Some(before) = &window.before {
        query.cond_where(ordering.beyond(backend, before, false));
    }
    for (expr, order) in ordering.order_terms(backend, window.from_end) {
        query.order_by_expr(expr, order);
    }
    query.limit(window.limit + 1);
    let rows = E::find()
        .from_raw_sql(backend.build(&query))
        .all(db)
        .await?;
    let mut page = Page::from_probe(rows, window.limit);
    if window.from_end {
        page.rows.reverse();
    }
    Ok(page)
}

/// A transaction that writes: on SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`), so
/// that one that reads before it writes cannot fail to upgrade when another writer went first;
/// elsewhere a plain `BEGIN`.
///
/// # Errors
/// When the database fails.
pub(crate) async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// `select`, locking the rows it reads until the transaction ends; on SQLite, whose first write
/// locks the whole database, as it is.
pub(crate) fn locked<E: EntityTrait>(select: Select<E>, backend: DbBackend) -> Select<E> {
    if backend == DbBackend::Sqlite {
        select
    } else {
        select.lock_exclusive()
    }
}

/// Commits `txn` when `result` is a success, rolls it back otherwise, and returns `result`.
/// Every transaction ends here: one dropped open rolls back from its `Drop`, which blocks, and
/// on MariaDB waited forever on a single-threaded runtime.
///
/// # Errors
/// `result`'s error, or the database's when the commit or rollback fails.
pub(crate) async fn finish<T, E: From<DbErr>>(
    txn: impl TransactionSession,
    result: Result<T, E>,
) -> Result<T, E> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(err) => {
            txn.rollback().await?;
            Err(err)
        }
    }
}
