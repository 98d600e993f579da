//! Queries over the `author` table.

use entity::{author, book};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Condition, Expr},
};

use super::{
    CursorValue, Ordering, Page, SortField, Window, book::NewBook, contains, found_by_trigrams,
    locked, read_page,
};
use crate::{
    domain::AuthorName,
    error::{ApiError, ApiResult},
    live::{Change, Changes},
};

/// The columns authors can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorSort {
    /// The primary key.
    Id,
    /// The name, compared as the database compares text.
    Name,
}

impl SortField for AuthorSort {
    type Model = author::Model;
    const ID: Self = Self::Id;

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Name => "name",
        }
    }

    fn expr(self, _: DbBackend) -> Expr {
        match self {
            Self::Id => Expr::col(author::Column::Id),
            Self::Name => Expr::col(author::Column::Name),
        }
    }

    fn key(self, row: &author::Model) -> CursorValue {
        match self {
            Self::Id => CursorValue::Int(row.id),
            Self::Name => CursorValue::Text(row.name.clone()),
        }
    }

    fn is_text(self) -> bool {
        self == Self::Name
    }
}

/// Which authors a list holds; the default holds all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AuthorFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
}

impl AuthorFilter {
    fn condition(&self, backend: DbBackend) -> Condition {
        Condition::all()
            .add_option(
                self.name_contains
                    .as_deref()
                    .map(|needle| contains(backend, author::Column::Name, needle)),
            )
            .add_option(self.ids.clone().map(|ids| author::Column::Id.is_in(ids)))
    }

    /// Whether the trigram index finds this filter's rows (see [`super::read_page`]).
    fn matches_first(&self) -> bool {
        self.name_contains.as_deref().is_some_and(found_by_trigrams)
    }
}

/// One page of the authors matching `filter`.
///
/// # Errors
/// When the database fails.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &AuthorFilter,
    ordering: &Ordering<AuthorSort>,
    window: &Window,
) -> ApiResult<Page<author::Model>> {
    let select = author::Entity::find().filter(filter.condition(db.get_database_backend()));
    read_page(db, select, ordering, window, filter.matches_first()).await
}

/// How many authors match `filter`.
///
/// # Errors
/// When the database fails.
pub async fn count(db: &impl ConnectionTrait, filter: &AuthorFilter) -> ApiResult<u64> {
    Ok(author::Entity::find()
        .filter(filter.condition(db.get_database_backend()))
        .count(db)
        .await?)
}

/// The author with this id, if any.
///
/// # Errors
/// When the database fails.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<Option<author::Model>> {
    Ok(author::Entity::find_by_id(id).one(db).await?)
}

/// The authors with these ids, in no particular order; one statement.
///
/// # Errors
/// When the database fails.
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> ApiResult<Vec<author::Model>> {
    Ok(author::Entity::find()
        .filter(author::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Inserts an author and returns the stored row.
///
/// # Errors
/// When the database fails.
pub async fn insert(db: &impl ConnectionTrait, name: &AuthorName) -> ApiResult<author::Model> {
    let row = author::ActiveModel {
        name: Set(name.as_str().to_owned()),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Inserts an author and all of `books` in one transaction (a savepoint inside one): all or
/// nothing; announces the author, then each book, to `live`. `createAuthor` and the demo data
/// both write through here.
///
/// # Errors
/// When the database fails; nothing is written then.
pub async fn create_with_books(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    name: &AuthorName,
    books: &[NewBook],
) -> ApiResult<(author::Model, Vec<book::Model>)> {
    let txn = super::begin_write(db).await?;
    let written = async {
        let author = insert(&txn, name).await?;
        let books = super::book::insert_many(&txn, author.id, books).await?;
        let changes = std::iter::once(Change::author_created(&author))
            .chain(books.iter().map(Change::book_created))
            .collect();
        Ok(((author, books), changes))
    }
    .await;
    live.commit(txn, written).await
}

/// Renames an author and returns the stored row: the row is read and locked, and written only
/// when the name differs; the change is announced to `live` then.
///
/// # Errors
/// `NOT_FOUND` when there is no such author; otherwise when the database fails.
pub async fn rename(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    id: i64,
    name: &AuthorName,
) -> ApiResult<author::Model> {
    let txn = super::begin_write(db).await?;
    let written = async {
        let before = locked(author::Entity::find_by_id(id), txn.get_database_backend())
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(id))?;
        if before.name == name.as_str() {
            return Ok((before, Vec::new()));
        }
        let row = author::ActiveModel {
            id: Unchanged(id),
            name: Set(name.as_str().to_owned()),
        };
        let after = row.update(&txn).await.map_err(|err| match err {
            DbErr::RecordNotUpdated => not_found(id),
            err => err.into(),
        })?;
        let renamed = Change::author_updated(&before, &after);
        Ok((after, renamed.into_iter().collect()))
    }
    .await;
    live.commit(txn, written).await
}

/// Deletes an author and its books in one transaction; returns the ids of the deleted books.
///
/// On PostgreSQL and MariaDB the author's row is locked first, so a book being added concurrently is either
/// committed before (and then deleted and reported here) or refused by the foreign key. On
/// SQLite the first statement is a write, which serialises writers by itself.
///
/// # Errors
/// `NOT_FOUND` when there is no such author (nothing is deleted); otherwise when the database
/// fails.
///
/// Each book's deletion is announced to `live`, in ascending order, then the author's.
pub async fn delete_with_books(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    live: &Changes,
    id: i64,
) -> ApiResult<Vec<i64>> {
    let txn = super::begin_write(db).await?;
    let deleted = delete_in(&txn, id).await.map(|mut books| {
        books.sort_unstable_by_key(|book| book.id);
        let changes = books
            .iter()
            .map(Change::book_deleted)
            .chain([Change::author_deleted(id)])
            .collect();
        (books.into_iter().map(|book| book.id).collect(), changes)
    });
    live.commit(txn, deleted).await
}

/// The statements of [`delete_with_books`], inside its transaction: the deleted books.
async fn delete_in(txn: &impl ConnectionTrait, id: i64) -> ApiResult<Vec<book::Model>> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Sqlite {
        author::Entity::find_by_id(id)
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or_else(|| not_found(id))?;
    }
    let books = if backend == DbBackend::MySql {
        // No `DELETE … RETURNING` through sqlx on MariaDB (nor on MySQL): the books are locked
        // and read, then deleted. With the author locked no book can be added or moved to them,
        // and a locked book cannot be moved away, so the ids read are exactly those deleted.
        let books = book::Entity::find()
            .filter(book::Column::AuthorId.eq(id))
            .lock_exclusive()
            .all(txn)
            .await?;
        book::Entity::delete_many()
            .filter(book::Column::AuthorId.eq(id))
            .exec(txn)
            .await?;
        books
    } else {
        book::Entity::delete_many()
            .filter(book::Column::AuthorId.eq(id))
            .exec_with_returning(txn)
            .await?
    };
    let deleted = author::Entity::delete_by_id(id).exec(txn).await?;
    if deleted.rows_affected == 0 {
        return Err(not_found(id));
    }
    Ok(books)
}

/// The error for a missing author.
pub fn not_found(id: i64) -> ApiError {
    ApiError::NotFound {
        entity: "author",
        id,
    }
}
