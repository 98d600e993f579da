//! The queries: an author or a book by ID, and the lists of all authors and all books.

use std::future::Future;

use async_graphql::{Context, ID, Object};
use entity::{author, book};

use super::{
    ContextExt,
    author::Author,
    book::Book,
    connection::{Connection, Node, TotalCount},
    inputs::{
        AuthorFilterInput, AuthorOrder, BookFilterInput, BookOrder, PageArgs, author_ordering,
        book_ordering, list_complexity, parse_id,
    },
    relations::books_read_ahead,
};
use crate::{
    error::ApiResult,
    store::{
        self, Ordering, Page, Reader, SortField, Window,
        author::{AuthorFilter, AuthorSort},
        book::{BookFilter, BookSort},
    },
};

/// Every query of the API.
#[derive(Default)]
pub struct QueryRoot;

/// Every query of the API.
#[Object(name = "Query")]
impl QueryRoot {
    /// The author with this ID, or null when there is none.
    async fn author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
    ) -> ApiResult<Option<Author>> {
        let id = parse_id("id", &id)?;
        if let Some(args) = books_read_ahead(ctx) {
            // The author and the page of their books that its one `books` field will ask for,
            // in one statement instead of two.
            let found = store::book::author_with_page(
                ctx.db()?,
                id,
                &args.filter,
                &args.ordering,
                &args.window,
            )
            .await?;
            return Ok(found.map(|(author, page)| Author::with_books(author, args, page)));
        }
        Ok(store::author::find(ctx.db()?, id).await?.map(Author::new))
    }

    /// Authors, a page at a time (Relay cursor connection); ordered by ID unless `orderBy` says
    /// otherwise.
    #[graphql(complexity = "list_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn authors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N authors (0 to the page-size limit; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Return the authors after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N authors (0 to the page-size limit).")] last: Option<
            i32,
        >,
        #[graphql(desc = "Return the authors before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only authors matching this filter.")] filter: Option<AuthorFilterInput>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<AuthorOrder>>,
    ) -> ApiResult<Connection<Author>> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let filter = AuthorFilterInput::parse(filter);
        list(ctx, page, filter, author_ordering(order_by)).await
    }

    /// The book with this ID, or null when there is none.
    async fn book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book's ID, such as \"7\".")] id: ID,
    ) -> ApiResult<Option<Book>> {
        let id = parse_id("id", &id)?;
        Ok(store::book::find(ctx.db()?, id).await?.map(Book))
    }

    /// Books of all authors, a page at a time (Relay cursor connection); ordered by ID unless
    /// `orderBy` says otherwise.
    #[graphql(complexity = "list_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N books (0 to the page-size limit; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Return the books after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N books (0 to the page-size limit).")] last: Option<i32>,
        #[graphql(desc = "Return the books before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only books matching this filter.")] filter: Option<BookFilterInput>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Connection<Book>> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let filter = BookFilterInput::parse(filter);
        list(ctx, page, filter, book_ordering(order_by)).await
    }
}

/// A type listed at the root: how a page of its rows is read.
trait Listed: Node {
    /// What its lists are sorted by.
    type Sort: SortField;
    /// Which rows its lists hold.
    type Filter: Send + Sync;

    /// One page of the rows matching `filter`.
    fn page(
        db: &Reader,
        filter: &Self::Filter,
        ordering: &Ordering<Self::Sort>,
        window: &Window,
    ) -> impl Future<Output = ApiResult<Page<<Self::Sort as SortField>::Model>>> + Send;

    /// Where the list's `totalCount` comes from.
    fn total_count(filter: Self::Filter) -> TotalCount;

    /// The object of a row.
    fn of(row: <Self::Sort as SortField>::Model) -> Self;

    /// The row of an object.
    fn row(&self) -> &<Self::Sort as SortField>::Model;
}

impl Listed for Author {
    type Sort = AuthorSort;
    type Filter = AuthorFilter;

    fn page(
        db: &Reader,
        filter: &AuthorFilter,
        ordering: &Ordering<AuthorSort>,
        window: &Window,
    ) -> impl Future<Output = ApiResult<Page<author::Model>>> + Send {
        store::author::page(db, filter, ordering, window)
    }

    fn total_count(filter: AuthorFilter) -> TotalCount {
        TotalCount::Authors(filter)
    }

    fn of(row: author::Model) -> Self {
        Self::new(row)
    }

    fn row(&self) -> &author::Model {
        &self.row
    }
}

impl Listed for Book {
    type Sort = BookSort;
    type Filter = BookFilter;

    fn page(
        db: &Reader,
        filter: &BookFilter,
        ordering: &Ordering<BookSort>,
        window: &Window,
    ) -> impl Future<Output = ApiResult<Page<book::Model>>> + Send {
        store::book::page(db, filter, ordering, window)
    }

    fn total_count(filter: BookFilter) -> TotalCount {
        TotalCount::Books(filter)
    }

    fn of(row: book::Model) -> Self {
        Self(row)
    }

    fn row(&self) -> &book::Model {
        &self.0
    }
}

/// The page of `N` that `page` selects among the rows matching `filter`, in `ordering`. A wrong
/// page argument is reported before a wrong filter.
async fn list<N: Listed>(
    ctx: &Context<'_>,
    page: PageArgs,
    filter: ApiResult<N::Filter>,
    ordering: Ordering<N::Sort>,
) -> ApiResult<Connection<N>> {
    let window = page.window(&ordering, ctx.max_page_size()?)?;
    let filter = filter?;
    let rows = N::page(ctx.db()?, &filter, &ordering, &window).await?;
    Ok(Connection::new(
        rows,
        &window,
        &ordering,
        N::total_count(filter),
        N::of,
        N::row,
    ))
}
