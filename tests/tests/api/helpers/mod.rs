//! `TestApp`: the real router over a fresh, migrated database, driven in-process.
//!
//! SQLite tests use a private in-memory database. PostgreSQL tests run when `TEST_POSTGRES_URL`
//! names a server (for example `postgres://postgres@127.0.0.1:5432/postgres`): each creates a
//! uniquely named database, runs the real migrations and drops the database when it ends. The
//! PgBouncer tests run when `TEST_PGBOUNCER_URL` names a PgBouncer in `pool_mode = transaction`
//! in front of that server too (`deploy/pgbouncer.sh`): the same, with the app reaching its
//! database through the pooler (`DATABASE_POOLER=transaction`).

mod databases;
mod proxy;
mod ws;

use std::sync::LazyLock;

use api::{
    app::{AppState, build_app},
    config::{Config, Pooler},
    db,
    domain::{AuthorName, BookTitle, PublishedYear},
    live::Changes,
    metrics::Metrics,
    store::{self, book::NewBook},
};
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use proptest::test_runner::TestRunner;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tower::ServiceExt;

use self::databases::{TempDatabase, TempFile};
pub use self::{
    proxy::TcpProxy,
    ws::{Received, WsClient},
};

/// Runs each listed `async fn name(backend: Backend)` as one test per backend: `sqlite::name`
/// always, `postgres::name` when `TEST_POSTGRES_URL` is set and `mariadb::name` when
/// `TEST_MYSQL_URL` is, `pgbouncer::name` when `TEST_PGBOUNCER_URL` is (otherwise they are
/// ignored, with the reason; `build.rs` decides). With
/// `multi_thread:` first, the tests run on a two-worker runtime instead of the current thread.
macro_rules! on_every_backend {
    (postgres_only: $($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "set TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $test() {
                    if let Some(crate::helpers::Backend::Postgres(admin_url)) = crate::helpers::Backend::postgres() {
                        super::$test(admin_url).await;
                    }
                }
            )*
        }
    };
    (mariadb_only: $($test:ident),* $(,)?) => {
        mod mariadb {
            $(
                #[tokio::test]
                #[cfg_attr(not(mysql_tests), ignore = "set TEST_MYSQL_URL to run on MariaDB")]
                async fn $test() {
                    if let Some(crate::helpers::Backend::Mysql(admin_url)) = crate::helpers::Backend::mysql() {
                        super::$test(admin_url).await;
                    }
                }
            )*
        }
    };
    (multi_thread: $($test:ident),* $(,)?) => {
        on_every_backend!(@modules (flavor = "multi_thread", worker_threads = 2);
            sqlite_multi_thread, postgres_multi_thread, mariadb_multi_thread,
            pgbouncer_multi_thread; $($test),*);
    };
    ($($test:ident),* $(,)?) => {
        on_every_backend!(@modules (); sqlite, postgres, mariadb, pgbouncer; $($test),*);
    };
    (@modules $flavor:tt; $sqlite:ident, $postgres:ident, $mariadb:ident, $pgbouncer:ident;
        $($test:ident),*) => {
        mod $pgbouncer {
            $(
                #[tokio::test $flavor]
                #[cfg_attr(not(pgbouncer_tests), ignore = "set TEST_PGBOUNCER_URL to run through PgBouncer")]
                async fn $test() {
                    if let Some(backend) = crate::helpers::Backend::pgbouncer() {
                        super::$test(backend).await;
                    }
                }
            )*
        }
        mod $mariadb {
            $(
                #[tokio::test $flavor]
                #[cfg_attr(not(mysql_tests), ignore = "set TEST_MYSQL_URL to run on MariaDB")]
                async fn $test() {
                    if let Some(backend) = crate::helpers::Backend::mysql() {
                        super::$test(backend).await;
                    }
                }
            )*
        }
        mod $sqlite {
            $(
                #[tokio::test $flavor]
                async fn $test() {
                    super::$test(crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod $postgres {
            $(
                #[tokio::test $flavor]
                #[cfg_attr(not(postgres_tests), ignore = "set TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $test() {
                    if let Some(backend) = crate::helpers::Backend::postgres() {
                        super::$test(backend).await;
                    }
                }
            )*
        }
    };
}

/// `config` for a database reached through PgBouncer in `pool_mode = transaction`, whose own
/// URL is `direct`.
fn behind_pgbouncer(config: &mut Config, direct: String) {
    config.database_pooler = Pooler::Transaction;
    config.database_listen_url = Some(direct);
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        api::telemetry::init(api::config::LogFormat::Text);
    }
});

/// Where a test's database lives.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A private in-memory SQLite database.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this admin URL.
    Postgres(String),
    /// A fresh database on the MariaDB server at this admin URL.
    Mysql(String),
    /// A fresh database on the PostgreSQL server at this admin URL, which the app reaches
    /// through the PgBouncer (in `pool_mode = transaction`) on this port of 127.0.0.1.
    PgBouncer(String, u16),
}

impl Backend {
    /// PostgreSQL, when `TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Self> {
        std::env::var("TEST_POSTGRES_URL").ok().map(Self::Postgres)
    }

    /// MariaDB, when `TEST_MYSQL_URL` is set.
    pub fn mysql() -> Option<Self> {
        std::env::var("TEST_MYSQL_URL").ok().map(Self::Mysql)
    }

    /// PostgreSQL through PgBouncer, when `TEST_PGBOUNCER_URL` is set (and `TEST_POSTGRES_URL`,
    /// where the test databases are made).
    pub fn pgbouncer() -> Option<Self> {
        let pooler = std::env::var("TEST_PGBOUNCER_URL").ok()?;
        let Some(Self::Postgres(admin_url)) = Self::postgres() else {
            panic!("TEST_PGBOUNCER_URL needs TEST_POSTGRES_URL: the server behind the pooler");
        };
        let port = pooler
            .rsplit_once('@')
            .map_or(pooler.as_str(), |(_, host)| host)
            .split('/')
            .next()
            .and_then(|authority| authority.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("TEST_PGBOUNCER_URL names no port: {pooler}"));
        Some(Self::PgBouncer(admin_url, port))
    }
}

/// The application over a fresh database.
pub struct TestApp {
    pub router: Router,
    pub db: DatabaseConnection,
    pub metrics: Metrics,
    /// Where the helpers' writes announce their changes: this app's subscribers.
    changes: Changes,
    url: String,
    /// The database's own URL, when the app reaches it through PgBouncer.
    direct_url: Option<String>,
    _database: Option<TempDatabase>,
    _file: Option<TempFile>,
}

impl TestApp {
    /// The app with default settings over a fresh, migrated database.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// The app over a fresh, migrated database, with settings changed by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        LazyLock::force(&TRACING);
        let (url, database) = match backend {
            Backend::Sqlite => ("sqlite::memory:".to_owned(), None),
            Backend::Postgres(admin_url) | Backend::Mysql(admin_url) => {
                let database = TempDatabase::create(&admin_url).await;
                (database.url(None), Some(database))
            }
            Backend::PgBouncer(admin_url, port) => {
                let database = TempDatabase::create(&admin_url).await;
                let direct = database.url(None);
                let url = database.url(Some(port));
                return Self::over(url, Some(database), |config| {
                    behind_pgbouncer(config, direct);
                    configure(config);
                })
                .await;
            }
        };
        Self::over(url, database, configure).await
    }

    /// On SQLite, the app over a fresh database FILE with a pool of several connections (an
    /// in-memory database has one), so that writers really contend; on PostgreSQL as `spawn`.
    pub async fn spawn_pooled(backend: Backend) -> Self {
        Self::spawn_pooled_with(backend, |_| {}).await
    }

    /// As [`TestApp::spawn_pooled`], with settings changed by `configure`.
    pub async fn spawn_pooled_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        match backend {
            Backend::Sqlite => {
                let file = TempFile::new("db");
                let url = format!("sqlite://{}?mode=rwc", file.0.display());
                let mut app = Self::over(url, None, configure).await;
                app._file = Some(file);
                app
            }
            postgres => Self::spawn_with(postgres, configure).await,
        }
    }

    /// The app over a fresh PostgreSQL database with a read replica: the same database on the
    /// streaming replica at `replica_port` (it appears there once the replica has replayed its
    /// creation). Returns the replica's URL too.
    #[allow(dead_code)] // used by the `replicas` test binary
    pub async fn spawn_with_replica(
        admin_url: &str,
        replica_port: u16,
        configure: impl FnOnce(&mut Config),
    ) -> (Self, String) {
        LazyLock::force(&TRACING);
        let database = TempDatabase::create(admin_url).await;
        let replica_url = database.url(Some(replica_port));
        let waited = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                if let Ok(db) = sea_orm::Database::connect(replica_url.as_str()).await {
                    db.close().await.ok();
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "the database reached the replica");
        let url = database.url(None);
        let replica = replica_url.clone();
        let app = Self::over(url, Some(database), move |config| {
            config.database_replica_urls = vec![replica];
            configure(config);
        })
        .await;
        (app, replica_url)
    }

    /// The app over a fresh PostgreSQL database that it reaches through `proxy`.
    pub async fn spawn_behind(
        admin_url: &str,
        proxy: &TcpProxy,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let database = TempDatabase::create(admin_url).await;
        let url = database.url(Some(proxy.port));
        Self::over(url, Some(database), configure).await
    }

    /// The app over a fresh PostgreSQL database whose changes it LISTENs for through `proxy`
    /// (its pool connects directly). It returns without waiting for the first LISTEN: through a
    /// cut proxy, the app is not listening yet.
    pub async fn spawn_listening_behind(admin_url: &str, proxy: &TcpProxy) -> Self {
        let database = TempDatabase::create(admin_url).await;
        let url = database.url(None);
        let listen_url = database.url(Some(proxy.port));
        Self::build(
            url,
            Some(database),
            |config| config.database_listen_url = Some(listen_url),
            false,
        )
        .await
    }

    async fn over(
        url: String,
        database: Option<TempDatabase>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::build(url, database, configure, true).await
    }

    /// The app over `url`, configured by `configure`; once it listens for changes when
    /// `listening` (on PostgreSQL).
    async fn build(
        url: String,
        database: Option<TempDatabase>,
        configure: impl FnOnce(&mut Config),
        listening: bool,
    ) -> Self {
        let mut config = Config::for_database(&url);
        configure(&mut config);
        let metrics = Metrics::new();
        let pooled = db::connect_and_migrate(&config, &metrics)
            .await
            .expect("the test database is reachable");
        // The tests' own statements reach the database directly: behind the pooler they would
        // have to run in transactions, as the app's do.
        let db = match config.database_pooler {
            Pooler::None => pooled.clone(),
            Pooler::Transaction => db::connect(&config.direct(), &metrics)
                .await
                .expect("the test database is reachable directly"),
        };
        let replicas = api::replicas::Replicas::from_config(&config, &metrics)
            .await
            .expect("valid replica settings");
        let state = AppState::new(pooled, metrics.clone(), &config)
            .expect("valid settings")
            .with_replicas(replicas);
        let hub = state.hub.clone();
        // On PostgreSQL, changes committed from here on reach the subscribers.
        if listening {
            tokio::time::timeout(std::time::Duration::from_secs(10), hub.listening())
                .await
                .expect("the app listens for changes");
        }
        let router = build_app(state);
        Self {
            router,
            db,
            metrics,
            changes: Changes::new(hub),
            url,
            direct_url: config
                .database_listen_url
                .filter(|_| config.database_pooler == Pooler::Transaction),
            _database: database,
            _file: None,
        }
    }

    /// The application over `db`, a handle on this app's database (with a metric callback of its
    /// own, say), configured as this app is by default.
    pub fn router_over(&self, db: DatabaseConnection) -> Router {
        let config = Config::for_database(&self.url);
        build_app(AppState::new(db, Metrics::new(), &config).expect("valid settings"))
    }

    /// A second server instance over the same database: its own pool, loaders and metrics, as
    /// another process of a horizontally scaled deployment would have. Its start-up runs the
    /// migrations again, which find nothing to do. (A private in-memory SQLite database cannot be
    /// shared: use [`TestApp::spawn_pooled`] for the first instance.)
    pub async fn another_instance(&self) -> Self {
        assert_ne!(
            self.url, "sqlite::memory:",
            "an in-memory database has one instance"
        );
        let direct = self.direct_url.clone();
        Self::over(self.url.clone(), None, |config| {
            if let Some(direct) = direct {
                behind_pgbouncer(config, direct);
            }
        })
        .await
    }

    /// Serves the app on a real loopback socket until `shutdown` completes, as the binary does;
    /// returns the address and the server task.
    pub async fn listen_until(
        &self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        grace: std::time::Duration,
    ) -> (
        std::net::SocketAddr,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("an address");
        let server = tokio::spawn(api::app::serve(
            listener,
            self.router.clone(),
            shutdown,
            grace,
        ));
        (address, server)
    }

    /// Waits until `count` subscriptions are open: each is then registered, and receives every
    /// change committed from now on.
    pub async fn subscriptions_open(&self, count: i64) {
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while self.metrics.subscriptions_open() != count {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "expected {count} open subscriptions, have {}",
            self.metrics.subscriptions_open()
        );
    }

    /// Serves the app on a real loopback socket for the rest of the test.
    pub async fn listen(&self) -> std::net::SocketAddr {
        let (address, _server) = self
            .listen_until(std::future::pending(), std::time::Duration::ZERO)
            .await;
        address
    }

    /// POSTs a query and returns the JSON response.
    pub async fn graphql(&self, query: &str) -> Value {
        self.graphql_with(query, json!({})).await
    }

    /// POSTs a query with variables and returns the JSON response.
    pub async fn graphql_with(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let (status, json) = self.post_json(&body).await;
        assert_eq!(status, StatusCode::OK, "unexpected status; body: {json}");
        json
    }

    /// POSTs a query and returns the response and how many SQL statements it ran.
    pub async fn counted(&self, query: &str) -> (Value, u64) {
        let before = self.metrics.statements_executed();
        let response = self.graphql(query).await;
        (response, self.metrics.statements_executed() - before)
    }

    /// POSTs a JSON body to `/graphql`.
    pub async fn post_json(&self, body: &Value) -> (StatusCode, Value) {
        send_graphql(self.router.clone(), body.clone()).await
    }

    /// Sends any request to the router: status, headers, body.
    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("a body").to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }

    /// Inserts an author with books `(title, year)` through the store, as `createAuthor` does;
    /// returns the ids.
    pub async fn author_with_books(
        &self,
        name: &str,
        books: &[(&str, Option<i32>)],
    ) -> (i64, Vec<i64>) {
        let name = AuthorName::parse("name", name).expect("a valid name");
        let books: Vec<NewBook> = books
            .iter()
            .map(|(title, year)| NewBook {
                title: BookTitle::parse("title", title).expect("a valid title"),
                published_year: year
                    .map(|y| PublishedYear::parse("year", y).expect("a valid year")),
            })
            .collect();
        let (author, books) =
            store::author::create_with_books(&self.db, &self.changes, &name, &books)
                .await
                .expect("insert an author and books");
        (author.id, books.into_iter().map(|b| b.id).collect())
    }

    /// Inserts `authors` authors named `Author 1`… each with `books` books; returns their ids.
    pub async fn authors_with_books(&self, authors: usize, books: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(authors);
        for a in 1..=authors {
            let titles: Vec<String> = (1..=books).map(|b| format!("Book {a}.{b}")).collect();
            let books: Vec<(&str, Option<i32>)> = titles
                .iter()
                .map(|t| (t.as_str(), Some(1900 + b_year(a))))
                .collect();
            ids.push(
                self.author_with_books(&format!("Author {a}"), &books)
                    .await
                    .0,
            );
        }
        ids
    }

    /// Rows in `table`, read with raw SQL.
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
    }

    /// The integer column `n` of the one row `sql` returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let statement = sea_orm::Statement::from_string(self.db.get_database_backend(), sql);
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
            .expect("one row");
        row.try_get::<i64>("", "n").expect("an integer `n`")
    }
}

fn b_year(a: usize) -> i32 {
    i32::try_from(a % 100).unwrap_or(0)
}

/// What a property test (`hostile`, `model`, `fuzz`) drives the app with: a current-thread
/// runtime to block on, and a runner of `cases` cases that keeps no failure files.
pub fn property_harness(cases: u32) -> (tokio::runtime::Runtime, TestRunner) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let runner = TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    (runtime, runner)
}

/// POSTs a JSON body to `/graphql` on `router`; usable from spawned tasks.
pub async fn send_graphql(router: Router, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    let response = router
        .oneshot(request)
        .await
        .expect("the router never fails");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {response}"))
}

/// `text` with every byte but unreserved characters percent-encoded, for a URL's query string.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
