//! Lists of columns written as JSON at once, from their rows.
//!
//! A list whose objects select only columns (`books { nodes { id title } }`) is serialised at
//! once from its rows into the response's one `Value` for it, a [`Value::Binary`] holding the
//! list's JSON text. It saves the `Value` tree of the list's objects: a map of every row and a
//! string per text field, built, serialised and dropped (BENCHMARKS.md). The schema has no binary
//! scalar, so these are the only binary values of a response, and they never leave this module's
//! parent: [`Reply`](super::Reply) turns them into response bytes or, for tests, into values.
//!
//! Lists are written as JSON only when the request holds [`ListsAsJson`], which only
//! [`Service::execute`](super::Service::execute) gives: no two values of its operation are
//! merged, which async-graphql would do for two fields under one response key and does not know
//! how to do for text.

use std::collections::HashSet;

use async_graphql::{
    ContextSelectionSet, Value,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::{
    fields::{Fields, Read},
    lists::{Plan, Slot},
};
use crate::error::ApiError;

/// In a request's data: lists of columns are written as JSON (see the module).
pub(super) struct ListsAsJson;

impl ListsAsJson {
    /// Whether the lists of `document`'s operations may be written as JSON: no fragment, so
    /// that the fields of each selection set are the ones it spells, and no response key given
    /// twice in one selection set.
    pub(super) fn allowed(document: &ExecutableDocument) -> bool {
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

/// Lists of `N` that a request writes as JSON at once (see the module): their objects select
/// only columns.
pub(super) struct JsonLists<N> {
    /// Each field of an object: the JSON of its key, after the `{` or `,` before it, and how its
    /// value is read.
    fields: Vec<(Vec<u8>, JsonField<N>)>,
}

/// How a field of an object of [`JsonLists`] is written.
enum JsonField<N> {
    /// The same JSON for every object: the type's name.
    Constant(Vec<u8>),
    /// A column.
    Column(Read<N>),
}

impl<N: Fields> JsonLists<N> {
    /// How lists of `N` in context `ctx` are written, when its request allows JSON lists and the
    /// selection holds only columns, without directives ([`Plan::of`]); `None` otherwise. An
    /// empty selection, which the parser never gives, is `None` too: its objects would have no
    /// `{`.
    pub(super) fn of(ctx: &ContextSelectionSet<'_>) -> Option<Self> {
        ctx.data_opt::<ListsAsJson>()?;
        let plan = Plan::<N>::of(&ctx.item.node)?;
        if plan.slots.is_empty() {
            return None;
        }
        let fields = plan
            .template
            .keys()
            .zip(plan.slots)
            .enumerate()
            .map(|(index, (key, slot))| {
                let field = match slot {
                    Slot::Typename => {
                        JsonField::Constant(serde_json::to_vec(&N::type_name()).ok()?)
                    }
                    Slot::Column(read) => JsonField::Column(read),
                    Slot::All(_) => return None,
                };
                let mut json = vec![if index == 0 { b'{' } else { b',' }];
                serde_json::to_writer(&mut json, key.as_str()).ok()?;
                json.push(b':');
                Some((json, field))
            })
            .collect::<Option<_>>()?;
        Some(Self { fields })
    }

    /// `nodes` as the list's JSON, a binary value (see the module): what `serde_json` writes
    /// for the objects' values.
    pub(super) fn write(&self, nodes: &[N]) -> Result<Value, ApiError> {
        let failed = |error| ApiError::internal(format!("a list as JSON: {error}"));
        let mut json = Vec::with_capacity(2 + nodes.len() * 24 * self.fields.len());
        json.push(b'[');
        for (index, node) in nodes.iter().enumerate() {
            if index > 0 {
                json.push(b',');
            }
            for (key, field) in &self.fields {
                json.extend_from_slice(key);
                match field {
                    JsonField::Constant(value) => json.extend_from_slice(value),
                    JsonField::Column(read) => read(node).write_json(&mut json).map_err(failed)?,
                }
            }
            json.push(b'}');
        }
        json.push(b']');
        Ok(Value::Binary(json.into()))
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

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
