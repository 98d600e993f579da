//! The arguments of lists: pages, orderings and filters.

use async_graphql::{Enum, ID, InputObject};

use super::parse_id;
use crate::{
    domain::{AuthorName, BookTitle},
    error::{ApiError, ApiResult},
    store::{
        Direction, Ordering, SortField, Window,
        author::{AuthorFilter, AuthorSort},
        book::{BookFilter, BookSort},
    },
};

/// Page size when a list is asked for with neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// The highest page-size limit the service accepts.
pub const MAX_PAGE_SIZE_LIMIT: u32 = 1_000;

/// The largest page a client may ask for; schema data.
#[derive(Debug, Clone, Copy)]
pub struct MaxPageSize(pub u32);

/// Which way a list is sorted.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl From<OrderDirection> for Direction {
    fn from(direction: OrderDirection) -> Self {
        match direction {
            OrderDirection::Asc => Self::Asc,
            OrderDirection::Desc => Self::Desc,
        }
    }
}

/// What authors can be sorted by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorOrderField {
    /// The ID, in creation order.
    Id,
    /// The name.
    Name,
}

/// One key of an author ordering; ties are always broken by ID, in the direction of the last key.
#[derive(InputObject, Debug, Clone)]
pub struct AuthorOrder {
    /// The field to sort by.
    pub field: AuthorOrderField,
    /// The direction; ascending by default.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What books can be sorted by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOrderField {
    /// The ID, in creation order.
    Id,
    /// The title.
    Title,
    /// The year of publication; books without one come last in ascending order.
    PublishedYear,
}

/// One key of a book ordering; ties are always broken by ID, in the direction of the last key.
#[derive(InputObject, Debug, Clone)]
pub struct BookOrder {
    /// The field to sort by.
    pub field: BookOrderField,
    /// The direction; ascending by default.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Which authors to list; every condition given must hold, and an empty filter matches all.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "AuthorFilter")]
pub struct AuthorFilterInput {
    /// Only authors whose name contains this text, ignoring case.
    pub name_contains: Option<String>,
    /// Only authors with one of these IDs.
    pub ids: Option<Vec<ID>>,
}

/// Which books to list; every condition given must hold, and an empty filter matches all.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "BookFilter")]
pub struct BookFilterInput {
    /// Only books whose title contains this text, ignoring case.
    pub title_contains: Option<String>,
    /// Only books published in this year or later.
    pub published_year_from: Option<i32>,
    /// Only books published in this year or earlier.
    pub published_year_to: Option<i32>,
}

/// Most IDs an `ids` filter may list.
pub const MAX_FILTER_IDS: usize = 1_000;

impl AuthorFilterInput {
    /// The store's form of an optional filter.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for a malformed ID, too many IDs or an unusable `nameContains`.
    pub fn parse(filter: Option<Self>) -> ApiResult<AuthorFilter> {
        let Some(filter) = filter else {
            return Ok(AuthorFilter::default());
        };
        let ids = match filter.ids {
            Some(ids) if ids.len() > MAX_FILTER_IDS => {
                return Err(ApiError::invalid(
                    "filter.ids",
                    format_args!("may list at most {MAX_FILTER_IDS} IDs, got {}", ids.len()),
                ));
            }
            Some(ids) => Some(
                ids.iter()
                    .map(|id| parse_id("filter.ids", id))
                    .collect::<ApiResult<_>>()?,
            ),
            None => None,
        };
        Ok(AuthorFilter {
            name_contains: needle(
                "filter.nameContains",
                filter.name_contains,
                AuthorName::MAX_CHARS,
            )?,
            ids,
        })
    }
}

impl BookFilterInput {
    /// The store's form of an optional filter.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for an unusable `titleContains`.
    pub fn parse(filter: Option<Self>) -> ApiResult<BookFilter> {
        let filter = filter.unwrap_or_default();
        Ok(BookFilter {
            title_contains: needle(
                "filter.titleContains",
                filter.title_contains,
                BookTitle::MAX_CHARS,
            )?,
            published_year_from: filter.published_year_from,
            published_year_to: filter.published_year_to,
        })
    }
}

/// A `…Contains` text: no longer than the column it searches (a longer one could never match)
/// and without NUL, which PostgreSQL cannot compare.
fn needle(field: &str, text: Option<String>, max_chars: usize) -> ApiResult<Option<String>> {
    match text {
        Some(text) if text.chars().count() > max_chars => Err(ApiError::invalid(
            field,
            format_args!("must be at most {max_chars} characters"),
        )),
        Some(text) if text.contains('\0') => Err(ApiError::invalid(
            field,
            "must not contain the NUL character",
        )),
        text => Ok(text),
    }
}

/// The store's ordering for an `orderBy` argument.
pub fn author_ordering(order_by: Option<Vec<AuthorOrder>>) -> Ordering<AuthorSort> {
    Ordering::new(order_by.unwrap_or_default().into_iter().map(|o| {
        let field = match o.field {
            AuthorOrderField::Id => AuthorSort::Id,
            AuthorOrderField::Name => AuthorSort::Name,
        };
        (field, o.direction.into())
    }))
}

/// The store's ordering for an `orderBy` argument.
pub fn book_ordering(order_by: Option<Vec<BookOrder>>) -> Ordering<BookSort> {
    Ordering::new(order_by.unwrap_or_default().into_iter().map(|o| {
        let field = match o.field {
            BookOrderField::Id => BookSort::Id,
            BookOrderField::Title => BookSort::Title,
            BookOrderField::PublishedYear => BookSort::PublishedYear,
        };
        (field, o.direction.into())
    }))
}

/// The Relay arguments of a list field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The window these arguments select in `ordering`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when `first` and `last` are both given, either is negative or above `max`,
    /// or a cursor is malformed.
    pub fn window<F: SortField>(
        self,
        ordering: &Ordering<F>,
        max: MaxPageSize,
    ) -> ApiResult<Window> {
        let (limit, from_end) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input(
                    "last",
                    "`first` and `last` cannot be used together",
                ));
            }
            (first, None) => (optional_page_size("first", first, max)?, false),
            (None, Some(last)) => (optional_page_size("last", Some(last), max)?, true),
        };
        let after = self
            .after
            .map(|text| ordering.parse_cursor("after", &text))
            .transpose()?;
        let before = self
            .before
            .map(|text| ordering.parse_cursor("before", &text))
            .transpose()?;
        Ok(Window {
            after,
            before,
            limit,
            from_end,
        })
    }
}

/// Checks a `first`/`last` value against the page-size limit, never clamping; the default page
/// size (or the limit, if lower) when the argument is absent.
///
/// # Errors
/// `BAD_USER_INPUT` naming the argument and the limit.
pub fn optional_page_size(argument: &str, value: Option<i32>, max: MaxPageSize) -> ApiResult<u64> {
    let Some(value) = value else {
        return Ok(DEFAULT_PAGE_SIZE.min(u64::from(max.0)));
    };
    match u32::try_from(value) {
        Ok(size) if size <= max.0 => Ok(u64::from(size)),
        _ => Err(ApiError::invalid(
            argument,
            format_args!("must be between 0 and {}, got {value}", max.0),
        )),
    }
}

/// The complexity of a list field: its page size times the cost of one element, so aliases and
/// nested pages add up (docs/reference.md § Limits).
///
/// A size outside `0..=MAX_PAGE_SIZE_LIMIT` counts as 1: the resolver refuses it with
/// `BAD_USER_INPUT` naming the page-size limit, before any SQL runs.
pub fn list_complexity(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let size = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE, |n| u64::try_from(n).unwrap_or(0));
    let size = if size > u64::from(MAX_PAGE_SIZE_LIMIT) {
        1
    } else {
        size.max(1)
    };
    usize::try_from(size)
        .unwrap_or(1)
        .saturating_mul(child.max(1))
}
