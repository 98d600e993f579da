//! Mutations (docs/reference.md § Types and semantics): atomic writes, validation before any transaction, NOT_FOUND
//! for missing rows, fresh reads after writes, and no database text in errors.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code};

const CREATE_AUTHOR: &str = "mutation($input: CreateAuthorInput!) {
    createAuthor(input: $input) { id name bookCount books { nodes { title publishedYear } } } }";
const CREATE_BOOK: &str = "mutation($input: CreateBookInput!) {
    createBook(input: $input) { id title publishedYear authorId } }";
const UPDATE_AUTHOR: &str = "mutation($id: ID!, $input: UpdateAuthorInput!) {
    updateAuthor(id: $id, input: $input) { id name } }";
const UPDATE_BOOK: &str = "mutation($id: ID!, $input: UpdateBookInput!) {
    updateBook(id: $id, input: $input) { id title publishedYear authorId } }";

/// Rows in `author` and `book`.
async fn rows(app: &TestApp) -> (i64, i64) {
    (app.count_rows("author").await, app.count_rows("book").await)
}

async fn create_author_writes_the_author_and_its_books_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let input = json!({ "name": "  Ursula K. Le Guin \n", "books": [
        { "title": "A Wizard of Earthsea", "publishedYear": 1968 },
        { "title": " The Dispossessed " },
    ] });

    let response = app
        .graphql_with(CREATE_AUTHOR, json!({ "input": input }))
        .await;
    let lonely = app
        .graphql_with(
            CREATE_AUTHOR,
            json!({ "input": { "name": "No Books Yet" } }),
        )
        .await;

    let author = &response["data"]["createAuthor"];
    assert_eq!(author["name"], "Ursula K. Le Guin");
    assert_eq!(author["bookCount"], 2);
    assert_eq!(
        author["books"]["nodes"],
        json!([
            { "title": "A Wizard of Earthsea", "publishedYear": 1968 },
            { "title": "The Dispossessed", "publishedYear": null },
        ])
    );
    assert_eq!(lonely["data"]["createAuthor"]["bookCount"], 0);
    assert_eq!(rows(&app).await, (2, 2));
    let id = author["id"].as_str().unwrap();
    let read_back = app
        .graphql(&format!(
            r#"{{ author(id: "{id}") {{ name books {{ totalCount }} }} }}"#
        ))
        .await;
    assert_eq!(
        read_back["data"]["author"],
        json!({ "name": "Ursula K. Le Guin", "books": { "totalCount": 2 } })
    );
}

async fn update_author_renames_and_a_missing_author_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = app.author_with_books("Old Name", &[]).await;

    let renamed = app
        .graphql_with(
            UPDATE_AUTHOR,
            json!({ "id": id.to_string(), "input": { "name": " New Name " } }),
        )
        .await;
    let unchanged = app
        .graphql_with(UPDATE_AUTHOR, json!({ "id": id, "input": {} }))
        .await;
    let missing = app
        .graphql_with(
            UPDATE_AUTHOR,
            json!({ "id": "424242", "input": { "name": "Nobody" } }),
        )
        .await;
    let missing_no_change = app
        .graphql_with(UPDATE_AUTHOR, json!({ "id": "424242", "input": {} }))
        .await;

    assert_eq!(
        renamed["data"]["updateAuthor"],
        json!({ "id": id.to_string(), "name": "New Name" })
    );
    assert_eq!(unchanged["data"]["updateAuthor"]["name"], "New Name");
    assert_eq!(error_code(&missing), "NOT_FOUND");
    assert_eq!(error_code(&missing_no_change), "NOT_FOUND");
    assert_eq!(rows(&app).await, (1, 0));
}

async fn create_book_sees_its_own_write_in_the_same_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, _) = app
        .author_with_books("Borges", &[("Ficciones", Some(1944))])
        .await;
    let query = "mutation($input: CreateBookInput!) { createBook(input: $input) {
        title author { name bookCount books { nodes { title } } } } }";

    let response = app
        .graphql_with(
            query,
            json!({ "input": { "authorId": author, "title": "El Aleph", "publishedYear": 1949 } }),
        )
        .await;

    assert_eq!(
        response["data"]["createBook"],
        json!({ "title": "El Aleph", "author": { "name": "Borges", "bookCount": 2,
            "books": { "nodes": [{ "title": "Ficciones" }, { "title": "El Aleph" }] } } })
    );
    assert_eq!(rows(&app).await, (1, 2));
}

/// On a pool of one connection: a request holds one at a time (behind PgBouncer, its reading
/// transaction ends before the next mutation's write begins), else the second write would wait
/// for the connection its own request holds.
async fn each_mutation_of_a_request_reads_the_writes_before_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.db_max_connections = 1).await;
    let (author, _) = app.author_with_books("Serial", &[]).await;
    let query = format!(
        r#"mutation {{
            a: createBook(input: {{ authorId: "{author}", title: "First" }}) {{ author {{ bookCount books {{ totalCount }} }} }}
            b: createBook(input: {{ authorId: "{author}", title: "Second" }}) {{ author {{ bookCount books {{ totalCount }} }} }}
        }}"#
    );

    let response = app.graphql(&query).await;

    assert_eq!(
        response["data"]["a"]["author"],
        json!({ "bookCount": 1, "books": { "totalCount": 1 } })
    );
    assert_eq!(
        response["data"]["b"]["author"],
        json!({ "bookCount": 2, "books": { "totalCount": 2 } })
    );
}

async fn create_book_for_a_missing_author_is_not_found_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Someone", &[]).await;

    let response = app
        .graphql_with(
            CREATE_BOOK,
            json!({ "input": { "authorId": "424242", "title": "Orphan" } }),
        )
        .await;

    assert_eq!(error_code(&response), "NOT_FOUND");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("424242")
    );
    assert_eq!(rows(&app).await, (1, 0));
}

async fn update_book_changes_fields_clears_the_year_and_moves_between_authors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (from, books) = app
        .author_with_books("From", &[("Draft", Some(2001)), ("Other", None)])
        .await;
    let (to, _) = app.author_with_books("To", &[]).await;
    let book = books[0].to_string();

    let retitled = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": book, "input": { "title": "Final", "publishedYear": 2002 } }),
        )
        .await;
    let cleared = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": book, "input": { "publishedYear": null } }),
        )
        .await;
    let moved = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": book, "input": { "authorId": to } }),
        )
        .await;
    let counts = app
        .graphql(&format!(r#"{{ from: author(id: "{from}") {{ bookCount }} to: author(id: "{to}") {{ books {{ nodes {{ title }} }} }} }}"#))
        .await;

    assert_eq!(retitled["data"]["updateBook"]["title"], "Final");
    assert_eq!(retitled["data"]["updateBook"]["publishedYear"], 2002);
    assert_eq!(
        cleared["data"]["updateBook"],
        json!({ "id": book, "title": "Final", "publishedYear": null, "authorId": from.to_string() })
    );
    assert_eq!(moved["data"]["updateBook"]["authorId"], to.to_string());
    assert_eq!(
        counts["data"],
        json!({ "from": { "bookCount": 1 }, "to": { "books": { "nodes": [{ "title": "Final" }] } } })
    );
}

async fn update_book_naming_a_missing_book_or_author_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, books) = app
        .author_with_books("Keeper", &[("Kept", Some(1999))])
        .await;

    let missing_author = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": books[0], "input": { "authorId": "424242", "title": "Changed" } }),
        )
        .await;
    let missing_book = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": "424242", "input": { "title": "x" } }),
        )
        .await;
    let missing_book_no_change = app
        .graphql_with(UPDATE_BOOK, json!({ "id": "424242", "input": {} }))
        .await;
    let after = app
        .graphql(&format!(
            r#"{{ book(id: "{}") {{ title authorId }} }}"#,
            books[0]
        ))
        .await;

    assert_eq!(error_code(&missing_author), "NOT_FOUND");
    assert!(
        missing_author["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("author")
    );
    assert_eq!(error_code(&missing_book), "NOT_FOUND");
    assert_eq!(error_code(&missing_book_no_change), "NOT_FOUND");
    assert_eq!(
        after["data"]["book"],
        json!({ "title": "Kept", "authorId": author.to_string() })
    );
}

async fn delete_book_removes_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, books) = app
        .author_with_books("A", &[("One", None), ("Two", None)])
        .await;
    let query = "mutation($id: ID!) { deleteBook(id: $id) { deletedBookId } }";

    let deleted = app.graphql_with(query, json!({ "id": books[0] })).await;
    let again = app.graphql_with(query, json!({ "id": books[0] })).await;

    assert_eq!(
        deleted["data"]["deleteBook"]["deletedBookId"],
        books[0].to_string()
    );
    assert_eq!(error_code(&again), "NOT_FOUND");
    assert_eq!(rows(&app).await, (1, 1));
}

async fn delete_author_cascades_and_returns_exactly_the_deleted_book_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (doomed, books) = app
        .author_with_books("Doomed", &[("One", None), ("Two", None), ("Three", None)])
        .await;
    let (_, kept) = app.author_with_books("Kept", &[("Four", None)]).await;
    let query = "mutation($id: ID!) { deleteAuthor(id: $id) { deletedAuthorId deletedBookIds } }";

    let deleted = app.graphql_with(query, json!({ "id": doomed })).await;
    let again = app.graphql_with(query, json!({ "id": doomed })).await;
    let remaining = app.graphql("{ books { nodes { id } } }").await;

    let ids: Vec<String> = books.iter().map(i64::to_string).collect();
    assert_eq!(
        deleted["data"]["deleteAuthor"],
        json!({ "deletedAuthorId": doomed.to_string(), "deletedBookIds": ids })
    );
    assert_eq!(error_code(&again), "NOT_FOUND");
    assert_eq!(
        remaining["data"]["books"]["nodes"],
        json!([{ "id": kept[0].to_string() }])
    );
    assert_eq!(rows(&app).await, (1, 1));
}

/// Every author and book, read back through the API.
async fn everything(app: &TestApp) -> Value {
    app.graphql(
        "{ authors(first: 100) { nodes { id name books(first: 100) { nodes { id title publishedYear } } } } }",
    )
    .await
}

/// Runs `query` with `variables`; asserts `BAD_USER_INPUT` and that no row changed at all.
async fn assert_refused(app: &TestApp, query: &str, variables: Value) {
    let before = (rows(app).await, everything(app).await);
    let response = app.graphql_with(query, variables.clone()).await;
    assert_eq!(
        error_code(&response),
        "BAD_USER_INPUT",
        "{variables}: {response}"
    );
    assert_eq!(
        (rows(app).await, everything(app).await),
        before,
        "{variables} wrote nothing"
    );
}

async fn every_validation_rule_is_bad_user_input_at_its_boundary_and_writes_nothing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (author, books) = app
        .author_with_books("Existing", &[("Existing book", None)])
        .await;
    let book = books[0];

    let bad_names = [
        String::new(),
        "   \t".into(),
        "a".repeat(101),
        "é".repeat(101),
        "字".repeat(101),
        "🙂".repeat(101),
        "nul\0".into(),
    ];
    for name in &bad_names {
        assert_refused(&app, CREATE_AUTHOR, json!({ "input": { "name": name } })).await;
        assert_refused(
            &app,
            UPDATE_AUTHOR,
            json!({ "id": author, "input": { "name": name } }),
        )
        .await;
    }
    let bad_titles = [String::new(), " ".into(), "t".repeat(201), "ü".repeat(201)];
    for title in &bad_titles {
        assert_refused(
            &app,
            CREATE_BOOK,
            json!({ "input": { "authorId": author, "title": title } }),
        )
        .await;
        assert_refused(
            &app,
            UPDATE_BOOK,
            json!({ "id": book, "input": { "title": title } }),
        )
        .await;
        assert_refused(
            &app,
            CREATE_AUTHOR,
            json!({ "input": { "name": "Fine", "books": [{ "title": title }] } }),
        )
        .await;
    }
    for year in [10000, -10000, i32::MAX] {
        assert_refused(
            &app,
            CREATE_BOOK,
            json!({ "input": { "authorId": author, "title": "T", "publishedYear": year } }),
        )
        .await;
        assert_refused(
            &app,
            UPDATE_BOOK,
            json!({ "id": book, "input": { "publishedYear": year } }),
        )
        .await;
    }
    // A valid change next to an invalid one is refused whole.
    assert_refused(
        &app,
        UPDATE_BOOK,
        json!({ "id": book, "input": { "title": "Valid", "publishedYear": 10000 } }),
    )
    .await;
    assert_refused(
        &app,
        UPDATE_BOOK,
        json!({ "id": book, "input": { "title": "Valid", "authorId": "x" } }),
    )
    .await;
    for id in ["abc", "1.5", ""] {
        assert_refused(
            &app,
            CREATE_BOOK,
            json!({ "input": { "authorId": id, "title": "T" } }),
        )
        .await;
        assert_refused(
            &app,
            UPDATE_BOOK,
            json!({ "id": id, "input": { "title": "T" } }),
        )
        .await;
        assert_refused(
            &app,
            UPDATE_BOOK,
            json!({ "id": book, "input": { "authorId": id } }),
        )
        .await;
    }

    // The boundaries themselves are accepted, counted in characters.
    for name in [
        "x".to_owned(),
        "a".repeat(100),
        "é".repeat(100),
        "字".repeat(100),
        // 4-byte UTF-8 at the limit: 400 bytes, 100 characters.
        "🙂".repeat(100),
    ] {
        let response = app
            .graphql_with(CREATE_AUTHOR, json!({ "input": { "name": name } }))
            .await;
        assert_eq!(response["data"]["createAuthor"]["name"], name.as_str());
    }
    for (title, year) in [
        ("t".repeat(200), 9999),
        ("ü".repeat(200), -9999),
        ("𝔊".repeat(200), 0),
    ] {
        let response = app
            .graphql_with(
                CREATE_BOOK,
                json!({ "input": { "authorId": author, "title": title, "publishedYear": year } }),
            )
            .await;
        assert_eq!(response["data"]["createBook"]["title"], title.as_str());
        assert_eq!(response["data"]["createBook"]["publishedYear"], year);
    }
}

async fn create_author_with_one_invalid_nested_book_writes_nothing_at_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let input = json!({ "name": "Atomic", "books": [{ "title": "Fine" }, { "title": "  " }, { "title": "Also fine" }] });

    let response = app
        .graphql_with(CREATE_AUTHOR, json!({ "input": input }))
        .await;

    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("input.books[1].title")
    );
    assert_eq!(rows(&app).await, (0, 0));
}

async fn every_broken_rule_of_an_input_is_listed_with_its_argument_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, _) = app.author_with_books("Kept", &[("Kept book", None)]).await;
    let long = "x".repeat(300);
    let input = json!({ "name": " ", "books": [
        { "title": long, "publishedYear": 1999 },
        { "title": "Fine", "publishedYear": 12000 },
        { "title": "", "publishedYear": -10000 },
    ] });

    let created = app
        .graphql_with(CREATE_AUTHOR, json!({ "input": input }))
        .await;
    let updated = app
        .graphql_with(
            UPDATE_BOOK,
            json!({ "id": "book-1", "input": { "title": "\u{0}", "publishedYear": 10000, "authorId": "x" } }),
        )
        .await;
    let one = app
        .graphql_with(
            CREATE_BOOK,
            json!({ "input": { "authorId": author.to_string(), "title": "Fine", "publishedYear": 10000 } }),
        )
        .await;

    // One error per field, as GraphQL has it; its message is the first broken rule, and
    // `extensions.invalid` lists every one, in the order of the input, for a form to place.
    assert_eq!(created["errors"].as_array().unwrap().len(), 1, "{created}");
    let error = &created["errors"][0];
    assert_eq!(error["message"], "`input.name` must not be blank");
    assert_eq!(
        error["extensions"],
        json!({
            "code": "BAD_USER_INPUT",
            "argument": "input.name",
            "invalid": [
                { "argument": "input.name", "message": "`input.name` must not be blank" },
                { "argument": "input.books[0].title", "message": "`input.books[0].title` must be at most 200 characters, got 300" },
                { "argument": "input.books[1].publishedYear", "message": "`input.books[1].publishedYear` must be between -9999 and 9999, got 12000" },
                { "argument": "input.books[2].title", "message": "`input.books[2].title` must not be blank" },
                { "argument": "input.books[2].publishedYear", "message": "`input.books[2].publishedYear` must be between -9999 and 9999, got -10000" },
            ],
        })
    );
    let arguments = |response: &Value| -> Vec<String> {
        response["errors"][0]["extensions"]["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|invalid| invalid["argument"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        arguments(&updated),
        ["id", "input.title", "input.publishedYear", "input.authorId"],
        "{updated}"
    );
    assert_eq!(arguments(&one), ["input.publishedYear"], "{one}");
    assert_eq!(
        one["errors"][0]["extensions"]["argument"],
        "input.publishedYear"
    );
    assert_eq!(rows(&app).await, (1, 1));
    assert_eq!(
        everything(&app).await["data"]["authors"]["nodes"][0]["books"]["nodes"][0]["title"],
        "Kept book"
    );
}

/// Words that would betray SQL or driver text in a response.
const LEAKS: [&str; 10] = [
    "select",
    "insert",
    "from",
    "relation",
    "table",
    "sqlx",
    "sqlite",
    "postgres",
    "database",
    "constraint",
];

async fn database_errors_are_internal_without_sql_and_roll_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Before", &[("Book", None)]).await;
    // Break the schema under the running service.
    app.db.execute_unprepared("DROP TABLE book").await.unwrap();

    let read = app
        .graphql("{ authors { nodes { name books { nodes { title } } } } books { totalCount } }")
        .await;
    let write = app
        .graphql_with(
            CREATE_AUTHOR,
            json!({ "input": { "name": "Half", "books": [{ "title": "Lost" }] } }),
        )
        .await;

    let mut error_ids = Vec::new();
    for response in [&read, &write] {
        assert_eq!(error_code(response), "INTERNAL_SERVER_ERROR", "{response}");
        for error in response["errors"].as_array().unwrap() {
            assert_eq!(error["message"], "internal server error");
            let id = error["extensions"]["errorId"]
                .as_str()
                .expect("an errorId to find the log line");
            error_ids.push(id.to_owned());
        }
        let text = response.to_string().to_lowercase();
        for leak in LEAKS {
            assert!(!text.contains(leak), "{leak:?} leaked in {response}");
        }
    }
    assert_eq!(
        app.count_rows("author").await,
        1,
        "the author of the failed createAuthor was rolled back"
    );
    let distinct: std::collections::HashSet<_> = error_ids.iter().collect();
    assert_eq!(
        distinct.len(),
        error_ids.len(),
        "one errorId per error: {error_ids:?}"
    );
}

async fn a_mutation_over_get_is_refused_and_writes_nothing(backend: Backend) {
    use axum::{
        body::Body,
        http::{Request, StatusCode, header},
    };
    let app = TestApp::spawn(backend).await;
    let uri = "/graphql?query=mutation%20%7B%20createAuthor(input%3A%20%7Bname%3A%20%22Get%22%7D)%20%7B%20id%20%7D%20%7D";

    let (status, headers, _) = app
        .send(Request::get(uri).body(Body::empty()).unwrap())
        .await;

    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
    assert_eq!(rows(&app).await, (0, 0));
}

on_every_backend!(
    create_author_writes_the_author_and_its_books_together,
    update_author_renames_and_a_missing_author_is_not_found,
    create_book_sees_its_own_write_in_the_same_response,
    each_mutation_of_a_request_reads_the_writes_before_it,
    create_book_for_a_missing_author_is_not_found_and_writes_nothing,
    update_book_changes_fields_clears_the_year_and_moves_between_authors,
    update_book_naming_a_missing_book_or_author_is_not_found,
    delete_book_removes_it_once,
    delete_author_cascades_and_returns_exactly_the_deleted_book_ids,
    every_validation_rule_is_bad_user_input_at_its_boundary_and_writes_nothing,
    create_author_with_one_invalid_nested_book_writes_nothing_at_all,
    every_broken_rule_of_an_input_is_listed_with_its_argument_path,
    database_errors_are_internal_without_sql_and_roll_back,
    a_mutation_over_get_is_refused_and_writes_nothing,
);
