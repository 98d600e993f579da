//! Responses written as JSON, with the lists of columns already written by [`lists`].
//!
//! A list whose objects select only columns (`books { nodes { id title } }`) is serialised at
//! once from its rows into the response's one `Value` for it, a [`Value::Binary`] holding the
//! list's JSON text; [`to_json`] copies that text into the response. It saves the `Value` tree of
//! the list's objects: a map of every row and a string per text field, built, serialised and
//! dropped (fixes 13–14 in BENCHMARKS.md: 10%, then 17% less server CPU per request under Q1).
//! The schema has no binary scalar, so these are the only binary values of a response.
//!
//! [`lists`] writes JSON only when the request holds [`ListsAsJson`]: its response is written by
//! [`to_json`], and no two values of its operation are merged, which async-graphql would do for
//! two fields under one response key and does not know how to do for text.
//!
//! [`lists`]: super::lists

use std::collections::HashSet;

use async_graphql::{
    Response, Value,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// In a request's data: lists of columns are written as JSON (see the module).
pub struct ListsAsJson;

impl ListsAsJson {
    /// Whether the lists of `document`'s operations may be written as JSON: no fragment, so
    /// that the fields of each selection set are the ones it spells, and no response key given
    /// twice in one selection set.
    pub fn allowed(document: &ExecutableDocument) -> bool {
        document.fragments.is_empty()
            && document
                .operations
                .iter()
                .all(|(_, operation)| distinct_keys(&operation.node.selection_set.node))
    }
}

/// Whether `set` and the selection sets under it are fields with distinct response keys.
fn distinct_keys(set: &SelectionSet) -> bool {
    let mut keys = HashSet::with_capacity(set.items.len());
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            keys.insert(field.node.response_key().node.as_str())
                && distinct_keys(&field.node.selection_set.node)
        }
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
    })
}

/// `response` as JSON: what `serde_json` writes for it, with each list already written as JSON
/// (a binary value) copied in as it is.
///
/// # Errors
/// When `serde_json` fails, which it does not for a `Vec`.
pub fn to_json(response: &Response) -> serde_json::Result<Vec<u8>> {
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
    use async_graphql::{Name, Pos, ServerError, indexmap::IndexMap, parser::parse_query};

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
    fn allowed_only_without_fragments_or_repeated_keys() {
        let allowed = |query: &str| ListsAsJson::allowed(&parse_query(query).unwrap());
        assert!(allowed("{ a { b c } d: a { b } }"));
        assert!(allowed("query A { a { b } } query B { a { b } }"));
        assert!(!allowed("{ a { b } a { c } }"));
        assert!(!allowed("{ a { b c b } }"));
        assert!(!allowed("{ x: a { b } x: d }"));
        assert!(!allowed("{ a { ... on T { b } } }"));
        assert!(!allowed("{ a { ...F } } fragment F on T { b }"));
    }
}
