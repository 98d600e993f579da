//! The `Author` type and the author queries.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, ScalarType, ServerResult, SimpleObject, Value};
use entity::{author, book};
use futures_util::future::BoxFuture;

use super::{
    ContextExt,
    book::Book,
    connection::{Connection, Node, TotalCount},
    inputs::{
        AuthorFilter, AuthorOrder, BookFilter, BookOrder, CreateAuthorInput, PageArgs,
        UpdateAuthorInput, author_ordering, book_ordering, list_complexity, optional_page_size,
        parse_id,
    },
    lists::{self, Batched, Column, field_error, shared_error},
    loaders::{ArgsId, BooksArgs},
};
use crate::{
    domain::AuthorName,
    error::{ApiError, ApiResult},
    store::{self, Ordering, Page, Window, book::BookSort},
};

/// A person who wrote books.
#[derive(Clone)]
pub struct Author(pub author::Model);

impl Node for Author {
    const NAME: &'static str = "Author";
}

impl Batched for Author {
    const BATCHED_FIELDS: &'static [&'static str] = &["books", "bookCount"];

    fn plain_field(name: &str) -> Option<fn(&Self) -> Column<'_>> {
        Some(match name {
            "id" => |author: &Self| Column::Id(author.0.id),
            "name" => |author: &Self| Column::Text(&author.0.name),
            _ => return None,
        })
    }

    fn resolve_batched<'a>(
        authors: &'a [&'a Self],
        at: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
        Box::pin(async move {
            let Some(first) = at.first() else {
                return Vec::new();
            };
            match first.item.node.name.node.as_str() {
                "books" => books_of_all(authors, at).await,
                "bookCount" => book_counts_of_all(authors, at).await,
                other => {
                    let error = ApiError::internal(format!("`Author.{other}` is not batched"));
                    shared_error(at, field_error(first, error))
                }
            }
        })
    }
}

/// What one `Author.books` field asks for, read from its arguments: the same for every author.
struct BooksRequest {
    /// The number of the field's arguments in the books loader's keys.
    args: ArgsId<BooksArgs>,
    /// The number of its filter in the book-count loader's keys, for `totalCount`.
    filter: ArgsId<store::book::BookFilter>,
    window: Window,
    ordering: Ordering<BookSort>,
}

impl BooksRequest {
    /// Checks the field's arguments.
    fn new(
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<BookFilter>,
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Self> {
        let ordering = book_ordering(order_by);
        let first = optional_page_size("first", first, ctx.max_page_size()?)?;
        let after = after
            .map(|text| ordering.parse_cursor("after", &text))
            .transpose()?;
        let filter = BookFilter::parse(filter)?;
        let loaders = ctx.loaders()?;
        let args = loaders.books_args.id(BooksArgs {
            first,
            after: after.clone(),
            filter: filter.clone(),
            ordering: ordering.clone(),
        });
        let window = Window {
            after,
            before: None,
            limit: first,
            from_end: false,
        };
        Ok(Self {
            args,
            filter: loaders.book_filters.id(filter),
            window,
            ordering,
        })
    }

    /// Reads and checks the arguments of field context `ctx` as its resolver does.
    fn of_field(ctx: &Context<'_>) -> ServerResult<Self> {
        let (_, first) = ctx.param_value("first", None)?;
        let (_, after) = ctx.param_value("after", None)?;
        let (_, filter) = ctx.param_value("filter", None)?;
        let (_, order_by) = ctx.param_value("orderBy", None)?;
        Self::new(ctx, first, after, filter, order_by).map_err(|error| field_error(ctx, error))
    }

    /// The books loader's key for the author with `id`.
    fn key(&self, id: i64) -> (i64, ArgsId<BooksArgs>) {
        (id, self.args)
    }

    /// The connection of the author with `id`, from its page as the loader gave it.
    fn connection(&self, id: i64, page: Option<Arc<Page<book::Model>>>) -> Connection<Book> {
        // Once the loader and the other holders have let go of their copies (they usually
        // have by now), the rows move; otherwise they are cloned.
        let page = page
            .map(|page| Arc::try_unwrap(page).unwrap_or_else(|shared| (*shared).clone()))
            .unwrap_or_default();
        let total_count = TotalCount::BooksOfAuthor(id, self.filter);
        Connection::new(
            page,
            &self.window,
            &self.ordering,
            total_count,
            Book,
            |book| &book.0,
        )
    }
}

/// `books` of every author of a list: one `load_many`, then the connections resolved together.
async fn books_of_all(authors: &[&Author], at: &[Context<'_>]) -> Vec<ServerResult<Value>> {
    // The arguments are the same for every author: read them once, as the first author's
    // resolver would, and give every author the same error if they are wrong.
    let request = match BooksRequest::of_field(&at[0]) {
        Ok(request) => request,
        Err(error) => return shared_error(at, error),
    };
    let keys = authors.iter().map(|author| request.key(author.0.id));
    let loaded: ApiResult<_> = async { at[0].loaders()?.books.load_many(keys).await }.await;
    let pages = match loaded {
        Ok(pages) => pages,
        Err(error) => return shared_error(at, field_error(&at[0], error)),
    };
    // An author listed twice holds its page twice; the last holder takes the rows.
    let shared: Vec<_> = authors
        .iter()
        .map(|author| pages.get(&request.key(author.0.id)).cloned())
        .collect();
    drop(pages);
    let connections: Vec<_> = authors
        .iter()
        .zip(shared)
        .map(|(author, page)| request.connection(author.0.id, page))
        .collect();
    let connections: Vec<&Connection<Book>> = connections.iter().collect();
    let connection_at: Vec<_> = at
        .iter()
        .map(|ctx| ctx.with_selection_set(&ctx.item.node.selection_set))
        .collect();
    lists::objects(&connections, &connection_at, at[0].item).await
}

/// `bookCount` of every author of a list: one `load_many`.
async fn book_counts_of_all(authors: &[&Author], at: &[Context<'_>]) -> Vec<ServerResult<Value>> {
    let loaded: ServerResult<_> = async {
        let (_, filter) = at[0].param_value("filter", None)?;
        let in_field = |error: ApiError| field_error(&at[0], error);
        let loaders = at[0].loaders().map_err(in_field)?;
        let filter = BookFilter::parse(filter).map_err(in_field)?;
        let filter = loaders.book_filters.id(filter);
        let keys = authors.iter().map(|author| (author.0.id, filter));
        let counts = loaders
            .book_counts
            .load_many(keys)
            .await
            .map_err(in_field)?;
        Ok((filter, counts))
    }
    .await;
    let (filter, counts) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return shared_error(at, error),
    };
    authors
        .iter()
        .map(|author| {
            let count = counts.get(&(author.0.id, filter)).copied().unwrap_or(0);
            Ok(ScalarType::to_value(&count))
        })
        .collect()
}

/// A person who wrote books.
#[Object]
impl Author {
    /// The author's unique ID.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The author's name, 1 to 100 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The author's books, a page at a time; all authors of a list share one SQL statement.
    #[graphql(complexity = "list_complexity(first, None, child_complexity)")]
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many books to return, 0 to the page-size limit; 20 by default.")]
        first: Option<i32>,
        #[graphql(desc = "Return the books after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only books matching this filter.")] filter: Option<BookFilter>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Connection<Book>> {
        let request = BooksRequest::new(ctx, first, after, filter, order_by)?;
        let page = ctx
            .loaders()?
            .books
            .load_one(request.key(self.0.id))
            .await?;
        Ok(request.connection(self.0.id, page))
    }

    /// How many books of this author match the filter (all of them without one).
    async fn book_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only count books matching this filter.")] filter: Option<BookFilter>,
    ) -> ApiResult<u64> {
        let loaders = ctx.loaders()?;
        let key = (
            self.0.id,
            loaders.book_filters.id(BookFilter::parse(filter)?),
        );
        Ok(loaders.book_counts.load_one(key).await?.unwrap_or(0))
    }
}

/// Queries that start from authors.
#[derive(Default)]
pub struct AuthorQuery;

#[Object]
impl AuthorQuery {
    /// The author with this ID, or null when there is none.
    async fn author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
    ) -> ApiResult<Option<Author>> {
        let id = parse_id("id", &id)?;
        Ok(store::author::find(ctx.db()?, id).await?.map(Author))
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
        #[graphql(desc = "Only authors matching this filter.")] filter: Option<AuthorFilter>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<AuthorOrder>>,
    ) -> ApiResult<Connection<Author>> {
        let ordering = author_ordering(order_by);
        let page_args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = page_args.window(&ordering, ctx.max_page_size()?)?;
        let filter = AuthorFilter::parse(filter)?;
        let page = store::author::page(ctx.db()?, &filter, &ordering, &window).await?;
        Ok(Connection::new(
            page,
            &window,
            &ordering,
            TotalCount::Authors(filter),
            Author,
            |author| &author.0,
        ))
    }
}

/// What `deleteAuthor` removed.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeleteAuthorPayload {
    /// The deleted author.
    pub deleted_author_id: ID,
    /// The author's books, deleted with it, in ascending order.
    pub deleted_book_ids: Vec<ID>,
}

/// Mutations of authors; each is one transaction.
#[derive(Default)]
pub struct AuthorMutation;

#[Object]
impl AuthorMutation {
    /// Creates an author and, in the same transaction, its books: all are written or none.
    async fn create_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's name, and the books to create with them.")]
        input: CreateAuthorInput,
    ) -> ApiResult<Author> {
        let (name, books) = input.parse()?;
        let (author, _) = store::author::create_with_books(ctx.db()?, &name, &books).await?;
        Ok(Author(author))
    }

    /// Changes an author; omitted fields keep their value.
    async fn update_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
        #[graphql(desc = "The fields to change; an omitted field keeps its value.")]
        input: UpdateAuthorInput,
    ) -> ApiResult<Author> {
        let id = parse_id("id", &id)?;
        let name = input
            .name
            .map(|name| AuthorName::parse("input.name", &name))
            .transpose()?;
        let db = ctx.db()?;
        let author = match name {
            Some(name) => store::author::rename(db, id, &name).await?,
            None => store::author::find(db, id)
                .await?
                .ok_or_else(|| store::author::not_found(id))?,
        };
        Ok(Author(author))
    }

    /// Deletes an author and all of its books, in one transaction.
    async fn delete_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
    ) -> ApiResult<DeleteAuthorPayload> {
        let author_id = parse_id("id", &id)?;
        let book_ids = store::author::delete_with_books(ctx.db()?, author_id).await?;
        Ok(DeleteAuthorPayload {
            deleted_author_id: ID(author_id.to_string()),
            deleted_book_ids: book_ids.into_iter().map(|id| ID(id.to_string())).collect(),
        })
    }
}
