//! The GraphQL schema: types wrap entities, resolvers parse arguments, call `store` or a loader,
//! and wrap the result.

mod author;
mod batching;
mod book;
mod connection;
mod inputs;
mod json;
mod limits;
mod lists;
mod loaders;

use async_graphql::{
    Context, EmptySubscription, MergedObject, Request, Response, Schema, SchemaBuilder,
};
use sea_orm::DatabaseConnection;

pub use self::inputs::{MAX_PAGE_SIZE_LIMIT, MaxPageSize};
pub use self::json::to_json;
use self::{batching::Standstill, json::ListsAsJson, loaders::Loaders};
use crate::{
    config::Config,
    error::{ApiError, ApiResult},
    metrics::Metrics,
};

/// Every query of the API.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(author::AuthorQuery, book::BookQuery);

/// Every mutation of the API.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(author::AuthorMutation, book::BookMutation);

/// The service's schema type.
pub type ApiSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema without data or limits: enough to print the SDL, with no database.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
}

/// The schema that serves requests over `db`, with the limits and switches of `config`
/// (`API.md` § Limits). It registers no extension: `lists` resolves lists a field at a time,
/// without the per-field hooks an extension would expect.
pub fn build_schema(db: DatabaseConnection, config: &Config) -> ApiSchema {
    let builder = schema_builder()
        .data(db)
        .data(MaxPageSize(config.max_page_size))
        .limit_depth(config.max_query_depth)
        .limit_complexity(config.max_query_complexity);
    if config.disable_introspection {
        builder.disable_introspection().finish()
    } else {
        builder.finish()
    }
}

/// Executes one request with fresh per-request loaders whose batches are deterministic. Lists of
/// columns may come already written as JSON (`json`): write the response with [`to_json`].
pub async fn execute(
    schema: &ApiSchema,
    db: &DatabaseConnection,
    metrics: &Metrics,
    mut request: Request,
) -> Response {
    if request.parsed_query().is_ok_and(ListsAsJson::allowed) {
        request = request.data(ListsAsJson);
    }
    let standstill = Standstill::new();
    let request = request.data(Loaders::new(db, metrics, &standstill));
    let mut response = standstill.run(schema.execute(request)).await;
    limits::add_limit_codes(&mut response);
    response
}

/// Typed access to what resolvers need from the context.
trait ContextExt {
    /// The connection pool.
    fn db(&self) -> ApiResult<&DatabaseConnection>;
    /// This request's loaders.
    fn loaders(&self) -> ApiResult<&Loaders>;
    /// The page-size limit.
    fn max_page_size(&self) -> ApiResult<MaxPageSize>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> ApiResult<&DatabaseConnection> {
        self.data::<DatabaseConnection>()
            .map_err(|_| missing("the database connection"))
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        self.data::<Loaders>()
            .map_err(|_| missing("the request loaders"))
    }

    fn max_page_size(&self) -> ApiResult<MaxPageSize> {
        self.data::<MaxPageSize>()
            .copied()
            .map_err(|_| missing("the page-size limit"))
    }
}

/// A schema built without its data: a programming error, reported as an internal error.
fn missing(what: &str) -> ApiError {
    tracing::error!("{what} is missing from the GraphQL context");
    ApiError::internal(format!("{what} is missing"))
}
