//! The benchmark's own tools: a bulk loader for the deterministic dataset, and the *floor*: the
//! SQL statements of a request issued straight through the same driver and pool, with no HTTP and
//! no GraphQL; and the soak, a steady mix of reads and writes against a running server.
//! `bench/run.sh` drives the server itself with `wrk`; see BENCHMARKS.md and RELIABILITY.md.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use api::{config::Config, db, metrics::Metrics};
use bench::{
    Params, Query,
    dataset::{Catalogue, Layout},
    load, search_term, statements_of,
};
use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;

mod soak;

/// The server's allocator (`api/src/main.rs`), so that the floor's client work costs what the
/// server's does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmark tools.
#[derive(Parser)]
struct Cli {
    /// The database.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Pool size (the server's default is 10).
    #[arg(long, default_value_t = 10)]
    connections: u32,
    #[command(subcommand)]
    command: Tool,
}

#[derive(Subcommand)]
enum Tool {
    /// Recreate the schema through the project's migrations and load the catalogue in bulk.
    Load {
        #[command(flatten)]
        shape: Shape,
    },
    /// Print a two-word search term that matches between `--min` and `--max` books of the loaded
    /// catalogue (which `--authors`, `--books` and `--layout` describe), and how many it matches.
    Term {
        #[command(flatten)]
        shape: Shape,
        /// Fewest matches.
        #[arg(long, default_value_t = 50)]
        min: u64,
        /// Most matches.
        #[arg(long, default_value_t = 200)]
        max: u64,
    },
    /// Run the statements of one query straight through the pool, at a fixed concurrency.
    Floor {
        /// Which query's statements.
        #[arg(long, value_enum)]
        query: Query,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Authors per page (Q1).
        #[arg(long, default_value_t = 100)]
        page: u64,
        /// The author (Q3): the middle one of the dataset, as `bench/run.sh` asks for.
        #[arg(long, default_value_t = 5000)]
        author: i64,
        /// The search term (Q5).
        #[arg(long, default_value = "")]
        term: String,
        /// The cursor to read after (Q7).
        #[arg(long)]
        after: Option<String>,
    },
    /// Mixed reads and writes at a steady rate against a running server; samples its memory and
    /// pool, and checks the acknowledged writes against the database at the end.
    Soak {
        /// The server's base URL.
        #[arg(long)]
        url: String,
        /// The server's process id (its memory is read from /proc).
        #[arg(long)]
        pid: u32,
        /// Seconds to run.
        #[arg(long, default_value_t = 180)]
        seconds: u64,
        /// Requests started per second.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        rate: u32,
        /// Authors loaded before the run (the targets of the writes).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        authors: i64,
        /// Seconds between two samples.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        sample_secs: u64,
    },
}

/// The catalogue's size and layout.
#[derive(clap::Args)]
struct Shape {
    /// Authors to create.
    #[arg(long, default_value_t = 10_000)]
    authors: u32,
    /// Books to create, at most 1,000,000.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    books: u32,
    /// How books are spread over authors and over the table.
    #[arg(long, value_enum, default_value_t = Layout::Scattered)]
    layout: Layout,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let mut config = Config::for_database(&cli.database_url);
    config.db_max_connections = cli.connections;
    config.no_migrate = true;
    let db = db::connect_and_migrate(&config, &Metrics::new()).await?;
    match cli.command {
        Tool::Load { shape } => load(&db, shape.authors, shape.books, shape.layout).await,
        Tool::Term { shape, min, max } => {
            let catalogue = Catalogue::new(shape.authors, shape.books, shape.layout);
            let (term, matches) = search_term(&db, &catalogue, min, max).await?;
            println!("{term}\t{matches}");
            Ok(())
        }
        Tool::Floor {
            query,
            concurrency,
            seconds,
            page,
            author,
            term,
            after,
        } => {
            let duration = Duration::from_secs(seconds);
            let params = Params {
                page,
                author,
                term,
                after,
            };
            floor(db, query, concurrency, duration, params).await
        }
        Tool::Soak {
            url,
            pid,
            seconds,
            rate,
            authors,
            sample_secs,
        } => {
            let plan = soak::Plan {
                url,
                pid,
                duration: Duration::from_secs(seconds),
                rate,
                authors,
                sample: Duration::from_secs(sample_secs),
            };
            soak::run(plan, db).await
        }
    }
}

/// Runs `query`'s statements from `concurrency` clients for `duration`; prints requests/s and
/// latency percentiles in the same shape as `run.sh` reports the server.
async fn floor(
    db: DatabaseConnection,
    query: Query,
    concurrency: usize,
    duration: Duration,
    params: Params,
) -> Result<(), String> {
    let db = Arc::new(db);
    let params = Arc::new(params);
    let deadline = Instant::now() + duration;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let db = Arc::clone(&db);
        let params = Arc::clone(&params);
        clients.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                statements_of(&db, query, &params).await?;
                latencies.push(started.elapsed());
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = clients.join_next().await {
        latencies.extend(result.map_err(|e| e.to_string())??);
    }
    latencies.sort_unstable();
    let percentile = |p: f64| bench::percentile_ms(&latencies, p);
    println!(
        "floor requests/s {:.1} p50_ms {:.2} p99_ms {:.2} requests {}",
        latencies.len() as f64 / duration.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.len()
    );
    Ok(())
}
