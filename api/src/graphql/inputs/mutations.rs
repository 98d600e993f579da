//! The inputs of mutations, parsed into validated values.

use async_graphql::{ID, InputObject, MaybeUndefined};

use super::parse_id;
use crate::{
    domain::{AuthorName, BookTitle, PublishedYear},
    error::{ApiError, ApiResult, all, both},
    store::book::{BookChanges, NewBook},
};

/// A new author, with books to create in the same transaction.
#[derive(InputObject, Debug, Clone)]
pub struct CreateAuthorInput {
    /// The name, 1 to 100 characters after trimming.
    pub name: String,
    /// Books to create with the author, at most 1,000; all are written or none.
    pub books: Option<Vec<NewBookInput>>,
}

/// A book created together with its author.
#[derive(InputObject, Debug, Clone)]
pub struct NewBookInput {
    /// The title, 1 to 200 characters after trimming.
    pub title: String,
    /// The year of publication, -9999 to 9999.
    pub published_year: Option<i32>,
}

/// Changes to an author; omitted fields keep their value.
#[derive(InputObject, Debug, Clone)]
pub struct UpdateAuthorInput {
    /// A new name, 1 to 100 characters after trimming.
    pub name: Option<String>,
}

/// A new book of an existing author.
#[derive(InputObject, Debug, Clone)]
pub struct CreateBookInput {
    /// The author, who must exist.
    pub author_id: ID,
    /// The title, 1 to 200 characters after trimming.
    pub title: String,
    /// The year of publication, -9999 to 9999.
    pub published_year: Option<i32>,
}

/// Changes to a book; omitted fields keep their value.
#[derive(InputObject, Debug, Clone)]
pub struct UpdateBookInput {
    /// A new title, 1 to 200 characters after trimming.
    pub title: Option<String>,
    /// A new year of publication, -9999 to 9999; `null` clears it.
    pub published_year: MaybeUndefined<i32>,
    /// Move the book to this author, who must exist.
    pub author_id: Option<ID>,
}

impl CreateAuthorInput {
    /// The most books created with one author: one transaction's changes stay a burst that
    /// subscribers can take.
    pub const MAX_BOOKS: usize = 1000;

    /// The validated name and books.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` listing every invalid field.
    pub fn parse(self) -> ApiResult<(AuthorName, Vec<NewBook>)> {
        let name = AuthorName::parse("input.name", &self.name);
        let given = self.books.unwrap_or_default();
        if given.len() > Self::MAX_BOOKS {
            let too_many = Err(ApiError::invalid(
                "input.books",
                format_args!(
                    "must hold at most {} books, got {}",
                    Self::MAX_BOOKS,
                    given.len()
                ),
            ));
            return both(name, too_many);
        }
        let books = all(given.iter().enumerate().map(|(i, book)| {
            new_book(
                &format!("input.books[{i}]"),
                &book.title,
                book.published_year,
            )
        }));
        both(name, books)
    }
}

impl CreateBookInput {
    /// The validated author id and book.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` listing every invalid field.
    pub fn parse(self) -> ApiResult<(i64, NewBook)> {
        let author_id = parse_id("input.authorId", &self.author_id);
        both(
            author_id,
            new_book("input", &self.title, self.published_year),
        )
    }
}

impl UpdateBookInput {
    /// The validated changes.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` listing every invalid field.
    pub fn parse(self) -> ApiResult<BookChanges> {
        let title = self
            .title
            .map(|title| BookTitle::parse("input.title", &title))
            .transpose();
        let published_year = match self.published_year {
            MaybeUndefined::Undefined => Ok(None),
            MaybeUndefined::Null => Ok(Some(None)),
            MaybeUndefined::Value(year) => {
                PublishedYear::parse("input.publishedYear", year).map(|year| Some(Some(year)))
            }
        };
        let author_id = self
            .author_id
            .map(|id| parse_id("input.authorId", &id))
            .transpose();
        let ((title, published_year), author_id) = both(both(title, published_year), author_id)?;
        Ok(BookChanges {
            title,
            published_year,
            author_id,
        })
    }
}

/// A validated new book; `prefix` locates its fields in error messages.
fn new_book(prefix: &str, title: &str, published_year: Option<i32>) -> ApiResult<NewBook> {
    let title = BookTitle::parse(&format!("{prefix}.title"), title);
    let published_year = published_year
        .map(|year| PublishedYear::parse(&format!("{prefix}.publishedYear"), year))
        .transpose();
    let (title, published_year) = both(title, published_year)?;
    Ok(NewBook {
        title,
        published_year,
    })
}
