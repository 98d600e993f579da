//! The `api` binary as an operator runs it: start-up failures, logs, signals, migrations.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_api");

/// The binary with a clean environment: no setting leaks in from the caller's shell.
fn api() -> Command {
    let mut command = Command::new(BIN);
    for variable in [
        "DATABASE_URL",
        "LISTEN_ADDR",
        "RUST_LOG",
        "LOG_FORMAT",
        "NO_MIGRATE",
        "DB_TIMEOUT_SECS",
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
        "DATABASE_LISTEN_URL",
        "DATABASE_POOLER",
        "DATABASE_REPLICA_URLS",
    ] {
        command.env_remove(variable);
    }
    command
}

/// A child process that is killed if the test panics, so that no server outlives its test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `limit` for `child` to exit.
fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("the child can be polled") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn an_unreachable_database_stops_start_up_quickly_with_one_line_and_no_password() {
    let started = Instant::now();
    let output = api()
        .env("DATABASE_URL", "postgres://app:hunter2@127.0.0.1:9/books")
        .env("DB_TIMEOUT_SECS", "2")
        .env("LOG_FORMAT", "json")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON log line");
    assert_eq!(line["level"], "ERROR");
    let message = line["fields"]["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1:9"), "{message}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// The server binary on a loopback port, with its log lines collected as they come.
struct Server {
    child: KillOnDrop,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    address: String,
}

impl Server {
    /// Starts the binary with `DATABASE_URL=database` and `environment`; waits for its address.
    fn start(database: &str, environment: &[(&str, &str)]) -> Self {
        let mut command = api();
        command
            .env("DATABASE_URL", database)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .envs(environment.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = KillOnDrop(command.spawn().expect("the binary starts"));
        let (sender, lines) = mpsc::channel();
        let stderr = child.0.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut log = Vec::new();
        let address = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the server announces its address; log: {log:?}"));
            log.push(line.clone());
            if let Some((address, _)) = line
                .split_once("http://")
                .and_then(|(_, rest)| rest.split_once("/graphql"))
            {
                break address.to_owned();
            }
        };
        Self {
            child,
            lines,
            log,
            address,
        }
    }

    /// POSTs a GraphQL body on a fresh connection; returns the raw HTTP response.
    fn post(&self, body: &str) -> String {
        self.post_with(body, &[])
    }

    /// POSTs a GraphQL body with extra headers on a fresh connection; returns the raw HTTP
    /// response.
    fn post_with(&self, body: &str, headers: &[(&str, &str)]) -> String {
        let mut stream = TcpStream::connect(&self.address).expect("the server accepts");
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        write!(
            stream,
            "POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// The log so far, waiting up to `quiet` for each further line.
    fn log(&mut self, quiet: Duration) -> String {
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.log.push(line);
        }
        self.log.join("\n")
    }
}

#[test]
fn sigterm_finishes_the_server_cleanly_after_logging_each_request() {
    let mut server = Server::start("sqlite::memory:", &[]);

    let response = server.post(r#"{"query":"query Probe { authors { totalCount } }"}"#);
    Command::new("kill")
        .args(["-TERM", &server.child.0.id().to_string()])
        .status()
        .expect("kill runs");
    let status = wait(&mut server.child.0, Duration::from_secs(15));
    let log = server.log(Duration::from_secs(1));

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"data":{"authors":{"totalCount":0}}}"#),
        "{response}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}; log:\n{log}"
    );
    let request_line = log
        .lines()
        .find(|line| line.contains("operation=Probe"))
        .unwrap_or_else(|| panic!("no request line in:\n{log}"));
    for part in ["method=POST", "path=/graphql", "status=200", "latency="] {
        assert!(
            request_line.contains(part),
            "{part} missing from {request_line}"
        );
    }
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn an_internal_error_gives_the_client_only_an_error_id_that_finds_the_cause_in_the_log() {
    let path = std::env::temp_dir().join(format!("api_binary_errors_{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut server = Server::start(&url, &[("LOG_FORMAT", "json")]);
    // Break the database under the running server, as a bad manual migration would.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sea_orm::ConnectionTrait;
            let db = sea_orm::Database::connect(&url).await.unwrap();
            db.execute_unprepared("ALTER TABLE book RENAME TO book_moved")
                .await
                .unwrap();
            db.close().await.unwrap();
        });

    let response = server.post(r#"{"query":"{ books { nodes { title } } }"}"#);
    let log = server.log(Duration::from_millis(500));
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    let body = &response[response.find("\r\n\r\n").expect("a body") + 4..];
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    let error = &body["errors"][0];
    assert_eq!(error["message"], "internal server error", "{body}");
    assert_eq!(error["extensions"]["code"], "INTERNAL_SERVER_ERROR");
    let id = error["extensions"]["errorId"].as_str().expect("an errorId");
    assert_eq!(
        error["extensions"].as_object().unwrap().len(),
        2,
        "nothing else about the error: {body}"
    );
    assert!(!response.contains("book_moved") && !response.contains("no such table"));
    let line = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["error.id"] == id)
        .unwrap_or_else(|| panic!("no log line with error.id {id} in:\n{log}"));
    assert_eq!(line["level"], "ERROR");
    let cause = line["fields"]["error.cause"].as_str().expect("a cause");
    assert!(cause.contains("no such table: book"), "{line}");
}

#[test]
fn migrate_reports_applies_and_rolls_back_the_migrations() {
    let path = std::env::temp_dir().join(format!("api_binary_test_{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let run = |args: &[&str]| {
        let output = api()
            .env("DATABASE_URL", &url)
            .args(args)
            .output()
            .expect("the binary runs");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    };

    let fresh = run(&["migrate", "status"]);
    run(&["migrate", "up"]);
    let applied = run(&["migrate", "status"]);
    run(&["migrate", "down"]);
    let rolled_back = run(&["migrate", "status"]);
    let _ = std::fs::remove_file(&path);

    assert!(
        fresh.starts_with("Pending\tm20261126_000001_create_author_and_book"),
        "{fresh}"
    );
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        [
            "Applied\tm20261126_000001_create_author_and_book",
            "Applied\tm20261203_000001_index_every_ordering"
        ],
        "{applied}"
    );
    assert_eq!(
        rolled_back.lines().collect::<Vec<_>>(),
        [
            "Applied\tm20261126_000001_create_author_and_book",
            "Pending\tm20261203_000001_index_every_ordering"
        ],
        "one step back by default: {rolled_back}"
    );
}

#[test]
fn print_schema_needs_no_database() {
    let output = api()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
        .arg("print-schema")
        .output()
        .expect("the binary runs");
    let sdl = String::from_utf8(output.stdout).unwrap();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();

    assert!(output.status.success());
    assert_eq!(sdl, checked_in);
}

/// Behind a transaction-mode pooler the migrations cannot pass it: `serve`, `migrate` and `seed`
/// refuse with one line, before connecting, when there is no direct URL to run them on.
#[test]
fn a_transaction_pooler_without_a_direct_url_is_refused_by_every_command() {
    for command in [&["serve"][..], &["migrate", "status"], &["seed"]] {
        let refused = api()
            .args(command)
            // Nothing listens there: the refusal comes before any connection.
            .env("DATABASE_URL", "postgres://app:s3cret@127.0.0.1:9/books")
            .env("DATABASE_POOLER", "transaction")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{command:?}: {stderr}");
        assert!(
            stderr.contains("DATABASE_POOLER=transaction needs DATABASE_LISTEN_URL"),
            "{command:?}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{command:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{command:?}: {stderr}");
    }
}

#[test]
fn an_open_service_refuses_to_listen_beyond_loopback_unless_told() {
    let refused = api()
        .env("DATABASE_URL", "sqlite::memory:")
        .env("LISTEN_ADDR", "0.0.0.0:0")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("ALLOW_OPEN_WRITES"), "{stderr}");

    let mut allowed = api()
        .env("DATABASE_URL", "sqlite::memory:")
        .env("LISTEN_ADDR", "0.0.0.0:0")
        .env("ALLOW_OPEN_WRITES", "true")
        .stderr(Stdio::piped())
        .spawn()
        .map(KillOnDrop)
        .expect("the binary starts");
    let stderr = allowed.0.stderr.take().unwrap();
    let mut announced = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let warned = line.contains("ALLOW_OPEN_WRITES=true");
        announced.push(line);
        if warned {
            break;
        }
    }
    assert!(
        announced
            .iter()
            .any(|line| line.contains("ALLOW_OPEN_WRITES=true")),
        "{announced:?}"
    );
    assert!(
        announced
            .iter()
            .any(|line| line.contains("GraphQL on http://0.0.0.0:")),
        "{announced:?}"
    );
}

#[test]
fn a_token_from_api_token_writes_and_its_subject_is_logged_not_the_token() {
    const SECRET: &str = "the secret of this test, at least 32 bytes";
    let made = api()
        .args([
            "token",
            "--secret",
            SECRET,
            "--role",
            "writer",
            "--subject",
            "ada",
        ])
        .output()
        .expect("the binary runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let short = api()
        .args(["token", "--secret", "short"])
        .output()
        .expect("the binary runs");
    assert!(!short.status.success());

    let mut server = Server::start(
        "sqlite::memory:",
        &[("JWT_SECRET", SECRET), ("LOG_FORMAT", "json")],
    );
    let mutation =
        r#"{"query":"mutation Write { createAuthor(input: {name: \"Ada\"}) { name } }"}"#;
    let anonymous = server.post(mutation);
    let with_token = server.post_with(mutation, &[("authorization", &format!("Bearer {token}"))]);
    let log = server.log(Duration::from_secs(1));

    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(with_token.starts_with("HTTP/1.1 200"), "{with_token}");
    assert!(
        with_token.contains(r#"{"data":{"createAuthor":{"name":"Ada"}}}"#),
        "{with_token}"
    );
    let line = log
        .lines()
        .rfind(|line| line.contains("\"operation\":\"Write\"") && line.contains("200"))
        .unwrap_or_else(|| panic!("no request line in:\n{log}"));
    assert!(line.contains("\"subject\":\"ada\""), "{line}");
    assert!(
        !log.contains(&token[token.len() - 20..]),
        "the token is in the log:\n{log}"
    );
    assert!(!log.contains(SECRET), "the secret is in the log");
}
