//! Who may write (docs/auth.md): bearer tokens, roles, anonymous reads, bad tokens of every kind,
//! the three kinds of key, and the mutation rate limit. Every refusal runs no SQL and writes
//! nothing.

use std::path::{Path, PathBuf};

use api::config::Config;
use axum::{
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, Received, TestApp, WsClient, property_harness};

const SECRET: &str = "a test secret that is long enough for HS256";
/// The selection of the test's mutation, which writes one author and one book.
macro_rules! create_body {
    () => {
        r#"{ createAuthor(input: { name: "Written", books: [{ title: "Kept" }] }) { name bookCount } }"#
    };
}
const CREATE_BODY: &str = create_body!();
const CREATE: &str = concat!("mutation ", create_body!());
const READ: &str = "{ authors { totalCount } }";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/jwt")
        .join(name)
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
}

/// Claims of a token for `sub` with `role`, valid for ten minutes.
fn claims(sub: &str, role: Value) -> Value {
    json!({ "sub": sub, "role": role, "exp": now() + 600 })
}

/// `claims` signed with `key` under `header`.
fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("a token")
}

/// `claims` signed with the test secret (HS256).
fn hs256(claims: &Value) -> String {
    sign(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa.pem")).unwrap()).unwrap()
}

fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&std::fs::read(fixture("ec.pem")).unwrap()).unwrap()
}

fn with_kid(algorithm: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    header
}

/// The app with tokens signed by the test secret, and `configure`'s other settings.
async fn spawn(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.jwt_secret = Some(SECRET.to_owned());
        configure(config);
    })
    .await
}

/// What a POST of `query` with these `Authorization` header values got: status, headers,
/// body, and how many SQL statements it ran.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    statements: u64,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }
}

async fn post(app: &TestApp, query: &str, authorization: &[&str]) -> Answer {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    for value in authorization {
        request = request.header(header::AUTHORIZATION, *value);
    }
    let request = request
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap();
    let before = app.metrics.statements_executed();
    let (status, headers, body) = app.send(request).await;
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&body).expect("a JSON body"),
        statements: app.metrics.statements_executed() - before,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Asserts that `answer` is a 401 `UNAUTHENTICATED` that ran no SQL.
fn assert_unauthenticated(answer: &Answer, token_given: bool, case: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        answer.body
    );
    assert_eq!(answer.code(), "UNAUTHENTICATED", "{case}");
    assert_eq!(answer.statements, 0, "{case} ran SQL");
    assert_eq!(answer.body.get("data"), None, "{case}");
    let challenge = answer.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    if token_given {
        assert_eq!(challenge, r#"Bearer error="invalid_token""#, "{case}");
        assert_eq!(
            answer.body["errors"][0]["message"], "invalid token",
            "{case}"
        );
    } else {
        assert_eq!(challenge, "Bearer", "{case}");
    }
}

async fn writers_write_readers_read_and_nobody_else_writes(backend: Backend) {
    let app = spawn(backend, |_| {}).await;

    let anonymous_read = post(&app, READ, &[]).await;
    let anonymous_write = post(&app, CREATE, &[]).await;
    let reader = bearer(&hs256(&claims("rita", json!("reader"))));
    let reader_read = post(&app, READ, &[&reader]).await;
    let reader_write = post(&app, CREATE, &[&reader]).await;
    let no_role_write = post(
        &app,
        CREATE,
        &[&bearer(&hs256(
            &json!({ "sub": "nobody", "exp": now() + 600 }),
        ))],
    )
    .await;
    assert_eq!(app.count_rows("author").await, 0);
    let writer = bearer(&hs256(&claims("wanda", json!("writer"))));
    let writer_write = post(&app, CREATE, &[&writer]).await;
    let listed = bearer(&hs256(&claims("lee", json!(["reader", "writer"]))));
    let listed_write = post(&app, CREATE, &[&listed]).await;

    assert_eq!(anonymous_read.status, StatusCode::OK);
    assert_eq!(anonymous_read.body["data"]["authors"]["totalCount"], 0);
    assert_unauthenticated(&anonymous_write, false, "a mutation without a token");
    assert_eq!(
        anonymous_write.body["errors"][0]["message"],
        "mutations need a bearer token"
    );
    assert_eq!(reader_read.body["data"]["authors"]["totalCount"], 0);
    for (answer, case) in [(&reader_write, "reader"), (&no_role_write, "no role")] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
        assert_eq!(answer.code(), "FORBIDDEN", "{case}");
        assert_eq!(answer.statements, 0, "{case}");
        assert_eq!(
            answer.headers[header::WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );
    }
    let written = json!({ "createAuthor": { "name": "Written", "bookCount": 1 } });
    assert_eq!(writer_write.body["data"], written, "{}", writer_write.body);
    assert_eq!(listed_write.body["data"], written, "{}", listed_write.body);
    assert_eq!(app.count_rows("author").await, 2);
    assert_eq!(app.count_rows("book").await, 2);
}

async fn without_anonymous_reads_every_request_needs_a_valid_token(backend: Backend) {
    let app = spawn(backend, |config| config.anonymous_reads = false).await;

    let anonymous = post(&app, READ, &[]).await;
    let reader = post(
        &app,
        READ,
        &[&bearer(&hs256(&claims("r", json!("reader"))))],
    )
    .await;
    let bad = post(&app, READ, &[&bearer("x.y.z")]).await;

    assert_unauthenticated(&anonymous, false, "a read without a token");
    assert_eq!(
        anonymous.body["errors"][0]["message"],
        "this service needs a bearer token"
    );
    assert_eq!(reader.status, StatusCode::OK);
    assert_eq!(reader.body["data"]["authors"]["totalCount"], 0);
    assert_unauthenticated(&bad, true, "a read with a bad token");
}

/// `claims` without `name`.
fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

/// Base64url of `value`'s JSON, as a JWT segment.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn every_kind_of_bad_token_is_unauthenticated_and_writes_nothing(backend: Backend) {
    let app = spawn(backend, |config| {
        config.jwt_issuer = Some("https://issuer.example".into());
        config.jwt_audience = Some("books-api".into());
    })
    .await;
    let good = |extra: Value| {
        let mut claims = json!({ "sub": "w", "role": "writer", "exp": now() + 600,
            "iss": "https://issuer.example", "aud": "books-api" });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let valid = hs256(&good(json!({})));
    let payload = valid.split('.').nth(1).unwrap().to_owned();
    let other_secret =
        EncodingKey::from_secret(b"another secret, just as long as the real one").unwrap();
    let public_pem = std::fs::read(fixture("rsa.pub.pem")).unwrap();
    let no_expiry = without(good(json!({})), "exp");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("not a JWT", vec![bearer("not-a-jwt")]),
        ("three empty segments", vec![bearer("..")]),
        ("truncated", vec![bearer(&valid[..valid.len() - 12])]),
        (
            "signature removed",
            vec![bearer(&valid[..valid.rfind('.').unwrap() + 1])],
        ),
        (
            "alg none",
            vec![bearer(&format!(
                "{}.{payload}.",
                segment(&json!({ "alg": "none", "typ": "JWT" }))
            ))],
        ),
        (
            "alg none with the original signature",
            vec![bearer(&format!(
                "{}.{payload}.{}",
                segment(&json!({ "alg": "none" })),
                valid.rsplit('.').next().unwrap()
            ))],
        ),
        (
            "signed with another secret",
            vec![bearer(&sign(
                &Header::new(Algorithm::HS256),
                &good(json!({})),
                &other_secret,
            ))],
        ),
        (
            "HS512 with the right secret",
            vec![bearer(&sign(
                &Header::new(Algorithm::HS512),
                &good(json!({})),
                &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            ))],
        ),
        (
            "RS256 from an unknown key",
            vec![bearer(&sign(
                &Header::new(Algorithm::RS256),
                &good(json!({})),
                &rsa_key(),
            ))],
        ),
        (
            "HS256 keyed with the RSA public key",
            vec![bearer(&sign(
                &Header::new(Algorithm::HS256),
                &good(json!({})),
                &EncodingKey::from_secret(&public_pem).unwrap(),
            ))],
        ),
        (
            "expired",
            vec![bearer(&hs256(&good(json!({ "exp": now() - 120 }))))],
        ),
        (
            "not yet valid",
            vec![bearer(&hs256(&good(json!({ "nbf": now() + 120 }))))],
        ),
        ("no exp", vec![bearer(&hs256(&no_expiry))]),
        (
            "no iss",
            vec![bearer(&hs256(&without(good(json!({})), "iss")))],
        ),
        (
            "no aud",
            vec![bearer(&hs256(&without(good(json!({})), "aud")))],
        ),
        (
            "wrong issuer",
            vec![bearer(&hs256(&good(
                json!({ "iss": "https://evil.example" }),
            )))],
        ),
        (
            "wrong audience",
            vec![bearer(&hs256(&good(json!({ "aud": "other-api" }))))],
        ),
        ("payload swapped", {
            let forged = segment(&good(json!({ "sub": "mallory" })));
            let mut parts: Vec<&str> = valid.split('.').collect();
            parts[1] = &forged;
            vec![bearer(&parts.join("."))]
        }),
        (
            "100 KB",
            vec![bearer(&format!("{valid}{}", "A".repeat(100 * 1024)))],
        ),
        ("in two headers", vec![bearer(&valid), bearer(&valid)]),
        ("another scheme", vec![format!("Basic {valid}")]),
        ("no token after Bearer", vec!["Bearer ".to_owned()]),
        ("spaces inside", vec![format!("Bearer {} x", valid)]),
    ];

    let accepted = post(&app, CREATE, &[&bearer(&valid)]).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    for (case, headers) in &cases {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let write = post(&app, CREATE, &headers).await;
        let read = post(&app, READ, &headers).await;
        assert_unauthenticated(&write, true, case);
        assert_unauthenticated(&read, true, case);
    }
    assert_eq!(app.count_rows("author").await, 1);
}

async fn public_keys_in_pem_and_jwks_verify_their_own_tokens_only(backend: Backend) {
    let writer = claims("k", json!("writer"));
    let rs256 = |kid| sign(&with_kid(Algorithm::RS256, kid), &writer, &rsa_key());
    let es256 = |kid| sign(&with_kid(Algorithm::ES256, kid), &writer, &ec_key());
    let public_pem = std::fs::read(fixture("rsa.pub.pem")).unwrap();
    let confused = sign(
        &Header::new(Algorithm::HS256),
        &writer,
        &EncodingKey::from_secret(&public_pem).unwrap(),
    );

    let rsa = TestApp::spawn_with(backend.clone(), |config| {
        config.jwt_public_key_file = Some(fixture("rsa.pub.pem"));
    })
    .await;
    let ec = TestApp::spawn_with(backend.clone(), |config| {
        config.jwt_public_key_file = Some(fixture("ec.pub.pem"));
    })
    .await;
    let jwks = TestApp::spawn_with(backend, |config| {
        config.jwt_jwks_file = Some(fixture("jwks.json"));
    })
    .await;

    let expectations: [(&TestApp, String, bool, &str); 11] = [
        (&rsa, rs256(None), true, "RS256 against the RSA key"),
        (&rsa, es256(None), false, "ES256 against the RSA key"),
        (
            &rsa,
            confused.clone(),
            false,
            "HS256 keyed with the RSA public key",
        ),
        (&ec, es256(None), true, "ES256 against the P-256 key"),
        (&ec, rs256(None), false, "RS256 against the P-256 key"),
        (&jwks, rs256(Some("rsa-test")), true, "RS256 with its kid"),
        (&jwks, es256(Some("ec-test")), true, "ES256 with its kid"),
        (
            &jwks,
            es256(Some("rsa-test")),
            false,
            "ES256 naming the RSA key",
        ),
        (&jwks, rs256(Some("unknown")), false, "an unknown kid"),
        (&jwks, rs256(None), false, "no kid among two keys"),
        (&jwks, confused, false, "HS256 keyed with a public key"),
    ];
    for (app, token, accepted, case) in expectations {
        let answer = post(app, CREATE, &[&bearer(&token)]).await;
        if accepted {
            assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.body);
            assert_eq!(
                answer.body["data"]["createAuthor"]["name"], "Written",
                "{case}"
            );
        } else {
            assert_unauthenticated(&answer, true, case);
        }
    }
    assert_eq!(rsa.count_rows("author").await, 1);
    assert_eq!(ec.count_rows("author").await, 1);
    assert_eq!(jwks.count_rows("author").await, 2);
}

async fn mutations_beyond_the_rate_limit_wait_and_reads_do_not(backend: Backend) {
    let app = spawn(backend, |config| config.mutation_rate_limit = 2).await;
    let alice = bearer(&hs256(&claims("alice", json!("writer"))));
    let bob = bearer(&hs256(&claims("bob", json!("writer"))));

    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(post(&app, CREATE, &[&alice]).await);
    }
    let alice_reads = post(&app, READ, &[&alice]).await;
    let bobs = post(&app, CREATE, &[&bob]).await;

    assert_eq!(alices[0].status, StatusCode::OK);
    assert_eq!(alices[1].status, StatusCode::OK);
    let limited = &alices[2];
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "RATE_LIMITED");
    assert_eq!(limited.statements, 0);
    let retry_after: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Two a minute: the next one is due within 30 seconds.
    assert!(
        (1..=30).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(alice_reads.body["data"]["authors"]["totalCount"], 2);
    assert_eq!(bobs.status, StatusCode::OK, "{}", bobs.body);
    assert_eq!(app.count_rows("author").await, 3);
}

/// The check follows the operation that would run: the one `operationName` picks, a persisted
/// query's stored text, and GET.
async fn the_operation_that_would_run_is_the_one_checked(backend: Backend) {
    use sha2::{Digest, Sha256};
    let app = spawn(backend, |config| config.anonymous_reads = false).await;
    let reader = bearer(&hs256(&claims("rita", json!("reader"))));
    let writer = bearer(&hs256(&claims("wanda", json!("writer"))));
    let document =
        format!("query Read {{ authors {{ totalCount }} }} mutation Write {CREATE_BODY}");
    let named = |name: &str| json!({ "query": document, "operationName": name });
    let send = |body: Value, authorization: Option<String>| {
        let mut request =
            Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        app.send(request.body(Body::from(body.to_string())).unwrap())
    };

    let reader_reads = send(named("Read"), Some(reader.clone())).await;
    let reader_writes = send(named("Write"), Some(reader.clone())).await;
    // A persisted mutation: stored by a writer, then sent by its hash alone by a reader.
    let text = format!("mutation {CREATE_BODY}");
    let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let stored = send(
        json!({ "query": text, "extensions": extensions }),
        Some(writer),
    )
    .await;
    let by_hash = send(json!({ "extensions": extensions }), Some(reader)).await;
    let anonymous_get = app
        .send(
            Request::get("/graphql?query=%7B%20authors%20%7B%20totalCount%20%7D%20%7D")
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;

    assert_eq!(reader_reads.0, StatusCode::OK);
    assert_eq!(reader_writes.0, StatusCode::FORBIDDEN);
    assert_eq!(
        stored.0,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&stored.2)
    );
    assert_eq!(by_hash.0, StatusCode::FORBIDDEN);
    assert_eq!(anonymous_get.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous_get.1[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(app.count_rows("author").await, 1);

    // With anonymous reads off an answer depends on the caller: a persisted query over GET is
    // answered to a reader, but never marked for shared caches.
    let read = "{ authors { totalCount } }";
    let read_hash = format!("{:x}", Sha256::digest(read.as_bytes()));
    let read_extensions =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": read_hash } }).to_string();
    let reader = bearer(&hs256(&claims("rita", json!("reader"))));
    send(json!({ "query": read, "extensions": serde_json::from_str::<Value>(&read_extensions).unwrap() }), Some(reader.clone())).await;
    let by_get = app
        .send(
            Request::get(format!(
                "/graphql?extensions={}",
                crate::helpers::percent_encode(&read_extensions)
            ))
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, reader)
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(
        by_get.0,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&by_get.2)
    );
    assert!(String::from_utf8_lossy(&by_get.2).contains(r#""totalCount":1"#));
    assert_eq!(by_get.1.get(header::CACHE_CONTROL), None);
}

on_every_backend!(
    the_operation_that_would_run_is_the_one_checked,
    writers_write_readers_read_and_nobody_else_writes,
    without_anonymous_reads_every_request_needs_a_valid_token,
    every_kind_of_bad_token_is_unauthenticated_and_writes_nothing,
    public_keys_in_pem_and_jwks_verify_their_own_tokens_only,
    mutations_beyond_the_rate_limit_wait_and_reads_do_not,
);

/// Over WebSocket the token comes in `connection_init`'s payload (browsers cannot set headers
/// on a WebSocket), or in the upgrade's `Authorization` header; without anonymous reads, a
/// connection without a valid one is closed with 4403 before any subscription.
#[tokio::test]
async fn subscriptions_need_a_token_in_connection_init_when_reads_do() {
    let app = spawn(Backend::Sqlite, |config| config.anonymous_reads = false).await;
    let address = app.listen().await;
    let reader = hs256(&claims("reader-1", json!("reader")));
    let expired = hs256(&json!({ "sub": "late", "exp": now() - 600 }));
    for (payload, case) in [
        (json!({}), "no token"),
        (
            json!({ "Authorization": "Bearer not.a.token" }),
            "a malformed token",
        ),
        (
            json!({ "Authorization": bearer(&expired) }),
            "an expired token",
        ),
        (json!({ "Authorization": 42 }), "not a string"),
    ] {
        let mut client = WsClient::open(address, Some("graphql-transport-ws"), &[])
            .await
            .expect("an upgrade");
        client.init(payload).await;
        let (code, reason) = client.closed().await;
        assert_eq!(code, 4403, "{case}: {reason}");
        assert!(reason.starts_with("Forbidden"), "{case}: {reason}");
    }
    let mut client = WsClient::connect(address, json!({ "Authorization": bearer(&reader) })).await;
    client.subscribe("q", READ, json!({})).await;
    assert_eq!(
        client.next_payload("q").await,
        json!({ "data": { "authors": { "totalCount": 0 } } })
    );
    // A connection ends when its token does.
    let brief = hs256(&json!({ "sub": "brief", "role": "reader", "exp": now() + 2 }));
    let mut expiring = WsClient::connect(address, json!({ "Authorization": bearer(&brief) })).await;
    assert_eq!(
        expiring.closed().await,
        (4403, "Forbidden: the token expired".to_owned())
    );
    let auth = bearer(&reader);
    let mut by_header = WsClient::open(
        address,
        Some("graphql-transport-ws"),
        &[("authorization", &auth)],
    )
    .await
    .expect("an upgrade");
    by_header.init(json!({})).await;
    assert_eq!(
        by_header.receive().await,
        Received::Json(json!({ "type": "connection_ack" }))
    );
}

/// Generated tokens: the valid one altered anywhere (a character changed, cut short, grown,
/// segments reordered), or made up of random segments. Each is refused as invalid, with no SQL.
#[test]
fn altered_and_made_up_tokens_are_refused() {
    let (runtime, mut runner) = property_harness(256);
    let app = runtime.block_on(spawn(Backend::Sqlite, |_| {}));
    let valid = hs256(&claims("p", json!("writer")));
    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
        .chars()
        .collect();
    let altered = (0..valid.len(), 0..alphabet.len(), 0u8..4).prop_map({
        let valid = valid.clone();
        let alphabet = alphabet.clone();
        move |(at, with, how)| {
            let mut token: Vec<char> = valid.chars().collect();
            match how {
                0 => token[at] = alphabet[with],
                1 => token.truncate(at),
                2 => token.insert(at, alphabet[with]),
                _ => {
                    let parts: Vec<&str> = valid.split('.').collect();
                    return format!("{}.{}.{}", parts[(at + 1) % 3], parts[at % 3], parts[2]);
                }
            }
            token.into_iter().collect::<String>()
        }
    });
    let made_up = (
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..64),
        "[A-Za-z0-9_-]{0,40}",
    )
        .prop_map(|(header, payload, signature)| {
            format!(
                "{}.{}.{signature}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            )
        });
    runner
        .run(&prop_oneof![altered, made_up], |token| {
            if token == valid {
                return Ok(());
            }
            let answer = runtime.block_on(post(&app, CREATE, &[&bearer(&token)]));
            prop_assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{}: {}",
                token,
                answer.body
            );
            prop_assert_eq!(answer.code(), "UNAUTHENTICATED");
            prop_assert_eq!(answer.statements, 0);
            Ok(())
        })
        .unwrap();
    assert_eq!(runtime.block_on(app.count_rows("author")), 0);
}
