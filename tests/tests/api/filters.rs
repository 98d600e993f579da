//! Filters (docs/reference.md § Types and semantics): case-insensitive `contains`, inclusive year ranges, ids; at the
//! top level, nested, and in `bookCount`.

use serde_json::json;

use crate::helpers::{Backend, TestApp, error_code};

async fn name_contains_ignores_case_and_ids_select_authors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tolkien, _) = app.author_with_books("J. R. R. Tolkien", &[]).await;
    let (_, _) = app.author_with_books("Terry Pratchett", &[]).await;
    let (tolstoy, _) = app.author_with_books("LEO TOLSTOY", &[]).await;

    let by_name = app
        .graphql(r#"{ authors(filter: { nameContains: "tOl" }) { nodes { name } } }"#)
        .await;
    let by_ids = app
        .graphql(&format!(
            r#"{{ authors(filter: {{ ids: ["{tolkien}", {tolstoy}, "999999"] }}) {{ totalCount nodes {{ id }} }} }}"#
        ))
        .await;
    let both = app
        .graphql(&format!(
            r#"{{ authors(filter: {{ nameContains: "leo", ids: ["{tolkien}"] }}) {{ nodes {{ id }} }} }}"#
        ))
        .await;
    let empty = app.graphql("{ authors(filter: {}) { totalCount } }").await;

    assert_eq!(
        by_name["data"]["authors"]["nodes"],
        json!([{ "name": "J. R. R. Tolkien" }, { "name": "LEO TOLSTOY" }])
    );
    assert_eq!(
        by_ids["data"]["authors"],
        json!({ "totalCount": 2, "nodes": [{ "id": tolkien.to_string() }, { "id": tolstoy.to_string() }] })
    );
    assert_eq!(both["data"]["authors"]["nodes"], json!([]));
    assert_eq!(empty["data"]["authors"]["totalCount"], 3);
}

async fn title_contains_and_year_range_are_inclusive_at_the_top_level(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books(
        "Anon",
        &[
            ("The Hobbit", Some(1937)),
            ("hobbits at home", Some(1950)),
            ("Dune", Some(1965)),
            ("Hob Nob", None),
        ],
    )
    .await;

    let titles = app
        .graphql(r#"{ books(filter: { titleContains: "HOBBIT" }) { totalCount nodes { title } } }"#)
        .await;
    let years = app
        .graphql("{ books(filter: { publishedYearFrom: 1937, publishedYearTo: 1950 }) { nodes { title } } }")
        .await;
    let combined = app
        .graphql(r#"{ books(filter: { titleContains: "hob", publishedYearFrom: 1940 }) { nodes { title } } }"#)
        .await;

    assert_eq!(
        titles["data"]["books"],
        json!({ "totalCount": 2, "nodes": [{ "title": "The Hobbit" }, { "title": "hobbits at home" }] })
    );
    assert_eq!(
        years["data"]["books"]["nodes"],
        json!([{ "title": "The Hobbit" }, { "title": "hobbits at home" }])
    );
    assert_eq!(
        combined["data"]["books"]["nodes"],
        json!([{ "title": "hobbits at home" }])
    );
}

async fn nested_filters_and_book_count_filters_apply_per_author(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books(
        "A",
        &[
            ("Alpha", Some(1990)),
            ("Beta", Some(2000)),
            ("Alphabet", Some(2010)),
        ],
    )
    .await;
    app.author_with_books("B", &[("Gamma", Some(2000))]).await;
    let query = r#"{ authors { nodes {
        name
        books(filter: { titleContains: "ALPHA", publishedYearTo: 2010 }) { totalCount nodes { title } }
        bookCount
        recent: bookCount(filter: { publishedYearFrom: 2000 })
    } } }"#;

    let (response, statements) = app.counted(query).await;

    assert_eq!(
        response["data"]["authors"]["nodes"],
        json!([
            { "name": "A", "books": { "totalCount": 2, "nodes": [{ "title": "Alpha" }, { "title": "Alphabet" }] }, "bookCount": 3, "recent": 2 },
            { "name": "B", "books": { "totalCount": 0, "nodes": [] }, "bookCount": 1, "recent": 1 },
        ])
    );
    // authors, books, and one GROUP BY per distinct filter (the nested totalCount, bookCount, recent).
    assert_eq!(statements, 5);
}

async fn like_wildcards_and_quotes_match_literally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books(
        "Anon",
        &[
            ("100% Pure", None),
            ("1000 Pure", None),
            ("snake_case", None),
            ("snakeXcase", None),
            ("snakeqcase", None),
            (r"back\slash", None),
            ("it's", None),
        ],
    )
    .await;

    for (needle, expected) in [
        ("0%", json!([{ "title": "100% Pure" }])),
        // Punctuation within three characters: PostgreSQL finds these through the index that
        // folds punctuation into `q`, and the exact comparison drops "snakeqcase".
        ("00%", json!([{ "title": "100% Pure" }])),
        ("e_c", json!([{ "title": "snake_case" }])),
        (r"k\s", json!([{ "title": r"back\slash" }])),
        ("'s", json!([{ "title": "it's" }])),
        ("%", json!([{ "title": "100% Pure" }])),
        (".*", json!([])),
        ("(", json!([])),
    ] {
        let response = app
            .graphql_with(
                "query($t: String) { books(filter: { titleContains: $t }) { nodes { title } } }",
                json!({ "t": needle }),
            )
            .await;
        assert_eq!(
            response["data"]["books"]["nodes"], expected,
            "titleContains {needle:?}"
        );
        // The same filter per author (the per-author page and the count), where the statements
        // differ from the root list's.
        let nested = app
            .graphql_with(
                "query($t: String) { authors { nodes {
                    books(filter: { titleContains: $t }) { nodes { title } }
                    bookCount(filter: { titleContains: $t }) } } }",
                json!({ "t": needle }),
            )
            .await;
        let author = &nested["data"]["authors"]["nodes"][0];
        assert_eq!(author["books"]["nodes"], expected, "nested {needle:?}");
        assert_eq!(
            author["bookCount"],
            expected.as_array().unwrap().len(),
            "bookCount {needle:?}"
        );
    }
}

async fn contains_ignores_case_beyond_ascii(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("ÉMILE ZOLA", &[("Ἰλιάς", None)])
        .await;
    app.author_with_books("Фёдор Достоевский", &[("Преступление и наказание", None)])
        .await;
    app.author_with_books("Emile Other", &[]).await;

    let names = |needle: &'static str| {
        let app = &app;
        async move {
            let response = app
                .graphql_with(
                    "query($n: String) { authors(filter: { nameContains: $n }) { nodes { name } } }",
                    json!({ "n": needle }),
                )
                .await;
            response["data"]["authors"]["nodes"].clone()
        }
    };
    let titles = app
        .graphql(r#"{ books(filter: { titleContains: "ПРЕСТУПЛЕНИЕ" }) { nodes { title } } }"#)
        .await;

    assert_eq!(names("émile").await, json!([{ "name": "ÉMILE ZOLA" }]));
    assert_eq!(
        names("достоевский").await,
        json!([{ "name": "Фёдор Достоевский" }])
    );
    assert_eq!(
        names("ФЁДОР").await,
        json!([{ "name": "Фёдор Достоевский" }])
    );
    assert_eq!(
        titles["data"]["books"]["nodes"],
        json!([{ "title": "Преступление и наказание" }])
    );
}

async fn contains_folds_final_sigma_like_any_sigma(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Όμηρος", &[("ΟΔΥΣΣΕΙΑ", None), ("Ιλιάς", None)])
        .await;

    let upper = app
        .graphql(r#"{ books(filter: { titleContains: "ΟΔΥΣ" }) { nodes { title } } }"#)
        .await;
    let lower = app
        .graphql(r#"{ books(filter: { titleContains: "οδυσ" }) { nodes { title } } }"#)
        .await;

    assert_eq!(
        upper["data"]["books"]["nodes"],
        json!([{ "title": "ΟΔΥΣΣΕΙΑ" }])
    );
    assert_eq!(
        lower["data"]["books"]["nodes"],
        json!([{ "title": "ΟΔΥΣΣΕΙΑ" }])
    );
}

async fn unusable_filters_are_bad_user_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Nested filters resolve per author", &[])
        .await;
    let too_many: Vec<String> = (1..=1001).map(|i| i.to_string()).collect();

    for (query, variables) in [
        (
            r#"{ authors(filter: { ids: ["1", "one"] }) { nodes { id } } }"#,
            json!({}),
        ),
        (
            "query($ids: [ID!]) { authors(filter: { ids: $ids }) { nodes { id } } }",
            json!({ "ids": too_many }),
        ),
        (
            "query($t: String) { books(filter: { titleContains: $t }) { nodes { id } } }",
            json!({ "t": "nul\u{0}" }),
        ),
        (
            "query($t: String) { authors(filter: { nameContains: $t }) { nodes { id } } }",
            json!({ "t": "x".repeat(101) }),
        ),
        (
            "query($t: String) { authors { nodes { books(filter: { titleContains: $t }) { nodes { id } } } } }",
            json!({ "t": "x".repeat(201) }),
        ),
        (
            "query($t: String) { authors { nodes { bookCount(filter: { titleContains: $t }) } } }",
            json!({ "t": "\u{0}" }),
        ),
    ] {
        let response = app.graphql_with(query, variables).await;
        assert_eq!(
            error_code(&response),
            "BAD_USER_INPUT",
            "{query}: {response}"
        );
    }
    let thousand: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    let allowed = app
        .graphql_with(
            "query($ids: [ID!]) { authors(filter: { ids: $ids }) { totalCount } }",
            json!({ "ids": thousand }),
        )
        .await;
    assert_eq!(allowed["data"]["authors"]["totalCount"], 1);
}

on_every_backend!(
    name_contains_ignores_case_and_ids_select_authors,
    title_contains_and_year_range_are_inclusive_at_the_top_level,
    nested_filters_and_book_count_filters_apply_per_author,
    like_wildcards_and_quotes_match_literally,
    contains_ignores_case_beyond_ascii,
    contains_folds_final_sigma_like_any_sigma,
    unusable_filters_are_bad_user_input,
);
