//! The number of SQL statements a request runs depends on the shape of the query, never on the
//! number of rows (docs/reference.md § Statements per request).

use crate::helpers::{Backend, TestApp};

const NESTED: &str = "{ authors(first: 100) { nodes { name books { nodes { title } } } } }";

async fn nested_books_of_five_and_of_fifty_authors_take_two_statements(backend: Backend) {
    // Arrange
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(5, 3).await;

    // Act
    let (five, five_count) = app.counted(NESTED).await;
    app.authors_with_books(45, 3).await;
    let (fifty, fifty_count) = app.counted(NESTED).await;

    // Assert
    assert_eq!(
        five["data"]["authors"]["nodes"].as_array().unwrap().len(),
        5
    );
    assert_eq!(
        fifty["data"]["authors"]["nodes"].as_array().unwrap().len(),
        50
    );
    assert_eq!(
        fifty["data"]["authors"]["nodes"][49]["books"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!((five_count, fifty_count), (2, 2));
}

async fn total_counts_add_one_statement_each_whatever_the_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(50, 2).await;

    let (top, top_count) = app
        .counted("{ authors(first: 100) { totalCount nodes { books { nodes { title } } } } }")
        .await;
    let (nested, nested_count) = app
        .counted("{ authors(first: 100) { nodes { books { totalCount nodes { title } } } } }")
        .await;

    assert_eq!(top["data"]["authors"]["totalCount"], 50);
    assert_eq!(
        nested["data"]["authors"]["nodes"][7]["books"]["totalCount"],
        2
    );
    assert_eq!((top_count, nested_count), (3, 3));
}

async fn books_with_their_authors_and_the_authors_books_take_two_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(20, 5).await;
    let query = "{ books(first: 50) { nodes { title author { name books(first: 3) { nodes { title } } } } } }";

    let (response, statements) = app.counted(query).await;

    let books = response["data"]["books"]["nodes"].as_array().unwrap();
    assert_eq!(books.len(), 50);
    assert_eq!(books[49]["author"]["name"], "Author 10");
    assert_eq!(
        books[49]["author"]["books"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The page of books, then the authors each with a page of their books.
    assert_eq!(statements, 2);
    // Resolved object by object (a fragment), the same answer in the same statements.
    let (fragment, statements) = app
        .counted("{ books(first: 50) { nodes { ...B } } } fragment B on Book { title author { name books(first: 3) { nodes { title } } } }")
        .await;
    assert_eq!(fragment, response);
    assert_eq!(statements, 2);

    // Beside an author's count, or with a page that no book matches, still one statement for
    // the authors and their pages.
    let (response, statements) = app
        .counted(r#"{ books(first: 50) { nodes { author { bookCount books(filter: { titleContains: "no such title" }) { nodes { title } pageInfo { hasNextPage } } } } } }"#)
        .await;
    let author = &response["data"]["books"]["nodes"][49]["author"];
    assert_eq!(author["bookCount"], 5);
    assert_eq!(author["books"]["nodes"], serde_json::json!([]));
    assert_eq!(author["books"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(statements, 3);
}

async fn each_distinct_argument_set_costs_one_statement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(30, 4).await;
    let query = r#"{ authors(first: 100) { nodes {
        first: books(first: 1) { nodes { title } }
        again: books(first: 1) { nodes { title } }
        old: books(filter: { publishedYearTo: 1915 }) { nodes { title } }
        bookCount
        oldCount: bookCount(filter: { publishedYearTo: 1915 })
    } } }"#;

    let (response, statements) = app.counted(query).await;

    let last = &response["data"]["authors"]["nodes"][29];
    assert_eq!(last["first"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(last["old"]["nodes"].as_array().unwrap().len(), 0);
    assert_eq!(last["bookCount"], 4);
    // authors, books(first: 1) shared by two aliases, books(filter), two distinct counts.
    assert_eq!(statements, 5);
}

async fn point_lookups_take_one_statement_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, books) = app
        .author_with_books("Ada", &[("One", None), ("Two", None)])
        .await;

    let (_, author_statements) = app
        .counted(&format!(r#"{{ author(id: "{author}") {{ name }} }}"#))
        .await;
    let (response, book_statements) = app
        .counted(&format!(
            r#"{{ book(id: "{}") {{ title author {{ name }} }} }}"#,
            books[1]
        ))
        .await;

    assert_eq!(response["data"]["book"]["author"]["name"], "Ada");
    assert_eq!((author_statements, book_statements), (1, 2));
}

/// Loader batches run on other worker threads here, racing the resolvers that register keys: the
/// counts must not change from one run to the next.
async fn counts_are_exact_on_a_multi_threaded_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(100, 3).await;
    let deep = "{ books(first: 100) { nodes { title author { name books(first: 3) { nodes { title } } } } } }";

    let mut counts = Vec::new();
    for _ in 0..20 {
        counts.push(app.counted(NESTED).await.1);
        counts.push(app.counted(deep).await.1);
    }

    assert_eq!(counts, [2, 2].repeat(20));
}

on_every_backend!(multi_thread: counts_are_exact_on_a_multi_threaded_runtime);

/// An author by ID with its one page of books is one statement, whatever the arguments of the
/// page, and the page is the one the author gets in a list (two statements there).
async fn an_author_with_its_books_takes_one_statement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.authors_with_books(3, 4).await;
    app.author_with_books("Nobody", &[]).await;
    let first_page = app
        .graphql(r#"{ author(id: "2") { books(first: 1) { pageInfo { endCursor } } } }"#)
        .await;
    let cursor = first_page["data"]["author"]["books"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{first_page}");
    let pages = [
        String::new(),
        "(first: 2)".to_owned(),
        "(first: 0)".to_owned(),
        format!("(first: 2, after: {cursor})"),
        r#"(filter: { titleContains: "2." })"#.to_owned(),
        "(orderBy: [{ field: TITLE, direction: DESC }])".to_owned(),
        "(first: 3, orderBy: [{ field: PUBLISHED_YEAR }, { field: TITLE }])".to_owned(),
    ];
    let selection = "name books{page} { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id title publishedYear } }";
    for id in [2, 4] {
        for page in &pages {
            let selection = selection.replace("{page}", page);
            let (alone, alone_count) = app
                .counted(&format!(r#"{{ author(id: "{id}") {{ {selection} }} }}"#))
                .await;
            let (listed, listed_count) = app
                .counted(&format!(
                    r#"{{ authors(filter: {{ ids: ["{id}"] }}) {{ nodes {{ {selection} }} }} }}"#
                ))
                .await;
            assert_eq!(
                alone["data"]["author"], listed["data"]["authors"]["nodes"][0],
                "{page}"
            );
            // `totalCount` is one statement more on each side.
            assert_eq!((alone_count, listed_count), (2, 3), "{page}");
        }
    }
    let (plain, count) = app
        .counted(r#"{ author(id: "1") { name books { nodes { title } } } }"#)
        .await;
    assert_eq!(
        plain["data"]["author"]["books"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(count, 1);
    let (missing, count) = app
        .counted(r#"{ author(id: "999") { name books { nodes { title } } } }"#)
        .await;
    assert_eq!(missing["data"]["author"], serde_json::Value::Null);
    assert_eq!(count, 1);
    // The same text with other variables reads another page: the arguments are each request's.
    let paged = r#"query($n: Int) { author(id: "2") { books(first: $n) { nodes { id } } } }"#;
    for n in [1, 3, 2] {
        let before = app.metrics.statements_executed();
        let page = app.graphql_with(paged, serde_json::json!({ "n": n })).await;
        assert_eq!(app.metrics.statements_executed() - before, 1);
        assert_eq!(
            page["data"]["author"]["books"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(n),
            "{page}"
        );
    }
    // Through a fragment, and under a skipped or included field.
    let (fragment, count) = app
        .counted(r#"{ author(id: "2") { ...F } } fragment F on Author { name books(first: 2) { nodes { id } } }"#)
        .await;
    assert_eq!(
        fragment["data"]["author"]["books"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{fragment}"
    );
    assert_eq!(count, 1);
    for (include, expected) in [(false, 1), (true, 1)] {
        let before = app.metrics.statements_executed();
        let response = app
            .graphql_with(
                r#"query($v: Boolean!) { author(id: "2") { name books @include(if: $v) { nodes { id } } } }"#,
                serde_json::json!({ "v": include }),
            )
            .await;
        assert_eq!(
            app.metrics.statements_executed() - before,
            expected,
            "{response}"
        );
        assert_eq!(
            response["data"]["author"].get("books").is_some(),
            include,
            "{response}"
        );
    }
    // Wrong page arguments are reported by the field, as without the read-ahead.
    let (wrong, _) = app
        .counted(r#"{ author(id: "1") { name books(first: -1) { nodes { title } } } }"#)
        .await;
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{wrong}"
    );
    assert_eq!(
        wrong["errors"][0]["path"],
        serde_json::json!(["author", "books"])
    );
}

/// A statement takes its connection from the pool without a round trip first: sqlx's default
/// pings every connection it hands out, which made each statement two round trips (three with the
/// ping when it goes back). The service pings only a connection idle for a second or more; the
/// outage tests in `server.rs` show that broken connections are still replaced.
async fn the_pool_does_not_ping_before_every_statement(backend: Backend) {
    use sea_orm::DbBackend;

    let app = TestApp::spawn(backend).await;
    let pings_every_time = match app.db.get_database_backend() {
        DbBackend::Postgres => app
            .db
            .get_postgres_connection_pool()
            .options()
            .get_test_before_acquire(),
        DbBackend::MySql => app
            .db
            .get_mysql_connection_pool()
            .options()
            .get_test_before_acquire(),
        _ => app
            .db
            .get_sqlite_connection_pool()
            .options()
            .get_test_before_acquire(),
    };
    assert!(!pings_every_time);
}

on_every_backend!(
    the_pool_does_not_ping_before_every_statement,
    an_author_with_its_books_takes_one_statement,
    nested_books_of_five_and_of_fifty_authors_take_two_statements,
    total_counts_add_one_statement_each_whatever_the_rows,
    books_with_their_authors_and_the_authors_books_take_two_statements,
    each_distinct_argument_set_costs_one_statement,
    point_lookups_take_one_statement_each,
);
