//! Queries over the `author` table.

use entity::author;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Condition, Expr},
};

use super::{CursorValue, Ordering, Page, SortField, Window, contains, read_page};
use crate::error::ApiResult;

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

    fn expr(self) -> Expr {
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
    read_page(db, select, ordering, window).await
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
pub async fn insert(db: &impl ConnectionTrait, name: &str) -> ApiResult<author::Model> {
    let row = author::ActiveModel {
        name: Set(name.to_owned()),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}
