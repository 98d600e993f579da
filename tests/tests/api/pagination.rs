//! Relay pagination (`API.md` § Pagination): keyset cursors in both directions, stable under
//! inserts, total orderings, per-author pages, and the limits.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code};

/// Walks `authors` page by page with `size`, forwards or backwards; returns the ids in the order
/// a reader would see them and the number of pages.
async fn walk_authors(
    app: &TestApp,
    size: i32,
    forwards: bool,
    order_by: &str,
) -> (Vec<i64>, usize) {
    let (page_arg, cursor_arg, cursor_field, more_field) = if forwards {
        ("first", "after", "endCursor", "hasNextPage")
    } else {
        ("last", "before", "startCursor", "hasPreviousPage")
    };
    let mut ids = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let query = format!(
            "query($c: String) {{ authors({page_arg}: {size}, {cursor_arg}: $c, orderBy: {order_by}) {{
                nodes {{ id }} pageInfo {{ {cursor_field} {more_field} }} }} }}"
        );
        let response = app.graphql_with(&query, json!({ "c": cursor })).await;
        let connection = &response["data"]["authors"];
        let mut page: Vec<i64> = connection["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("no page in {response}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap().parse().unwrap())
            .collect();
        pages += 1;
        if forwards {
            ids.append(&mut page);
        } else {
            page.append(&mut ids);
            ids = page;
        }
        if connection["pageInfo"][more_field] != true {
            return (ids, pages);
        }
        cursor = connection["pageInfo"][cursor_field].clone();
    }
}

async fn walking_forwards_and_backwards_yields_every_author_once_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let all = app.authors_with_books(23, 0).await;

    let (forwards, forward_pages) = walk_authors(&app, 7, true, "[]").await;
    let (backwards, backward_pages) = walk_authors(&app, 7, false, "[]").await;

    assert_eq!(forwards, all);
    assert_eq!(backwards, all);
    assert_eq!((forward_pages, backward_pages), (4, 4));
}

async fn ties_in_name_order_are_broken_by_id_in_both_directions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut expected = Vec::new();
    for name in ["Bea", "Ann", "Bea", "Ann", "Cid", "Ann", "Bea", "Ann"] {
        expected.push((name, app.author_with_books(name, &[]).await.0));
    }
    expected.sort();
    let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();
    let mut descending = expected.clone();
    descending.reverse();

    let by_name = "[{ field: NAME }]";
    let by_name_desc = "[{ field: NAME, direction: DESC }, { field: ID, direction: DESC }]";
    assert_eq!(walk_authors(&app, 3, true, by_name).await.0, expected);
    assert_eq!(walk_authors(&app, 3, false, by_name).await.0, expected);
    assert_eq!(
        walk_authors(&app, 2, true, by_name_desc).await.0,
        descending
    );
}

async fn a_cursor_taken_before_inserts_stays_valid_without_repeats_or_gaps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for name in ["Cato", "Dido", "Echo", "Fury"] {
        app.author_with_books(name, &[]).await;
    }
    let query = "query($c: String) { authors(first: 2, after: $c, orderBy: [{ field: NAME }]) {
        nodes { name } pageInfo { endCursor hasNextPage hasPreviousPage } } }";
    let first = app.graphql_with(query, json!({ "c": null })).await;
    let cursor = first["data"]["authors"]["pageInfo"]["endCursor"].clone();

    // Rows that sort before the cursor, and after it.
    app.author_with_books("Aster", &[]).await;
    app.author_with_books("Dido", &[]).await;
    app.author_with_books("Gaia", &[]).await;
    let second = app.graphql_with(query, json!({ "c": cursor })).await;

    assert_eq!(
        first["data"]["authors"]["nodes"],
        json!([{ "name": "Cato" }, { "name": "Dido" }])
    );
    assert_eq!(
        second["data"]["authors"]["nodes"],
        json!([{ "name": "Dido" }, { "name": "Echo" }]),
        "the new Dido sorts after the old one (higher id): no repeat, no gap"
    );
    assert_eq!(
        second["data"]["authors"]["pageInfo"]["hasPreviousPage"],
        true
    );
    assert_eq!(second["data"]["authors"]["pageInfo"]["hasNextPage"], true);
}

async fn nested_first_gives_that_many_books_of_each_author(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(6, 5).await;
    app.author_with_books("Few", &[("Only", None)]).await;

    let response = app
        .graphql("{ authors { nodes { name books(first: 2) { nodes { title } pageInfo { hasNextPage endCursor } } } } }")
        .await;

    let authors = response["data"]["authors"]["nodes"].as_array().unwrap();
    assert_eq!(authors.len(), 7);
    for (i, author) in authors[..6].iter().enumerate() {
        let a = i + 1;
        assert_eq!(
            author["books"]["nodes"],
            json!([{ "title": format!("Book {a}.1") }, { "title": format!("Book {a}.2") }])
        );
        assert_eq!(author["books"]["pageInfo"]["hasNextPage"], true);
    }
    assert_eq!(authors[6]["books"]["nodes"], json!([{ "title": "Only" }]));
    assert_eq!(authors[6]["books"]["pageInfo"]["hasNextPage"], false);
}

async fn nested_books_page_forwards_from_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, _) = app
        .author_with_books(
            "Ovid",
            &[
                ("Fasti", Some(8)),
                ("Amores", Some(-16)),
                ("Tristia", None),
                ("Metamorphoses", Some(8)),
            ],
        )
        .await;
    let query = format!(
        r#"query($c: String) {{ author(id: "{author}") {{ books(first: 2, after: $c, orderBy: [{{ field: PUBLISHED_YEAR }}]) {{
            nodes {{ title publishedYear }} pageInfo {{ endCursor hasNextPage }} }} }} }}"#
    );

    let first = app.graphql_with(&query, json!({ "c": null })).await;
    let cursor = first["data"]["author"]["books"]["pageInfo"]["endCursor"].clone();
    let second = app.graphql_with(&query, json!({ "c": cursor })).await;

    assert_eq!(
        first["data"]["author"]["books"]["nodes"],
        json!([{ "title": "Amores", "publishedYear": -16 }, { "title": "Fasti", "publishedYear": 8 }])
    );
    assert_eq!(
        second["data"]["author"]["books"]["nodes"],
        json!([{ "title": "Metamorphoses", "publishedYear": 8 }, { "title": "Tristia", "publishedYear": null }]),
        "years tie on 8 and break by id; a book without a year sorts last"
    );
    assert_eq!(
        second["data"]["author"]["books"]["pageInfo"]["hasNextPage"],
        false
    );
}

async fn books_walk_backwards_by_year_descending(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books(
        "Mixed",
        &[
            ("A", Some(2000)),
            ("B", None),
            ("C", Some(1990)),
            ("D", Some(2000)),
            ("E", None),
        ],
    )
    .await;
    let query = r#"query($c: String) { books(last: 2, before: $c, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }]) {
        nodes { title } pageInfo { startCursor hasPreviousPage hasNextPage } } }"#;

    let mut titles = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let response = app.graphql_with(query, json!({ "c": cursor })).await;
        let connection = &response["data"]["books"];
        let mut page: Vec<String> = connection["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_owned())
            .collect();
        page.append(&mut titles);
        titles = page;
        if connection["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        cursor = connection["pageInfo"]["startCursor"].clone();
    }

    // Descending: books without a year first, then 2000, then 1990; ties by ascending id.
    assert_eq!(titles, ["B", "E", "A", "D", "C"]);
}

async fn page_sizes_outside_the_limit_are_bad_user_input_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(1, 1).await;

    for query in [
        "{ authors(first: 101) { nodes { id } } }",
        "{ authors(last: -1) { nodes { id } } }",
        "{ books(first: 1000) { nodes { id } } }",
        "{ authors { nodes { books(first: 101) { nodes { id } } } } }",
    ] {
        let response = app.graphql(query).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{query}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("100"),
            "the message names the limit: {message}"
        );
    }
    let both = app
        .graphql("{ authors(first: 1, last: 1) { nodes { id } } }")
        .await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT");
}

async fn the_page_size_defaults_to_twenty_and_zero_is_empty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(25, 0).await;

    let default = app
        .graphql("{ authors { nodes { id } pageInfo { hasNextPage } } }")
        .await;
    let zero = app
        .graphql("{ authors(first: 0) { nodes { id } pageInfo { hasNextPage endCursor } } }")
        .await;

    assert_eq!(
        default["data"]["authors"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(default["data"]["authors"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(zero["data"]["authors"]["nodes"], json!([]));
    assert_eq!(zero["data"]["authors"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        zero["data"]["authors"]["pageInfo"]["endCursor"],
        Value::Null
    );
}

async fn malformed_or_foreign_cursors_are_bad_user_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(3, 1).await;
    let by_id = app
        .graphql("{ authors(first: 1) { pageInfo { endCursor } } }")
        .await;
    let id_cursor = by_id["data"]["authors"]["pageInfo"]["endCursor"].clone();

    let cases = [
        (
            "query($c: String) { authors(after: $c) { nodes { id } } }",
            json!("bm90IGEgY3Vyc29y"),
        ),
        (
            "query($c: String) { authors(before: $c) { nodes { id } } }",
            json!("%%%"),
        ),
        (
            "query($c: String) { authors(after: $c, orderBy: [{ field: NAME }]) { nodes { id } } }",
            id_cursor.clone(),
        ),
        (
            "query($c: String) { books(after: $c, orderBy: [{ field: TITLE }]) { nodes { id } } }",
            id_cursor,
        ),
        (
            "query($c: String) { authors { nodes { books(after: $c) { nodes { id } } } } }",
            json!(""),
        ),
    ];
    for (query, cursor) in cases {
        let response = app.graphql_with(query, json!({ "c": cursor })).await;
        assert_eq!(
            error_code(&response),
            "BAD_USER_INPUT",
            "{query} with {cursor}"
        );
    }
}

on_every_backend!(
    walking_forwards_and_backwards_yields_every_author_once_in_order,
    ties_in_name_order_are_broken_by_id_in_both_directions,
    a_cursor_taken_before_inserts_stays_valid_without_repeats_or_gaps,
    nested_first_gives_that_many_books_of_each_author,
    nested_books_page_forwards_from_a_cursor,
    books_walk_backwards_by_year_descending,
    page_sizes_outside_the_limit_are_bad_user_input_naming_it,
    the_page_size_defaults_to_twenty_and_zero_is_empty,
    malformed_or_foreign_cursors_are_bad_user_input,
);
