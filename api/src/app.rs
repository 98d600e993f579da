//! The application: its state, its router and the server loop.
//!
//! [`build_app`] is pure (no I/O, no environment), so tests drive the very router that serves.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath},
    http::{HeaderName, HeaderValue, Method, Request, StatusCode},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, sync::watch};
use tower_http::{
    CompressionLevel, LatencyUnit,
    compression::{
        CompressionLayer,
        predicate::{NotForContentType, Predicate, SizeAbove},
    },
    cors::{AllowHeaders, AllowOrigin, Any, CorsLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::Auth,
    config::{Config, Pooler},
    graphql, http,
    live::{self, Changes, Hub},
    metrics::Metrics,
    playground,
    replicas::Replicas,
    ws::Connections,
};

/// What every request handler shares (cloned for each request, so it holds only handles).
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The GraphQL service: the schema with its limits, over `db`.
    pub graphql: graphql::Service,
    /// The application's metrics, SQL statements included.
    pub metrics: Metrics,
    /// How HTTP requests are treated.
    pub http: Arc<HttpSettings>,
    /// Who may do what.
    pub auth: Arc<Auth>,
    /// Where committed changes reach this instance's subscribers.
    pub hub: Hub,
    /// The WebSocket connections and their limits.
    pub connections: Arc<Connections>,
    /// The read replicas, if any.
    pub replicas: Arc<Replicas>,
}

/// How HTTP requests are treated (docs/reference.md § Configuration).
#[derive(Debug)]
pub struct HttpSettings {
    /// Browser origins allowed by CORS; `*` for any.
    pub cors_allowed_origins: Vec<String>,
    /// Request headers allowed by CORS; `*` for any.
    pub cors_allowed_headers: Vec<String>,
    /// The smallest response compressed; 0 for none.
    pub compression_min_bytes: u16,
    /// Whether browsers get the playground.
    pub playground: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

impl AppState {
    /// The state for `db`, configured by `config`.
    ///
    /// # Errors
    /// Token settings that cannot be used (a key file that cannot be read, a short secret).
    pub fn new(db: DatabaseConnection, metrics: Metrics, config: &Config) -> Result<Self, String> {
        Ok(Self::with_auth(
            db,
            metrics,
            config,
            Auth::from_config(config)?,
        ))
    }

    /// The state for `db`, configured by `config`, with access control `auth`.
    ///
    /// On PostgreSQL it starts listening for committed changes (`DATABASE_LISTEN_URL`), on a
    /// connection of its own, for as long as the state lives.
    pub fn with_auth(
        db: DatabaseConnection,
        metrics: Metrics,
        config: &Config,
        auth: Auth,
    ) -> Self {
        let notifies = db.get_database_backend() == sea_orm::DbBackend::Postgres;
        let hub = Hub::new(!notifies);
        if notifies {
            live::listen(config.listen_url(), &hub, Arc::new(metrics.clone()));
        }
        Self {
            auth: Arc::new(auth),
            graphql: graphql::Service::new(
                db.clone(),
                config.database_pooler == Pooler::Transaction,
                config.limits(),
                Arc::new(metrics.clone()),
                Changes::new(hub.clone()),
                hub.clone(),
            ),
            hub,
            replicas: Arc::new(Replicas::none(&metrics)),
            connections: Arc::new(Connections::new(
                config.ws_max_connections as usize,
                config.ws_settings(),
            )),
            db,
            metrics,
            http: Arc::new(HttpSettings {
                cors_allowed_origins: config.cors_allowed_origins.clone(),
                cors_allowed_headers: config.cors_allowed_headers.clone(),
                compression_min_bytes: config.compression_min_bytes,
                playground: config.playground,
                max_body_bytes: config.max_body_bytes,
                request_timeout: config.request_timeout(),
            }),
        }
    }
}

impl AppState {
    /// This state, reading from `replicas`, which it starts checking.
    #[must_use]
    pub fn with_replicas(mut self, replicas: Replicas) -> Self {
        let replicas = Arc::new(replicas);
        Replicas::watch(&replicas);
        self.replicas = replicas;
        self
    }
}

/// The service's router.
pub fn build_app(state: AppState) -> Router {
    let settings = Arc::clone(&state.http);
    let cors = cors_layer(&settings);
    let body_limit = DefaultBodyLimit::max(settings.max_body_bytes);
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout);
    // Compressed once the response is large enough to span more than one TCP segment on a
    // typical network; never what is already compressed, nor event streams. At quality 1: on Q1
    // (75 KB) brotli 4 took 4 x the CPU of brotli 1 for 8% fewer bytes (BENCHMARKS.md).
    let compression = CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(CompressionLevel::Precise(1))
        .compress_when(
            SizeAbove::new(settings.compression_min_bytes)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE)
                .and(Switch(settings.compression_min_bytes > 0)),
        );
    // One log line per request, when it ends: method, path, GraphQL operation, the token's
    // subject (never the token), status, latency.
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
                subject = tracing::field::Empty,
            )
        })
        .on_request(())
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Millis),
        );
    let mut router = Router::new();
    if settings.playground {
        router = router.route("/playground/{*path}", get(playground::asset));
    }
    router
        .route("/graphql", get(http::get_graphql).post(http::post_graphql))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .with_state(state)
        .layer(body_limit)
        .layer(timeout)
        .layer(compression)
        .layer(cors)
        .layer(trace)
}

/// A predicate that is always or never true: compression switched on or off.
#[derive(Clone, Copy)]
struct Switch(bool);

impl Predicate for Switch {
    fn should_compress<B: axum::body::HttpBody>(&self, _: &axum::http::Response<B>) -> bool {
        self.0
    }
}

/// CORS for the allowed origins (none when empty, any with `*`) and request headers (with `*`,
/// whichever the browser asks for: a literal `*` would not cover `Authorization`).
fn cors_layer(settings: &HttpSettings) -> CorsLayer {
    let origins = &settings.cors_allowed_origins;
    let allow_origin = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok()),
        )
    };
    let headers = &settings.cors_allowed_headers;
    let allow_headers = if headers.iter().any(|h| h == "*") {
        AllowHeaders::mirror_request()
    } else {
        AllowHeaders::list(
            headers
                .iter()
                .filter_map(|name| HeaderName::try_from(name.as_str()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(allow_headers)
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
    // Each request knows its client's address: the rate limit of anonymous mutations keys on it.
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
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

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a SIGTERM that comes right after start-up is never the default one,
/// which would kill the process without a graceful shutdown.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
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
}
