//! The in-process hot path: `schema.execute` of Q1–Q3, with per-request loaders, on SQLite in
//! memory (1,000 authors × 10 books). Measures the GraphQL layer and the SQL it issues, without
//! HTTP, so that a change's effect shows without a load generator: `cargo bench -p bench`.
//!
//! Each query is measured twice: in wall time (`q1_…`), what one execution waits, and in CPU
//! time of the whole process (`cpu_q1_…`), what it costs the machine. In process, an execution's
//! wall time is mostly hand-offs between tokio's workers and SQLite's worker thread, which no
//! change to the GraphQL layer moves; its CPU time is the work itself.

use std::{fs, time::Duration};

use api::{app::AppState, config::Config, db, metrics::Metrics};
use async_graphql::Request;
use criterion::{
    Criterion, criterion_group, criterion_main,
    measurement::{Measurement, ValueFormatter, WallTime},
};
use tokio::runtime::Runtime;

/// The server's allocator (`api/src/main.rs`), so that allocations cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUERIES: [(&str, &str); 3] = [
    (
        "q1_authors_100_with_books",
        "{ authors(first: 100) { nodes { id name books { nodes { id title publishedYear } } } } }",
    ),
    (
        "q2_books_100_with_author_and_3_books",
        "{ books(first: 100) { nodes { title author { name books(first: 3) { nodes { title } } } } } }",
    ),
    (
        "q3_one_author_with_books",
        r#"{ author(id: "500") { name books { nodes { title } } } }"#,
    ),
];

/// CPU time spent by every thread of this process, from `/proc/self/task/*/schedstat` (Linux;
/// nanoseconds): the tokio workers, SQLite's worker thread and the benchmark's own thread.
struct ProcessCpu(WallTime);

fn process_cpu_ns() -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl Measurement for ProcessCpu {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(process_cpu_ns().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// A runtime like the server's (two workers) and the app over a freshly loaded database.
fn setup() -> (Runtime, AppState) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let metrics = Metrics::new();
    let config = Config::for_database("sqlite::memory:");
    let state = runtime.block_on(async {
        let db = db::connect_and_migrate(&config, &metrics)
            .await
            .expect("SQLite in memory");
        bench::load(&db, 1_000, 10_000, bench::dataset::Layout::Scattered)
            .await
            .expect("the dataset loads");
        AppState::new(db, metrics, &config).expect("valid settings")
    });
    (runtime, state)
}

/// Benchmarks every query under `prefix` with `c`'s measurement.
fn execute_queries<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let (runtime, state) = setup();
    for (name, query) in QUERIES {
        let reply = runtime.block_on(state.graphql.execute(Request::new(query)));
        assert!(reply.errors().is_empty(), "{name}: {:?}", reply.errors());
        c.bench_function(&format!("{prefix}{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let reply = state.graphql.execute(Request::new(query)).await;
                reply.to_json().expect("serialisable")
            });
        });
    }
}

fn wall_time(c: &mut Criterion) {
    execute_queries(c, "");
}

fn cpu_time(c: &mut Criterion<ProcessCpu>) {
    execute_queries(c, "cpu_");
}

criterion_group!(wall, wall_time);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ProcessCpu(WallTime));
    targets = cpu_time
}
criterion_main!(wall, cpu);
