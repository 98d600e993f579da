//! GraphQL input types and their parsing into the store's domain types.
//!
//! Parsing is where the argument rules live (docs/reference.md § Types and semantics): IDs are
//! integers, page sizes lie in `0..=max`, `first` and `last` exclude each other, cursors belong
//! to their ordering, and mutation inputs become the validated values of [`crate::domain`].

mod lists;
mod mutations;

use async_graphql::ID;

pub use self::{
    lists::{
        AuthorFilterInput, AuthorOrder, BookFilterInput, BookOrder, MAX_PAGE_SIZE_LIMIT,
        MaxPageSize, PageArgs, author_ordering, book_ordering, list_complexity, optional_page_size,
    },
    mutations::{CreateAuthorInput, CreateBookInput, UpdateAuthorInput, UpdateBookInput},
};
use crate::error::{ApiError, ApiResult};

/// Reads a client-supplied ID as the integer key it stands for.
///
/// # Errors
/// `BAD_USER_INPUT` naming `argument` when the ID is not a decimal 64-bit integer.
pub fn parse_id(argument: &str, id: &ID) -> ApiResult<i64> {
    id.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            argument,
            format_args!(
                "must be an integer ID such as \"42\", got {:?}",
                id.as_str()
            ),
        )
    })
}
