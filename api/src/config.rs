//! Command-line flags and environment variables (docs/reference.md § Configuration).
//!
//! Every setting is a flag with a matching environment variable and a default that runs out of the
//! box; the doc comments below are what `--help` prints.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use axum::http::HeaderName;
use clap::{
    ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
    builder::BoolishValueParser, parser::ValueSource,
};

use crate::graphql;

/// The authors-and-books GraphQL service.
#[derive(Debug, Clone, Parser)]
#[command(name = "api", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve GraphQL over HTTP (the default).
    Serve,
    /// Apply or inspect the database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Fill an empty database with demo authors and books.
    Seed,
    /// Print the GraphQL schema (SDL) to standard output; needs no database.
    PrintSchema,
    /// Print a bearer token for development, signed with the secret (HS256); needs no database.
    Token {
        /// The role the token carries, in the claim `--jwt-role-claim` names.
        #[arg(long, default_value = "writer")]
        role: String,
        /// The token's subject (`sub`), which the service logs for each request.
        #[arg(long, default_value = "developer")]
        subject: String,
        /// Seconds until the token expires.
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
        expires_in: u64,
        /// The secret to sign with, at least 32 bytes; `JWT_SECRET` when omitted (which keeps it
        /// out of the shell's history).
        #[arg(long)]
        secret: Option<String>,
    },
}

/// A migration command.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations (all of them unless `--steps`).
    Up {
        /// How many migrations to apply.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations (the last one unless `--steps`).
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations: ALL DATA IS LOST.
    Fresh,
}

/// What stands between the service and PostgreSQL, as far as the service must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pooler {
    /// Nothing, or a pooler that lends a server connection for a whole session (PgBouncer's
    /// `pool_mode = session`): statements go to the pool as they come, prepared once per
    /// connection and cached.
    None,
    /// A pooler that lends a server connection per transaction (PgBouncer's
    /// `pool_mode = transaction`): nothing is cached on a connection, each request reads in a
    /// transaction of its own, and migrations and LISTEN use `DATABASE_LISTEN_URL`, which must
    /// then be set to a direct connection to the primary.
    Transaction,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The command line and environment of this process; exits with clap's message when they
    /// do not parse.
    pub fn from_env() -> Self {
        let matches = Self::command().get_matches();
        Self::from_matches(&matches).unwrap_or_else(|err| err.exit())
    }

    /// The settings of `matches`, noting whether the database URL was left at its default.
    ///
    /// # Errors
    /// When the matches do not make settings.
    pub fn from_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut cli = Self::from_arg_matches(matches)?;
        cli.config.database_url_is_default =
            matches.value_source("database_url") == Some(ValueSource::DefaultValue);
        Ok(cli)
    }
}

/// The database used when none is given: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://authors.db?mode=rwc";

/// Settings shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Database to use: `sqlite://FILE?mode=rwc`, `sqlite::memory:` or `postgres://USER:PASSWORD@HOST/DB`.
    /// Its password is never logged.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Whether `database_url` is the default one, given by neither flag nor variable: only then
    /// may `serve` fill a new database with the demo data.
    #[arg(skip)]
    pub database_url_is_default: bool,

    /// Address and port the HTTP server listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8000")]
    pub listen_addr: SocketAddr,

    /// Largest `first`/`last` a client may ask for (1 to 1000); larger values are refused, never
    /// clamped.
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(graphql::MAX_PAGE_SIZE_LIMIT)))]
    pub max_page_size: u32,

    /// Most database connections the pool opens.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,

    /// Seconds to wait for a database connection, at start and per query, before giving up.
    #[arg(long, env = "DB_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_timeout_secs: u64,

    /// Read replicas of a PostgreSQL `DATABASE_URL`, comma-separated: queries read from them,
    /// taken in turn. Their passwords are never logged.
    #[arg(
        long,
        env = "DATABASE_REPLICA_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub database_replica_urls: Vec<String>,

    /// A replica whose replay is more than this many bytes of WAL behind the primary is taken
    /// out of service until it catches up.
    #[arg(long, env = "REPLICA_MAX_LAG_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub replica_max_lag_bytes: u64,

    /// Database connection that LISTENs for the changes other instances commit (PostgreSQL): a
    /// direct connection to the primary, never a transaction-mode pooler or a replica. Defaults
    /// to `DATABASE_URL`. Its password is never logged.
    #[arg(long, env = "DATABASE_LISTEN_URL", hide_env_values = true)]
    pub database_listen_url: Option<String>,

    /// The pooler in front of `DATABASE_URL` and the replicas (PostgreSQL): `transaction` for
    /// one that lends connections per transaction, such as PgBouncer in `pool_mode =
    /// transaction`; then `DATABASE_LISTEN_URL` is required.
    #[arg(long, env = "DATABASE_POOLER", value_enum, default_value_t = Pooler::None)]
    pub database_pooler: Pooler,

    /// Most WebSocket connections one instance holds; more are refused with 503.
    #[arg(long, env = "WS_MAX_CONNECTIONS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_connections: u32,

    /// Most subscriptions one WebSocket connection holds at once; more are refused with
    /// `TOO_MANY_SUBSCRIPTIONS`.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS", default_value_t = 25,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_subscriptions: u32,

    /// Seconds a WebSocket client has to send `connection_init`; then it is closed with 4408.
    #[arg(long, env = "WS_INIT_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_init_timeout_secs: u64,

    /// Largest message a WebSocket client may send, in bytes; a larger one closes the
    /// connection with 1009.
    #[arg(long, env = "WS_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(256..))]
    pub ws_max_message_bytes: u32,

    /// Seconds a message to a WebSocket client may wait to be sent; a client that reads slower
    /// is disconnected.
    #[arg(long, env = "WS_SEND_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_send_timeout_secs: u64,

    /// Browser origins allowed by CORS, comma-separated, or `*` for any; none by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Request headers a browser may send cross-origin (CORS), comma-separated, or `*` for any.
    #[arg(long, env = "CORS_ALLOWED_HEADERS", value_delimiter = ',',
          default_value = "accept,authorization,content-type", value_parser = header_name)]
    pub cors_allowed_headers: Vec<String>,

    /// Responses of at least this many bytes are compressed (br, gzip) for clients that accept
    /// it; 0 turns compression off.
    #[arg(long, env = "COMPRESSION_MIN_BYTES", default_value_t = 1400)]
    pub compression_min_bytes: u16,

    /// Do not apply pending migrations at start.
    #[arg(long, env = "NO_MIGRATE", value_parser = BoolishValueParser::new())]
    pub no_migrate: bool,

    /// Deepest query accepted (each Relay hop such as `books { nodes { … } }` counts 2).
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Highest query complexity accepted; a list field costs its page size times its selection.
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub max_query_complexity: usize,

    /// Largest request body, in bytes; larger requests get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before it is answered with 408 and its work is cancelled.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Seconds requests in flight may take to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Serve the GraphiQL playground to browsers at `GET /graphql` (its files under
    /// `/playground/`); `false` turns it off.
    #[arg(long, env = "PLAYGROUND", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = BoolishValueParser::new())]
    pub playground: bool,

    /// Refuse introspection queries (`__schema`, `__type`), e.g. in production.
    #[arg(long, env = "DISABLE_INTROSPECTION", value_parser = BoolishValueParser::new())]
    pub disable_introspection: bool,

    /// Most bytes (estimated) of parsed query documents, persisted queries included, kept for
    /// reuse, least recently used first out; 0 keeps none.
    #[arg(long, env = "DOCUMENT_STORE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub document_store_bytes: usize,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Secret that signs bearer tokens (HS256), at least 32 bytes. Setting it, or one of the
    /// two key files, turns tokens on (docs/auth.md). Never logged.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true,
          conflicts_with_all = ["jwt_public_key_file", "jwt_jwks_file"])]
    pub jwt_secret: Option<String>,

    /// PEM file of the public key that signs bearer tokens: RSA (RS256) or P-256 (ES256).
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", conflicts_with = "jwt_jwks_file")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// JWKS file of the public keys that sign bearer tokens (RS256, ES256), chosen by the
    /// token's `kid`.
    #[arg(long, env = "JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// The `iss` every token must carry, when set.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` every token must carry, when set.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The claim that holds the caller's role: a string, or a list of strings.
    #[arg(long, env = "JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,

    /// The role that may run mutations.
    #[arg(long, env = "WRITER_ROLE", default_value = "writer")]
    pub writer_role: String,

    /// With tokens on, whether a request without a token may read; `false` asks every request
    /// for a valid token.
    #[arg(long, env = "ANONYMOUS_READS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = BoolishValueParser::new())]
    pub anonymous_reads: bool,

    /// Serve without tokens on an address other than loopback, where anyone who reaches the
    /// service may write; refused at start otherwise.
    #[arg(long, env = "ALLOW_OPEN_WRITES", value_parser = BoolishValueParser::new())]
    pub allow_open_writes: bool,

    /// Mutations each caller (a token's subject, else the client's address) may run per
    /// minute, in a burst or spread out; more are refused with 429. 0 turns the limit off.
    #[arg(long, env = "MUTATION_RATE_LIMIT", default_value_t = 0)]
    pub mutation_rate_limit: u32,
}

/// A request header's name, or `*`.
fn header_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "*" {
        return Ok(text.to_owned());
    }
    HeaderName::try_from(text)
        .map(|name| name.as_str().to_owned())
        .map_err(|_| format!("`{text}` is not a header name"))
}

impl Config {
    /// The defaults, pointed at `database_url`: what tests and tools start from. The caller's
    /// environment plays no part (a `MAX_PAGE_SIZE` in the shell must not change a test).
    pub fn for_database(database_url: &str) -> Self {
        let defaults = Cli::command()
            .mut_args(|arg| arg.env(None::<&str>))
            .get_matches_from(["api"]);
        let mut config = Cli::from_arg_matches(&defaults)
            .expect("the defaults are valid settings")
            .config;
        config.database_url = database_url.to_owned();
        config
    }

    /// How long to wait for the database.
    pub fn db_timeout(&self) -> Duration {
        Duration::from_secs(self.db_timeout_secs)
    }

    /// The limits of the GraphQL schema.
    pub fn limits(&self) -> graphql::Limits {
        graphql::Limits {
            max_page_size: self.max_page_size,
            max_depth: self.max_query_depth,
            max_complexity: self.max_query_complexity,
            introspection: !self.disable_introspection,
            document_store_bytes: self.document_store_bytes,
        }
    }

    /// The limits of WebSocket connections.
    pub fn ws_settings(&self) -> crate::ws::WsSettings {
        crate::ws::WsSettings {
            init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
            max_subscriptions: self.ws_max_subscriptions as usize,
            max_message_bytes: self.ws_max_message_bytes as usize,
            send_timeout: Duration::from_secs(self.ws_send_timeout_secs),
        }
    }

    /// The database connection that listens for changes.
    pub fn listen_url(&self) -> &str {
        self.database_listen_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// These settings, pointed at `DATABASE_LISTEN_URL` with no pooler between when behind a
    /// transaction-mode pooler: for the tools that read outside transactions (migrations, the
    /// demo data).
    #[must_use]
    pub fn direct(&self) -> Self {
        match self.database_pooler {
            Pooler::None => self.clone(),
            Pooler::Transaction => Self {
                database_url: self.listen_url().to_owned(),
                database_pooler: Pooler::None,
                ..self.clone()
            },
        }
    }

    /// How long a request may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long requests in flight may take to finish at shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn help_documents_every_setting_with_its_environment_variable() {
        let help = Cli::command().render_long_help().to_string();
        for variable in [
            "DATABASE_URL",
            "LISTEN_ADDR",
            "MAX_PAGE_SIZE",
            "DB_MAX_CONNECTIONS",
            "DB_TIMEOUT_SECS",
            "DATABASE_REPLICA_URLS",
            "REPLICA_MAX_LAG_BYTES",
            "DATABASE_LISTEN_URL",
            "DATABASE_POOLER",
            "WS_MAX_CONNECTIONS",
            "WS_MAX_SUBSCRIPTIONS",
            "WS_INIT_TIMEOUT_SECS",
            "WS_MAX_MESSAGE_BYTES",
            "WS_SEND_TIMEOUT_SECS",
            "CORS_ALLOWED_ORIGINS",
            "CORS_ALLOWED_HEADERS",
            "COMPRESSION_MIN_BYTES",
            "NO_MIGRATE",
            "MAX_QUERY_DEPTH",
            "MAX_QUERY_COMPLEXITY",
            "MAX_BODY_BYTES",
            "REQUEST_TIMEOUT_SECS",
            "SHUTDOWN_TIMEOUT_SECS",
            "DISABLE_INTROSPECTION",
            "PLAYGROUND",
            "DOCUMENT_STORE_BYTES",
            "LOG_FORMAT",
            "JWT_SECRET",
            "JWT_PUBLIC_KEY_FILE",
            "JWT_JWKS_FILE",
            "JWT_ISSUER",
            "JWT_AUDIENCE",
            "JWT_ROLE_CLAIM",
            "WRITER_ROLE",
            "ANONYMOUS_READS",
            "ALLOW_OPEN_WRITES",
            "MUTATION_RATE_LIMIT",
        ] {
            assert!(
                help.contains(&format!("[env: {variable}")),
                "{variable} missing from --help"
            );
        }
        for command in ["serve", "migrate", "seed", "print-schema", "token"] {
            assert!(help.contains(command), "{command} missing from --help");
        }
    }

    /// Run in a child process of this test binary, with `MAX_PAGE_SIZE` set: the defaults of
    /// `for_database` ignore it. (Setting a variable in this process would race other tests.)
    #[test]
    fn the_defaults_ignore_the_environment() {
        if std::env::var_os("CONFIG_DEFAULTS_CHILD").is_some() {
            assert_eq!(Config::for_database("sqlite::memory:").max_page_size, 100);
            return;
        }
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "config::tests::the_defaults_ignore_the_environment",
            ])
            .env("CONFIG_DEFAULTS_CHILD", "1")
            .env("MAX_PAGE_SIZE", "7")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the child saw MAX_PAGE_SIZE=7");
    }

    /// Only a database URL given by neither flag nor variable is the default one (the variable is
    /// switched off here, as in [`Config::for_database`]).
    #[test]
    fn the_default_database_url_is_told_apart() {
        let command = || Cli::command().mut_args(|arg| arg.env(None::<&str>));
        let parse = |args: &[&str]| {
            Cli::from_matches(&command().get_matches_from(args))
                .unwrap()
                .config
        };
        let defaulted = parse(&["api"]);
        assert!(defaulted.database_url_is_default);
        assert_eq!(defaulted.database_url, DEFAULT_DATABASE_URL);
        let given = parse(&["api", "--database-url", DEFAULT_DATABASE_URL]);
        assert!(!given.database_url_is_default);
        assert!(!Config::for_database(DEFAULT_DATABASE_URL).database_url_is_default);
    }

    #[test]
    fn settings_parse_from_flags_and_page_sizes_are_bounded() {
        let cli = Cli::parse_from([
            "api",
            "--max-page-size",
            "50",
            "--cors-allowed-origins",
            "https://a.example,https://b.example",
            "migrate",
            "down",
        ]);
        assert_eq!(cli.config.max_page_size, 50);
        assert_eq!(cli.config.cors_allowed_origins.len(), 2);
        assert!(matches!(
            cli.command,
            Some(Command::Migrate {
                action: MigrateAction::Down { steps: 1 }
            })
        ));
        assert_eq!(
            cli.config.cors_allowed_headers,
            ["accept", "authorization", "content-type"]
        );
        let headers = Cli::parse_from(["api", "--cors-allowed-headers", "Authorization, X-Trace"]);
        assert_eq!(
            headers.config.cors_allowed_headers,
            ["authorization", "x-trace"]
        );
        assert!(Cli::try_parse_from(["api", "--cors-allowed-headers", "bad header"]).is_err());
        assert!(cli.config.playground);
        assert!(
            !Cli::parse_from(["api", "--playground", "false"])
                .config
                .playground
        );
        assert!(Cli::try_parse_from(["api", "--max-page-size", "0"]).is_err());
        assert!(Cli::try_parse_from(["api", "--max-page-size", "1001"]).is_err());
    }
}
