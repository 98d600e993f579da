//! The DataLoaders of one request: one struct per relation, built fresh for every request so a
//! statement count is deterministic and no cache outlives its request.
//!
//! Each loader groups its keys by their argument set and runs one statement per distinct set.
//! A key carries its argument set [`Interned`]: hashed and compared by number, held by `Arc`.

use std::{
    collections::HashMap,
    future::Future,
    hash::{Hash, Hasher},
    ops::Deref,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{author, book};

use super::batching::{self, Standstill};
use crate::{
    error::{ApiError, ApiResult},
    store::{
        self, Ordering, Page, Reader, Window,
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
pub struct BooksByAuthorLoader(Reader, Arc<dyn BatchObserver>);

impl Loader<(i64, Interned<BooksArgs>)> for BooksByAuthorLoader {
    /// Shared, because the DataLoader clones each value on its way to the resolver that asked.
    type Value = Arc<Page<book::Model>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, Interned<BooksArgs>)],
    ) -> ApiResult<HashMap<(i64, Interned<BooksArgs>), Self::Value>> {
        batching::keys_taken();
        self.1.batch_loaded("books_by_author", keys.len());
        let db = &self.0;
        per_argument_set(keys, |author_ids, args| async move {
            store::book::page_per_author(
                db,
                &author_ids,
                &args.filter,
                &args.ordering,
                &args.window,
            )
            .await
        })
        .await
    }
}

/// `Author.bookCount` and `Author.books.totalCount`: one `GROUP BY author_id` statement per
/// distinct filter.
pub struct BookCountByAuthorLoader(Reader, Arc<dyn BatchObserver>);

impl Loader<(i64, Interned<BookFilter>)> for BookCountByAuthorLoader {
    type Value = u64;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, Interned<BookFilter>)],
    ) -> ApiResult<HashMap<(i64, Interned<BookFilter>), u64>> {
        batching::keys_taken();
        self.1.batch_loaded("book_count_by_author", keys.len());
        let db = &self.0;
        per_argument_set(keys, |author_ids, filter| async move {
            store::book::count_per_author(db, &author_ids, &filter).await
        })
        .await
    }
}

/// `Book.author`, one loader for every `author` field of a level: keyed by the author and, when
/// the author's selection has one `books` field, that field's arguments. Keys without arguments
/// are read by one `WHERE id IN (…)` statement; keys with arguments each author beside that page
/// of their books, one statement per distinct [`BooksArgs`] (see
/// [`store::book::authors_with_pages`]). One loader, so that every `author` field of a level
/// resolves in the same batch whichever way it is read.
pub struct AuthorLoader(Reader, Arc<dyn BatchObserver>);

/// An author, and the page of their books read with them when asked for.
pub type AuthorRead = (author::Model, Option<Page<book::Model>>);

impl Loader<(i64, Option<Interned<BooksArgs>>)> for AuthorLoader {
    /// Shared, because the DataLoader clones each value on its way to the resolver that asked.
    type Value = Arc<AuthorRead>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(i64, Option<Interned<BooksArgs>>)],
    ) -> ApiResult<HashMap<(i64, Option<Interned<BooksArgs>>), Self::Value>> {
        batching::keys_taken();
        self.1.batch_loaded("author", keys.len());
        let db = &self.0;
        per_argument_set(keys, |ids, args| async move {
            Ok(match args {
                None => store::author::by_ids(db, &ids)
                    .await?
                    .into_iter()
                    .map(|author| (author.id, (author, None)))
                    .collect(),
                Some(books) => store::book::authors_with_pages(
                    db,
                    &ids,
                    &books.filter,
                    &books.ordering,
                    &books.window,
                )
                .await?
                .into_iter()
                .map(|(id, (author, page))| (id, (author, Some(page))))
                .collect(),
            })
        })
        .await
    }
}

/// The values of `(id, args)` keys: `read` once per distinct argument set, with its ids. An id
/// that `read` does not answer is absent, and its resolver takes the empty value (no books, a
/// count of 0).
async fn per_argument_set<A, T, V, F, R>(
    keys: &[(i64, A)],
    read: R,
) -> ApiResult<HashMap<(i64, A), V>>
where
    A: Clone + Eq + Hash,
    V: From<T>,
    F: Future<Output = ApiResult<HashMap<i64, T>>>,
    R: Fn(Vec<i64>, A) -> F,
{
    let mut groups: HashMap<A, Vec<i64>> = HashMap::new();
    for (id, args) in keys {
        groups.entry(args.clone()).or_default().push(*id);
    }
    let mut values = HashMap::with_capacity(keys.len());
    for (args, ids) in groups {
        let found = read(ids, args.clone()).await?;
        values.extend(
            found
                .into_iter()
                .map(|(id, value)| ((id, args.clone()), V::from(value))),
        );
    }
    Ok(values)
}

/// The loaders of one request.
pub struct Loaders {
    /// See [`BooksByAuthorLoader`].
    pub books: DataLoader<BooksByAuthorLoader>,
    /// See [`BookCountByAuthorLoader`].
    pub book_counts: DataLoader<BookCountByAuthorLoader>,
    /// See [`AuthorLoader`].
    pub authors: DataLoader<AuthorLoader>,
    /// The argument sets of the `books` keys.
    pub books_args: Interner<BooksArgs>,
    /// The filters of the `book_counts` keys.
    pub book_filters: Interner<BookFilter>,
}

impl Loaders {
    /// Fresh loaders over `db` whose batches start at the request's standstills, with no
    /// further delay and no size limit: the complexity limit already bounds the keys of a
    /// request, and splitting a batch would make the statement count depend on the data.
    pub fn new(db: &Reader, batches: &Arc<dyn BatchObserver>, standstill: &Standstill) -> Self {
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
            authors: loader(AuthorLoader(db.clone(), Arc::clone(batches)), standstill),
            books_args: Interner::new(),
            book_filters: Interner::new(),
        }
    }
}

/// The key of an author's page in [`Loaders::books`].
pub type BooksKey = (i64, Interned<BooksArgs>);
