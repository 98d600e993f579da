//! GraphQL over HTTP (docs/reference.md § GraphQL endpoint), in-process and once over a real socket.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, percent_encode};

async fn a_query_over_a_real_socket_returns_json(backend: Backend) {
    // Arrange
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Ada Lovelace", &[("Notes", Some(1843))])
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());
    let client = reqwest::Client::new();

    // Act
    let response = client
        .post(format!("http://{address}/graphql"))
        .json(&json!({ "query": "query Named { authors { nodes { name books { nodes { title } } } } }", "operationName": "Named" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let health = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap()
        .status();
    let ready = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    server.abort();

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        body,
        json!({ "data": { "authors": { "nodes": [{ "name": "Ada Lovelace", "books": { "nodes": [{ "title": "Notes" }] } }] } } })
    );
    assert_eq!((health, ready), (StatusCode::OK, StatusCode::OK));
}

async fn get_runs_queries_and_serves_graphiql_to_browsers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Basho", &[]).await;

    let (status, headers, body) = app
        .send(
            Request::get(
                "/graphql?query=%7B%20authors%20%7B%20nodes%20%7B%20name%20%7D%20%7D%20%7D",
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    let (page_status, page_headers, page) = app
        .send(
            Request::get("/graphql")
                .header(header::ACCEPT, "text/html,application/xhtml+xml")
                .body(Body::empty())
                .unwrap(),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["data"]["authors"]["nodes"],
        json!([{ "name": "Basho" }])
    );
    assert_eq!(page_status, StatusCode::OK);
    assert!(
        page_headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&page).contains("graphiql"));
}

async fn the_graphql_response_media_type_is_used_when_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let post = |query: &str, accept: &str| {
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept)
            .body(Body::from(json!({ "query": query }).to_string()))
            .unwrap()
    };
    let media_type = "application/graphql-response+json";

    let (ok, ok_headers, _) = app
        .send(post("{ authors { totalCount } }", media_type))
        .await;
    let (invalid, invalid_headers, invalid_body) =
        app.send(post("{ authors { nope } }", media_type)).await;
    let (plain_invalid, _, plain_body) = app
        .send(post("{ authors { nope } }", "application/json"))
        .await;
    let (unparsable, _, unparsable_body) = app.send(post("{ authors {", media_type)).await;

    assert_eq!(
        (ok, &ok_headers[header::CONTENT_TYPE]),
        (StatusCode::OK, &media_type.parse().unwrap())
    );
    assert_eq!(invalid, StatusCode::BAD_REQUEST);
    assert_eq!(invalid_headers[header::CONTENT_TYPE], media_type);
    let invalid_body: Value = serde_json::from_slice(&invalid_body).unwrap();
    assert!(
        invalid_body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    // Nothing executed: no `data` entry with the spec's media type, `"data": null` with JSON.
    assert_eq!(invalid_body.get("data"), None, "{invalid_body}");
    assert_eq!(plain_invalid, StatusCode::OK);
    let plain_body: Value = serde_json::from_slice(&plain_body).unwrap();
    assert_eq!(plain_body.get("data"), Some(&Value::Null), "{plain_body}");
    let unparsable_body: Value = serde_json::from_slice(&unparsable_body).unwrap();
    assert_eq!(unparsable, StatusCode::BAD_REQUEST);
    assert_eq!(unparsable_body.get("data"), None, "{unparsable_body}");
    assert!(unparsable_body["errors"][0]["message"].is_string());
}

async fn malformed_bodies_get_a_400_with_a_graphql_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for body in ["{ not json", r#"{"variables": {}}"#, "[]"] {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, _, response) = app.send(request).await;
        let response: Value = serde_json::from_slice(&response).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            response["errors"][0]["message"].is_string(),
            "{body}: {response}"
        );
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{body}: {response}"
        );
    }
}

async fn a_post_that_is_not_json_is_415_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mutation =
        json!({ "query": r#"mutation { createAuthor(input: { name: "CSRF" }) { id } }"# })
            .to_string();

    let mut statuses = Vec::new();
    let mut codes = Vec::new();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = Request::post("/graphql");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let (status, _, body) = app
            .send(request.body(Body::from(mutation.clone())).unwrap())
            .await;
        statuses.push(status);
        let body: Value = serde_json::from_slice(&body).unwrap();
        codes.push(body["errors"][0]["extensions"]["code"].clone());
    }
    let charset = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(
            json!({ "query": "{ authors { totalCount } }" }).to_string(),
        ))
        .unwrap();

    assert_eq!(statuses, [StatusCode::UNSUPPORTED_MEDIA_TYPE; 3]);
    assert_eq!(codes, vec![json!("UNSUPPORTED_MEDIA_TYPE"); 3]);
    assert_eq!(app.send(charset).await.0, StatusCode::OK);
    assert_eq!(app.count_rows("author").await, 0);
}

/// The URL of a GET request names the operation as GraphQL over HTTP spells it (`operationName`),
/// or as earlier versions did (`operation_name`), and carries its variables; a mutation chosen
/// that way is still refused.
async fn get_picks_the_named_operation_with_its_variables(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = app
        .author_with_books("Basho", &[("Narrow Road", None)])
        .await;
    let document = "query Names { authors { nodes { name } } } query One($id: ID!) { author(id: $id) { books { nodes { title } } } } mutation Wipe { deleteAuthor(id: \"1\") { deletedAuthorId } }";
    let url = |name_parameter: &str, name: &str, variables: &str| {
        let encoded: String = serde_urlencoded_pairs(&[
            ("query", document.to_owned()),
            (name_parameter, name.to_owned()),
            ("variables", variables.to_owned()),
        ]);
        format!("/graphql?{encoded}")
    };
    let get = |uri: String| Request::get(uri).body(Body::empty()).unwrap();

    let (names_status, _, names) = app.send(get(url("operationName", "Names", ""))).await;
    let (one_status, _, one) = app
        .send(get(url(
            "operationName",
            "One",
            &format!(r#"{{"id":"{id}"}}"#),
        )))
        .await;
    let (old_status, _, old) = app.send(get(url("operation_name", "Names", ""))).await;
    let single = format!(
        "/graphql?query={}&operationName=&variables=%7B%7D",
        percent_encode("{ authors { nodes { name } } }")
    );
    let (unnamed_status, _, unnamed) = app.send(get(single)).await;
    let (list_status, _, list) = app.send(get(url("operationName", "One", "[1]"))).await;
    let (wipe_status, _, wipe) = app.send(get(url("operationName", "Wipe", ""))).await;

    let json = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap();
    assert_eq!(
        (names_status, one_status, old_status),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        json(&names)["data"]["authors"]["nodes"],
        json!([{ "name": "Basho" }])
    );
    assert_eq!(json(&old), json(&names));
    assert_eq!(unnamed_status, StatusCode::OK);
    assert_eq!(
        json(&unnamed),
        json(&names),
        "an empty operationName names none"
    );
    assert_eq!(list_status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&list)["errors"][0]["extensions"]["code"],
        "BAD_REQUEST"
    );
    assert_eq!(
        json(&one)["data"]["author"]["books"]["nodes"],
        json!([{ "title": "Narrow Road" }])
    );
    assert_eq!(wipe_status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        json(&wipe)["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );
    assert_eq!(app.count_rows("author").await, 1);
}

/// `pairs` URL-encoded as a query string.
fn serde_urlencoded_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The playground is served by the binary alone: its page loads files from this server only,
/// each served with its media type; a browser opening a query's URL gets the page with that
/// query in its editor, while a client asking for JSON gets the answer; `PLAYGROUND=false` turns
/// all of it off.
async fn the_playground_is_served_by_the_binary_alone(backend: Backend) {
    let on = TestApp::spawn(backend.clone()).await;
    let off = TestApp::spawn_with(backend, |c| c.playground = false).await;
    let browser = |uri: String| {
        Request::get(uri)
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(Body::empty())
            .unwrap()
    };
    let query = "{ authors { nodes { name } } }";
    let query_url = format!("/graphql?query={}", percent_encode(query));

    let (_, _, page) = on.send(browser("/graphql".into())).await;
    let page = String::from_utf8(page).unwrap();
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in page.match_indices(attribute) {
            let target = &page[start + attribute.len()..];
            let target = target[..target.find('"').unwrap()].to_owned();
            let (status, headers, body) = on.send(browser(target.clone())).await;
            assets.push((
                target,
                status,
                headers[header::CONTENT_TYPE].clone(),
                body.len(),
            ));
        }
    }
    let (_, _, with_query) = on.send(browser(query_url.clone())).await;
    let (json_status, json_headers, answer) = on
        .send(Request::get(query_url.clone()).body(Body::empty()).unwrap())
        .await;
    let (off_status, _, _) = off.send(browser("/graphql".into())).await;
    let (off_query_status, off_query_headers, _) = off.send(browser(query_url)).await;
    let (off_asset_status, _, _) = off.send(browser(assets[0].0.clone())).await;

    assert_eq!(assets.len(), 4, "{page}");
    for (target, status, media_type, size) in &assets {
        assert!(target.starts_with("/playground/"), "{target}");
        assert_eq!(*status, StatusCode::OK, "{target}");
        let expected = if target.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            media_type.to_str().unwrap().starts_with(expected),
            "{target}"
        );
        assert!(*size > 10_000, "{target}: {size} bytes");
    }
    assert!(
        !page.contains("unpkg") && !page.contains("https://"),
        "{page}"
    );
    assert!(
        String::from_utf8(with_query)
            .unwrap()
            .contains(&format!("\"query\":\"{query}\""))
    );
    assert_eq!(json_status, StatusCode::OK);
    assert_eq!(json_headers[header::CONTENT_TYPE], "application/json");
    assert!(serde_json::from_slice::<Value>(&answer).unwrap()["data"]["authors"].is_object());
    assert_eq!(off_status, StatusCode::BAD_REQUEST);
    assert_eq!(off_query_status, StatusCode::OK);
    assert_eq!(off_query_headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(off_asset_status, StatusCode::NOT_FOUND);
}

on_every_backend!(
    a_post_that_is_not_json_is_415_and_writes_nothing,
    a_query_over_a_real_socket_returns_json,
    get_runs_queries_and_serves_graphiql_to_browsers,
    get_picks_the_named_operation_with_its_variables,
    the_playground_is_served_by_the_binary_alone,
    the_graphql_response_media_type_is_used_when_accepted,
    malformed_bodies_get_a_400_with_a_graphql_error,
);
