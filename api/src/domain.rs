//! Validated values: parse, don't validate (docs/reference.md § Validation).
//!
//! Text is trimmed and measured in Unicode characters, not bytes. Create and update paths share
//! these types, and the store only accepts them, so unvalidated input cannot reach the database.

use crate::error::{ApiError, ApiResult};

/// An author's name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorName(String);

/// A book's title: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookTitle(String);

/// A year of publication in -9999..=9999 (negative for BCE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedYear(i32);

impl AuthorName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Trims `raw` and checks its length.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming `field` when the name is blank, too long or holds a NUL character.
    pub fn parse(field: &str, raw: &str) -> ApiResult<Self> {
        bounded_text(field, raw, Self::MAX_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BookTitle {
    /// The longest title, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Trims `raw` and checks its length.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming `field` when the title is blank, too long or holds a NUL character.
    pub fn parse(field: &str, raw: &str) -> ApiResult<Self> {
        bounded_text(field, raw, Self::MAX_CHARS).map(Self)
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PublishedYear {
    /// The accepted years.
    pub const RANGE: std::ops::RangeInclusive<i32> = -9999..=9999;

    /// Checks that `year` lies in [`PublishedYear::RANGE`].
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming `field` otherwise.
    pub fn parse(field: &str, year: i32) -> ApiResult<Self> {
        if Self::RANGE.contains(&year) {
            Ok(Self(year))
        } else {
            Err(ApiError::invalid(
                field,
                format_args!(
                    "must be between {} and {}, got {year}",
                    Self::RANGE.start(),
                    Self::RANGE.end()
                ),
            ))
        }
    }

    /// The year.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// `raw` trimmed, when it has 1 to `max` characters and no NUL (which PostgreSQL cannot store).
fn bounded_text(field: &str, raw: &str, max: usize) -> ApiResult<String> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid(field, "must not be blank"));
    }
    if chars > max {
        return Err(ApiError::invalid(
            field,
            format_args!("must be at most {max} characters, got {chars}"),
        ));
    }
    if text.contains('\0') {
        return Err(ApiError::invalid(
            field,
            "must not contain the NUL character",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected<T: std::fmt::Debug>(result: ApiResult<T>) -> String {
        match result {
            Err(ApiError::BadUserInput { first, more }) if more.is_empty() => first.message,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn names_are_trimmed_and_counted_in_characters() {
        assert_eq!(
            AuthorName::parse("name", "  Ada \n").unwrap().as_str(),
            "Ada"
        );
        assert!(
            AuthorName::parse("name", &"é".repeat(100)).is_ok(),
            "100 two-byte characters fit"
        );
        assert!(AuthorName::parse("name", &"字".repeat(100)).is_ok());
        assert!(AuthorName::parse("name", "x").is_ok());
        assert!(rejected(AuthorName::parse("name", &"a".repeat(101))).contains("100"));
        assert!(rejected(AuthorName::parse("input.name", " \t ")).contains("input.name"));
        rejected(AuthorName::parse("name", ""));
        rejected(AuthorName::parse("name", "nul\0inside"));
    }

    #[test]
    fn titles_allow_two_hundred_characters() {
        assert!(BookTitle::parse("title", &"ß".repeat(200)).is_ok());
        assert!(BookTitle::parse("title", &format!("  {}  ", "t".repeat(200))).is_ok());
        assert!(rejected(BookTitle::parse("title", &"t".repeat(201))).contains("200"));
        rejected(BookTitle::parse("title", ""));
    }

    #[test]
    fn years_lie_within_four_digits_either_side_of_zero() {
        assert_eq!(PublishedYear::parse("year", -9999).unwrap().get(), -9999);
        assert_eq!(PublishedYear::parse("year", 9999).unwrap().get(), 9999);
        assert!(rejected(PublishedYear::parse("year", 10000)).contains("9999"));
        rejected(PublishedYear::parse("year", -10000));
        rejected(PublishedYear::parse("year", i32::MIN));
    }
}
