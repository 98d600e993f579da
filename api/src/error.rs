//! One error type for the whole API, and its one conversion to the wire.
//!
//! Resolvers and store functions return [`ApiResult`]. The `custom-error-conversion` feature of
//! async-graphql is on, so a database error can only reach a client through [`ApiError`], whose
//! conversion logs the cause and sends a generic message (`API.md` § Errors).

use std::sync::Arc;

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// Result of every fallible operation of the API.
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything that can go wrong while answering a request, in the contract's vocabulary.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The client sent an argument the API cannot accept; the client sees `BAD_USER_INPUT` and the
    /// message, which names the argument and the rule it broke.
    #[error("{0}")]
    BadUserInput(String),
    /// The client named a row that does not exist; the client sees `NOT_FOUND`.
    #[error("{entity} {id} not found")]
    NotFound {
        /// The kind of row, e.g. `author`.
        entity: &'static str,
        /// The id the client gave.
        id: i64,
    },
    /// The database failed; the client sees `INTERNAL_SERVER_ERROR` with a generic message while
    /// the cause is logged on the server.
    #[error("internal server error")]
    Internal(#[source] Arc<DbErr>),
}

impl ApiError {
    /// A `BAD_USER_INPUT` error with the given message.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    /// The `extensions.code` the client sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        Self::Internal(Arc::new(err))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(cause) = &err {
            tracing::error!(error.cause = %cause, error.debug = ?cause, "database error");
        }
        let code = err.code();
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| ext.set("code", code))
    }
}
