//! One error type for the whole API, and its one conversion to the wire.
//!
//! Resolvers and store functions return [`ApiResult`]. The `custom-error-conversion` feature of
//! async-graphql is on, so a database error can only reach a client through [`ApiError`], whose
//! conversion logs the cause and sends a generic message (docs/reference.md § Errors).

use std::sync::{
    Arc, LazyLock,
    atomic::{AtomicU64, Ordering},
};

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// Result of every fallible operation of the API.
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything that can go wrong while answering a request, in the vocabulary of docs/reference.md § Errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The client sent arguments the API cannot accept; the client sees `BAD_USER_INPUT` with the
    /// first broken rule as the message, and every one in `extensions.invalid`.
    #[error("{}", .first.message)]
    BadUserInput {
        /// The first broken rule.
        first: Invalid,
        /// The others, in the order of the input.
        more: Vec<Invalid>,
    },
    /// The client named a row that does not exist; the client sees `NOT_FOUND`.
    #[error("{entity} {id} not found")]
    NotFound {
        /// The kind of row, e.g. `author`.
        entity: &'static str,
        /// The id the client gave.
        id: i64,
    },
    /// Committed changes may not have reached a subscription (the server's connection to the
    /// database dropped, or the subscriber fell behind); the client sees `EVENTS_MISSED` and
    /// should refetch what it shows.
    #[error("changes may have been missed: refetch what you show")]
    EventsMissed,
    /// The database failed; the client sees `INTERNAL_SERVER_ERROR` with a generic message while
    /// the cause is logged on the server.
    #[error("internal server error")]
    Internal(#[source] Arc<DbErr>),
}

/// One broken rule of the input: the argument's path, as the client spelled the query
/// (`input.books[1].title`), and a message that names it and says the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The path of the argument or input field.
    pub argument: String,
    /// What is wrong with it.
    pub message: String,
}

impl ApiError {
    /// A `BAD_USER_INPUT` error about `argument`, with the message "`argument` rule".
    pub fn invalid(argument: &str, rule: impl std::fmt::Display) -> Self {
        Self::bad_input(argument, format!("`{argument}` {rule}"))
    }

    /// A `BAD_USER_INPUT` error about `argument`, with the given message.
    pub fn bad_input(argument: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            first: Invalid {
                argument: argument.into(),
                message: message.into(),
            },
            more: Vec::new(),
        }
    }

    /// The broken rules of both errors, in order, when both are `BAD_USER_INPUT`; otherwise the
    /// one that is not (`self` when neither is): a failure that is not the input's wins over
    /// problems with the input, wherever it comes.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (
                Self::BadUserInput { first, mut more },
                Self::BadUserInput {
                    first: next,
                    more: rest,
                },
            ) => {
                more.push(next);
                more.extend(rest);
                Self::BadUserInput { first, more }
            }
            (Self::BadUserInput { .. }, other) => other,
            (err, _) => err,
        }
    }

    /// An internal error that is not the database's (a programming error), reported like one.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(Arc::new(DbErr::Custom(message.into())))
    }

    /// The `extensions.code` the client sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::EventsMissed => "EVENTS_MISSED",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        Self::Internal(Arc::new(err))
    }
}

/// What the operator can do about `cause`, when it is a known misconfiguration.
fn hint(cause: &DbErr) -> Option<&'static str> {
    let message = cause.to_string();
    // sqlx names the statements it prepares `sqlx_s_N` and never closes them: a pooler that
    // hands a server connection to the next client without a reset leaves them there.
    (message.contains("prepared statement \"sqlx_s_")
        && (message.contains("already exists") || message.contains("does not exist")))
    .then_some(
        "a prepared statement was found on the wrong server connection: behind a pooler in \
         transaction mode, set DATABASE_POOLER=transaction, and in PgBouncer \
         server_reset_query_always = 1 (docs/reference.md § Behind PgBouncer)",
    )
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let code = err.code();
        let error_id = match &err {
            ApiError::Internal(cause) => {
                let id = next_error_id();
                tracing::error!(error.id = %id, error.cause = %cause, error.debug = ?cause, "database error");
                if let Some(hint) = hint(cause) {
                    tracing::error!(error.id = %id, "{hint}");
                }
                Some(id)
            }
            _ => None,
        };
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            if let ApiError::BadUserInput { first, more } = &err {
                // Where the problems are, for a form to show each next to its field.
                ext.set("argument", first.argument.as_str());
                let invalid = std::iter::once(first).chain(more).map(|invalid| {
                    async_graphql::value!({
                        "argument": invalid.argument.as_str(),
                        "message": invalid.message.as_str(),
                    })
                });
                ext.set("invalid", async_graphql::Value::List(invalid.collect()));
            }
            if let Some(id) = &error_id {
                // The one detail a client gets of an internal error: the key to its log line.
                ext.set("errorId", id.as_str());
            }
        })
    }
}

/// A new identifier for an internal error: unique within this process and, through its start
/// time, across restarts.
fn next_error_id() -> String {
    static STARTED: LazyLock<u64> = LazyLock::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:x}-{:x}", *STARTED, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Every value of `results`, or every broken rule among them (see [`ApiError::and`]).
///
/// # Errors
/// The errors of `results`, combined.
pub fn all<T>(results: impl IntoIterator<Item = ApiResult<T>>) -> ApiResult<Vec<T>> {
    let mut values = Vec::new();
    let mut failure: Option<ApiError> = None;
    for result in results {
        match (result, failure.take()) {
            (Ok(value), None) => values.push(value),
            (Ok(_), Some(err)) => failure = Some(err),
            (Err(err), None) => failure = Some(err),
            (Err(err), Some(earlier)) => failure = Some(earlier.and(err)),
        }
    }
    failure.map_or(Ok(values), Err)
}

/// Both values, or the broken rules of either or both (see [`ApiError::and`]).
///
/// # Errors
/// The errors of `a` and `b`, combined.
pub fn both<A, B>(a: ApiResult<A>, b: ApiResult<B>) -> ApiResult<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
        (Err(a), Err(b)) => Err(a.and(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_left_by_a_pooler_gets_a_hint_and_other_errors_none() {
        let left = DbErr::Custom(
            "error returned from database: prepared statement \"sqlx_s_3\" already exists".into(),
        );
        assert!(hint(&left).is_some_and(|hint| hint.contains("server_reset_query_always")));
        assert_eq!(hint(&DbErr::Custom("connection refused".into())), None);
    }

    fn arguments(result: ApiResult<impl std::fmt::Debug>) -> Vec<String> {
        match result {
            Err(ApiError::BadUserInput { first, more }) => std::iter::once(first)
                .chain(more)
                .map(|invalid| invalid.argument)
                .collect(),
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn input_problems_are_kept_in_order() {
        let bad = |argument| ApiResult::<()>::Err(ApiError::invalid(argument, "is wrong"));
        let combined = all([bad("a"), Ok(()), bad("b")]);
        assert_eq!(arguments(both(combined, bad("c"))), ["a", "b", "c"]);
        assert_eq!(all([Ok(1), Ok(2)]).unwrap(), [1, 2]);
    }

    #[test]
    fn a_failure_that_is_not_the_input_wins_wherever_it_comes() {
        let bad = ApiError::invalid("name", "must not be blank");
        let missing = ApiError::NotFound {
            entity: "author",
            id: 7,
        };
        assert_eq!(bad.clone().and(missing.clone()).code(), "NOT_FOUND");
        assert_eq!(missing.clone().and(bad).code(), "NOT_FOUND");
        assert_eq!(
            ApiError::internal("x").and(missing).code(),
            "INTERNAL_SERVER_ERROR"
        );
    }
}
