//! The `Author` type.

use async_graphql::{Context, ID, Object};
use entity::author;

use super::{
    book::Book,
    connection::{Connection, Node},
    fields::{Column, Field, Fields, Read, Relation, Typed},
    inputs::{BookFilterInput, BookOrder, list_complexity},
    relations::{BookCountArguments, BookCountOfAuthor, BooksArguments, BooksOfAuthor},
};
use crate::error::ApiResult;

/// A person who wrote books.
#[derive(Clone)]
pub struct Author(pub author::Model);

impl Node for Author {
    const NAME: &'static str = "Author";
}

impl Author {
    const ID: Read<Self> = |author| Column::Id(author.0.id);
    const NAME: Read<Self> = |author| Column::Text(&author.0.name);
}

impl Fields for Author {
    const FIELDS: &'static [Field<Self>] = &[
        Field::column("id", Self::ID),
        Field::column("name", Self::NAME),
        Field::relation::<BooksOfAuthor>("books"),
        Field::relation::<BookCountOfAuthor>("bookCount"),
    ];
}

/// A person who wrote books.
#[Object]
impl Author {
    /// The author's unique ID.
    async fn id(&self) -> Typed<'_, ID> {
        Typed::of(self, Self::ID)
    }

    /// The author's name, 1 to 100 characters.
    async fn name(&self) -> Typed<'_, String> {
        Typed::of(self, Self::NAME)
    }

    /// The author's books, a page at a time; all authors of a list share one SQL statement.
    #[graphql(complexity = "list_complexity(first, None, child_complexity)")]
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many books to return, 0 to the page-size limit; 20 by default.")]
        first: Option<i32>,
        #[graphql(desc = "Return the books after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only books matching this filter.")] filter: Option<BookFilterInput>,
        #[graphql(
            desc = "Sort keys, most significant first; ties are broken by ID, in the direction of the last key."
        )]
        order_by: Option<Vec<BookOrder>>,
    ) -> ApiResult<Connection<Book>> {
        let args = BooksArguments {
            first,
            after,
            filter,
            order_by,
        };
        BooksOfAuthor::one(ctx, args, self).await
    }

    /// How many books of this author match the filter (all of them without one).
    async fn book_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only count books matching this filter.")] filter: Option<BookFilterInput>,
    ) -> ApiResult<u64> {
        BookCountOfAuthor::one(ctx, BookCountArguments { filter }, self).await
    }
}
