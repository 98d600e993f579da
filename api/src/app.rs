//! The application: its state, its router and the server loop.
//!
//! [`build_app`] is pure (no I/O, no environment), so tests drive the very router that serves.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath},
    http::{HeaderValue, Method, Request, StatusCode, header},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, sync::watch};
use tower_http::{
    LatencyUnit,
    cors::{AllowOrigin, Any, CorsLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{config::Config, graphql, http, metrics::Metrics};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The GraphQL service: the schema with its limits, over `db`.
    pub graphql: graphql::Service,
    /// The application's metrics, SQL statements included.
    pub metrics: Metrics,
    /// Browser origins allowed by CORS.
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

impl AppState {
    /// The state for `db`, configured by `config`.
    pub fn new(db: DatabaseConnection, metrics: Metrics, config: &Config) -> Self {
        Self {
            graphql: graphql::Service::new(db.clone(), config.limits(), Arc::new(metrics.clone())),
            db,
            metrics,
            cors_allowed_origins: config.cors_allowed_origins.clone(),
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout(),
        }
    }
}

/// The service's router.
pub fn build_app(state: AppState) -> Router {
    let cors = cors_layer(&state.cors_allowed_origins);
    let body_limit = DefaultBodyLimit::max(state.max_body_bytes);
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.request_timeout);
    // One log line per request, when it ends: method, path, GraphQL operation, status, latency.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let path = request
                .extensions()
                .get::<MatchedPath>()
                .map_or(request.uri().path(), MatchedPath::as_str);
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %path,
                operation = tracing::field::Empty,
            )
        })
        .on_request(())
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Millis),
        );
    Router::new()
        .route("/graphql", get(http::get_graphql).post(http::post_graphql))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .with_state(state)
        .layer(body_limit)
        .layer(timeout)
        .layer(cors)
        .layer(trace)
}

/// CORS for `origins`: none allowed when empty, any with `*`.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o.trim() == "*") {
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

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting connections and
/// gives requests in flight up to `grace` to finish.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping, mut stopped) = watch::channel(false);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stopping.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let deadline = async move {
        if stopped.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server.into_future() => result,
        () = deadline => {
            tracing::warn!(?grace, "requests still in flight after the shutdown grace period; stopping anyway");
            Ok(())
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
}
