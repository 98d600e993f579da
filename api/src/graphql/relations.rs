//! The relations between authors and books, each implemented once ([`Relation`]): the field's
//! resolver calls it for one object, lists for all the objects of a list at once, and the
//! loaders turn both into one statement per distinct argument set.

use std::sync::Arc;

use async_graphql::Context;
use futures_util::future::join_all;

use super::{
    ContextExt,
    author::Author,
    book::Book,
    connection::{Connection, Node, TotalCount},
    fields::{Relation, arguments},
    inputs::{BookFilterInput, BookOrder, book_ordering, optional_page_size},
    loaders::{BooksArgs, Interned},
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
        let keys = authors.iter().map(|author| (author.0.id, args.clone()));
        let pages = ctx.loaders()?.books_of(keys).await?;
        // An author listed twice holds its page twice; the last holder takes the rows.
        let shared: Vec<_> = authors
            .iter()
            .map(|author| pages.get(&(author.0.id, args.clone())).cloned())
            .collect();
        drop(pages);
        Ok(authors
            .iter()
            .zip(shared)
            .map(|(author, page)| {
                // Once the loader and the other holders have let go of their copies (they
                // usually have by now), the rows move; otherwise they are cloned.
                let page = page
                    .map(|page| Arc::try_unwrap(page).unwrap_or_else(|shared| (*shared).clone()))
                    .unwrap_or_default();
                Ok(Connection::new(
                    page,
                    &args.window,
                    &args.ordering,
                    TotalCount::BooksOfAuthor(author.0.id, filter.clone()),
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
        let keys = authors.iter().map(|author| (author.0.id, filter.clone()));
        let counts = loaders.book_counts.load_many(keys).await?;
        Ok(authors
            .iter()
            .map(|author| {
                Ok(counts
                    .get(&(author.0.id, filter.clone()))
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
        let ids = books.iter().map(|book| book.0.author_id);
        let found = ctx.loaders()?.authors.load_many(ids).await?;
        // A missing author is unreachable through the foreign key, unless it was deleted during
        // the request.
        Ok(books
            .iter()
            .map(|book| {
                let id = book.0.author_id;
                found
                    .get(&id)
                    .cloned()
                    .map(Author)
                    .ok_or_else(|| author::not_found(id))
            })
            .collect())
    }
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
