//! GraphQL over HTTP (docs/reference.md § GraphQL endpoint): POST and GET, content negotiation,
//! GraphiQL for browsers, and the health checks.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    time::Instant,
};

use axum::{
    body::Bytes,
    extract::rejection::BytesRejection,
    extract::{
        ConnectInfo, FromRequestParts, RawQuery, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    app::AppState,
    auth::{self, Refusal},
    graphql,
    metrics::Outcome,
    playground, ws,
};

/// The client's IP address, when the server was started with it (tests' in-process requests
/// have none).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

/// The media type of the GraphQL-over-HTTP spec.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// `POST /graphql`: a JSON body `{"query", "variables", "operationName"}`.
pub async fn post_graphql(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Only JSON: a form or text/plain POST from another site would skip the CORS preflight.
    if !is_json(&headers) {
        return rejected(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /graphql needs `Content-Type: application/json`",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let message = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the request body is larger than the limit of {} bytes",
                    state.http.max_body_bytes
                )
            } else {
                rejection.body_text()
            };
            return rejected(&state, rejection.status(), &message);
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return rejected(
                &state,
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL request in JSON: {err}"),
            );
        }
    };
    let prepared = state.graphql.prepare(request);
    if let Err(refusal) = admit(&state, &headers, &prepared, client) {
        return refused(&state, &refusal);
    }
    respond(&state, &headers, prepared).await
}

/// Checks the caller of a prepared request before anything runs (the subject of its token goes
/// to the request's log line, refused or not).
fn admit(
    state: &AppState,
    headers: &HeaderMap,
    prepared: &graphql::Prepared,
    client: Option<IpAddr>,
) -> Result<(), Refusal> {
    state
        .auth
        .admit(headers, prepared.is_mutation(), client)
        .map(drop)
}

/// A request that may not run: 401 with `WWW-Authenticate`, 403, or 429 with `Retry-After`;
/// GraphQL-shaped, with the refusal's `extensions.code`.
fn refused(state: &AppState, refusal: &Refusal) -> Response {
    state.metrics.request_rejected();
    let body = json!({ "errors": [{
        "message": refusal.message(),
        "extensions": { "code": refusal.code() },
    }] });
    let (status, header) = match refusal {
        Refusal::Unauthenticated { token_given, .. } => (
            StatusCode::UNAUTHORIZED,
            Some((
                header::WWW_AUTHENTICATE,
                if *token_given {
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#)
                } else {
                    HeaderValue::from_static("Bearer")
                },
            )),
        ),
        Refusal::Forbidden => (
            StatusCode::FORBIDDEN,
            Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
            )),
        ),
        Refusal::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            Some((
                header::RETRY_AFTER,
                HeaderValue::from(auth::retry_after_secs(*retry_after)),
            )),
        ),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some((name, value)) = header {
        response.headers_mut().insert(name, value);
    }
    response
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the URL's parameters.
pub async fn get_graphql(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    if ws::is_upgrade(&headers) {
        return match upgrade {
            Ok(upgrade) => ws::upgrade(state, upgrade, &headers, client),
            Err(rejection) => rejected(&state, rejection.status(), &rejection.body_text()),
        };
    }
    let query = query.unwrap_or_default();
    let names_a_request = query.contains("query=") || query.contains("extensions=");
    let browser = state.http.playground && accepts(&headers, "text/html");
    if browser && !names_a_request {
        return playground::page("/graphql", Some("/graphql"), None).into_response();
    }
    let request = match request_of_url(&query) {
        Ok(request) => request,
        Err(err) => {
            return rejected(
                &state,
                StatusCode::BAD_REQUEST,
                &format!("the URL holds no GraphQL request: {err}"),
            );
        }
    };
    // A browser opening a query's URL gets the playground with that query in its editor.
    if browser && !request.query.is_empty() {
        return playground::page("/graphql", Some("/graphql"), Some(&request.query))
            .into_response();
    }
    let prepared = state.graphql.prepare(request);
    if prepared.is_mutation() {
        let mut response = rejected(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if let Err(refusal) = admit(&state, &headers, &prepared, client) {
        return refused(&state, &refusal);
    }
    // `public` holds while no answer depends on the caller: when anyone may read.
    let cacheable = prepared.is_persisted_query() && state.auth.answers_alike_for_everyone();
    let mut response = respond(&state, &headers, prepared).await;
    // A persisted query over GET is a URL a CDN can cache: an answer without errors may be
    // served again for a few seconds.
    if cacheable && response.extensions().get::<Answered>().is_some() {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PERSISTED_CACHE_CONTROL),
        );
        headers.append(header::VARY, HeaderValue::from_static("accept"));
        if !state.replicas.is_empty() {
            // A cache must not answer a client that asks for the primary with a replica's answer.
            headers.append(header::VARY, HeaderValue::from_static("read-from"));
        }
    }
    response
}

/// The `Cache-Control` of a persisted query's answer over GET (docs/reference.md § Persisted
/// queries).
pub const PERSISTED_CACHE_CONTROL: &str = "public, max-age=0, s-maxage=10";

/// Marks a response that executed without errors.
#[derive(Clone, Copy)]
struct Answered;

/// The parameters of a GraphQL request in a URL (GraphQL over HTTP): `variables` and
/// `extensions` are JSON objects; the operation name is `operationName`, or `operation_name` as
/// this service read it before.
#[derive(serde::Deserialize)]
struct UrlParameters {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    #[serde(rename = "operation_name")]
    operation_name_snake: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// The GraphQL request in the query string `query`.
fn request_of_url(query: &str) -> Result<async_graphql::Request, String> {
    let parameters: UrlParameters =
        serde_urlencoded::from_str(query).map_err(|err| err.to_string())?;
    let mut request = async_graphql::Request::new(parameters.query);
    let name = parameters
        .operation_name
        .or(parameters.operation_name_snake);
    if let Some(name) = name.filter(|name| !name.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = parameters.variables.filter(|text| !text.is_empty()) {
        let variables: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&variables)
                .map_err(|err| format!("`variables` is not a JSON object: {err}"))?;
        request = request.variables(async_graphql::Variables::from_json(variables.into()));
    }
    if let Some(extensions) = parameters.extensions.filter(|text| !text.is_empty()) {
        request.extensions = serde_json::from_str(&extensions)
            .map_err(|err| format!("`extensions` is not a JSON object: {err}"))?;
    }
    Ok(request)
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> StatusCode {
    StatusCode::OK
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> StatusCode {
    if !state.hub.is_listening() {
        tracing::warn!("readiness check failed: not listening for changes");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match state.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Executes `request` and answers it in the media type `headers` accept.
async fn respond(state: &AppState, headers: &HeaderMap, request: graphql::Prepared) -> Response {
    if request.is_empty() {
        return rejected(state, StatusCode::BAD_REQUEST, "the request has no `query`");
    }
    if request.is_subscription() {
        return rejected(
            state,
            StatusCode::BAD_REQUEST,
            "subscriptions run over a WebSocket at /graphql (protocol graphql-transport-ws), \
             not over HTTP",
        );
    }
    if let Some(operation) = request.operation_name() {
        tracing::Span::current().record("operation", tracing::field::display(operation));
    }
    let started = Instant::now();
    let reply = match state.replicas.choose(headers, request.is_mutation()) {
        None => state.graphql.run(request).await,
        Some((replica, db)) => {
            let again = request.copy();
            let reply = state.graphql.run_on(request, &db).await;
            if reply.failed_internally() {
                // The replica failed it: the primary answers instead, and the replica is taken
                // out when it does not answer either.
                state.replicas.read_failed_on(replica).await;
                state.graphql.run(state.graphql.prepare(again)).await
            } else {
                reply
            }
        }
    };
    let outcome = if reply.errors().is_empty() {
        Outcome::Ok
    } else {
        Outcome::Error
    };
    state.metrics.request_finished(outcome, started.elapsed());
    let graphql_media_type = accepts(headers, GRAPHQL_RESPONSE_JSON);
    // With the spec's own media type, a request that never executed is a 400; with plain JSON
    // every GraphQL response is a 200.
    let refused = !reply.executed();
    let status = if graphql_media_type && refused {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if graphql_media_type {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    // With the spec's media type, a request that did not execute has no `data`.
    let body = if graphql_media_type && refused {
        reply.errors_to_json()
    } else {
        reply.to_json()
    };
    let body = body.unwrap_or_else(|err| {
        tracing::error!(error = %err, "could not serialise a GraphQL response");
        br#"{"errors":[{"message":"internal server error"}]}"#.to_vec()
    });
    let answered = reply.errors().is_empty();
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if answered {
        response.extensions_mut().insert(Answered);
    }
    response
}

/// Whether the `Content-Type` header is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            let media_type = media_type.trim();
            media_type.eq_ignore_ascii_case("application/json")
                || media_type.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON)
        })
}

/// Whether the `Accept` header names `media_type`.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|m| m.trim() == media_type)
        })
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&state.db),
    )
        .into_response()
}

/// A request refused before execution: counted, and answered with a GraphQL-shaped error whose
/// `extensions.code` names the HTTP status.
fn rejected(state: &AppState, status: StatusCode, message: &str) -> Response {
    state.metrics.request_rejected();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        _ => "BAD_REQUEST",
    };
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}
