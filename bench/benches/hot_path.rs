//! The in-process hot path: `schema.execute` of Q1–Q3, with per-request loaders, on SQLite in
//! memory (1,000 authors × 10 books). Measures the GraphQL layer and the SQL it issues, without
//! HTTP, so that a change's effect shows without a load generator: `cargo bench -p bench`.

use api::{app::AppState, config::Config, db, graphql, metrics::Metrics};
use async_graphql::Request;
use criterion::{Criterion, criterion_group, criterion_main};

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

fn hot_path(c: &mut Criterion) {
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
        bench::load(&db, 1_000, 10)
            .await
            .expect("the dataset loads");
        AppState::new(db, metrics.clone(), &config)
    });
    for (name, query) in QUERIES {
        let response = runtime.block_on(graphql::execute(
            &state.schema,
            &state.db,
            &metrics,
            Request::new(query),
        ));
        assert!(response.errors.is_empty(), "{name}: {:?}", response.errors);
        c.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response =
                    graphql::execute(&state.schema, &state.db, &metrics, Request::new(query)).await;
                serde_json::to_vec(&response).expect("serialisable")
            });
        });
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
