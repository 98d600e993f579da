//! The relations between authors and books, each implemented once ([`Relation`]): the field's
//! resolver calls it for one object, lists for all the objects of a list at once, and the
//! loaders turn both into one statement per distinct argument set.

use std::{collections::HashMap, sync::Arc};

use async_graphql::Context;
use futures_util::future::join_all;

use super::{
    ContextExt,
    author::Author,
    book::Book,
    connection::{Connection, Node, TotalCount},
    fields::{Arguments, Relation, arguments},
    inputs::{BookFilterInput, BookOrder, book_ordering, optional_page_size},
    loaders::{BooksArgs, BooksKey, Interned},
};
use crate::{
    error::ApiResult,
    store::{Window, author},
};

arguments! {
    /// The arguments of `Author.books`.
    pub struct BooksArguments {
        first: Option<i32> = "first",
        after: Option<String> = "after",
        filter: Option<BookFilterInput> = "filter",
        order_by: Option<Vec<BookOrder>> = "orderBy",
    }
}

arguments! {
    /// The arguments of `Author.bookCount`.
    pub struct BookCountArguments {
        filter: Option<BookFilterInput> = "filter",
    }
}

/// `Author.books`: a page of each author's books, one statement for all the authors.
pub struct BooksOfAuthor;

impl Relation<Author> for BooksOfAuthor {
    type Args = BooksArguments;
    type Output = Connection<Book>;

    async fn load(
        ctx: &Context<'_>,
        args: BooksArguments,
        authors: &[&Author],
    ) -> ApiResult<Vec<ApiResult<Connection<Book>>>> {
        let args = books_args(ctx, args)?;
        let filter = args.filter.clone();
        // Pages read with their authors are taken; the others are loaded, one statement for all.
        let read: Vec<_> = authors
            .iter()
            .map(|author| author.take_books(&args))
            .collect();
        let missing: Vec<BooksKey> = authors
            .iter()
            .zip(&read)
            .filter(|(_, page)| page.is_none())
            .map(|(author, _)| (author.row.id, args.clone()))
            .collect();
        let pages = if missing.is_empty() {
            HashMap::new()
        } else {
            ctx.loaders()?.books.load_many(missing).await?
        };
        // An author listed twice holds its page twice; the last holder takes the rows.
        let loaded: Vec<_> = authors
            .iter()
            .zip(&read)
            .map(|(author, page)| match page {
                Some(_) => None,
                None => pages.get(&(author.row.id, args.clone())).cloned(),
            })
            .collect();
        drop(pages);
        Ok(authors
            .iter()
            .zip(read.into_iter().zip(loaded))
            .map(|(author, (read, loaded))| {
                // Once the loader and the other holders have let go of their copies (they
                // usually have by now), the rows move; otherwise they are cloned.
                let page = read
                    .or_else(|| {
                        loaded.map(|page| {
                            Arc::try_unwrap(page).unwrap_or_else(|shared| (*shared).clone())
                        })
                    })
                    .unwrap_or_default();
                Ok(Connection::new(
                    page,
                    &args.window,
                    &args.ordering,
                    TotalCount::BooksOfAuthor(author.row.id, filter.clone()),
                    Book,
                    |book| &book.0,
                ))
            })
            .collect())
    }
}

/// The arguments of an `Author.books` field, checked and numbered in this request's loaders.
///
/// # Errors
/// `BAD_USER_INPUT` for a wrong page size, cursor or filter.
pub fn books_args(ctx: &Context<'_>, args: BooksArguments) -> ApiResult<Interned<BooksArgs>> {
    let ordering = book_ordering(args.order_by);
    let first = optional_page_size("first", args.first, ctx.max_page_size()?)?;
    let after = args
        .after
        .map(|text| ordering.parse_cursor("after", &text))
        .transpose()?;
    let loaders = ctx.loaders()?;
    let filter = loaders
        .book_filters
        .intern(BookFilterInput::parse(args.filter)?);
    Ok(loaders.books_args.intern(BooksArgs {
        window: Window::forward(first, after),
        filter,
        ordering,
    }))
}

/// `Author.bookCount`: how many of each author's books match, one statement for all the authors.
pub struct BookCountOfAuthor;

impl Relation<Author> for BookCountOfAuthor {
    type Args = BookCountArguments;
    type Output = u64;

    async fn load(
        ctx: &Context<'_>,
        args: BookCountArguments,
        authors: &[&Author],
    ) -> ApiResult<Vec<ApiResult<u64>>> {
        let loaders = ctx.loaders()?;
        let filter = loaders
            .book_filters
            .intern(BookFilterInput::parse(args.filter)?);
        let keys = authors.iter().map(|author| (author.row.id, filter.clone()));
        let counts = loaders.book_counts.load_many(keys).await?;
        Ok(authors
            .iter()
            .map(|author| {
                Ok(counts
                    .get(&(author.row.id, filter.clone()))
                    .copied()
                    .unwrap_or(0))
            })
            .collect())
    }
}

/// `Book.author`: each book's author, one statement for all the books.
pub struct AuthorOfBook;

impl Relation<Book> for AuthorOfBook {
    type Args = ();
    type Output = Author;

    async fn load(ctx: &Context<'_>, (): (), books: &[&Book]) -> ApiResult<Vec<ApiResult<Author>>> {
        // With one `books` field under it, each author comes with the page of their books that
        // the field will ask for.
        let args = books_read_ahead(ctx);
        let keys = books.iter().map(|book| (book.0.author_id, args.clone()));
        let found = ctx.loaders()?.authors.load_many(keys).await?;
        // An author of several books is held several times; the last holder takes the rows.
        let shared: Vec<_> = books
            .iter()
            .map(|book| found.get(&(book.0.author_id, args.clone())).cloned())
            .collect();
        drop(found);
        Ok(books
            .iter()
            .zip(shared)
            .map(|(book, shared)| {
                // A missing author is unreachable through the foreign key, unless it was deleted
                // during the request.
                let shared = shared.ok_or_else(|| author::not_found(book.0.author_id))?;
                let (row, page) =
                    Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
                Ok(match (page, &args) {
                    (Some(page), Some(args)) => Author::with_books(row, args.clone(), page),
                    _ => Author::new(row),
                })
            })
            .collect())
    }
}

/// The arguments of the one `books` field selected under field context `ctx` (an author), checked
/// and numbered as that field will number them; `None` when there is no such field, several, or
/// wrong arguments (which the field then reports).
pub fn books_read_ahead(ctx: &Context<'_>) -> Option<Interned<BooksArgs>> {
    let fields = ctx.look_ahead().field("books").selection_fields();
    let [field] = fields.as_slice() else {
        return None;
    };
    let values = field.arguments().ok()?;
    books_args(ctx, BooksArguments::from_values(&values)?).ok()
}

/// A connection's `totalCount`: counted only when selected; the books of many authors in one
/// statement.
pub struct TotalCountOf;

impl<N: Node> Relation<Connection<N>> for TotalCountOf {
    type Args = ();
    type Output = u64;

    async fn load(
        ctx: &Context<'_>,
        (): (),
        connections: &[&Connection<N>],
    ) -> ApiResult<Vec<ApiResult<u64>>> {
        // Concurrent, so that the counts of many authors' books share one statement.
        let counts = join_all(
            connections
                .iter()
                .map(|connection| connection.total().resolve(ctx)),
        )
        .await;
        // A failed count failed with its statement: the whole load fails, once.
        counts.into_iter().map(|count| count.map(Ok)).collect()
    }
}
