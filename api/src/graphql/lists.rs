//! Lists resolved a field at a time for all their items, instead of an object at a time.
//!
//! async-graphql resolves each object of a list on its own: a boxed future per field, polled in a
//! `FuturesUnordered` and merged into an `IndexMap`, and a DataLoader call per object for each
//! relation. For a nested page that was most of the server's work (BENCHMARKS.md). Here, when the
//! items of a list select only bare fields (no fragment, no custom directive, no response key given
//! twice to a relation), each field is resolved for the whole list at once: a column is copied, a
//! relation is loaded with one `load_many` for every item, and the related objects are resolved the
//! same way, a level at a time. A nested connection that selects more than `nodes` resolves through
//! async-graphql, one connection at a time (its loads still share one statement), as does any other
//! selection.
//!
//! A client sees what async-graphql's executor gives: the same values, the same statements, and
//! for a field that fails the same error at the same path, with the field left out of its object
//! (async-graphql 7 does not null the parent of a failed non-null field). Three things differ:
//! - the fields of an object come in the order of the selection, as the GraphQL specification
//!   asks, where async-graphql orders them by which finished first;
//! - errors are listed object by object, where async-graphql lists them as they happen;
//! - one failure shared by a list (its statement failed) is logged once, so its errors share one
//!   `errorId`.
//!
//! A list whose objects select only columns is, in a request that allows it, written as JSON
//! at once from its rows ([`json`](super::json)).
//!
//! `tests/tests/api/lists.rs` compares both paths on the same queries. Valid while the schema has
//! no extensions, which would observe each field (`graphql::build_schema`).

use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
};
use futures_util::future::{BoxFuture, join_all};

use super::json::ListsAsJson;
use crate::error::ApiError;

/// The value of a field that copies a column, borrowed from its object.
pub enum Column<'a> {
    /// An `ID`, from an integer key.
    Id(i64),
    /// A `String`.
    Text(&'a str),
    /// An `Int` that may be null.
    Int(Option<i32>),
}

impl Column<'_> {
    /// The value the field's resolver gives.
    fn to_value(&self) -> Value {
        match *self {
            Self::Id(id) => Value::String(id.to_string()),
            Self::Text(text) => Value::String(text.to_owned()),
            Self::Int(int) => int.map_or(Value::Null, Value::from),
        }
    }

    /// Writes the JSON of [`Column::to_value`] to `json`, as `serde_json` writes it.
    fn write_json(&self, json: &mut Vec<u8>) -> serde_json::Result<()> {
        match *self {
            Self::Id(id) => {
                json.push(b'"');
                json.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
                json.push(b'"');
            }
            Self::Text(text) => serde_json::to_writer(json, text)?,
            Self::Int(Some(int)) => {
                json.extend_from_slice(itoa::Buffer::new().format(int).as_bytes())
            }
            Self::Int(None) => json.extend_from_slice(b"null"),
        }
        Ok(())
    }
}

/// A GraphQL object type whose lists are resolved a field at a time.
pub trait Batched: OutputType + 'static {
    /// The fields resolved for a whole list at once by [`Batched::resolve_batched`].
    const BATCHED_FIELDS: &'static [&'static str];

    /// How to read field `name` when it copies a column (no argument, no I/O, no error): its
    /// value exactly as its resolver gives it. `None` for any other field.
    fn plain_field(name: &str) -> Option<fn(&Self) -> Column<'_>>;

    /// The field of `at` (one of [`Batched::BATCHED_FIELDS`]) for each of `items`: item `i` at
    /// field context `at[i]`. One result per item, an error with its path set, as its resolver
    /// and async-graphql would give it.
    fn resolve_batched<'a>(
        items: &'a [&'a Self],
        at: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>>;
}

/// `error` as async-graphql reports a resolver's error in field context `ctx`.
pub fn field_error(ctx: &Context<'_>, error: impl Into<async_graphql::Error>) -> ServerError {
    ctx.set_error_path(error.into().into_server_error(ctx.item.pos))
}

/// One error shared by every field context of `at`, each with its own path, as each resolver
/// would have reported it.
pub fn shared_error(at: &[Context<'_>], error: ServerError) -> Vec<ServerResult<Value>> {
    at.iter()
        .map(|ctx| Err(ctx.set_error_path(error.clone())))
        .collect()
}

/// How one response key of the objects of a list is filled.
enum Slot<N> {
    /// The type's name.
    Typename,
    /// A copy of a column.
    Plain(fn(&N) -> Column<'_>),
    /// The values of the batched field with this index, one per object.
    Batched(usize),
}

/// How a list of `N` resolves a selection a field at a time.
struct Plan<'s, N> {
    /// The fields resolved for all objects at once.
    batched: Vec<&'s Positioned<Field>>,
    /// An object with every response key, in the order of the selection, and no values yet:
    /// each object starts as a copy of it, so that no key is hashed again.
    template: IndexMap<Name, Value>,
    /// How each key of `template` is filled.
    slots: Vec<Slot<N>>,
}

impl<N: Batched> Plan<'_, N> {
    /// The plan of `selection` when it holds only bare fields, plain or batched, with no
    /// directive, and no repeated response key on a batched field (whose values async-graphql
    /// would merge); `None` otherwise.
    fn of(selection: &SelectionSet) -> Option<Plan<'_, N>> {
        let mut plan = Plan {
            batched: Vec::new(),
            template: IndexMap::with_capacity(selection.items.len()),
            slots: Vec::with_capacity(selection.items.len()),
        };
        for item in &selection.items {
            let Selection::Field(field) = &item.node else {
                return None;
            };
            if !field.node.directives.is_empty() {
                return None;
            }
            let name = field.node.name.node.as_str();
            let slot = if name == "__typename" {
                Slot::Typename
            } else if let Some(read) = N::plain_field(name) {
                Slot::Plain(read)
            } else if N::BATCHED_FIELDS.contains(&name) {
                plan.batched.push(field);
                Slot::Batched(plan.batched.len() - 1)
            } else {
                return None;
            };
            let batched = matches!(slot, Slot::Batched(_));
            if !batched && !field.node.arguments.is_empty() {
                return None;
            }
            let key = &field.node.response_key().node;
            match plan.template.get_index_of(key) {
                // A repeated key keeps its first value, as async-graphql's merge does for
                // plain values.
                Some(first) if !batched && !matches!(plan.slots[first], Slot::Batched(_)) => {}
                Some(_) => return None,
                None => {
                    plan.template.insert(key.clone(), Value::Null);
                    plan.slots.push(slot);
                }
            }
        }
        Some(plan)
    }
}

/// The objects of `nodes`, node `i` in the context `at[i]` of its selection set (which all share),
/// as values of `field`. One result per node, as async-graphql would resolve each object.
pub fn objects<'a, N: Batched>(
    nodes: &'a [&'a N],
    at: &'a [ContextSelectionSet<'a>],
    field: &'a Positioned<Field>,
) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
    Box::pin(async move {
        let Some(first) = at.first() else {
            return Vec::new();
        };
        let Some(plan) = Plan::<N>::of(&first.item.node) else {
            return join_all(
                nodes
                    .iter()
                    .zip(at)
                    .map(|(node, ctx)| OutputType::resolve(*node, ctx, field)),
            )
            .await;
        };

        // Each batched field for all nodes; the fields concurrently, so that their loaders
        // share a standstill (`batching`) as the executor's fields would.
        let batched: Vec<Vec<Context<'_>>> = plan
            .batched
            .iter()
            .map(|field| at.iter().map(|ctx| ctx.with_field(field)).collect())
            .collect();
        let mut values: Vec<_> = join_all(batched.iter().map(|at| N::resolve_batched(nodes, at)))
            .await
            .into_iter()
            .map(Vec::into_iter)
            .collect();

        let type_name = Value::String(N::type_name().into_owned());
        nodes
            .iter()
            .zip(at)
            .map(|(node, ctx)| {
                let mut object = plan.template.clone();
                let mut failed = Vec::new();
                for (index, slot) in plan.slots.iter().enumerate() {
                    let value = match slot {
                        Slot::Typename => type_name.clone(),
                        Slot::Plain(read) => read(node).to_value(),
                        Slot::Batched(field) => match values[*field].next() {
                            Some(Ok(value)) => value,
                            Some(Err(error)) => {
                                ctx.add_error(error);
                                failed.push(index);
                                continue;
                            }
                            None => Value::Null,
                        },
                    };
                    if let Some((_, entry)) = object.get_index_mut(index) {
                        *entry = value;
                    }
                }
                // A field that failed is left out, as async-graphql leaves it out.
                for index in failed.into_iter().rev() {
                    object.shift_remove_index(index);
                }
                // An object whose every field failed is null, as async-graphql makes it.
                Ok(if object.is_empty() {
                    Value::Null
                } else {
                    Value::Object(object)
                })
            })
            .collect()
    })
}

/// Lists of `N` that a request writes as JSON at once (see the module): their objects select
/// only columns.
pub struct JsonLists<N> {
    /// Each field of an object: the JSON of its key, after the `{` or `,` before it, and how its
    /// value is read.
    fields: Vec<(Vec<u8>, JsonField<N>)>,
}

/// How a field of an object of [`JsonLists`] is written.
enum JsonField<N> {
    /// The same JSON for every object: the type's name.
    Constant(Vec<u8>),
    /// A column.
    Column(fn(&N) -> Column<'_>),
}

impl<N: Batched> JsonLists<N> {
    /// How lists of `N` in context `ctx` are written, when its request allows JSON lists and the
    /// selection holds only columns; `None` otherwise. Also `None` when it holds no field at all
    /// (each one skipped by `@skip` or `@include`): async-graphql makes such objects null.
    pub fn of(ctx: &ContextSelectionSet<'_>) -> Option<Self> {
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
                    Slot::Plain(read) => JsonField::Column(read),
                    Slot::Batched(_) => return None,
                };
                let mut json = vec![if index == 0 { b'{' } else { b',' }];
                serde_json::to_writer(&mut json, key.as_str()).ok()?;
                json.push(b':');
                Some((json, field))
            })
            .collect::<Option<_>>()?;
        Some(Self { fields })
    }

    /// `nodes` as the list's JSON, a binary value ([`json`](super::json)): what `serde_json`
    /// writes for the objects' values.
    pub fn write(&self, nodes: &[N]) -> Result<Value, ApiError> {
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

/// The list of `nodes`, the value of `field` in context `ctx`, as `resolve_list` would resolve it.
pub async fn list<N: Batched + Sync>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    nodes: &[N],
) -> ServerResult<Value> {
    if let Some(lists) = JsonLists::of(ctx) {
        return lists.write(nodes).map_err(|error| {
            ctx.set_error_path(async_graphql::Error::from(error).into_server_error(field.pos))
        });
    }
    let at: Vec<_> = (0..nodes.len())
        .map(|index| ctx.with_index(index))
        .collect();
    let nodes: Vec<&N> = nodes.iter().collect();
    list_of(objects(&nodes, &at, field).await.into_iter().zip(&at))
}

/// The list of items resolved at their contexts, as `resolve_list` makes it: a failed item fails
/// the list, at the item's path. Consumes every item, failed or not.
pub fn list_of<'c>(
    items: impl Iterator<Item = (ServerResult<Value>, &'c ContextSelectionSet<'c>)>,
) -> ServerResult<Value> {
    let mut list = Vec::with_capacity(items.size_hint().0);
    let mut failed = None;
    for (value, ctx) in items {
        match value {
            Ok(value) => list.push(value),
            Err(error) => {
                failed.get_or_insert_with(|| ctx.set_error_path(error));
            }
        }
    }
    failed.map_or(Ok(Value::List(list)), Err)
}

#[cfg(test)]
mod tests {
    use super::Column;

    #[test]
    fn columns_write_the_json_of_their_values() {
        let columns = [
            Column::Id(0),
            Column::Id(i64::MAX),
            Column::Id(-7),
            Column::Text(""),
            Column::Text("quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} é 😀"),
            Column::Int(None),
            Column::Int(Some(i32::MIN)),
            Column::Int(Some(1925)),
        ];
        for column in columns {
            let mut json = Vec::new();
            column.write_json(&mut json).unwrap();
            assert_eq!(json, serde_json::to_vec(&column.to_value()).unwrap());
        }
    }
}
