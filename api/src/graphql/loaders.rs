//! The DataLoaders of one request: one struct per relation, built fresh for every request so a
//! statement count is deterministic and no cache outlives its request.
//!
//! Each loader groups its keys by their argument set and runs one statement per distinct set.
//! A key carries its argument set [`Interned`]: hashed and compared by number, held by `Arc`.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    ops::Deref,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{author, book};
use sea_orm::DatabaseConnection;

use super::batching::Standstill;
use crate::{
    error::{ApiError, ApiResult},
    store::{
        self, Ordering, Page, Window,
        book::{BookFilter, BookSort},
    },
};

/// Where the loaders report the number of keys of each batch they send (the server's metrics).
pub trait BatchObserver: Send + Sync + 'static {
    /// `loader` sent a batch of `keys` keys.
    fn batch_loaded(&self, loader: &'static str, keys: usize);
}

/// Reports nowhere.
impl BatchObserver for () {
    fn batch_loaded(&self, _: &'static str, _: usize) {}
}

/// The arguments of one `Author.books` field: the part of a loader key shared by all authors.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BooksArgs {
    /// The page of each author: `first` and `after`.
    pub window: Window,
    /// Only matching books.
    pub filter: Interned<BookFilter>,
    /// Their order.
    pub ordering: Ordering<BookSort>,
}

/// An argument set of one request and its number there. Keys hash and compare the number (the
/// DataLoader hashes and clones every key several times on its way), and carry the set.
pub struct Interned<A> {
    number: usize,
    args: Arc<A>,
}

impl<A> Deref for Interned<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.args
    }
}

// By hand: derived, they would ask the same of `A` and compare whole sets.
impl<A> Clone for Interned<A> {
    fn clone(&self) -> Self {
        Self {
            number: self.number,
            args: Arc::clone(&self.args),
        }
    }
}
impl<A> PartialEq for Interned<A> {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number
    }
}
impl<A> Eq for Interned<A> {}
impl<A> Hash for Interned<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.number.hash(state);
    }
}
impl<A: std::fmt::Debug> std::fmt::Debug for Interned<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {:?}", self.number, self.args)
    }
}

/// The distinct argument sets of one request: equal sets get the same number.
pub struct Interner<A>(Mutex<HashMap<Arc<A>, usize>>);

impl<A: Eq + Hash> Interner<A> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// `args`, numbered: the same number for equal sets.
    pub fn intern(&self, args: A) -> Interned<A> {
        let mut numbers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((args, number)) = numbers.get_key_value(&args) {
            return Interned {
                number: *number,
                args: Arc::clone(args),
            };
        }
        let number = numbers.len();
        let args = Arc::new(args);
        numbers.insert(Arc::clone(&args), number);
        Interned { number, args }
    }
}

/// `Author.books`: one statement per distinct [`BooksArgs`], whatever the number of authors: a
/// `JOIN LATERAL` page per author on PostgreSQL, else one
/// `ROW_NUMBER() OVER (PARTITION BY author_id …)` (see [`store::book::page_per_author`]).
pub struct BooksByAuthorLoader(DatabaseConnection, Arc<dyn BatchObserver>);

impl Loader<(i64, Interned<BooksArgs>)> for BooksByAuthorLoader {
    /// Shared, because the DataLoader clones each value on its way to the resolver that asked.
    type Value = Arc<Page<book::Model>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, Interned<BooksArgs>)],
    ) -> ApiResult<HashMap<(i64, Interned<BooksArgs>), Self::Value>> {
        self.1.batch_loaded("books_by_author", keys.len());
        let mut pages = HashMap::with_capacity(keys.len());
        for (args, author_ids) in group_by_args(keys) {
            let mut found = store::book::page_per_author(
                &self.0,
                &author_ids,
                &args.filter,
                &args.ordering,
                &args.window,
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
pub struct BookCountByAuthorLoader(DatabaseConnection, Arc<dyn BatchObserver>);

impl Loader<(i64, Interned<BookFilter>)> for BookCountByAuthorLoader {
    type Value = u64;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, Interned<BookFilter>)],
    ) -> ApiResult<HashMap<(i64, Interned<BookFilter>), u64>> {
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
pub struct AuthorByIdLoader(DatabaseConnection, Arc<dyn BatchObserver>);

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
fn group_by_args<A>(keys: &[(i64, Interned<A>)]) -> HashMap<Interned<A>, Vec<i64>> {
    let mut groups: HashMap<Interned<A>, Vec<i64>> = HashMap::new();
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
    /// Pages read ahead of their `books` field, by the root `author` field with the author.
    primed_books: Mutex<HashMap<BooksKey, Arc<Page<book::Model>>>>,
    /// The argument sets of the `books` keys.
    pub books_args: Interner<BooksArgs>,
    /// The filters of the `book_counts` keys.
    pub book_filters: Interner<BookFilter>,
}

impl Loaders {
    /// Fresh loaders over `db` whose batches start at the request's standstills, with no
    /// further delay and no size limit: the complexity limit already bounds the keys of a
    /// request, and splitting a batch would make the statement count depend on the data.
    pub fn new(
        db: &DatabaseConnection,
        batches: &Arc<dyn BatchObserver>,
        standstill: &Standstill,
    ) -> Self {
        fn loader<L: Send + Sync + 'static>(loader: L, standstill: &Standstill) -> DataLoader<L> {
            DataLoader::new(loader, standstill.spawner())
                .delay(Duration::ZERO)
                .max_batch_size(usize::MAX)
        }
        Self {
            books: loader(
                BooksByAuthorLoader(db.clone(), Arc::clone(batches)),
                standstill,
            ),
            book_counts: loader(
                BookCountByAuthorLoader(db.clone(), Arc::clone(batches)),
                standstill,
            ),
            authors: loader(
                AuthorByIdLoader(db.clone(), Arc::clone(batches)),
                standstill,
            ),
            primed_books: Mutex::new(HashMap::new()),
            books_args: Interner::new(),
            book_filters: Interner::new(),
        }
    }

    /// Keeps `page`, read ahead, for the `books` field of `key`.
    pub fn prime_books(&self, key: BooksKey, page: Page<book::Model>) {
        self.primed_books
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::new(page));
    }

    /// The pages of `keys`: those read ahead, and the others from [`Loaders::books`] (no
    /// statement when all were read ahead).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn books_of(
        &self,
        keys: impl Iterator<Item = BooksKey>,
    ) -> ApiResult<HashMap<BooksKey, Arc<Page<book::Model>>>> {
        let mut pages = HashMap::new();
        let mut missing = Vec::new();
        {
            // Taken out, so that the rows can move into the connection without a copy.
            let mut primed = self
                .primed_books
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for key in keys {
                if pages.contains_key(&key) {
                    continue; // an author listed twice
                }
                match primed.remove(&key) {
                    Some(page) => {
                        pages.insert(key, page);
                    }
                    None => missing.push(key),
                }
            }
        }
        if !missing.is_empty() {
            pages.extend(self.books.load_many(missing).await?);
        }
        Ok(pages)
    }
}

/// The key of an author's page in [`Loaders::books`].
pub type BooksKey = (i64, Interned<BooksArgs>);
