//! The `Author` type and the author queries.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject, Value};
use entity::author;

use super::{
    ContextExt,
    book::Book,
    connection::{Connection, Node, TotalCount},
    inputs::{
        AuthorFilter, AuthorOrder, BookFilter, BookOrder, CreateAuthorInput, PageArgs,
        UpdateAuthorInput, author_ordering, book_ordering, list_complexity, optional_page_size,
        parse_id,
    },
    loaders::BooksArgs,
};
use crate::{
    domain::AuthorName,
    error::ApiResult,
    store::{self, Window},
};

/// A person who wrote books.
#[derive(Clone)]
pub struct Author(pub author::Model);

impl Node for Author {
    const NAME: &'static str = "Author";

    fn plain_field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "id" => Value::String(self.0.id.to_string()),
            "name" => Value::String(self.0.name.clone()),
            _ => return None,
        })
    }
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
        #[graphql(desc = "Sort keys, most significant first; ties are broken by ID.")]
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Connection<Book>> {
        let ordering = book_ordering(order_by);
        let first = optional_page_size("first", first, ctx.max_page_size()?)?;
        let after = after
            .map(|text| ordering.parse_cursor("after", &text))
            .transpose()?;
        let args = BooksArgs {
            first,
            after: after.clone(),
            filter: BookFilter::parse(filter)?,
            ordering: ordering.clone(),
        };
        let total_count = TotalCount::BooksOfAuthor(self.0.id, args.filter.clone());
        let page = ctx
            .loaders()?
            .books
            .load_one((self.0.id, args))
            .await?
            // Once the loader has let go of its copy (it usually has by now), the rows move;
            // otherwise they are cloned.
            .map(|page| Arc::try_unwrap(page).unwrap_or_else(|shared| (*shared).clone()))
            .unwrap_or_default();
        let window = Window {
            after,
            before: None,
            limit: first,
            from_end: false,
        };
        Ok(Connection::new(
            page,
            &window,
            &ordering,
            total_count,
            Book,
            |book| &book.0,
        ))
    }

    /// How many books of this author match the filter (all of them without one).
    async fn book_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only count books matching this filter.")] filter: Option<BookFilter>,
    ) -> ApiResult<u64> {
        let key = (self.0.id, BookFilter::parse(filter)?);
        Ok(ctx.loaders()?.book_counts.load_one(key).await?.unwrap_or(0))
    }
}

/// Queries that start from authors.
#[derive(Default)]
pub struct AuthorQuery;

#[Object]
impl AuthorQuery {
    /// The author with this ID, or null when there is none.
    async fn author(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Author>> {
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
        #[graphql(desc = "Sort keys, most significant first; ties are broken by ID.")]
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
        id: ID,
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
    async fn delete_author(&self, ctx: &Context<'_>, id: ID) -> ApiResult<DeleteAuthorPayload> {
        let author_id = parse_id("id", &id)?;
        let book_ids = store::author::delete_with_books(ctx.db()?, author_id).await?;
        Ok(DeleteAuthorPayload {
            deleted_author_id: ID(author_id.to_string()),
            deleted_book_ids: book_ids.into_iter().map(|id| ID(id.to_string())).collect(),
        })
    }
}
