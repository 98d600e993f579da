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

    /// An internal error that is not the database's (a programming error), reported like one.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(Arc::new(DbErr::Custom(message.into())))
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
        let code = err.code();
        let error_id = match &err {
            ApiError::Internal(cause) => {
                let id = next_error_id();
                tracing::error!(error.id = %id, error.cause = %cause, error.debug = ?cause, "database error");
                Some(id)
            }
            _ => None,
        };
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
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
