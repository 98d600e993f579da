//! The `api` binary: parses the configuration and runs one subcommand.

use std::process::ExitCode;

use api::{
    app::{self, AppState},
    config::{Cli, Command, Config},
    db, graphql, seed, telemetry,
};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", graphql::schema_builder().finish().sdl());
        return ExitCode::SUCCESS;
    }
    telemetry::init();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
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
    let (db, statements) = db::connect_and_migrate(config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.listen_addr))?;
    tracing::info!("GraphQL on http://{}/graphql", config.listen_addr);
    let app = app::build_app(AppState::new(db.clone(), statements, config));
    app::serve(listener, app)
        .await
        .map_err(|err| format!("server error: {err}"))?;
    db.close()
        .await
        .map_err(|err| format!("closing the pool: {err}"))
}

async fn run_seed(config: &Config) -> Result<(), String> {
    let (db, _) = db::connect_and_migrate(config).await?;
    match seed::seed(&db)
        .await
        .map_err(|err| format!("seeding failed: {err:?}"))?
    {
        seed::Seeded::AlreadyPopulated => {
            tracing::info!("the database already holds authors; nothing seeded");
        }
        seed::Seeded::Inserted { authors, books } => {
            tracing::info!(authors, books, "demo data seeded");
        }
    }
    Ok(())
}
