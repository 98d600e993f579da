//! Connecting to the database, counting its statements and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::{
    config::{Config, Pooler},
    metrics::Metrics,
};

/// How long a pooled connection may stay idle before it is checked when taken again.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens the pool described by `config` and counts every statement it runs in `metrics`, through
/// SeaORM's metric callback: once per statement, inside transactions too.
///
/// # Errors
/// When the database cannot be reached within the configured timeout.
pub async fn connect(config: &Config, metrics: &Metrics) -> Result<DatabaseConnection, DbErr> {
    let mut options = pool_options(&config.database_url, config);
    options.min_connections(1);
    let in_memory =
        config.database_url.contains(":memory:") || config.database_url.contains("mode=memory");
    // SQLite's own case folding is ASCII-only; `store` filters through a Unicode-aware REGEXP.
    // A file database runs in WAL mode, where readers and the writer do not block each other
    // (with the default rollback journal, concurrent writes failed with "database is locked").
    options.map_sqlx_sqlite_opts(move |sqlite| {
        let sqlite = sqlite.with_regexp();
        if in_memory {
            sqlite
        } else {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        }
    });
    if in_memory {
        // Every connection to an in-memory SQLite database would see its own empty database.
        options.max_connections(1);
    }
    let mut db = Database::connect(options).await?;
    let statements = metrics.statements_of("primary");
    db.set_metric_callback(move |_| statements.inc());
    Ok(db)
}

/// The settings of a pool of `config` on the server at `url` (the primary or a replica).
pub(crate) fn pool_options(url: &str, config: &Config) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(config.db_max_connections)
        .connect_timeout(config.db_timeout())
        .acquire_timeout(config.db_timeout())
        // A connection is checked with a round trip when taken from the pool only after it has
        // been idle for a while (it may have been closed meanwhile). sqlx also checks it when it
        // goes back, which closes a broken one; checking it on the way out too made three round
        // trips of every statement instead of two.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
    if config.database_pooler == Pooler::Transaction {
        // A statement cached on one server connection would be looked for on another. (sqlx
        // still names each statement it prepares, and never closes it: the pooler must reset a
        // server connection between transactions, see docs/reference.md § Behind PgBouncer.)
        options.map_sqlx_postgres_opts(|postgres| postgres.statement_cache_capacity(0));
    }
    options
}

/// Applies every pending migration.
///
/// # Errors
/// When a migration fails; the database is left at the last migration that succeeded.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Connects as [`connect`] does and, unless `--no-migrate`, applies pending migrations; errors
/// are one line that names the database without its password.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect_and_migrate(
    config: &Config,
    metrics: &Metrics,
) -> Result<DatabaseConnection, String> {
    check_pooler(config)?;
    let target = redacted(&config.database_url);
    let db = connect(config, metrics).await.map_err(|err| {
        format!(
            "cannot connect to the database at {target}: {}",
            redact_in(&err.to_string(), &config.database_url)
        )
    })?;
    if config.no_migrate {
        return Ok(db);
    }
    if config.database_pooler == Pooler::Transaction {
        // The migrator reads outside its transactions, which such a pooler does not allow.
        let config = config.direct();
        let direct = redacted(&config.database_url);
        let migrator = connect(&config, &Metrics::new()).await.map_err(|err| {
            format!(
                "cannot connect to the database at {direct} (DATABASE_LISTEN_URL) to migrate it: {}",
                redact_in(&err.to_string(), &config.database_url)
            )
        })?;
        let migrated = migrate(&migrator).await;
        migrator.close().await.ok();
        migrated.map_err(|err| format!("migrating {direct} failed: {err}"))?;
    } else {
        migrate(&db)
            .await
            .map_err(|err| format!("migrating {target} failed: {err}"))?;
    }
    Ok(db)
}

/// Behind a transaction-mode pooler: PostgreSQL, and a direct connection to the primary in
/// `DATABASE_LISTEN_URL` for what cannot pass the pooler (LISTEN, migrations).
///
/// # Errors
/// One line saying what is missing.
pub fn check_pooler(config: &Config) -> Result<(), String> {
    if config.database_pooler != Pooler::Transaction {
        return Ok(());
    }
    if !config.database_url.starts_with("postgres") {
        return Err(
            "DATABASE_POOLER=transaction is for PostgreSQL behind a pooler such as \
                    PgBouncer; DATABASE_URL is not a PostgreSQL URL"
                .to_owned(),
        );
    }
    if config.database_listen_url.is_none() {
        return Err(
            "DATABASE_POOLER=transaction needs DATABASE_LISTEN_URL: a direct connection \
                    to the primary, for LISTEN and migrations, which cannot pass a \
                    transaction-mode pooler"
                .to_owned(),
        );
    }
    Ok(())
}

/// `url` with its password, if any, replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let path = path.map(|path| match path.split_once('?') {
        // A password may come as a parameter too.
        Some((database, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{database}?{}", query.join("&"))
        }
        None => path.to_owned(),
    });
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// `text` with the password of `url`, if any, replaced by `***`.
pub(crate) fn redact_in(text: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(credentials, _)| credentials.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    match password {
        Some(password) => text.replace(password, "***"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{check_pooler, redacted};
    use crate::config::{Cli, Config, Pooler};

    #[test]
    fn a_transaction_mode_pooler_needs_postgresql_and_a_direct_listen_url() {
        let cli = Cli::try_parse_from([
            "api",
            "--database-url",
            "postgres://app:s3cret@pgbouncer:6432/books",
            "--database-pooler",
            "transaction",
        ])
        .expect("the flags parse");
        let mut config = cli.config;
        assert_eq!(config.database_pooler, Pooler::Transaction);
        let refused = check_pooler(&config).expect_err("no direct URL");
        assert!(refused.contains("needs DATABASE_LISTEN_URL"), "{refused}");

        config.database_listen_url = Some("postgres://app:s3cret@primary:5432/books".to_owned());
        assert_eq!(check_pooler(&config), Ok(()));
        let direct = config.direct();
        assert_eq!(
            (direct.database_url.as_str(), direct.database_pooler),
            ("postgres://app:s3cret@primary:5432/books", Pooler::None)
        );

        let sqlite = Config {
            database_url: "sqlite::memory:".to_owned(),
            ..config
        };
        let refused = check_pooler(&sqlite).expect_err("not PostgreSQL");
        assert!(refused.contains("not a PostgreSQL URL"), "{refused}");
        assert_eq!(
            check_pooler(&Config::for_database("sqlite::memory:")),
            Ok(())
        );
    }

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            redacted("postgres://app:s3cret@db.internal:5432/books"),
            "postgres://app:***@db.internal:5432/books"
        );
        assert_eq!(
            redacted("postgres://app@db/books"),
            "postgres://app@db/books"
        );
        assert_eq!(
            redacted("sqlite://authors.db?mode=rwc"),
            "sqlite://authors.db?mode=rwc"
        );
        assert_eq!(
            redacted("postgres://app@db/books?sslmode=disable&password=s3cret"),
            "postgres://app@db/books?sslmode=disable&password=***"
        );
    }
}
