//! The `Author` type.

use std::sync::{Mutex, PoisonError};

use async_graphql::{Context, ID, Object};
use entity::{author, book};

use super::{
    book::Book,
    connection::{Connection, Node},
    fields::{Column, Field, Fields, Read, Relation, Typed},
    inputs::{BookFilterInput, BookOrder, list_complexity},
    loaders::{BooksArgs, Interned},
    relations::{BookCountArguments, BookCountOfAuthor, BooksArguments, BooksOfAuthor},
};
use crate::{error::ApiResult, store::Page};

/// A person who wrote books.
pub struct Author {
    /// The author's row.
    pub row: author::Model,
    /// A page of the author's books read in the statement that read the row, for the one
    /// `books` field of the selection, which takes it ([`Author::take_books`]).
    read_ahead: Mutex<Option<(Interned<BooksArgs>, Page<book::Model>)>>,
}

impl Author {
    /// The author of `row`.
    pub fn new(row: author::Model) -> Self {
        Self {
            row,
            read_ahead: Mutex::new(None),
        }
    }

    /// The author of `row`, with the page of their books that `args` selects.
    pub fn with_books(
        row: author::Model,
        args: Interned<BooksArgs>,
        page: Page<book::Model>,
    ) -> Self {
        Self {
            row,
            read_ahead: Mutex::new(Some((args, page))),
        }
    }

    /// The page of books that `args` selects, when it was read with the author and not taken
    /// yet.
    pub fn take_books(&self, args: &Interned<BooksArgs>) -> Option<Page<book::Model>> {
        let mut read_ahead = self
            .read_ahead
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match read_ahead.take() {
            Some((read, page)) if read == *args => Some(page),
            other => {
                *read_ahead = other;
                None
            }
        }
    }
}

impl Node for Author {
    const NAME: &'static str = "Author";
}

impl Author {
    const ID: Read<Self> = |author| Column::Id(author.row.id);
    const NAME: Read<Self> = |author| Column::Text(&author.row.name);
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
