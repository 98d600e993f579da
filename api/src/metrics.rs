//! Prometheus metrics, served at `GET /metrics` (docs/reference.md § GraphQL endpoint).
//!
//! One [`Metrics`] per application: the SQL statement counter here is the very counter the
//! statement-count tests read.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use sea_orm::DatabaseConnection;

use crate::graphql::BatchObserver;

/// How a GraphQL request ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// Executed without errors.
    Ok,
    /// Executed, with errors in the response (including queries refused by the limits).
    Error,
    /// Refused before execution: malformed, a mutation over GET, too large, wrong media type.
    Rejected,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Rejected => "rejected",
        }
    }
}

/// The application's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: Histogram,
    statements: IntCounterVec,
    batch_keys: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    live: Live,
    replicas: IntGaugeVec,
    replica_moves: IntCounterVec,
    reads_run_again: IntCounter,
}

/// The metrics of WebSocket connections and live updates.
#[derive(Clone)]
struct Live {
    connections: IntGauge,
    subscriptions: IntGauge,
    delivered: IntCounter,
    dropped: IntCounterVec,
    reconnects: IntCounter,
    reconnect_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in a registry of their own.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("graphql_requests_total", "GraphQL requests by outcome."),
            &["outcome"],
        )
        .expect("valid metric");
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "Time to answer a GraphQL request.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let statements = IntCounterVec::new(
            Opts::new(
                "sql_statements_total",
                "SQL statements executed, by pool: primary, replica1, replica2, ...",
            ),
            &["pool"],
        )
        .expect("valid metric");
        let batch_keys = HistogramVec::new(
            HistogramOpts::new(
                "dataloader_batch_keys",
                "Keys per DataLoader batch (one SQL statement per distinct argument set).",
            )
            .buckets(vec![
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
            ]),
            &["loader"],
        )
        .expect("valid metric");
        let pool_connections = IntGauge::new(
            "db_pool_connections",
            "Open database connections, idle or in use.",
        )
        .expect("valid metric");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections.")
            .expect("valid metric");
        let live = Live {
            connections: IntGauge::new("websocket_connections", "Open WebSocket connections.")
                .expect("valid metric"),
            subscriptions: IntGauge::new(
                "subscriptions",
                "Subscriptions open over WebSocket (clients of one shared subscription each count).",
            )
            .expect("valid metric"),
            delivered: IntCounter::new(
                "subscription_events_delivered_total",
                "Subscription responses sent to clients.",
            )
            .expect("valid metric"),
            dropped: IntCounterVec::new(
                Opts::new(
                    "subscription_events_dropped_total",
                    "Changes that did not reach a client, by reason: fell_behind (a client more \
                     than a feed's buffer behind, disconnected), send_timeout (a client that did \
                     not read, disconnected), listener (the listening connection dropped: \
                     counted once per drop).",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            reconnects: IntCounter::new(
                "live_listener_reconnects_total",
                "Times the connection that LISTENs for changes dropped and listened again.",
            )
            .expect("valid metric"),
            reconnect_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "live_listener_reconnect_seconds",
                    "Time from a dropped listening connection to listening again.",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            )
            .expect("valid metric"),
        };
        let replicas = IntGaugeVec::new(
            Opts::new(
                "db_replicas",
                "Read replicas by state: in_service, out_of_service.",
            ),
            &["state"],
        )
        .expect("valid metric");
        let replica_moves = IntCounterVec::new(
            Opts::new(
                "db_replica_moves_total",
                "Times a read replica was put in service (to=in_service) or taken out (to=out_of_service).",
            ),
            &["to"],
        )
        .expect("valid metric");
        let reads_run_again = IntCounter::new(
            "db_replica_reads_run_again_total",
            "Queries that failed on a replica and ran again on the primary.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(reads_run_again.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(replicas.clone()),
            Box::new(replica_moves.clone()),
            Box::new(live.connections.clone()),
            Box::new(live.subscriptions.clone()),
            Box::new(live.delivered.clone()),
            Box::new(live.dropped.clone()),
            Box::new(live.reconnects.clone()),
            Box::new(live.reconnect_seconds.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(statements.clone()),
            Box::new(batch_keys.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            statements,
            batch_keys,
            pool_connections,
            pool_idle,
            live,
            replicas,
            replica_moves,
            reads_run_again,
        }
    }

    /// A query failed on a replica and runs again on the primary.
    pub fn read_run_again(&self) {
        self.reads_run_again.inc();
    }

    /// Queries run again on the primary so far.
    pub fn reads_run_again(&self) -> u64 {
        self.reads_run_again.get()
    }

    /// The counter of SQL statements of `pool`.
    pub fn statements_of(&self, pool: &str) -> IntCounter {
        self.statements.with_label_values(&[pool])
    }

    /// SQL statements executed so far on `pool`.
    pub fn statements_executed_on(&self, pool: &str) -> u64 {
        self.statements_of(pool).get()
    }

    /// The read replicas in and out of service now.
    pub fn replicas(&self, in_service: usize, out_of_service: usize) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.replicas
            .with_label_values(&["in_service"])
            .set(count(in_service));
        self.replicas
            .with_label_values(&["out_of_service"])
            .set(count(out_of_service));
    }

    /// A replica was put in service, or taken out.
    pub fn replica_moved(&self, in_service: bool) {
        let to = if in_service {
            "in_service"
        } else {
            "out_of_service"
        };
        self.replica_moves.with_label_values(&[to]).inc();
    }

    /// A WebSocket connection opened.
    pub fn connection_opened(&self) {
        self.live.connections.inc();
    }

    /// A WebSocket connection closed.
    pub fn connection_closed(&self) {
        self.live.connections.dec();
    }

    /// A subscription opened.
    pub fn subscription_opened(&self) {
        self.live.subscriptions.inc();
    }

    /// `count` subscriptions ended.
    pub fn subscriptions_closed(&self, count: usize) {
        self.live
            .subscriptions
            .sub(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Subscriptions open now.
    pub fn subscriptions_open(&self) -> i64 {
        self.live.subscriptions.get()
    }

    /// A subscription response reached a client.
    pub fn event_delivered(&self) {
        self.live.delivered.inc();
    }

    /// `count` changes did not reach a client, for `reason`.
    pub fn events_dropped(&self, reason: &str, count: u64) {
        self.live.dropped.with_label_values(&[reason]).inc_by(count);
    }

    /// SQL statements executed so far, on every pool.
    pub fn statements_executed(&self) -> u64 {
        use prometheus::core::Collector;
        self.statements
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    /// Records one executed GraphQL request and how long it took.
    pub fn request_finished(&self, outcome: Outcome, elapsed: Duration) {
        self.requests.with_label_values(&[outcome.label()]).inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// Records one request refused before execution.
    pub fn request_rejected(&self) {
        self.requests
            .with_label_values(&[Outcome::Rejected.label()])
            .inc();
    }

    /// The text exposition of every metric, with the pool gauges read from `db` now.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        if let Some((open, idle)) = pool_usage(db) {
            self.pool_connections.set(open);
            self.pool_idle.set(idle);
        }
        let mut buffer = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Open and idle connections of the pool behind `db`.
fn pool_usage(db: &DatabaseConnection) -> Option<(i64, i64)> {
    let (open, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DbBackend::MySql => {
            let pool = db.get_mysql_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return None,
    };
    Some((i64::from(open), i64::try_from(idle).unwrap_or(i64::MAX)))
}

/// The listener reports its reconnections.
impl crate::live::ListenerObserver for Metrics {
    fn listener_reconnected(&self, took: Duration) {
        self.live.reconnects.inc();
        self.live.reconnect_seconds.observe(took.as_secs_f64());
        self.events_dropped("listener", 1);
    }
}

/// The loaders report the number of keys of each batch.
impl BatchObserver for Metrics {
    fn batch_loaded(&self, loader: &'static str, keys: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.batch_keys
            .with_label_values(&[loader])
            .observe(keys as f64);
    }
}
