//! The `api` binary: parses the configuration and runs one subcommand.

use std::process::ExitCode;

use api::{
    app::{self, AppState},
    config::{Cli, Command, Config, MigrateAction},
    db, graphql,
    metrics::Metrics,
    seed, telemetry,
};
use migration::{Migrator, MigratorTrait};

/// mimalloc instead of the system allocator: a GraphQL response is thousands of small
/// allocations, and glibc's malloc and free were a large share of the server's CPU
/// (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::from_env();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", graphql::schema_builder().finish().sdl());
        return ExitCode::SUCCESS;
    }
    telemetry::init(cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate { action } => migrate(&cli.config, action).await,
        Command::Seed => run_seed(&cli.config).await,
        Command::PrintSchema => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let metrics = Metrics::new();
    let first_run = seed::is_first_run(config);
    let db = db::connect_and_migrate(config, &metrics).await?;
    if first_run {
        seed_demo_data(&db, "a new database: the default SQLite file did not exist").await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.listen_addr))?;
    let address = listener
        .local_addr()
        .map_err(|err| format!("cannot read the listening address: {err}"))?;
    tracing::info!(
        database = %db::redacted(&config.database_url),
        "GraphQL on http://{address}/graphql"
    );
    let app = app::build_app(AppState::new(db.clone(), metrics, config));
    app::serve(
        listener,
        app,
        app::shutdown_signal(),
        config.shutdown_timeout(),
    )
    .await
    .map_err(|err| format!("server error: {err}"))?;
    db.close()
        .await
        .map_err(|err| format!("closing the pool: {err}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(config: &Config, action: MigrateAction) -> Result<(), String> {
    let config = Config {
        no_migrate: true,
        ..config.clone()
    };
    let db = db::connect_and_migrate(&config, &Metrics::new()).await?;
    let result = match action {
        MigrateAction::Up { steps } => Migrator::up(&db, steps).await,
        MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await,
        MigrateAction::Fresh => Migrator::fresh(&db).await,
        MigrateAction::Status => Migrator::get_migration_with_status(&db)
            .await
            .map(|migrations| {
                for migration in migrations {
                    println!("{}\t{}", migration.status(), migration.name());
                }
            }),
    };
    result.map_err(|err| format!("migration failed: {err}"))
}

async fn run_seed(config: &Config) -> Result<(), String> {
    let db = db::connect_and_migrate(config, &Metrics::new()).await?;
    seed_demo_data(&db, "asked for").await
}

/// Fills `db` with the demo data unless it holds authors, and logs what it did and `why`.
async fn seed_demo_data(db: &sea_orm::DatabaseConnection, why: &str) -> Result<(), String> {
    match seed::seed(db)
        .await
        .map_err(|err| format!("seeding failed: {err:?}"))?
    {
        seed::Seeded::AlreadyPopulated => {
            tracing::info!(why, "the database already holds authors; nothing seeded");
        }
        seed::Seeded::Inserted { authors, books } => {
            tracing::info!(authors, books, why, "demo data seeded");
        }
    }
    Ok(())
}
