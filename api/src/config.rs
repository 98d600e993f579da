//! Command-line flags and environment variables (`API.md` § Configuration).
//!
//! Every setting is a flag with a matching environment variable and a default that runs out of the
//! box; the doc comments below are what `--help` prints.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

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
    /// Fill an empty database with demo authors and books.
    Seed,
    /// Print the GraphQL schema (SDL) to standard output; needs no database.
    PrintSchema,
}

/// Settings shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Database to use: `sqlite://FILE?mode=rwc`, `sqlite::memory:` or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://authors.db?mode=rwc"
    )]
    pub database_url: String,

    /// Address and port the HTTP server listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8000")]
    pub listen_addr: SocketAddr,

    /// Largest `first`/`last` a client may ask for; larger values are refused, never clamped.
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_page_size: u32,

    /// Most database connections the pool opens.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// Browser origins allowed by CORS, comma-separated, or `*` for any; none by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Do not apply pending migrations at start.
    #[arg(long, env = "NO_MIGRATE")]
    pub no_migrate: bool,

    /// Deepest query accepted (each Relay hop such as `books { nodes { … } }` counts 2).
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Highest query complexity accepted; a list field costs its page size times its selection.
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub max_query_complexity: usize,
}

impl Config {
    /// The defaults, pointed at `database_url`: what tests and tools start from.
    pub fn for_database(database_url: &str) -> Self {
        let mut config = Cli::parse_from(["api"]).config;
        config.database_url = database_url.to_owned();
        config
    }
}
