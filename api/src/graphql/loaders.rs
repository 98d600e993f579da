//! The DataLoaders of one request: one struct per relation, built fresh for every request so a
//! statement count is deterministic and no cache outlives its request.
//!
//! Each loader groups its keys by their argument set and runs one statement per distinct set.
//! A key names its argument set by number ([`ArgSets`]).

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    marker::PhantomData,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

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

/// The number of an argument set of type `A` in its request's [`ArgSets`].
pub struct ArgsId<A>(usize, PhantomData<fn() -> A>);

// By hand: derived, they would ask the same of `A`.
impl<A> Clone for ArgsId<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for ArgsId<A> {}
impl<A> PartialEq for ArgsId<A> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<A> Eq for ArgsId<A> {}
impl<A> Hash for ArgsId<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl<A> std::fmt::Debug for ArgsId<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArgsId({})", self.0)
    }
}

/// The distinct argument sets of one request's fields, each known by its number. A loader key
/// holds the number, so the DataLoader, which hashes and clones every key several times on its
/// way, hashes and copies two integers instead of an ordering, a filter and a cursor (11% less
/// server CPU per request under Q1; BENCHMARKS.md).
pub struct ArgSets<A>(Mutex<Numbered<A>>);

/// Argument sets and their numbers: set `n` is `sets[n]`.
struct Numbered<A> {
    ids: HashMap<Arc<A>, ArgsId<A>>,
    sets: Vec<Arc<A>>,
}

impl<A: Eq + Hash> ArgSets<A> {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Numbered {
            ids: HashMap::new(),
            sets: Vec::new(),
        })))
    }

    /// The number of `args`: the same for equal sets.
    pub fn id(&self, args: A) -> ArgsId<A> {
        let mut numbered = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = numbered.ids.get(&args) {
            return *id;
        }
        let id = ArgsId(numbered.sets.len(), PhantomData);
        let args = Arc::new(args);
        numbered.sets.push(Arc::clone(&args));
        numbered.ids.insert(args, id);
        id
    }

    /// The set numbered `id`.
    fn get(&self, id: ArgsId<A>) -> ApiResult<Arc<A>> {
        let numbered = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        numbered
            .sets
            .get(id.0)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("no argument set {}", id.0)))
    }
}

/// `Author.books`: one statement per distinct [`BooksArgs`], whatever the number of authors: a
/// `JOIN LATERAL` page per author on PostgreSQL for integer orderings, else one
/// `ROW_NUMBER() OVER (PARTITION BY author_id …)` (see [`store::book::page_per_author`]).
pub struct BooksByAuthorLoader(DatabaseConnection, Metrics, Arc<ArgSets<BooksArgs>>);

impl Loader<(i64, ArgsId<BooksArgs>)> for BooksByAuthorLoader {
    /// Shared, because the DataLoader clones each value on its way to the resolver that asked.
    type Value = Arc<Page<book::Model>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, ArgsId<BooksArgs>)],
    ) -> ApiResult<HashMap<(i64, ArgsId<BooksArgs>), Self::Value>> {
        self.1.batch_loaded("books_by_author", keys.len());
        let mut pages = HashMap::with_capacity(keys.len());
        for (args_id, author_ids) in group_by_args(keys) {
            let args = self.2.get(args_id)?;
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
                pages.insert((id, args_id), Arc::new(page));
            }
        }
        Ok(pages)
    }
}

/// `Author.bookCount` and `Author.books.totalCount`: one `GROUP BY author_id` statement per
/// distinct filter.
pub struct BookCountByAuthorLoader(DatabaseConnection, Metrics, Arc<ArgSets<BookFilter>>);

impl Loader<(i64, ArgsId<BookFilter>)> for BookCountByAuthorLoader {
    type Value = u64;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, ArgsId<BookFilter>)],
    ) -> ApiResult<HashMap<(i64, ArgsId<BookFilter>), u64>> {
        self.1.batch_loaded("book_count_by_author", keys.len());
        let mut counts = HashMap::with_capacity(keys.len());
        for (filter_id, author_ids) in group_by_args(keys) {
            let filter = self.2.get(filter_id)?;
            let found = store::book::count_per_author(&self.0, &author_ids, &filter).await?;
            for id in author_ids {
                let count = found.get(&id).copied().unwrap_or(0);
                counts.insert((id, filter_id), count);
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
fn group_by_args<A>(keys: &[(i64, ArgsId<A>)]) -> HashMap<ArgsId<A>, Vec<i64>> {
    let mut groups: HashMap<ArgsId<A>, Vec<i64>> = HashMap::new();
    for (id, args) in keys {
        groups.entry(*args).or_default().push(*id);
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
    /// The argument sets of the `books` keys.
    pub books_args: Arc<ArgSets<BooksArgs>>,
    /// The filters of the `book_counts` keys.
    pub book_filters: Arc<ArgSets<BookFilter>>,
}

impl Loaders {
    /// Fresh loaders over `db` whose batches start at the request's standstills, with no
    /// further delay and no size limit: the complexity limit already bounds the keys of a
    /// request, and splitting a batch would make the statement count depend on the data.
    pub fn new(db: &DatabaseConnection, metrics: &Metrics, standstill: &Standstill) -> Self {
        let (db, metrics) = (db.clone(), metrics.clone());
        let (books_args, book_filters) = (ArgSets::new(), ArgSets::new());
        Self {
            books: DataLoader::new(
                BooksByAuthorLoader(db.clone(), metrics.clone(), Arc::clone(&books_args)),
                standstill.spawner(),
            )
            .delay(Duration::ZERO)
            .max_batch_size(usize::MAX),
            book_counts: DataLoader::new(
                BookCountByAuthorLoader(db.clone(), metrics.clone(), Arc::clone(&book_filters)),
                standstill.spawner(),
            )
            .delay(Duration::ZERO)
            .max_batch_size(usize::MAX),
            authors: DataLoader::new(AuthorByIdLoader(db, metrics), standstill.spawner())
                .delay(Duration::ZERO)
                .max_batch_size(usize::MAX),
            books_args,
            book_filters,
        }
    }
}
