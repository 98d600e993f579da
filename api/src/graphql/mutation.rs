//! The mutations: each validates its input before any SQL runs and writes in one transaction.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::{
    ContextExt,
    author::Author,
    book::Book,
    inputs::{CreateAuthorInput, CreateBookInput, UpdateAuthorInput, UpdateBookInput, parse_id},
};
use crate::{
    domain::AuthorName,
    error::{ApiResult, both},
    store,
};

/// What `deleteAuthor` removed.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeleteAuthorPayload {
    /// The deleted author.
    pub deleted_author_id: ID,
    /// The author's books, deleted with it, in ascending order.
    pub deleted_book_ids: Vec<ID>,
}

/// What `deleteBook` removed.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeleteBookPayload {
    /// The deleted book.
    pub deleted_book_id: ID,
}

/// Every mutation of the API.
#[derive(Default)]
pub struct MutationRoot;

/// Every mutation of the API.
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates an author and, in the same transaction, its books: all are written or none.
    async fn create_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's name, and the books to create with them.")]
        input: CreateAuthorInput,
    ) -> ApiResult<Author> {
        let (name, books) = input.parse()?;
        let (author, _) =
            store::author::create_with_books(ctx.db()?, ctx.changes()?, &name, &books).await?;
        Ok(Author::new(author))
    }

    /// Changes an author; omitted fields keep their value.
    async fn update_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
        #[graphql(desc = "The fields to change; an omitted field keeps its value.")]
        input: UpdateAuthorInput,
    ) -> ApiResult<Author> {
        let name = input
            .name
            .map(|name| AuthorName::parse("input.name", &name))
            .transpose();
        let (id, name) = both(parse_id("id", &id), name)?;
        let db = ctx.db()?;
        let author = match name {
            Some(name) => store::author::rename(db, ctx.changes()?, id, &name).await?,
            None => store::author::find(db, id)
                .await?
                .ok_or_else(|| store::author::not_found(id))?,
        };
        Ok(Author::new(author))
    }

    /// Deletes an author and all of its books, in one transaction.
    async fn delete_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID, such as \"42\".")] id: ID,
    ) -> ApiResult<DeleteAuthorPayload> {
        let author_id = parse_id("id", &id)?;
        let book_ids =
            store::author::delete_with_books(ctx.db()?, ctx.changes()?, author_id).await?;
        Ok(DeleteAuthorPayload {
            deleted_author_id: ID(author_id.to_string()),
            deleted_book_ids: book_ids.into_iter().map(|id| ID(id.to_string())).collect(),
        })
    }

    /// Creates a book of an existing author.
    async fn create_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book, and the ID of its author.")] input: CreateBookInput,
    ) -> ApiResult<Book> {
        let (author_id, book) = input.parse()?;
        Ok(Book(
            store::book::insert(ctx.db()?, ctx.changes()?, author_id, &book).await?,
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
        let (id, changes) = both(parse_id("id", &id), input.parse())?;
        Ok(Book(
            store::book::update(ctx.db()?, ctx.changes()?, id, &changes).await?,
        ))
    }

    /// Deletes a book.
    async fn delete_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book's ID, such as \"7\".")] id: ID,
    ) -> ApiResult<DeleteBookPayload> {
        let book_id = parse_id("id", &id)?;
        store::book::delete(ctx.db()?, ctx.changes()?, book_id).await?;
        Ok(DeleteBookPayload {
            deleted_book_id: ID(book_id.to_string()),
        })
    }
}
