//! GraphQL over HTTP (`API.md` § GraphQL endpoint): POST and GET, content negotiation, GraphiQL
//! for browsers, and the health checks.

use async_graphql::{
    http::GraphiQLSource,
    parser::{parse_query, types::OperationType},
};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use crate::{app::AppState, graphql};

/// The media type of the GraphQL-over-HTTP spec.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// `POST /graphql`: a JSON body `{"query", "variables", "operationName"}`.
pub async fn post_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL request in JSON: {err}"),
            );
        }
    };
    execute(&state, &headers, request).await
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the URL's parameters.
pub async fn get_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if !query.contains("query=") && accepts(&headers, "text/html") {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(err) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                &format!("the URL holds no GraphQL request: {err}"),
            );
        }
    };
    if is_mutation(&request) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, &headers, request).await
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> StatusCode {
    StatusCode::OK
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> StatusCode {
    match state.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    if request.query.trim().is_empty() {
        return request_error(StatusCode::BAD_REQUEST, "the request has no `query`");
    }
    let response = graphql::execute(&state.schema, &state.db, request).await;
    let graphql_media_type = accepts(headers, GRAPHQL_RESPONSE_JSON);
    // With the spec's own media type, a request that never executed (no error has a path) is a
    // 400; with plain JSON every GraphQL response is a 200.
    let refused = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
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
    let body = serde_json::to_vec(&response).unwrap_or_else(|err| {
        tracing::error!(error = %err, "could not serialise a GraphQL response");
        br#"{"errors":[{"message":"internal server error"}]}"#.to_vec()
    });
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
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

/// Whether the operation `request` would run is a mutation.
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = parse_query(&request.query) else {
        return false;
    };
    document.operations.iter().any(|(name, operation)| {
        let selected = match &request.operation_name {
            Some(wanted) => name.is_some_and(|name| name.as_str() == wanted),
            None => true,
        };
        selected && operation.node.ty == OperationType::Mutation
    })
}

/// A GraphQL-shaped error body for a request that could not be executed at all.
fn request_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message }] });
    (status, axum::Json(body)).into_response()
}
