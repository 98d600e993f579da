//! Logging through `tracing`, set up once, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// The filter used when `RUST_LOG` is not set: our own logs and one line per HTTP request at
/// info; the database driver and the migrator only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm_migration=warn";

/// Installs the global subscriber, writing to standard error in `format`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
}
