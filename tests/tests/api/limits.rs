//! Depth and complexity limits refuse a query before any SQL runs (`API.md` § Limits).

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

on_every_backend!(
    a_query_deeper_than_the_limit_is_refused_before_any_sql,
    aliased_pages_add_up_to_the_complexity_limit,
);
