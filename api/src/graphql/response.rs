//! The response to one request, sealed: lists already written as JSON inside it
//! ([`json`](super::json)) can only become response bytes, or values for tests.

use async_graphql::{Response, ServerError, Value};

/// The response to one request. Its lists of columns may already be JSON text: it becomes the
/// response body ([`Reply::to_json`]), or a JSON value ([`Reply::to_value`]), and nothing else.
pub struct Reply(Response);

impl Reply {
    pub(super) fn new(response: Response) -> Self {
        Self(response)
    }

    /// The errors of the response.
    pub fn errors(&self) -> &[ServerError] {
        &self.0.errors
    }

    /// Whether an error of the response is the database's (`INTERNAL_SERVER_ERROR`).
    pub fn failed_internally(&self) -> bool {
        self.0.errors.iter().any(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .is_some_and(|code| *code == Value::from("INTERNAL_SERVER_ERROR"))
        })
    }

    /// Whether the request executed: it has data, or an error raised while executing (with a
    /// path). A request refused by parsing, validation or a limit did not.
    pub fn executed(&self) -> bool {
        self.0.data != Value::Null
            || self.0.errors.is_empty()
            || self.0.errors.iter().any(|error| !error.path.is_empty())
    }

    /// The response body: `{"data", "extensions", "errors"}` as `serde_json` writes a response,
    /// each list already written as JSON copied in as it is.
    ///
    /// # Errors
    /// When `serde_json` fails, which it does not for a `Vec`.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        to_json(&self.0)
    }

    /// The response body without `data`: `{"errors"}`, for a request that did not execute.
    ///
    /// # Errors
    /// When `serde_json` fails, which it does not for a `Vec`.
    pub fn errors_to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = br#"{"errors":"#.to_vec();
        serde_json::to_writer(&mut out, &self.0.errors)?;
        out.push(b'}');
        Ok(out)
    }

    /// The response body as a JSON value.
    ///
    /// # Errors
    /// When `serde_json` fails, which it does not.
    pub fn to_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(&self.to_json()?)
    }

    /// How many lists of the response were written as JSON at once, from their rows.
    pub fn lists_written_as_json(&self) -> usize {
        fn count(value: &Value) -> usize {
            match value {
                Value::Binary(_) => 1,
                Value::List(items) => items.iter().map(count).sum(),
                Value::Object(fields) => fields.values().map(count).sum(),
                _ => 0,
            }
        }
        count(&self.0.data)
    }
}

/// `response` as JSON: what `serde_json` writes for it, with each list already written as JSON
/// (a binary value) copied in as it is.
fn to_json(response: &Response) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(br#"{"data":"#);
    write_value(&mut out, &response.data)?;
    // The fields and the order of async-graphql's `Serialize` for `Response`.
    if !response.extensions.is_empty() {
        out.extend_from_slice(br#","extensions":"#);
        serde_json::to_writer(&mut out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(br#","errors":"#);
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Binary(json) => out.extend_from_slice(json),
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (index, (key, item)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key.as_str())?;
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        scalar => serde_json::to_writer(out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_graphql::{Name, Pos, indexmap::IndexMap};

    use super::*;

    fn object(fields: Vec<(&str, Value)>) -> Value {
        Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (Name::new(key), value))
                .collect::<IndexMap<_, _>>(),
        )
    }

    /// A response with every kind of value, escapes, errors and extensions.
    fn response(data: Value) -> Response {
        let mut error = ServerError::new("bad \"input\"\n", Some(Pos { line: 2, column: 7 }));
        error.path = vec![
            async_graphql::PathSegment::Field("authors".into()),
            async_graphql::PathSegment::Index(3),
        ];
        let mut response = Response::new(data).extension("cost", Value::from(12));
        response.errors.push(error);
        response
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let data = object(vec![
            ("null", Value::Null),
            ("yes", Value::Boolean(true)),
            ("int", Value::from(-42)),
            ("float", Value::from(1.5)),
            (
                "text",
                Value::from("quote \" backslash \\ tab \t é 😀 \u{1}"),
            ),
            ("enum", Value::Enum(Name::new("PUBLISHED_YEAR"))),
            ("empty", Value::List(vec![])),
            ("emptyObject", object(vec![])),
            (
                "list",
                Value::List(vec![object(vec![("a", Value::from(1))]), Value::Null]),
            ),
        ]);
        for response in [response(data.clone()), Response::new(data)] {
            assert_eq!(
                String::from_utf8(to_json(&response).unwrap()).unwrap(),
                serde_json::to_string(&response).unwrap()
            );
        }
    }

    #[test]
    fn copies_lists_already_written() {
        let list = Value::Binary(br#"[{"id":"1"},{"id":"2"}]"#.to_vec().into());
        let response = Response::new(object(vec![("nodes", list), ("n", Value::from(2))]));
        assert_eq!(
            to_json(&response).unwrap(),
            br#"{"data":{"nodes":[{"id":"1"},{"id":"2"}],"n":2}}"#
        );
    }

    #[test]
    fn a_reply_becomes_its_json_or_the_value_of_it() {
        let list = Value::Binary(br#"[{"id":"1"}]"#.to_vec().into());
        let reply = Reply::new(response(object(vec![("nodes", list)])));
        assert_eq!(reply.lists_written_as_json(), 1);
        assert!(reply.executed(), "an error with a path: it ran");
        let value = reply.to_value().unwrap();
        assert_eq!(
            value["data"],
            serde_json::json!({ "nodes": [{ "id": "1" }] })
        );
        assert_eq!(
            value["errors"][0]["path"],
            serde_json::json!(["authors", 3])
        );
        let refused = Reply::new(Response::from_errors(vec![ServerError::new("no", None)]));
        assert!(!refused.executed());
        assert_eq!(
            refused.errors_to_json().unwrap(),
            br#"{"errors":[{"message":"no"}]}"#
        );
    }
}
