//! The GraphQL schema: types wrap entities, resolvers parse arguments, call `store` or a loader,
//! and wrap the result. It depends on the store, the domain types and the error type below it,
//! never on the application's configuration or its HTTP layer.

mod author;
mod batching;
mod book;
mod connection;
mod documents;
mod feeds;
mod fields;
mod inputs;
mod json;
mod limits;
mod lists;
mod loaders;
mod mutation;
mod query;
mod relations;
mod response;
mod subscription;

use std::{sync::Arc, time::Duration};

use async_graphql::{Context, Request, Schema, SchemaBuilder};
use futures_util::{StreamExt, stream::BoxStream};
use sea_orm::DatabaseConnection;

use self::{
    batching::Standstill, documents::Documents, feeds::Feeds, inputs::MaxPageSize,
    json::ListsAsJson, loaders::Loaders,
};
pub use self::{
    documents::Prepared,
    feeds::{Delivery, Payload},
    inputs::MAX_PAGE_SIZE_LIMIT,
    loaders::BatchObserver,
    mutation::MutationRoot,
    query::QueryRoot,
    response::Reply,
    subscription::SubscriptionRoot,
};
use crate::{
    error::{ApiError, ApiResult},
    live::{Changes, Hub},
    store::Reader,
};

/// The service's schema type.
pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without data or limits: enough to print the SDL, with no database.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
}

/// What the schema refuses (docs/reference.md § Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `first` or `last` a client may ask for; a larger one is refused. Above
    /// [`MAX_PAGE_SIZE_LIMIT`] it counts as that limit, which the complexity of a list assumes.
    pub max_page_size: u32,
    /// Deepest selection.
    pub max_depth: usize,
    /// Highest complexity: page sizes times the fields under them.
    pub max_complexity: usize,
    /// Whether introspection queries are answered.
    pub introspection: bool,
    /// The most (estimated) bytes of parsed documents kept for reuse; 0 keeps none.
    pub document_store_bytes: usize,
}

/// The GraphQL service: the schema over a database, executing each request with fresh loaders.
#[derive(Clone)]
pub struct Service {
    schema: ApiSchema,
    /// The primary's pool.
    db: DatabaseConnection,
    /// Whether each request reads in a transaction of its own (see [`Reader`]).
    transaction_per_request: bool,
    batches: Arc<dyn BatchObserver>,
    documents: Arc<Documents>,
    feeds: Arc<Feeds>,
}

impl Service {
    /// The service over `db`, the primary's pool, refusing what `limits` refuse; each request
    /// reads in a transaction of its own when `transaction_per_request` (behind a
    /// transaction-mode pooler). The loaders report the size of each batch to `batches`.
    ///
    /// Mutations announce their changes to `changes`; subscriptions read them from `hub`.
    ///
    /// It registers no extension: `lists` resolves lists a field at a time, without the
    /// per-field hooks an extension would expect.
    pub fn new(
        db: DatabaseConnection,
        transaction_per_request: bool,
        limits: Limits,
        batches: Arc<dyn BatchObserver>,
        changes: Changes,
        hub: Hub,
    ) -> Self {
        let builder = schema_builder()
            .data(changes)
            .data(MaxPageSize(limits.max_page_size.min(MAX_PAGE_SIZE_LIMIT)))
            .limit_depth(limits.max_depth)
            .limit_complexity(limits.max_complexity);
        let schema = if limits.introspection {
            builder.finish()
        } else {
            builder.disable_introspection().finish()
        };
        Self {
            schema,
            feeds: Arc::new(Feeds::new(
                hub,
                db.clone(),
                transaction_per_request,
                Arc::clone(&batches),
            )),
            db,
            transaction_per_request,
            batches,
            documents: Arc::new(Documents::new(limits.document_store_bytes)),
        }
    }

    /// `request` with its parsed document, from the store of documents when its text was seen.
    pub fn prepare(&self, request: Request) -> Prepared {
        self.documents.prepare(request)
    }

    /// Executes one request: [`Service::prepare`], then [`Service::run`].
    pub async fn execute(&self, request: Request) -> Reply {
        self.run(self.prepare(request)).await
    }

    /// Executes a prepared request on the primary: [`Service::run_on`] its pool.
    pub async fn run(&self, prepared: Prepared) -> Reply {
        self.run_on(prepared, &self.db.clone()).await
    }

    /// Executes a prepared request with every statement on `db` (the primary's pool, or a
    /// replica's), with fresh per-request loaders whose batches are deterministic.
    pub async fn run_on(&self, prepared: Prepared, db: &DatabaseConnection) -> Reply {
        if let Some(refusal) = prepared.refusal {
            return Reply::new(async_graphql::Response::from_errors(vec![refusal]));
        }
        let lists_as_json = prepared.lists_as_json();
        let mut request = prepared.request;
        if lists_as_json {
            request = request.data(ListsAsJson);
        }
        let standstill = Standstill::new();
        let reader = Reader::new(db.clone(), self.transaction_per_request);
        let request =
            request
                .data(reader.clone())
                .data(Loaders::new(&reader, &self.batches, &standstill));
        let mut response = standstill.run(self.schema.execute(request)).await;
        if let Err(err) = reader.release().await {
            // What the request read stands; the pool closes a broken connection.
            tracing::warn!(error = %err, "ending a request's reading transaction failed");
        }
        limits::add_limit_codes(&mut response);
        Reply::new(response)
    }
}

impl Service {
    /// The responses of a prepared request over WebSocket: a subscription's, from its feed (see
    /// [`feeds`]), or the one response of a query, which may take `timeout`. The client is
    /// registered when this returns. The caller refuses mutations beforehand.
    pub fn subscribe(&self, prepared: Prepared, timeout: Duration) -> BoxStream<'static, Delivery> {
        if prepared.refusal.is_some() || !prepared.is_subscription() {
            let service = self.clone();
            return futures_util::stream::once(async move {
                match tokio::time::timeout(timeout, service.run(prepared)).await {
                    Ok(reply) => feeds::delivery(&reply),
                    Err(_) => Delivery::Refused(
                        serde_json::json!([{
                            "message": format!("the operation took longer than {} s", timeout.as_secs()),
                            "extensions": { "code": "REQUEST_TIMEOUT" },
                        }])
                        .to_string()
                        .into(),
                    ),
                }
            })
            .boxed();
        }
        self.feeds.join(&self.schema, prepared.request).boxed()
    }
}

/// Typed access to what resolvers need from the context.
trait ContextExt {
    /// Where this request's statements go.
    fn db(&self) -> ApiResult<&Reader>;
    /// This request's loaders.
    fn loaders(&self) -> ApiResult<&Loaders>;
    /// The page-size limit.
    fn max_page_size(&self) -> ApiResult<MaxPageSize>;
    /// Where mutations announce their changes.
    fn changes(&self) -> ApiResult<&Changes>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> ApiResult<&Reader> {
        self.data::<Reader>()
            .map_err(|_| missing("the database connection"))
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        self.data::<Loaders>()
            .map_err(|_| missing("the request loaders"))
    }

    fn changes(&self) -> ApiResult<&Changes> {
        self.data::<Changes>()
            .map_err(|_| missing("the announcer of changes"))
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
