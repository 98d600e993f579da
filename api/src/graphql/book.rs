//! The `Book` type.

use async_graphql::{Context, ID, Object};
use entity::book;

use super::{
    author::Author,
    connection::Node,
    fields::{Column, Field, Fields, Read, Relation, Typed},
    relations::AuthorOfBook,
};
use crate::error::ApiResult;

/// A book, written by one author.
#[derive(Clone)]
pub struct Book(pub book::Model);

impl Node for Book {
    const NAME: &'static str = "Book";
}

impl Book {
    const ID: Read<Self> = |book| Column::Id(book.0.id);
    const TITLE: Read<Self> = |book| Column::Text(&book.0.title);
    const PUBLISHED_YEAR: Read<Self> = |book| Column::Int(book.0.published_year);
    const AUTHOR_ID: Read<Self> = |book| Column::Id(book.0.author_id);
}

impl Fields for Book {
    const FIELDS: &'static [Field<Self>] = &[
        Field::column("id", Self::ID),
        Field::column("title", Self::TITLE),
        Field::column("publishedYear", Self::PUBLISHED_YEAR),
        Field::column("authorId", Self::AUTHOR_ID),
        Field::relation::<AuthorOfBook>("author"),
    ];
}

/// A book, written by one author.
#[Object]
impl Book {
    /// The book's unique ID.
    async fn id(&self) -> Typed<'_, ID> {
        Typed::of(self, Self::ID)
    }

    /// The book's title, 1 to 200 characters.
    async fn title(&self) -> Typed<'_, String> {
        Typed::of(self, Self::TITLE)
    }

    /// The year the book was published (negative for BCE), or null when unknown.
    async fn published_year(&self) -> Typed<'_, Option<i32>> {
        Typed::of(self, Self::PUBLISHED_YEAR)
    }

    /// The ID of the book's author.
    async fn author_id(&self) -> Typed<'_, ID> {
        Typed::of(self, Self::AUTHOR_ID)
    }

    /// The book's author; all books of a list share one SQL statement.
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<Author> {
        AuthorOfBook::one(ctx, (), self).await
    }
}
