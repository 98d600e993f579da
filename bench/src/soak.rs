//! The soak: mixed reads and writes at a steady rate against a running server, with the server's
//! memory, its pool and the errors sampled as it goes, and every acknowledged write checked
//! against the database at the end. `bench/run.sh --soak SECONDS` runs it (RELIABILITY.md).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet, time::MissedTickBehavior};

/// What the soak is told to do.
pub struct Plan {
    /// The server, e.g. `http://127.0.0.1:18088`.
    pub url: String,
    /// The server's process, whose resident memory is sampled.
    pub pid: u32,
    /// How long to run.
    pub duration: Duration,
    /// Requests started per second, whatever the answers' pace (an open loop).
    pub rate: u32,
    /// Authors loaded before the run (ids 1..=authors), the targets of the writes.
    pub authors: i64,
    /// Seconds between two samples.
    pub sample: Duration,
}

/// The writes the server acknowledged: the books and authors the soak created and has not
/// deleted, and where each book is. A book or author is taken out while a request that changes it
/// is in flight, so that no two requests race on one row.
#[derive(Default)]
struct Ledger {
    /// Books under the loaded authors: (book, author).
    books: Vec<(i64, i64)>,
    /// Authors the soak created, with their books.
    authors: Vec<(i64, BTreeSet<i64>)>,
}

impl Ledger {
    /// Every soak book with its author, and the soak's authors.
    fn expected(&self) -> (BTreeMap<i64, i64>, BTreeSet<i64>) {
        let mut books: BTreeMap<i64, i64> = self.books.iter().copied().collect();
        for (author, own) in &self.authors {
            books.extend(own.iter().map(|book| (*book, *author)));
        }
        (
            books,
            self.authors.iter().map(|(author, _)| *author).collect(),
        )
    }
}

/// Counters shared by the requests in flight.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    writes: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    first_errors: Mutex<Vec<String>>,
}

/// Runs the soak; `Err` names every check that failed.
pub async fn run(plan: Plan, db: DatabaseConnection) -> Result<(), String> {
    let client = reqwest::Client::new();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let tally = Arc::new(Tally::default());
    // An open loop with a bound: a server that falls behind shows as latency, not as a client
    // that slows down with it, until 256 requests are in flight.
    let in_flight = Arc::new(Semaphore::new(256));
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / plan.rate);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut next_sample = started + plan.sample;
    let mut requests = JoinSet::new();
    let mut samples = Vec::new();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;

    println!("| s | requests | errors | p50 ms | p99 ms | server RSS MB | pool in use |");
    println!("|---|---|---|---|---|---|---|");
    let mut step = 0u64;
    while started.elapsed() < plan.duration {
        ticker.tick().await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let request = Request {
            client: client.clone(),
            url: format!("{}/graphql", plan.url),
            ledger: Arc::clone(&ledger),
            tally: Arc::clone(&tally),
        };
        let authors = plan.authors;
        requests.spawn(async move {
            request.send_one(step, seed, authors).await;
            drop(permit);
        });
        while let Some(finished) = requests.try_join_next() {
            finished.map_err(|e| format!("a request task failed: {e}"))?;
        }
        step += 1;
        if Instant::now() >= next_sample {
            next_sample += plan.sample;
            let sample = Sample::take(&client, &plan, &tally, started.elapsed()).await?;
            sample.print();
            samples.push(sample);
        }
    }
    while let Some(finished) = requests.join_next().await {
        finished.map_err(|e| format!("a request task failed: {e}"))?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let last = Sample::take(&client, &plan, &tally, started.elapsed()).await?;
    last.print();

    let mut failures = Vec::new();
    let errors = tally.errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = tally
            .first_errors
            .lock()
            .expect("not poisoned")
            .join("\n  ");
        failures.push(format!("{errors} requests failed, first:\n  {first}"));
    }
    if last.pool_in_use != 0 {
        failures.push(format!(
            "{} connections still in use after the run",
            last.pool_in_use
        ));
    }
    // Flat memory: the last sample against the one a third of the way in, after warm-up; judged
    // only on a run long enough to have warmed up (not the few seconds CI runs).
    let warm = samples.get(samples.len() / 3).unwrap_or(&last);
    let growth = last.rss_mb / warm.rss_mb.max(1.0);
    if plan.duration >= Duration::from_secs(60) && growth > 1.2 {
        failures.push(format!(
            "memory grew from {:.1} MB to {:.1} MB",
            warm.rss_mb, last.rss_mb
        ));
    }
    let (expected_books, expected_authors) = ledger.lock().expect("not poisoned").expected();
    let (stored_books, stored_authors) = stored(&db).await?;
    let exact = stored_books == expected_books && stored_authors == expected_authors;
    if !exact {
        let misplaced: Vec<_> = expected_books
            .iter()
            .filter(|(book, author)| stored_books.get(book) != Some(author))
            .take(5)
            .collect();
        failures.push(format!(
            "the database holds {} soak books and {} soak authors, the acknowledged writes leave {} and {} (first books missing or elsewhere: {misplaced:?})",
            stored_books.len(),
            stored_authors.len(),
            expected_books.len(),
            expected_authors.len(),
        ));
    }
    println!(
        "\nsoak: {} requests ({} acknowledged writes) in {:.0} s, {errors} errors; server RSS {:.1} MB after warm-up, {:.1} MB at the end; pool in use at the end {}; {} soak books and {} soak authors in the database, each book under its author, exactly the acknowledged writes: {exact}",
        last.requests,
        tally.writes.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        warm.rss_mb,
        last.rss_mb,
        last.pool_in_use,
        stored_books.len(),
        stored_authors.len(),
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The books the soak created (their titles start with `soak `) with their authors, and the
/// authors it created (named likewise), read with SQL.
async fn stored(db: &DatabaseConnection) -> Result<(BTreeMap<i64, i64>, BTreeSet<i64>), String> {
    let rows = |sql: &str| db.query_all_raw(Statement::from_string(db.get_database_backend(), sql));
    let books = rows("SELECT id, author_id FROM book WHERE title LIKE 'soak %'")
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "author_id")?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(|e| e.to_string())?;
    let authors = rows("SELECT id FROM author WHERE name LIKE 'soak %'")
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(|e| e.to_string())?;
    Ok((books, authors))
}

/// One request of the mix, with what it needs to record its outcome.
struct Request {
    client: reqwest::Client,
    url: String,
    ledger: Arc<Mutex<Ledger>>,
    tally: Arc<Tally>,
}

impl Request {
    /// Sends request number `step` of the mix, out of every ten: five reads (two nested pages, a
    /// deep query, a point query, a filter), two createBook, an updateBook that moves a book, a
    /// deleteBook, and createAuthor (with two books) or deleteAuthor in turn.
    async fn send_one(self, step: u64, random: u64, authors: i64) {
        let author = i64::try_from(random % u64::try_from(authors).unwrap_or(1)).unwrap_or(0) + 1;
        let title = format!("soak {step}");
        match step % 10 {
            0 | 1 => {
                self.read("{ authors(first: 20) { nodes { id name books { nodes { id title publishedYear } } } } }").await;
            }
            2 => {
                self.read("{ books(first: 20) { nodes { title author { name books(first: 3) { nodes { title } } } } } }").await;
            }
            3 => {
                self.read(&format!(r#"{{ author(id: "{author}") {{ name bookCount books {{ nodes {{ title }} }} }} }}"#)).await;
            }
            4 => {
                self.read(r#"{ books(first: 10, filter: { titleContains: "soak 1" }, orderBy: [{ field: TITLE, direction: DESC }]) { totalCount nodes { id } } }"#).await;
            }
            5 | 6 => {
                let query = format!(
                    r#"mutation {{ createBook(input: {{ authorId: "{author}", title: "{title}", publishedYear: 2026 }}) {{ id }} }}"#
                );
                if let Some(data) = self.write(&query).await {
                    let id = id_of(&data["createBook"]["id"]);
                    self.ledger().books.push((id, author));
                }
            }
            7 => {
                let Some((book, from)) = self.take_book() else {
                    return;
                };
                let query = format!(
                    r#"mutation {{ updateBook(id: "{book}", input: {{ authorId: "{author}" }}) {{ authorId }} }}"#
                );
                // Put back where the server says it is; where it was when the move failed (the
                // error is counted).
                let now = match self.write(&query).await {
                    Some(data) => id_of(&data["updateBook"]["authorId"]),
                    None => from,
                };
                self.ledger().books.push((book, now));
            }
            8 => {
                let Some((book, author)) = self.take_book() else {
                    return;
                };
                let query =
                    format!(r#"mutation {{ deleteBook(id: "{book}") {{ deletedBookId }} }}"#);
                if self.write(&query).await.is_none() {
                    self.ledger().books.push((book, author));
                }
            }
            _ if step % 20 == 9 => {
                let query = format!(
                    r#"mutation {{ createAuthor(input: {{ name: "{title}", books: [{{ title: "{title} a" }}, {{ title: "{title} b" }}] }}) {{ id books {{ nodes {{ id }} }} }} }}"#
                );
                if let Some(data) = self.write(&query).await {
                    let created = &data["createAuthor"];
                    let books = created["books"]["nodes"]
                        .as_array()
                        .map(|books| books.iter().map(|b| id_of(&b["id"])).collect())
                        .unwrap_or_default();
                    self.ledger().authors.push((id_of(&created["id"]), books));
                }
            }
            _ => {
                let taken = self.ledger().authors.pop();
                let Some((author, books)) = taken else { return };
                let query =
                    format!(r#"mutation {{ deleteAuthor(id: "{author}") {{ deletedBookIds }} }}"#);
                match self.write(&query).await {
                    Some(data) => {
                        let deleted: BTreeSet<i64> = data["deleteAuthor"]["deletedBookIds"]
                            .as_array()
                            .map(|ids| ids.iter().map(id_of).collect())
                            .unwrap_or_default();
                        if deleted != books {
                            self.fail(format!(
                                "deleteAuthor {author} deleted {deleted:?}, its books were {books:?}"
                            ));
                        }
                    }
                    None => self.ledger().authors.push((author, books)),
                }
            }
        }
    }

    /// The acknowledged writes, locked.
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("not poisoned")
    }

    fn take_book(&self) -> Option<(i64, i64)> {
        let mut ledger = self.ledger();
        let books = &mut ledger.books;
        (!books.is_empty()).then(|| books.swap_remove(books.len() / 2))
    }

    async fn read(&self, query: &str) {
        self.send(query).await;
    }

    /// Sends a mutation; its data when the server acknowledged it.
    async fn write(&self, query: &str) -> Option<Value> {
        let data = self.send(query).await;
        if data.is_some() {
            self.tally.writes.fetch_add(1, Ordering::Relaxed);
        }
        data
    }

    /// Sends a query; its data, or `None` (counted as an error) for anything else.
    async fn send(&self, query: &str) -> Option<Value> {
        let started = Instant::now();
        let response = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query }))
            .send()
            .await;
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let outcome = match response {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .map_err(|e| e.to_string())
                .and_then(|body| match body.get("errors") {
                    None => Ok(body["data"].clone()),
                    Some(errors) => Err(errors.to_string()),
                }),
            Ok(response) => Err(format!("status {}", response.status())),
            Err(err) => Err(err.to_string()),
        };
        self.tally
            .latencies
            .lock()
            .expect("not poisoned")
            .push(started.elapsed());
        outcome
            .map_err(|err| self.fail(format!("{query}: {err}")))
            .ok()
    }

    fn fail(&self, error: String) {
        self.tally.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.tally.first_errors.lock().expect("not poisoned");
        if first.len() < 5 {
            first.push(error);
        }
    }
}

fn id_of(value: &Value) -> i64 {
    value.as_str().and_then(|id| id.parse().ok()).unwrap_or(0)
}

/// One row of the soak's table.
struct Sample {
    seconds: f64,
    requests: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mb: f64,
    pool_in_use: i64,
}

impl Sample {
    /// Reads the tallies since the last sample, the server's memory and its pool.
    async fn take(
        client: &reqwest::Client,
        plan: &Plan,
        tally: &Tally,
        elapsed: Duration,
    ) -> Result<Self, String> {
        let mut latencies = std::mem::take(&mut *tally.latencies.lock().expect("not poisoned"));
        latencies.sort_unstable();
        let percentile = |p: f64| bench::percentile_ms(&latencies, p);
        let status = std::fs::read_to_string(format!("/proc/{}/status", plan.pid))
            .map_err(|e| format!("the server's /proc status: {e}"))?;
        let rss_kb: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmRSS in the server's status")?;
        let metrics = client
            .get(format!("{}/metrics", plan.url))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let gauge = |name: &str| {
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<i64>().ok())
                .ok_or_else(|| format!("no {name}in the server's /metrics"))
        };
        Ok(Self {
            seconds: elapsed.as_secs_f64(),
            requests: tally.requests.load(Ordering::Relaxed),
            errors: tally.errors.load(Ordering::Relaxed),
            p50_ms: percentile(0.5),
            p99_ms: percentile(0.99),
            rss_mb: rss_kb / 1024.0,
            pool_in_use: gauge("db_pool_connections ")? - gauge("db_pool_idle_connections ")?,
        })
    }

    fn print(&self) {
        println!(
            "| {:.0} | {} | {} | {:.2} | {:.2} | {:.1} | {} |",
            self.seconds,
            self.requests,
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.rss_mb,
            self.pool_in_use
        );
    }
}
