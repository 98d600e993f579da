//! The `Book` type and the book queries.

use async_graphql::{Context, ID, Object, ServerResult, SimpleObject, Value};
use entity::book;
use futures_util::future::BoxFuture;

use super::{
    ContextExt,
    author::Author,
    connection::{Connection, Node, TotalCount},
    inputs::{
        BookFilter, BookOrder, CreateBookInput, PageArgs, UpdateBookInput, book_ordering,
        list_complexity, parse_id,
    },
    lists::{self, Batched, Column, field_error, shared_error},
};
use crate::{
    error::{ApiError, ApiResult},
    store,
};

/// A book, written by one author.
#[derive(Clone)]
pub struct Book(pub book::Model);

impl Node for Book {
    const NAME: &'static str = "Book";
}

impl Batched for Book {
    const BATCHED_FIELDS: &'static [&'static str] = &["author"];

    fn plain_field(name: &str) -> Option<fn(&Self) -> Column<'_>> {
        Some(match name {
            "id" => |book: &Self| Column::Id(book.0.id),
            "title" => |book: &Self| Column::Text(&book.0.title),
            "publishedYear" => |book: &Self| Column::Int(book.0.published_year),
            "authorId" => |book: &Self| Column::Id(book.0.author_id),
            _ => return None,
        })
    }

    /// `author` of every book of a list: one `load_many`, then the authors resolved together.
    fn resolve_batched<'a>(
        books: &'a [&'a Self],
        at: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
        Box::pin(async move {
            let Some(first) = at.first() else {
                return Vec::new();
            };
            let ids = books.iter().map(|book| book.0.author_id);
            let loaded: ApiResult<_> =
                async { first.loaders()?.authors.load_many(ids).await }.await;
            let found = match loaded {
                Ok(found) => found,
                Err(error) => return shared_error(at, field_error(first, error)),
            };
            let authors: Vec<Option<Author>> = books
                .iter()
                .map(|book| found.get(&book.0.author_id).cloned().map(Author))
                .collect();
            let author_at: Vec<_> = at
                .iter()
                .zip(&authors)
                .filter(|(_, author)| author.is_some())
                .map(|(ctx, _)| ctx.with_selection_set(&ctx.item.node.selection_set))
                .collect();
            let present: Vec<&Author> = authors.iter().flatten().collect();
            let mut values = lists::objects(&present, &author_at, first.item)
                .await
                .into_iter();
            books
                .iter()
                .zip(&authors)
                .zip(at)
                .map(|((book, author), ctx)| match author {
                    Some(_) => values.next().unwrap_or(Ok(Value::Null)),
                    None => Err(field_error(ctx, missing_author(book.0.author_id))),
                })
                .collect()
        })
    }
}

/// The error of a book whose author is gone. The foreign key makes it unreachable unless the
/// author was deleted during the request.
fn missing_author(id: i64) -> ApiError {
    ApiError::NotFound {
        entity: "author",
        id,
    }
}

/// A book, written by one author.
#[Object]
impl Book {
    /// The book's unique ID.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The book's title, 1 to 200 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The year the book was published (negative for BCE), or null when unknown.
    async fn published_year(&self) -> Option<i32> {
        self.0.published_year
    }

    /// The ID of the book's author.
    async fn author_id(&self) -> ID {
        ID(self.0.author_id.to_string())
    }

    /// The book's author; all books of a list share one SQL statement.
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<Author> {
        ctx.loaders()?
            .authors
            .load_one(self.0.author_id)
            .await?
            .map(Author)
            .ok_or_else(|| missing_author(self.0.author_id))
    }
}

/// Queries that start from books.
#[derive(Default)]
pub struct BookQuery;

#[Object]
impl BookQuery {
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
        #[graphql(desc = "Only books matching this filter.")] filter: Option<BookFilter>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Connection<Book>> {
        let ordering = book_ordering(order_by);
        let page_args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = page_args.window(&ordering, ctx.max_page_size()?)?;
        let filter = BookFilter::parse(filter)?;
        let page = store::book::page(ctx.db()?, &filter, &ordering, &window).await?;
        Ok(Connection::new(
            page,
            &window,
            &ordering,
            TotalCount::Books(filter),
            Book,
            |book| &book.0,
        ))
    }
}

/// What `deleteBook` removed.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeleteBookPayload {
    /// The deleted book.
    pub deleted_book_id: ID,
}

/// Mutations of books; each is one statement.
#[derive(Default)]
pub struct BookMutation;

#[Object]
impl BookMutation {
    /// Creates a book of an existing author.
    async fn create_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book, and the ID of its author.")] input: CreateBookInput,
    ) -> ApiResult<Book> {
        let (author_id, book) = input.parse()?;
        Ok(Book(
            store::book::insert(ctx.db()?, author_id, &book).await?,
        ))
    }

    /// Changes a book, and may move it to another existing author; omitted fields keep their
    /// value.
    async fn update_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book's ID, such as \"7\".")] id: ID,
        #[graphql(desc = "The fields to change; an omitted field keeps its value.")]
        input: UpdateBookInput,
    ) -> ApiResult<Book> {
        let id = parse_id("id", &id)?;
        let changes = input.parse()?;
        Ok(Book(store::book::update(ctx.db()?, id, &changes).await?))
    }

    /// Deletes a book.
    async fn delete_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book's ID, such as \"7\".")] id: ID,
    ) -> ApiResult<DeleteBookPayload> {
        let book_id = parse_id("id", &id)?;
        store::book::delete(ctx.db()?, book_id).await?;
        Ok(DeleteBookPayload {
            deleted_book_id: ID(book_id.to_string()),
        })
    }
}
