//! Queries over the `book` table; the statements that page and count the books of many authors
//! at once are in [`per_author`].

mod per_author;

use entity::book;
use sea_orm::{
    ActiveModelTrait, ActiveValue,
    ActiveValue::{NotSet, Set, Unchanged},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, SqlErr, TransactionTrait,
    sea_query::{Alias, Condition, Expr, ExprTrait, Func},
};

pub use self::per_author::{
    author_with_page, authors_with_pages, count_per_author, page_per_author,
};
use super::{
    CursorValue, Ordering, Page, SortField, Window, contains, found_by_trigrams, locked, read_page,
};
use crate::{
    domain::{BookTitle, PublishedYear},
    error::{ApiError, ApiResult},
    live::{Change, Changes},
};

/// Where books without a year sort: after every real year in ascending order. Outside `i32`, so no
/// stored year can tie with it.
const MISSING_YEAR_KEY: i64 = i32::MAX as i64 + 1;

/// The year sort key, `COALESCE(published_year, 2147483648)`, with the constant written into the
/// SQL: the indexes `idx_book_year` and `idx_book_author_year` are on exactly this expression,
/// which a bound parameter in its place would not match. MariaDB indexes no expressions: there
/// the migration adds it as the generated column `year_key` (and `0 - year_key` as
/// `year_key_desc`), which the queries name.
fn year_key(backend: DbBackend) -> Expr {
    if backend == DbBackend::MySql {
        return Expr::col(Alias::new(YEAR_KEY_COLUMN));
    }
    Func::coalesce([
        Expr::col(book::Column::PublishedYear),
        Expr::cust(MISSING_YEAR_KEY.to_string()),
    ])
    .into()
}

/// MariaDB's generated columns of the year sort key and of its negation.
const YEAR_KEY_COLUMN: &str = "year_key";
const YEAR_KEY_DESC_COLUMN: &str = "year_key_desc";

/// The columns books can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookSort {
    /// The primary key.
    Id,
    /// The title, compared as the database compares text.
    Title,
    /// The year of publication; books without one come last in ascending order, first in
    /// descending order, on every backend.
    PublishedYear,
}

impl SortField for BookSort {
    type Model = book::Model;
    const ID: Self = Self::Id;

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Title => "title",
            Self::PublishedYear => "year",
        }
    }

    fn expr(self, backend: DbBackend) -> Expr {
        match self {
            Self::Id => Expr::col(book::Column::Id),
            Self::Title => Expr::col(book::Column::Title),
            Self::PublishedYear => year_key(backend),
        }
    }

    fn negated(self, backend: DbBackend) -> Expr {
        match (self, backend) {
            (Self::PublishedYear, DbBackend::MySql) => Expr::col(Alias::new(YEAR_KEY_DESC_COLUMN)),
            _ => Expr::cust("0").sub(self.expr(backend)),
        }
    }

    fn key(self, row: &book::Model) -> CursorValue {
        match self {
            Self::Id => CursorValue::Int(row.id),
            Self::Title => CursorValue::Text(row.title.clone()),
            Self::PublishedYear => {
                CursorValue::Int(row.published_year.map_or(MISSING_YEAR_KEY, i64::from))
            }
        }
    }

    fn is_text(self) -> bool {
        self == Self::Title
    }
}

/// Which books a list holds; the default holds all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BookFilter {
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    /// Published in this year or later.
    pub published_year_from: Option<i32>,
    /// Published in this year or earlier.
    pub published_year_to: Option<i32>,
}

impl BookFilter {
    /// The years are compared through the year sort key, which `idx_book_year` holds: a book
    /// without a year has a key above every year, so a range that ends at `i32::MAX` at most
    /// leaves it out, as `published_year BETWEEN …` would.
    fn condition(&self, backend: DbBackend) -> Condition {
        let years =
            (self.published_year_from.is_some() || self.published_year_to.is_some()).then(|| {
                year_key(backend).between(
                    i64::from(self.published_year_from.unwrap_or(i32::MIN)),
                    i64::from(self.published_year_to.unwrap_or(i32::MAX)),
                )
            });
        Condition::all()
            .add_option(
                self.title_contains
                    .as_deref()
                    .map(|needle| contains(backend, book::Column::Title, needle)),
            )
            .add_option(years)
    }

    /// Whether the trigram index finds this filter's rows (see [`super::read_page`]).
    fn matches_first(&self) -> bool {
        self.title_contains
            .as_deref()
            .is_some_and(found_by_trigrams)
    }
}

/// One page of the books matching `filter`.
///
/// # Errors
/// When the database fails.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &BookFilter,
    ordering: &Ordering<BookSort>,
    window: &Window,
) -> ApiResult<Page<book::Model>> {
    let select = book::Entity::find().filter(filter.condition(db.get_database_backend()));
    read_page(db, select, ordering, window, filter.matches_first()).await
}

/// How many books match `filter`.
///
/// # Errors
/// When the database fails.
pub async fn count(db: &impl ConnectionTrait, filter: &BookFilter) -> ApiResult<u64> {
    Ok(book::Entity::find()
        .filter(filter.condition(db.get_database_backend()))
        .count(db)
        .await?)
}

/// The book with this id, if any.
///
/// # Errors
/// When the database fails.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<Option<book::Model>> {
    Ok(book::Entity::find_by_id(id).one(db).await?)
}

/// A book to insert under an existing author.
#[derive(Debug, Clone)]
pub struct NewBook {
    /// Its title.
    pub title: BookTitle,
    /// Its year of publication, if known.
    pub published_year: Option<PublishedYear>,
}

impl NewBook {
    fn row(&self, author_id: i64) -> book::ActiveModel {
        book::ActiveModel {
            title: Set(self.title.as_str().to_owned()),
            published_year: Set(self.published_year.map(PublishedYear::get)),
            author_id: Set(author_id),
            ..Default::default()
        }
    }
}

/// Inserts one book under `author_id` and returns the stored row; announces it to `live`.
///
/// # Errors
/// `NOT_FOUND` when the author does not exist (the foreign key refuses the row); otherwise when
/// the database fails.
pub async fn insert(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    author_id: i64,
    book: &NewBook,
) -> ApiResult<book::Model> {
    let txn = super::begin_write(db).await?;
    let written = async {
        let stored = book
            .row(author_id)
            .insert(&txn)
            .await
            .map_err(|err| missing_author_or(err, author_id))?;
        let created = Change::book_created(&stored);
        Ok((stored, vec![created]))
    }
    .await;
    live.commit(txn, written).await
}

/// Inserts `books` under `author_id` in one statement and returns the stored rows.
///
/// # Errors
/// `NOT_FOUND` when the author does not exist; otherwise when the database fails.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    author_id: i64,
    books: &[NewBook],
) -> ApiResult<Vec<book::Model>> {
    if books.is_empty() {
        return Ok(Vec::new());
    }
    let rows = books.iter().map(|book| book.row(author_id));
    if db.get_database_backend() != DbBackend::MySql {
        return book::Entity::insert_many(rows)
            .exec_with_returning(db)
            .await
            .map_err(|err| missing_author_or(err, author_id));
    }
    // MariaDB (without `RETURNING` through sqlx): one multi-row INSERT, whose rows take
    // consecutive ids from the first one it reports (InnoDB's default `innodb_autoinc_lock_mode`
    // of 1 or 2 gives a statement of known size one run of ids), read back in one SELECT.
    let first = book::Entity::insert_many(rows)
        .exec(db)
        .await
        .map_err(|err| missing_author_or(err, author_id))?
        .last_insert_id
        .ok_or_else(|| ApiError::internal("a multi-row INSERT reported no id"))?;
    let last = first + i64::try_from(books.len()).unwrap_or(i64::MAX) - 1;
    Ok(book::Entity::find()
        .filter(book::Column::Id.between(first, last))
        .filter(book::Column::AuthorId.eq(author_id))
        .order_by_asc(book::Column::Id)
        .all(db)
        .await?)
}

/// Changes to a book; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct BookChanges {
    /// A new title.
    pub title: Option<BookTitle>,
    /// A new year, or `Some(None)` to clear it.
    pub published_year: Option<Option<PublishedYear>>,
    /// Move the book to this author.
    pub author_id: Option<i64>,
}

/// Applies `changes` to book `id` and returns the stored row: the row is read and locked, and
/// only the columns whose value differs are written. A change is announced to `live` when one
/// does; an update that changes nothing writes nothing.
///
/// # Errors
/// `NOT_FOUND` for a missing book, or a missing author to move it to; otherwise when the
/// database fails.
pub async fn update(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    id: i64,
    changes: &BookChanges,
) -> ApiResult<book::Model> {
    let txn = super::begin_write(db).await?;
    let written = async {
        let backend = txn.get_database_backend();
        let before = locked(book::Entity::find_by_id(id), backend)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(id))?;
        let row = book::ActiveModel {
            id: Unchanged(id),
            title: differs(
                changes
                    .title
                    .as_ref()
                    .map(|title| title.as_str().to_owned()),
                before.title.clone(),
            ),
            published_year: differs(
                changes
                    .published_year
                    .map(|year| year.map(PublishedYear::get)),
                before.published_year,
            ),
            author_id: differs(changes.author_id, before.author_id),
        };
        if !row.is_changed() {
            return Ok((before, Vec::new()));
        }
        let after = row.update(&txn).await.map_err(|err| match err {
            DbErr::RecordNotUpdated => not_found(id),
            err => missing_author_or(err, changes.author_id.unwrap_or_default()),
        })?;
        let updated = Change::book_updated(&before, &after);
        Ok((after, updated.into_iter().collect()))
    }
    .await;
    live.commit(txn, written).await
}

/// `Set(new)` when there is a new value and it differs from `old`.
fn differs<T: Into<sea_orm::Value> + PartialEq>(new: Option<T>, old: T) -> ActiveValue<T> {
    new.filter(|new| *new != old).map_or(NotSet, Set)
}

/// Deletes book `id`; announces it to `live`.
///
/// # Errors
/// `NOT_FOUND` when there is no such book; otherwise when the database fails.
pub async fn delete(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    id: i64,
) -> ApiResult<()> {
    let txn = super::begin_write(db).await?;
    let written = async {
        let by_id = book::Entity::delete_many().filter(book::Column::Id.eq(id));
        let deleted = if txn.get_database_backend() == DbBackend::MySql {
            // No `DELETE … RETURNING` through sqlx on MariaDB: locked, read, then deleted.
            let found = locked(book::Entity::find_by_id(id), DbBackend::MySql)
                .one(&txn)
                .await?;
            by_id.exec(&txn).await?;
            found
        } else {
            by_id.exec_with_returning(&txn).await?.pop()
        };
        let deleted = deleted.ok_or_else(|| not_found(id))?;
        Ok(((), vec![Change::book_deleted(&deleted)]))
    }
    .await;
    live.commit(txn, written).await
}

/// The error for a missing book.
pub fn not_found(id: i64) -> ApiError {
    ApiError::NotFound { entity: "book", id }
}

/// `NOT_FOUND` for author `author_id` when `err` is a foreign-key violation, else `err` itself.
fn missing_author_or(err: DbErr, author_id: i64) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => super::author::not_found(author_id),
        _ => err.into(),
    }
}
