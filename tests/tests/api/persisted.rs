//! Automatic persisted queries (docs/reference.md § Persisted queries): Apollo's protocol, as its
//! and urql's persisted-query links speak it, over POST and GET.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, error_code, percent_encode};

const QUERY: &str = "{ authors { nodes { name books { nodes { title } } } } }";

/// The lower-case hexadecimal SHA-256 of `text`, as the clients send it.
fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn extensions(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// A GET of the persisted query `hash` with `variables`: status, headers, JSON body.
async fn get_hash(
    app: &TestApp,
    hash: &str,
    variables: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut uri = format!(
        "/graphql?extensions={}",
        percent_encode(&extensions(hash).to_string())
    );
    if !variables.is_empty() {
        uri.push_str(&format!("&variables={}", percent_encode(variables)));
    }
    let (status, headers, body) = app
        .send(Request::get(uri).body(Body::empty()).unwrap())
        .await;
    (status, headers, serde_json::from_slice(&body).unwrap())
}

async fn a_hash_is_unknown_until_its_query_is_sent_then_answered_over_post_and_get(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.author_with_books("Ada", &[("Notes", Some(1843))]).await;
    let hash = sha256_hex(QUERY);

    let (unknown_status, unknown) = app
        .post_json(&json!({ "extensions": extensions(&hash) }))
        .await;
    let (spec_status, _, spec) = app
        .send(
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/graphql-response+json")
                .body(Body::from(
                    json!({ "extensions": extensions(&hash) }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    let (_, registered) = app
        .post_json(&json!({ "query": QUERY, "extensions": extensions(&hash) }))
        .await;
    let (_, by_post) = app
        .post_json(&json!({ "extensions": extensions(&hash) }))
        .await;
    let (get_status, get_headers, by_get) = get_hash(&app, &hash, "").await;
    let (_, browser_headers, _) = app
        .send(
            Request::get(format!(
                "/graphql?extensions={}",
                percent_encode(&extensions(&hash).to_string())
            ))
            .header(header::ACCEPT, "text/html,application/json")
            .body(Body::empty())
            .unwrap(),
        )
        .await;

    assert_eq!(unknown_status, StatusCode::OK);
    assert_eq!(
        error_code(&unknown),
        "PERSISTED_QUERY_NOT_FOUND",
        "{unknown}"
    );
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(spec_status, StatusCode::BAD_REQUEST);
    let spec: Value = serde_json::from_slice(&spec).unwrap();
    assert_eq!(spec.get("data"), None, "{spec}");
    let expected = json!({ "authors": { "nodes": [{ "name": "Ada", "books": { "nodes": [{ "title": "Notes" }] } }] } });
    assert_eq!(registered["data"], expected, "{registered}");
    assert_eq!(by_post["data"], expected, "{by_post}");
    assert_eq!(get_status, StatusCode::OK);
    assert_eq!(by_get["data"], expected, "{by_get}");
    assert_eq!(
        get_headers[header::CACHE_CONTROL],
        "public, max-age=0, s-maxage=10"
    );
    assert!(
        !varies(&get_headers).contains(&"read-from"),
        "no replicas, one answer"
    );
    assert_eq!(browser_headers[header::CONTENT_TYPE], "application/json");
}

/// The values of `Vary`.
fn varies(headers: &axum::http::HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::VARY)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect()
}

/// With read replicas, a cached GET answer may come from a replica: a cache keys it by
/// `Read-From` too, so a client that asks for the primary never gets it.
mod with_replicas {
    use super::*;

    async fn a_cacheable_answer_varies_by_read_from(admin_url: String) {
        let app = TestApp::spawn_with(Backend::Postgres(admin_url), |config| {
            config.database_replica_urls = vec![config.database_url.clone()];
        })
        .await;
        let hash = sha256_hex(QUERY);
        app.post_json(&json!({ "query": QUERY, "extensions": extensions(&hash) }))
            .await;
        let (status, headers, _) = get_hash(&app, &hash, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(varies(&headers).contains(&"read-from"), "{headers:?}");
    }

    on_every_backend!(postgres_only: a_cacheable_answer_varies_by_read_from);
}

/// Variables travel with the hash; a stored mutation is still refused over GET, and never
/// cached; over POST it runs.
async fn variables_apply_and_a_persisted_mutation_is_refused_over_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = app.author_with_books("Ada", &[]).await;
    let query = "query($id: ID!) { author(id: $id) { name } }";
    let mutation = "mutation($name: String!) { createAuthor(input: { name: $name }) { name } }";
    let (query_hash, mutation_hash) = (sha256_hex(query), sha256_hex(mutation));
    app.post_json(&json!({ "query": query, "variables": { "id": id.to_string() }, "extensions": extensions(&query_hash) }))
        .await;
    let (_, created) = app
        .post_json(&json!({ "query": mutation, "variables": { "name": "Grace" }, "extensions": extensions(&mutation_hash) }))
        .await;

    let (_, _, read) = get_hash(&app, &query_hash, &format!(r#"{{"id":"{id}"}}"#)).await;
    let (refused_status, refused_headers, refused) =
        get_hash(&app, &mutation_hash, r#"{"name":"Mallory"}"#).await;
    let (_, again) = app
        .post_json(
            &json!({ "variables": { "name": "Hopper" }, "extensions": extensions(&mutation_hash) }),
        )
        .await;

    assert_eq!(
        created["data"]["createAuthor"]["name"], "Grace",
        "{created}"
    );
    assert_eq!(read["data"]["author"]["name"], "Ada", "{read}");
    assert_eq!(refused_status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&refused), "METHOD_NOT_ALLOWED");
    assert!(refused_headers.get(header::CACHE_CONTROL).is_none());
    assert_eq!(again["data"]["createAuthor"]["name"], "Hopper", "{again}");
    assert_eq!(app.count_rows("author").await, 3);
}

/// A hash that is not the query's, and every malformed `persistedQuery`, is `BAD_USER_INPUT`,
/// runs nothing and stores nothing.
async fn wrong_hashes_and_malformed_extensions_are_bad_user_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let wrong = sha256_hex("{ authors { totalCount } }");
    let malformed = [
        json!({ "persistedQuery": "x" }),
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256_hex(QUERY) } }),
        json!({ "persistedQuery": { "sha256Hash": sha256_hex(QUERY) } }),
        json!({ "persistedQuery": { "version": 1 } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "z".repeat(64) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "é".repeat(32) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "+a".repeat(32) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": 7 } }),
    ];
    let before = app.metrics.statements_executed();

    let (mismatch_status, mismatch) = app
        .post_json(&json!({ "query": QUERY, "extensions": extensions(&wrong) }))
        .await;
    let (_, still_unknown) = app
        .post_json(&json!({ "extensions": extensions(&wrong) }))
        .await;
    let mut codes = Vec::new();
    for extensions in &malformed {
        for body in [
            json!({ "query": QUERY, "extensions": extensions }),
            json!({ "extensions": extensions }),
        ] {
            let (status, response) = app.post_json(&body).await;
            codes.push((
                status,
                error_code(&response).to_owned(),
                response.get("data").cloned(),
            ));
        }
    }

    assert_eq!(mismatch_status, StatusCode::OK);
    assert_eq!(error_code(&mismatch), "BAD_USER_INPUT", "{mismatch}");
    assert_eq!(error_code(&still_unknown), "PERSISTED_QUERY_NOT_FOUND");
    for (status, code, data) in codes {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(data, Some(Value::Null));
    }
    assert_eq!(app.metrics.statements_executed(), before);
}

/// A body over the limit is refused before it is read as a persisted query.
async fn a_body_over_the_limit_with_a_hash_is_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({ "query": " ".repeat(10 * 1024 * 1024) + QUERY, "extensions": extensions(&sha256_hex(QUERY)) });

    let (status, _, response) = app
        .send(
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let response: Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(error_code(&response), "PAYLOAD_TOO_LARGE");
    let (_, unknown) = app
        .post_json(&json!({ "extensions": extensions(&sha256_hex(QUERY)) }))
        .await;
    assert_eq!(error_code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
}

on_every_backend!(
    a_hash_is_unknown_until_its_query_is_sent_then_answered_over_post_and_get,
    variables_apply_and_a_persisted_mutation_is_refused_over_get,
    wrong_hashes_and_malformed_extensions_are_bad_user_input,
    a_body_over_the_limit_with_a_hash_is_413,
);
