//! The application: its state, its router and the server loop.
//!
//! [`build_app`] is pure (no I/O, no environment), so tests drive the very router that serves.

use std::time::Duration;

use axum::{
    Router,
    http::{HeaderValue, Method, header},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    limit::RequestBodyLimitLayer,
    trace::TraceLayer,
};

use crate::{
    config::Config,
    db::StatementCounter,
    graphql::{self, ApiSchema, Limits},
    http,
};

/// Largest request body accepted (`API.md` § Limits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The schema, with its limits.
    pub schema: ApiSchema,
    /// Statements executed on `db`.
    pub statements: StatementCounter,
    /// Browser origins allowed by CORS.
    pub cors_allowed_origins: Vec<String>,
}

impl AppState {
    /// The state for `db`, configured by `config`.
    pub fn new(db: DatabaseConnection, statements: StatementCounter, config: &Config) -> Self {
        let limits = Limits {
            max_page_size: config.max_page_size,
            max_depth: config.max_query_depth,
            max_complexity: config.max_query_complexity,
        };
        Self {
            schema: graphql::build_schema(db.clone(), limits),
            db,
            statements,
            cors_allowed_origins: config.cors_allowed_origins.clone(),
        }
    }
}

/// The service's router.
pub fn build_app(state: AppState) -> Router {
    let cors = cors_layer(&state.cors_allowed_origins);
    Router::new()
        .route("/graphql", get(http::get_graphql).post(http::post_graphql))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
}

/// CORS for `origins`: none allowed when empty, any with `*`.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(3600))
}

/// Serves `app` on `listener` until Ctrl-C or SIGTERM, then lets requests in flight finish.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
