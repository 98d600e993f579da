//! `QUERY_TOO_COMPLEX` for queries over the depth or complexity limit (docs/reference.md
//! § Limits).
//!
//! async-graphql enforces `limit_depth` and `limit_complexity` during validation, before any
//! resolver (and so any SQL) runs, but reports them without an `extensions.code`; so does its
//! check before validation, which refuses a selection nested deeper than 32 levels (deeper than
//! any depth limit). This is the one place that recognises those errors and adds the code. It
//! works on the response rather than as an async-graphql extension: any registered extension
//! wraps every field's resolver, which costs CPU on every field of a nested page
//! (BENCHMARKS.md).

use async_graphql::Response;

/// async-graphql's messages for the two limits (7.2 `validation/mod.rs`).
const LIMIT_MESSAGES: [&str; 2] = ["Query is too complex.", "Query is nested too deep."];

/// The start of async-graphql's message for a selection nested deeper than its recursion limit
/// (7.2 `schema.rs`, `check_recursive_depth`).
const TOO_DEEP_PREFIX: &str = "The recursion depth of the query cannot be greater than";

/// Adds `extensions.code = QUERY_TOO_COMPLEX` to the limit violations of `response`.
pub fn add_limit_codes(response: &mut Response) {
    for error in &mut response.errors {
        if error.path.is_empty()
            && (LIMIT_MESSAGES.contains(&error.message.as_str())
                || error.message.starts_with(TOO_DEEP_PREFIX))
        {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "QUERY_TOO_COMPLEX");
        }
    }
}
