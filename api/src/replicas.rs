//! Read replicas (docs/reference.md § Read replicas): which pool a request reads from, and which
//! replicas are fit to serve.
//!
//! Queries read from a replica in service, taken in turn; mutations, and every field their
//! response selects, run on the primary, as do queries that ask for it (`Read-From: primary`).
//! A request runs all its statements on one pool. A replica is in service while it answers and
//! its replay is at most `REPLICA_MAX_LAG_BYTES` of WAL behind the primary's current position,
//! checked every second; with none in service, reads go to the primary.

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderMap;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sqlx::postgres::PgConnectOptions;

use crate::{config::Config, db, metrics::Metrics};

/// How often each replica is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long a check may take before the replica counts as not answering.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The request header that sends a query to the primary.
pub const READ_FROM: &str = "read-from";

/// The replicas of the primary, with their state.
pub struct Replicas {
    members: Vec<Member>,
    next: AtomicUsize,
    max_lag_bytes: u64,
    metrics: Metrics,
}

struct Member {
    /// The replica's URL without its password.
    name: String,
    db: DatabaseConnection,
    in_service: AtomicBool,
    /// Whether it was found not to be a replica (warned about once).
    not_a_replica: AtomicBool,
}

impl Replicas {
    /// No replicas: every request reads from the primary.
    pub fn none(metrics: &Metrics) -> Self {
        Self {
            members: Vec::new(),
            next: AtomicUsize::new(0),
            max_lag_bytes: 0,
            metrics: metrics.clone(),
        }
    }

    /// The replicas of `config`, out of service until their first check; their pools connect
    /// when first used, so a replica that is down at start does not stop it.
    ///
    /// # Errors
    /// One line naming the replica (never its password) when a URL is not a PostgreSQL URL, or
    /// the primary is not PostgreSQL.
    pub async fn from_config(config: &Config, metrics: &Metrics) -> Result<Self, String> {
        let mut members = Vec::new();
        for url in config.database_replica_urls.iter().map(|url| url.trim()) {
            if url.is_empty() {
                continue;
            }
            let name = db::redacted(url);
            if !config.database_url.starts_with("postgres") {
                return Err(format!(
                    "DATABASE_REPLICA_URLS: replicas need a PostgreSQL DATABASE_URL (replica {name})"
                ));
            }
            if let Err(err) = url.parse::<PgConnectOptions>() {
                return Err(format!(
                    "DATABASE_REPLICA_URLS: {name} is not a PostgreSQL URL: {}",
                    db::redact_in(&err.to_string(), url)
                ));
            }
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(config.db_max_connections)
                .min_connections(0)
                .connect_timeout(config.db_timeout())
                .acquire_timeout(config.db_timeout())
                .test_before_acquire_if_idle_for(db::IDLE_BEFORE_PING)
                .sqlx_logging(false)
                .connect_lazy(true);
            let pool = format!("replica{}", members.len() + 1);
            members.push((name, options, pool));
        }
        let mut connected = Vec::new();
        for (name, options, pool) in members {
            let mut db = Database::connect(options).await.map_err(|err| {
                format!(
                    "DATABASE_REPLICA_URLS: {name}: {}",
                    db::redact_in(&err.to_string(), &name)
                )
            })?;
            let counter = metrics.statements_of(&pool);
            db.set_metric_callback(move |_| counter.inc());
            connected.push(Member {
                name,
                db,
                in_service: AtomicBool::new(false),
                not_a_replica: AtomicBool::new(false),
            });
        }
        let members = connected;
        let replicas = Self {
            members,
            next: AtomicUsize::new(0),
            max_lag_bytes: config.replica_max_lag_bytes,
            metrics: metrics.clone(),
        };
        replicas.report();
        Ok(replicas)
    }

    /// Whether there are any.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The replica a query should read from: the next in service, unless it is a mutation or
    /// asks for the primary (`Read-From: primary`); none means the primary.
    pub fn choose(
        &self,
        headers: &HeaderMap,
        mutation: bool,
    ) -> Option<(usize, DatabaseConnection)> {
        if mutation || self.members.is_empty() || asks_for_primary(headers) {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.members.len())
            .map(|i| (start + i) % self.members.len())
            .find(|&i| self.members[i].in_service.load(Ordering::Acquire))
            .map(|i| (i, self.members[i].db.clone()))
    }

    /// Takes replica `index` out of service at once (a read on it failed); the next check puts
    /// it back when it answers.
    pub fn take_out(&self, index: usize, why: &str) {
        self.set(index, false, why);
    }

    fn set(&self, index: usize, in_service: bool, why: &str) {
        let member = &self.members[index];
        if member.in_service.swap(in_service, Ordering::AcqRel) != in_service {
            if in_service {
                tracing::info!(replica = %member.name, "replica in service");
            } else {
                tracing::warn!(replica = %member.name, why, "replica out of service");
            }
            self.metrics.replica_moved(in_service);
            self.report();
        }
    }

    fn report(&self) {
        let in_service = self
            .members
            .iter()
            .filter(|member| member.in_service.load(Ordering::Acquire))
            .count();
        self.metrics
            .replicas(in_service, self.members.len() - in_service);
    }

    /// Checks every replica against `primary` every second, for as long as `replicas` lives.
    pub fn watch(replicas: &Arc<Self>, primary: DatabaseConnection) {
        if replicas.members.is_empty() {
            return;
        }
        let replicas: Weak<Self> = Arc::downgrade(replicas);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECK_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(replicas) = replicas.upgrade() else {
                    return;
                };
                replicas.check(&primary).await;
            }
        });
    }

    /// One check of every replica.
    async fn check(&self, primary: &DatabaseConnection) {
        let primary_position = lsn_of(primary, "SELECT pg_current_wal_lsn()::text").await;
        for (index, member) in self.members.iter().enumerate() {
            let state = tokio::time::timeout(
                CHECK_TIMEOUT,
                sqlx::query_as::<_, (bool, Option<String>)>(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text",
                )
                .fetch_one(member.db.get_postgres_connection_pool()),
            )
            .await;
            match state {
                Err(_) => self.set(index, false, "it did not answer in time"),
                Ok(Err(err)) => {
                    tracing::debug!(replica = %member.name, error = %err, "replica check failed");
                    self.set(index, false, "it does not answer");
                }
                Ok(Ok((false, _))) => {
                    if !member.not_a_replica.swap(true, Ordering::AcqRel) {
                        tracing::warn!(replica = %member.name,
                            "this replica URL leads to a server that is not in recovery (the primary, or a server of its own): reads there are not replicated reads");
                    }
                    self.set(index, true, "");
                }
                Ok(Ok((true, replayed))) => {
                    let lag = primary_position
                        .zip(replayed.as_deref().and_then(parse_lsn))
                        .map(|(primary, replayed)| primary.saturating_sub(replayed));
                    match lag {
                        Some(lag) if lag <= self.max_lag_bytes => self.set(index, true, ""),
                        Some(_) => self.set(index, false, "its replay lags too far behind"),
                        None => self.set(index, false, "its lag cannot be measured"),
                    }
                }
            }
        }
    }
}

/// Whether the request asks to read from the primary.
fn asks_for_primary(headers: &HeaderMap) -> bool {
    headers
        .get(READ_FROM)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("primary"))
}

/// The WAL position `sql` returns on `db`, when it answers in time.
async fn lsn_of(db: &DatabaseConnection, sql: &'static str) -> Option<u64> {
    let answered = tokio::time::timeout(
        CHECK_TIMEOUT,
        sqlx::query_scalar::<_, String>(sql).fetch_one(db.get_postgres_connection_pool()),
    )
    .await;
    answered.ok()?.ok().as_deref().and_then(parse_lsn)
}

/// A WAL position written `X/Y` (two hexadecimal halves), as bytes.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_replica_url_is_one_line_naming_the_host_but_not_the_password() {
        let mut config = Config::for_database("postgres://app:primary-secret@db:5432/books");
        config.database_replica_urls =
            vec!["postgres://app:replica-secret@replica.internal:notaport/books".into()];
        let Err(message) = Replicas::from_config(&config, &Metrics::new()).await else {
            panic!("a malformed URL is refused");
        };
        assert!(message.contains("replica.internal"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");

        let mut sqlite = Config::for_database("sqlite::memory:");
        sqlite.database_replica_urls = vec!["postgres://replica.internal/books".into()];
        let Err(message) = Replicas::from_config(&sqlite, &Metrics::new()).await else {
            panic!("replicas of SQLite are refused");
        };
        assert!(message.contains("PostgreSQL DATABASE_URL"), "{message}");
    }

    #[test]
    fn wal_positions_read_as_bytes() {
        assert_eq!(parse_lsn("0/3000060"), Some(0x300_0060));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("nonsense"), None);
    }
}
