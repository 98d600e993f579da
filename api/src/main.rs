//! The `api` binary: parses the configuration and runs one subcommand.

use std::process::ExitCode;

use api::{
    app::{self, AppState},
    auth,
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
    if let Some(Command::Token {
        role,
        subject,
        expires_in,
        secret,
    }) = &cli.command
    {
        return print_token(&cli.config, role, subject, *expires_in, secret.as_deref());
    }
    telemetry::init(cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate { action } => migrate(&cli.config, action).await,
        Command::Seed => run_seed(&cli.config).await,
        Command::PrintSchema | Command::Token { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a development token signed with `secret`, or `JWT_SECRET`.
fn print_token(
    config: &Config,
    role: &str,
    subject: &str,
    expires_in: u64,
    secret: Option<&str>,
) -> ExitCode {
    let Some(secret) = secret.or(config.jwt_secret.as_deref()) else {
        eprintln!("api token signs with a secret (HS256): pass --secret or set JWT_SECRET");
        return ExitCode::FAILURE;
    };
    match auth::development_token(
        secret,
        &config.jwt_role_claim,
        role,
        subject,
        std::time::Duration::from_secs(expires_in),
        config.jwt_issuer.as_deref(),
        config.jwt_audience.as_deref(),
    ) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let metrics = Metrics::new();
    // Settings are checked before anything else: a bad key or an exposed open service never
    // touches the database.
    let auth = auth::Auth::from_config(config)?;
    let exposed = !config.listen_addr.ip().is_loopback();
    if auth.is_open() && exposed && !config.allow_open_writes {
        return Err(format!(
            "refusing to listen on {} with no bearer tokens: anyone who reaches it could \
             write. Set JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWT_JWKS_FILE, or \
             ALLOW_OPEN_WRITES=true if that is what you want",
            config.listen_addr
        ));
    }
    if config.database_url.starts_with("postgres") {
        api::live::check_listen_url(config.listen_url())?;
    }
    let replicas = api::replicas::Replicas::from_config(config, &metrics).await?;
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
    // Before the address is announced: a SIGTERM from then on shuts down gracefully.
    let shutdown = app::shutdown_signal();
    tracing::info!(
        database = %db::redacted(&config.database_url),
        "GraphQL on http://{address}/graphql"
    );
    if !auth.is_open() {
        tracing::info!(
            anonymous_reads = config.anonymous_reads,
            writer_role = %config.writer_role,
            "bearer tokens on: mutations need the writer role"
        );
    } else if exposed {
        tracing::warn!(
            "no bearer tokens and ALLOW_OPEN_WRITES=true: anyone who reaches the service may write"
        );
    } else {
        tracing::info!("no bearer tokens: open to anyone on this machine (loopback only)");
    }
    let app = app::build_app(
        AppState::with_auth(db.clone(), metrics, config, auth).with_replicas(replicas),
    );
    app::serve(listener, app, shutdown, config.shutdown_timeout())
        .await
        .map_err(|err| format!("server error: {err}"))?;
    db.close()
        .await
        .map_err(|err| format!("closing the pool: {err}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(config: &Config, action: MigrateAction) -> Result<(), String> {
    db::check_pooler(config)?;
    let config = Config {
        no_migrate: true,
        ..config.direct()
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
    db::check_pooler(config)?;
    let db = db::connect_and_migrate(&config.direct(), &Metrics::new()).await?;
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
