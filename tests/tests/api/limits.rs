//! Depth and complexity limits refuse a query before any SQL runs (docs/reference.md § Limits).

use crate::helpers::{Backend, TestApp, error_code};

async fn a_query_deeper_than_the_limit_is_refused_before_any_sql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // `books { nodes {` is 2 levels and each `author { books { nodes {` 3 more; `title` is 1.
    // Pages of 1 keep the complexity low, so depth is the only limit in play.
    let nested = |hops: usize| {
        let open = "author { books(first: 1) { nodes { ".repeat(hops);
        format!(
            "{{ books(first: 1) {{ nodes {{ {open} title {} }} }} }}",
            "} } } ".repeat(hops)
        )
    };
    let deep = nested(5); // 2 + 15 + 1 = 18 levels
    let shallow = nested(4); // 2 + 12 + 1 = 15 levels

    let (response, statements) = app.counted(&deep).await;
    let (allowed, _) = app.counted(&shallow).await;

    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX");
    assert_eq!(statements, 0);
    assert!(
        allowed.get("errors").is_none(),
        "15 levels are allowed: {allowed}"
    );
}

/// Deeper than async-graphql's recursion limit (32 levels), a query is refused before validation:
/// it is over the depth limit all the same.
async fn a_query_too_deep_to_parse_is_query_too_complex(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = format!(
        "{{ books {{ nodes {{ {} title {} }} }} }}",
        "author { books { nodes { ".repeat(14),
        "} } } ".repeat(14)
    );

    let (response, statements) = app.counted(&query).await;

    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX", "{response}");
    assert_eq!(statements, 0);
}

async fn aliased_pages_add_up_to_the_complexity_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = "books(first: 100) { nodes { id title } }";
    let aliases: Vec<String> = (0..6)
        .map(|i| format!("a{i}: authors(first: 100) {{ nodes {{ {page} }} }}"))
        .collect();
    let query = format!("{{ {} }}", aliases.join(" "));

    let (response, statements) = app.counted(&query).await;
    let (allowed, _) = app.counted(&format!("{{ {} }}", aliases[0])).await;

    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX");
    assert_eq!(statements, 0);
    assert!(
        allowed.get("errors").is_none(),
        "one page of pages is allowed: {allowed}"
    );
}

async fn amplification_attempts_are_refused_before_any_sql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(3, 3).await;
    let aliases: Vec<String> = (0..1000)
        .map(|i| format!("a{i}: authors(first: 100) {{ nodes {{ id }} }}"))
        .collect();
    let thousand_aliases = format!("{{ {} }}", aliases.join(" "));
    let fragment_cycle = "query { authors { nodes { ...A } } }
        fragment A on Author { books { nodes { author { ...B } } } }
        fragment B on Author { ...A }";
    let huge_list: Vec<String> = (0..50_000).map(|i| i.to_string()).collect();

    let (aliased, aliased_statements) = app.counted(&thousand_aliases).await;
    let (cycle, cycle_statements) = app.counted(fragment_cycle).await;
    let before = app.metrics.statements_executed();
    let huge = app
        .graphql_with(
            "query($ids: [ID!]) { authors(filter: { ids: $ids }) { nodes { id } } }",
            serde_json::json!({ "ids": huge_list }),
        )
        .await;
    let huge_statements = app.metrics.statements_executed() - before;
    let (batch_status, batch) = app
        .post_json(&serde_json::Value::Array(vec![
            serde_json::json!({ "query": "{ authors { totalCount } }" });
            100
        ]))
        .await;

    assert_eq!(error_code(&aliased), "QUERY_TOO_COMPLEX");
    assert!(
        cycle["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cycle")
            || cycle.get("errors").is_some(),
        "{cycle}"
    );
    assert_eq!(error_code(&huge), "BAD_USER_INPUT");
    assert_eq!(
        batch_status,
        axum::http::StatusCode::BAD_REQUEST,
        "batches are not accepted: {batch}"
    );
    assert_eq!(
        (aliased_statements, cycle_statements, huge_statements),
        (0, 0, 0)
    );
}

/// A query text seen before is not parsed again, but every request is still validated and held
/// to the limits: its variables, its operation and the limits are its own.
async fn a_stored_document_is_validated_again_by_every_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(2, 2).await;
    let paged =
        "query($n: Int) { authors(first: 2) { nodes { books(first: $n) { nodes { title } } } } }";
    let ok = app.graphql_with(paged, serde_json::json!({ "n": 1 })).await;
    let wrong_type = app
        .graphql_with(paged, serde_json::json!({ "n": "one" }))
        .await;
    let over_limit = app
        .graphql_with(paged, serde_json::json!({ "n": -1 }))
        .await;
    let again = app.graphql_with(paged, serde_json::json!({ "n": 2 })).await;
    assert_eq!(
        ok["data"]["authors"]["nodes"][0]["books"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{ok}"
    );
    assert!(
        wrong_type
            .get("data")
            .is_none_or(serde_json::Value::is_null),
        "{wrong_type}"
    );
    assert!(
        wrong_type["errors"][0]["message"].is_string(),
        "{wrong_type}"
    );
    assert_eq!(error_code(&over_limit), "BAD_USER_INPUT", "{over_limit}");
    assert_eq!(
        again["data"]["authors"]["nodes"][0]["books"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{again}"
    );

    // Refused by validation or by a limit: refused again, every time, before any SQL.
    let unknown = "{ authors { nodes { nickname } } }";
    let complex = format!(
        "{{ {} }}",
        (0..6)
            .map(|i| format!(
                "a{i}: authors(first: 100) {{ nodes {{ books(first: 100) {{ nodes {{ id }} }} }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for _ in 0..3 {
        let (response, statements) = app.counted(unknown).await;
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("nickname")),
            "{response}"
        );
        assert_eq!(statements, 0);
        let (response, statements) = app.counted(&complex).await;
        assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX", "{response}");
        assert_eq!(statements, 0);
    }
}

on_every_backend!(
    a_stored_document_is_validated_again_by_every_request,
    amplification_attempts_are_refused_before_any_sql,
    a_query_deeper_than_the_limit_is_refused_before_any_sql,
    a_query_too_deep_to_parse_is_query_too_complex,
    aliased_pages_add_up_to_the_complexity_limit,
);
