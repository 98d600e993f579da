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
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderMap;
use sea_orm::{Database, DatabaseConnection};
use sqlx::{
    Row,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};

use crate::{config::Config, db, metrics::Metrics};

/// How often each replica is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long a check may take before the replica counts as not answering.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a replica on which a read failed has to answer a round trip.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The request header that sends a query to the primary.
pub const READ_FROM: &str = "read-from";

/// The replicas of the primary, with their state.
pub struct Replicas {
    members: Vec<Member>,
    next: AtomicUsize,
    max_lag_bytes: u64,
    metrics: Metrics,
    /// A connection of the checks' own to the primary: a busy request pool cannot make a check
    /// fail.
    primary_check: Option<PgPool>,
    /// Serialises changes of state, so that the gauges follow them.
    moving: Mutex<()>,
}

struct Member {
    /// The replica's URL without its password.
    name: String,
    db: DatabaseConnection,
    /// A connection of the checks' own to the replica.
    check: PgPool,
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
            primary_check: None,
            moving: Mutex::new(()),
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
        for (index, url) in config
            .database_replica_urls
            .iter()
            .map(|url| url.trim())
            .enumerate()
        {
            if url.is_empty() {
                continue;
            }
            if !url.contains("://") {
                // Never echoed: it may be the end of a password cut at a comma.
                return Err(format!(
                    "DATABASE_REPLICA_URLS: entry {} is not a URL (a comma in a password must be \
                     written %2C)",
                    index + 1
                ));
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
            let mut options = db::pool_options(url, config);
            options.min_connections(0).connect_lazy(true);
            let mut db = Database::connect(options).await.map_err(|err| {
                format!(
                    "DATABASE_REPLICA_URLS: {name}: {}",
                    db::redact_in(&err.to_string(), url)
                )
            })?;
            let counter = metrics.statements_of(&format!("replica{}", members.len() + 1));
            db.set_metric_callback(move |_| counter.inc());
            members.push(Member {
                name,
                db,
                check: check_pool(url)?,
                in_service: AtomicBool::new(false),
                not_a_replica: AtomicBool::new(false),
            });
        }
        let primary_check = if members.is_empty() {
            None
        } else {
            Some(check_pool(&config.database_url)?)
        };
        let replicas = Self {
            members,
            next: AtomicUsize::new(0),
            max_lag_bytes: config.replica_max_lag_bytes,
            metrics: metrics.clone(),
            primary_check,
            moving: Mutex::new(()),
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

    /// After a read failed on replica `index`: takes it out of service at once when it does not
    /// answer a round trip within a short wait (the next check puts it back once it does). A
    /// replica that answers failed the read for a reason of the read's own (a timeout, a
    /// conflict with replay), and stays in.
    pub async fn read_failed_on(&self, index: usize) {
        let member = &self.members[index];
        let probe = tokio::time::timeout(
            PROBE_TIMEOUT,
            sqlx::raw_sql("SELECT 1").execute(&member.check),
        )
        .await;
        if !matches!(probe, Ok(Ok(_))) {
            self.set(index, false, "a read on it failed and it does not answer");
        }
        self.metrics.read_run_again();
    }

    fn set(&self, index: usize, in_service: bool, why: &str) {
        let _moving = self.moving.lock().unwrap_or_else(PoisonError::into_inner);
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

    /// Checks every replica against the primary every second, for as long as `replicas` lives.
    pub fn watch(replicas: &Arc<Self>) {
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
                replicas.check().await;
            }
        });
    }

    /// One check of every replica, at once. When the primary's position cannot be read (it is
    /// down, or busy), lag cannot be measured: each replica that answers keeps its state.
    async fn check(&self) {
        let primary_position = match &self.primary_check {
            Some(pool) => lsn_of(pool, "SELECT pg_current_wal_lsn()::text").await,
            None => None,
        };
        let states = futures_util::future::join_all(
            self.members
                .iter()
                .map(|member| tokio::time::timeout(CHECK_TIMEOUT, recovery_of(&member.check))),
        )
        .await;
        for (index, (member, state)) in self.members.iter().zip(states).enumerate() {
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
                    let Some(primary) = primary_position else {
                        continue;
                    };
                    match replayed.as_deref().and_then(parse_lsn) {
                        Some(replayed)
                            if primary.saturating_sub(replayed) <= self.max_lag_bytes =>
                        {
                            self.set(index, true, "");
                        }
                        Some(_) => self.set(index, false, "its replay lags too far behind"),
                        None => self.set(index, false, "it replays nothing"),
                    }
                }
            }
        }
    }
}

/// A pool of one connection for the checks of the server at `url`, connected when first used.
fn check_pool(url: &str) -> Result<PgPool, String> {
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(|err| {
            format!(
                "{}: {}",
                db::redacted(url),
                db::redact_in(&err.to_string(), url)
            )
        })?
        .application_name("authors-api replica check");
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CHECK_TIMEOUT)
        .connect_lazy_with(options))
}

/// Whether the request asks to read from the primary.
fn asks_for_primary(headers: &HeaderMap) -> bool {
    headers
        .get(READ_FROM)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("primary"))
}

// The checks are simple queries, one round trip with no prepared statement, which pass any
// pooler in front of the server.

/// Whether the server of `pool` is in recovery, and the WAL position it has replayed.
async fn recovery_of(pool: &PgPool) -> Result<(bool, Option<String>), sqlx::Error> {
    let row = sqlx::raw_sql("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
        .fetch_one(pool)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The WAL position `sql` returns on `pool`, when it answers in time.
async fn lsn_of(pool: &PgPool, sql: &'static str) -> Option<u64> {
    let answered = tokio::time::timeout(CHECK_TIMEOUT, sqlx::raw_sql(sql).fetch_one(pool)).await;
    let text: String = answered.ok()?.ok()?.try_get(0).ok()?;
    parse_lsn(&text)
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
