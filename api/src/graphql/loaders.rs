//! The DataLoaders of one request: one struct per relation, built fresh for every request so a
//! statement count is deterministic and no cache outlives its request.
//!
//! Each loader groups its keys by their argument set and runs one statement per distinct set.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{author, book};
use sea_orm::DatabaseConnection;

use super::batching::Standstill;
use crate::{
    error::{ApiError, ApiResult},
    metrics::Metrics,
    store::{
        self, Cursor, Ordering, Page,
        book::{BookFilter, BookSort},
    },
};

/// The arguments of one `Author.books` field: the part of a loader key shared by all authors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BooksArgs {
    /// Books per author, at most.
    pub first: u64,
    /// Only books after this cursor.
    pub after: Option<Cursor>,
    /// Only matching books.
    pub filter: BookFilter,
    /// Their order.
    pub ordering: Ordering<BookSort>,
}

/// `Author.books`: one statement per distinct [`BooksArgs`], whatever the number of authors: a
/// `JOIN LATERAL` page per author on PostgreSQL for integer orderings, else one
/// `ROW_NUMBER() OVER (PARTITION BY author_id …)` (see [`store::book::page_per_author`]).
pub struct BooksByAuthorLoader(DatabaseConnection, Metrics);

impl Loader<(i64, BooksArgs)> for BooksByAuthorLoader {
    /// Shared, because the DataLoader clones each value on its way to the resolver that asked.
    type Value = Arc<Page<book::Model>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, BooksArgs)],
    ) -> ApiResult<HashMap<(i64, BooksArgs), Self::Value>> {
        self.1.batch_loaded("books_by_author", keys.len());
        let mut pages = HashMap::with_capacity(keys.len());
        for (args, author_ids) in group_by_args(keys) {
            let mut found = store::book::page_per_author(
                &self.0,
                &author_ids,
                &args.filter,
                &args.ordering,
                args.first,
                args.after.as_ref(),
            )
            .await?;
            for id in author_ids {
                let page = found.remove(&id).unwrap_or_default();
                pages.insert((id, args.clone()), Arc::new(page));
            }
        }
        Ok(pages)
    }
}

/// `Author.bookCount` and `Author.books.totalCount`: one `GROUP BY author_id` statement per
/// distinct filter.
pub struct BookCountByAuthorLoader(DatabaseConnection, Metrics);

impl Loader<(i64, BookFilter)> for BookCountByAuthorLoader {
    type Value = u64;
    type Error = ApiError;

    async fn load(&self, keys: &[(i64, BookFilter)]) -> ApiResult<HashMap<(i64, BookFilter), u64>> {
        self.1.batch_loaded("book_count_by_author", keys.len());
        let mut counts = HashMap::with_capacity(keys.len());
        for (filter, author_ids) in group_by_args(keys) {
            let found = store::book::count_per_author(&self.0, &author_ids, &filter).await?;
            for id in author_ids {
                let count = found.get(&id).copied().unwrap_or(0);
                counts.insert((id, filter.clone()), count);
            }
        }
        Ok(counts)
    }
}

/// `Book.author`: one `WHERE id IN (…)` statement for all the books being resolved.
pub struct AuthorByIdLoader(DatabaseConnection, Metrics);

impl Loader<i64> for AuthorByIdLoader {
    type Value = author::Model;
    type Error = ApiError;

    async fn load(&self, ids: &[i64]) -> ApiResult<HashMap<i64, author::Model>> {
        self.1.batch_loaded("author_by_id", ids.len());
        let authors = store::author::by_ids(&self.0, ids).await?;
        Ok(authors.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// Splits `(id, args)` keys into one list of ids per distinct argument set.
fn group_by_args<A: Clone + Eq + std::hash::Hash>(keys: &[(i64, A)]) -> HashMap<A, Vec<i64>> {
    let mut groups: HashMap<A, Vec<i64>> = HashMap::new();
    for (id, args) in keys {
        groups.entry(args.clone()).or_default().push(*id);
    }
    groups
}

/// The loaders of one request.
pub struct Loaders {
    /// See [`BooksByAuthorLoader`].
    pub books: DataLoader<BooksByAuthorLoader>,
    /// See [`BookCountByAuthorLoader`].
    pub book_counts: DataLoader<BookCountByAuthorLoader>,
    /// See [`AuthorByIdLoader`].
    pub authors: DataLoader<AuthorByIdLoader>,
}

impl Loaders {
    /// Fresh loaders over `db` whose batches start at the request's standstills, with no
    /// further delay and no size limit: the complexity limit already bounds the keys of a
    /// request, and splitting a batch would make the statement count depend on the data.
    pub fn new(db: &DatabaseConnection, metrics: &Metrics, standstill: &Standstill) -> Self {
        let (db, metrics) = (db.clone(), metrics.clone());
        Self {
            books: DataLoader::new(
                BooksByAuthorLoader(db.clone(), metrics.clone()),
                standstill.spawner(),
            )
            .delay(Duration::ZERO)
            .max_batch_size(usize::MAX),
            book_counts: DataLoader::new(
                BookCountByAuthorLoader(db.clone(), metrics.clone()),
                standstill.spawner(),
            )
            .delay(Duration::ZERO)
            .max_batch_size(usize::MAX),
            authors: DataLoader::new(AuthorByIdLoader(db, metrics), standstill.spawner())
                .delay(Duration::ZERO)
                .max_batch_size(usize::MAX),
        }
    }
}
