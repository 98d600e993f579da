//! `TestApp`: the real router over a fresh, migrated database, driven in-process.
//!
//! SQLite tests use a private in-memory database. PostgreSQL tests run when `TEST_POSTGRES_URL`
//! names a server (for example `postgres://postgres@127.0.0.1:5432/postgres`): each creates a
//! uniquely named database, runs the real migrations and drops the database when it ends.

use std::sync::{
    Arc, LazyLock, Mutex,
    atomic::{AtomicBool, AtomicU32, Ordering},
};

use api::{
    app::{AppState, build_app},
    config::Config,
    db,
    domain::{AuthorName, BookTitle, PublishedYear},
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
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Runs each listed `async fn name(backend: Backend)` as one test per backend: `sqlite::name`
/// always, `postgres::name` when `TEST_POSTGRES_URL` is set (otherwise it is ignored, with the
/// reason; `build.rs` decides). With `multi_thread:` first, the tests
/// run on a two-worker runtime instead of the current thread.
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
    (multi_thread: $($test:ident),* $(,)?) => {
        on_every_backend!(@modules (flavor = "multi_thread", worker_threads = 2);
            sqlite_multi_thread, postgres_multi_thread; $($test),*);
    };
    ($($test:ident),* $(,)?) => {
        on_every_backend!(@modules (); sqlite, postgres; $($test),*);
    };
    (@modules $flavor:tt; $sqlite:ident, $postgres:ident; $($test:ident),*) => {
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
}

impl Backend {
    /// PostgreSQL, when `TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Self> {
        std::env::var("TEST_POSTGRES_URL").ok().map(Self::Postgres)
    }
}

/// The application over a fresh database.
pub struct TestApp {
    pub router: Router,
    pub db: DatabaseConnection,
    pub metrics: Metrics,
    url: String,
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
            Backend::Postgres(admin_url) => {
                let database = TempDatabase::create(&admin_url).await;
                (database.url(None), Some(database))
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

    async fn over(
        url: String,
        database: Option<TempDatabase>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database(&url);
        configure(&mut config);
        let metrics = Metrics::new();
        let db = db::connect_and_migrate(&config, &metrics)
            .await
            .expect("the test database is reachable");
        let router = build_app(AppState::new(db.clone(), metrics.clone(), &config));
        Self {
            router,
            db,
            metrics,
            url,
            _database: database,
            _file: None,
        }
    }

    /// The application over `db`, a handle on this app's database (with a metric callback of its
    /// own, say), configured as this app is by default.
    pub fn router_over(&self, db: DatabaseConnection) -> Router {
        let config = Config::for_database(&self.url);
        build_app(AppState::new(db, Metrics::new(), &config))
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
        Self::over(self.url.clone(), None, |_| {}).await
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
        let (author, books) = store::author::create_with_books(&self.db, &name, &books)
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

/// A uniquely named file in the temporary directory, removed (with SQLite's companions) on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(extension: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "api_test_{}_{}.{extension}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A uniquely named PostgreSQL database, dropped when the test ends (even by panicking).
struct TempDatabase {
    admin_url: String,
    name: String,
}

impl TempDatabase {
    async fn create(admin_url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "api_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::connect(admin_url).await.unwrap_or_else(|err| {
            panic!("TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {err}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the test database");
        admin.close().await.ok();
        Self {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// The database's URL, or through `port` on 127.0.0.1 instead of the server's own address.
    fn url(&self, port: Option<u16>) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        let base = match (port, base.rsplit_once('@')) {
            (Some(port), Some((credentials, _))) => format!("{credentials}@127.0.0.1:{port}"),
            _ => base.to_owned(),
        };
        match port {
            // Through the proxy in plain text, so that it can see which statement passes.
            Some(_) => format!("{base}/{}?sslmode=disable", self.name),
            None => format!("{base}/{}", self.name),
        }
    }
}

/// A TCP proxy on loopback that a test can cut (dropping every connection and refusing new ones)
/// and restore, to play a database outage; or arm to cut the moment a client sends given bytes,
/// to break a connection in the middle of a transaction.
pub struct TcpProxy {
    pub port: u16,
    shared: Arc<ProxyState>,
    accept: tokio::task::JoinHandle<()>,
}

/// The longest trip wire a [`TcpProxy`] can be armed with.
pub const MAX_TRIP_WIRE: usize = 64;

#[derive(Default)]
struct ProxyState {
    open: AtomicBool,
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Bytes that, when a client sends them, cut the proxy before they are forwarded.
    trip_wire: Mutex<Option<Vec<u8>>>,
    tripped: AtomicU32,
}

impl ProxyState {
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("not poisoned").drain(..) {
            connection.abort();
        }
    }

    /// Whether `bytes` hold the armed trip wire; disarms it when they do.
    fn trips(&self, bytes: &[u8]) -> bool {
        let mut wire = self.trip_wire.lock().expect("not poisoned");
        let hit = wire
            .as_deref()
            .is_some_and(|wire| bytes.windows(wire.len()).any(|window| window == wire));
        if hit {
            *wire = None;
            self.tripped.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

impl TcpProxy {
    /// Forwards 127.0.0.1:`port` to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let shared = Arc::new(ProxyState::default());
        shared.open.store(true, Ordering::SeqCst);
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !shared.open.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused
                    }
                    let forward =
                        tokio::spawn(forward(inbound, target.clone(), Arc::clone(&shared)));
                    let mut connections = shared.connections.lock().expect("not poisoned");
                    connections.retain(|connection| !connection.is_finished());
                    connections.push(forward.abort_handle());
                }
            }
        });
        Self {
            port,
            shared,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.shared.cut();
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }

    /// Cuts the proxy, as [`TcpProxy::cut`], when a client next sends `bytes` (at most
    /// [`MAX_TRIP_WIRE`] of them), which are not forwarded.
    pub fn cut_when_sent(&self, bytes: &[u8]) {
        assert!(
            bytes.len() <= MAX_TRIP_WIRE,
            "a trip wire of {} bytes",
            bytes.len()
        );
        *self.shared.trip_wire.lock().expect("not poisoned") = Some(bytes.to_vec());
    }

    /// How many times an armed trip wire has cut the proxy.
    pub fn tripped(&self) -> u32 {
        self.shared.tripped.load(Ordering::SeqCst)
    }
}

/// Copies bytes both ways between a client and `target` until either side closes, checking what
/// the client sends against the trip wire.
async fn forward(inbound: tokio::net::TcpStream, target: String, shared: Arc<ProxyState>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
        return;
    };
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_server, mut to_server) = outbound.into_split();
    let upstream = async {
        let mut buffer = vec![0; 64 * 1024];
        // The end of what came before, so that a trip wire split across two reads is seen.
        let mut seen = Vec::new();
        loop {
            let read = from_client.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            seen.extend_from_slice(&buffer[..read]);
            if shared.trips(&seen) {
                shared.cut();
                return Ok(());
            }
            seen.drain(..seen.len().saturating_sub(MAX_TRIP_WIRE));
            to_server.write_all(&buffer[..read]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
    let _: std::io::Result<()> = tokio::select! {
        result = upstream => result,
        result = downstream => result.map(drop),
    };
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.cut();
        self.accept.abort();
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop runs outside any async context we can block on, so use a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await?;
                admin.execute_unprepared(&sql).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
