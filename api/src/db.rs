//! Connecting to the database, counting its statements and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::{config::Config, metrics::Metrics};

/// How long a pooled connection may stay idle before it is checked when taken again.
pub(crate) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens the pool described by `config` and counts every statement it runs in `metrics`, through
/// SeaORM's metric callback: once per statement, inside transactions too.
///
/// # Errors
/// When the database cannot be reached within the configured timeout.
pub async fn connect(config: &Config, metrics: &Metrics) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(&config.database_url);
    options
        .max_connections(config.db_max_connections)
        .min_connections(1)
        .connect_timeout(config.db_timeout())
        .acquire_timeout(config.db_timeout())
        // A connection is checked with a round trip when taken from the pool only after it has
        // been idle for a while (it may have been closed meanwhile). sqlx also checks it when it
        // goes back, which closes a broken one; checking it on the way out too made three round
        // trips of every statement instead of two.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
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
    let target = redacted(&config.database_url);
    let db = connect(config, metrics).await.map_err(|err| {
        format!(
            "cannot connect to the database at {target}: {}",
            redact_in(&err.to_string(), &config.database_url)
        )
    })?;
    if !config.no_migrate {
        migrate(&db)
            .await
            .map_err(|err| format!("migrating {target} failed: {err}"))?;
    }
    Ok(db)
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
    use super::redacted;

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
