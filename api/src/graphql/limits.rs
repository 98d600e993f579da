//! `QUERY_TOO_COMPLEX` for queries over the depth or complexity limit (`API.md` § Limits).
//!
//! async-graphql enforces `limit_depth` and `limit_complexity` during validation, before any
//! resolver (and so any SQL) runs, but reports them without an `extensions.code`. This extension is
//! the one place that recognises those errors and adds the code.

use std::sync::Arc;

use async_graphql::{
    ServerError, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
};

/// async-graphql's messages for the two limits (7.2 `validation/mod.rs`).
const LIMIT_MESSAGES: [&str; 2] = ["Query is too complex.", "Query is nested too deep."];

/// Adds `extensions.code = QUERY_TOO_COMPLEX` to limit violations.
pub struct QueryLimitCodes;

impl ExtensionFactory for QueryLimitCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimitCodes {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|mut error| {
                    if LIMIT_MESSAGES.contains(&error.message.as_str()) {
                        error
                            .extensions
                            .get_or_insert_with(Default::default)
                            .set("code", "QUERY_TOO_COMPLEX");
                    }
                    error
                })
                .collect()
        })
    }
}
