//! Point lookups, relations both ways, IDs and Unicode.

use serde_json::json;

use crate::helpers::{Backend, TestApp, error_code};

async fn an_author_and_a_book_are_found_by_id_with_their_relations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (author, books) = app
        .author_with_books(
            "Mary Shelley",
            &[("Frankenstein", Some(1818)), ("The Last Man", Some(1826))],
        )
        .await;

    let response = app
        .graphql(&format!(
            r#"{{ author(id: {author}) {{ id name bookCount books {{ nodes {{ id title publishedYear authorId }} }} }}
                book(id: "{}") {{ title author {{ id name }} }} }}"#,
            books[0]
        ))
        .await;

    assert_eq!(
        response["data"],
        json!({
            "author": {
                "id": author.to_string(), "name": "Mary Shelley", "bookCount": 2,
                "books": { "nodes": [
                    { "id": books[0].to_string(), "title": "Frankenstein", "publishedYear": 1818, "authorId": author.to_string() },
                    { "id": books[1].to_string(), "title": "The Last Man", "publishedYear": 1826, "authorId": author.to_string() },
                ] }
            },
            "book": { "title": "Frankenstein", "author": { "id": author.to_string(), "name": "Mary Shelley" } }
        })
    );
}

async fn missing_ids_give_null_and_malformed_ids_give_bad_user_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let missing = app
        .graphql(r#"{ author(id: "424242") { name } book(id: 7) { title } }"#)
        .await;
    let malformed = app.graphql(r#"{ author(id: "abc") { name } }"#).await;
    let overflow = app
        .graphql(r#"{ book(id: "99999999999999999999") { title } }"#)
        .await;

    assert_eq!(missing, json!({ "data": { "author": null, "book": null } }));
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT");
    assert_eq!(error_code(&overflow), "BAD_USER_INPUT");
}

async fn unicode_names_and_titles_round_trip_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let name = "Фёдор Достоевский 村上春樹 نجيب محفوظ 👩🏽‍💻 e\u{301}";
    let title = "Ἰλιάς — 𝔊𝔬𝔱𝔥𝔦𝔠 \u{200d} \"quoted\" \\ 'single'";
    let (author, _) = app.author_with_books(name, &[(title, Some(-750))]).await;

    let response = app
        .graphql(&format!(
            r#"{{ author(id: "{author}") {{ name books {{ nodes {{ title publishedYear }} }} }} }}"#
        ))
        .await;
    let found = app
        .graphql_with(
            "query($t: String) { books(filter: { titleContains: $t }) { nodes { title author { name } } } }",
            json!({ "t": "𝔊𝔬𝔱" }),
        )
        .await;

    assert_eq!(response["data"]["author"]["name"], name);
    assert_eq!(
        response["data"]["author"]["books"]["nodes"][0],
        json!({ "title": title, "publishedYear": -750 })
    );
    assert_eq!(
        found["data"]["books"]["nodes"],
        json!([{ "title": title, "author": { "name": name } }])
    );
}

/// A list whose items select only plain fields is built without a resolver per field
/// (`connection::Nodes`); it must answer exactly what the resolvers answer, which an inline
/// fragment forces.
async fn plain_field_lists_answer_exactly_what_the_resolvers_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books(
        "Ὅμηρος \"Homer\"",
        &[("Ἰλιάς", Some(-750)), ("Untitled \u{1F4DA}", None)],
    )
    .await;
    app.author_with_books("Nobody", &[]).await;
    let fields = "__typename id name t: __typename n: name id";
    let book_fields = "id title publishedYear authorId __typename y: publishedYear title";

    let raw = |query: String| {
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({ "query": query }).to_string(),
            ))
            .unwrap();
        async { String::from_utf8(app.send(request).await.2).unwrap() }
    };
    // One root field per request: async-graphql orders sibling root fields by which finished
    // first, which is not what this test is about.
    let mut direct = Vec::new();
    for (selection, plain, node) in [
        ("authors { nodes { SEL } }", fields, "Author"),
        ("books { nodes { SEL } }", book_fields, "Book"),
        (
            "authors { nodes { books { nodes { SEL } } } }",
            book_fields,
            "Book",
        ),
    ] {
        let text = raw(format!("{{ {} }}", selection.replace("SEL", plain))).await;
        let fragment = format!("... on {node} {{ {plain} }}");
        let resolved = raw(format!("{{ {} }}", selection.replace("SEL", &fragment))).await;
        // The same text: the same values, keys in the same order.
        assert_eq!(text, resolved, "{selection}");
        let response: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(response.get("errors").is_none(), "{response}");
        direct.push(response);
    }

    let author_id = &direct[0]["data"]["authors"]["nodes"][0]["id"];
    let books = &direct[1]["data"]["books"]["nodes"];
    assert_eq!(
        books[1],
        json!({ "id": books[1]["id"], "title": "Untitled \u{1F4DA}", "publishedYear": null,
                "authorId": author_id, "__typename": "Book", "y": null })
    );
    assert_eq!(books[0]["publishedYear"], -750);
    assert_eq!(
        direct[2]["data"]["authors"]["nodes"][0]["books"]["nodes"],
        *books
    );
}

on_every_backend!(
    plain_field_lists_answer_exactly_what_the_resolvers_answer,
    an_author_and_a_book_are_found_by_id_with_their_relations,
    missing_ids_give_null_and_malformed_ids_give_bad_user_input,
    unicode_names_and_titles_round_trip_exactly,
);
