//! The `Book` type.

use async_graphql::{Context, ID, Object};
use entity::book;

use super::{
    author::Author,
    connection::Node,
    fields::{Column, Field, Fields, Relation},
    relations::AuthorOfBook,
};
use crate::error::ApiResult;

/// A book, written by one author.
#[derive(Clone)]
pub struct Book(pub book::Model);

impl Node for Book {
    const NAME: &'static str = "Book";
}

impl Fields for Book {
    const FIELDS: &'static [Field<Self>] = &[
        Field::column("id", |book| Column::Id(book.0.id)),
        Field::column("title", |book| Column::Text(&book.0.title)),
        Field::column("publishedYear", |book| Column::Int(book.0.published_year)),
        Field::column("authorId", |book| Column::Id(book.0.author_id)),
        Field::relation::<AuthorOfBook>("author"),
    ];
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
        AuthorOfBook::one(ctx, (), self).await
    }
}
