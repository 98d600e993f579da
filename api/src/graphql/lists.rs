//! Lists resolved a field at a time for all their items, instead of an object at a time.
//!
//! async-graphql resolves each object of a list on its own: a boxed future per field, polled in a
//! `FuturesUnordered` and merged into an `IndexMap`, and a DataLoader call per object for each
//! relation. For a nested page that was most of the server's work (BENCHMARKS.md). Here, when the
//! items of a list select only bare fields (no fragment, no directive, no response key given twice
//! to a relation), each field is resolved for the whole list at once: a column is copied, a
//! relation is loaded with one `load_many` for every item, and the related objects are resolved the
//! same way, a level at a time. Any other selection resolves through async-graphql, object by
//! object, as before.
//!
//! A client sees what async-graphql's executor gives: the same values, the same statements, and
//! for a field that fails the same error at the same path, with the field left out of its object
//! (async-graphql 7 does not null the parent of a failed non-null field). Two things differ: the
//! fields of an object come in the order of the selection, as the GraphQL specification asks,
//! where async-graphql orders them by which finished first; and one failure shared by a list (its
//! statement failed) is logged once, so its errors share one `errorId`. The tests compare both
//! paths on the same queries. Valid while the schema has no extensions, which would observe each
//! field (`graphql::build_schema`).

use async_graphql::{
    Context, ContextSelectionSet, OutputType, Positioned, ServerError, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
};
use futures_util::future::{BoxFuture, join_all};

/// A GraphQL object type whose lists are resolved a field at a time.
pub trait Node: OutputType + Clone + 'static {
    /// The type's name; its list types are `<NAME>Connection` and `<NAME>Edge`.
    const NAME: &'static str;

    /// The fields that copy a column: no argument, no I/O, no error.
    const PLAIN_FIELDS: &'static [&'static str];

    /// The fields resolved for a whole list at once by [`Node::resolve_batched`].
    const BATCHED_FIELDS: &'static [&'static str];

    /// The value of plain field `name` (one of [`Node::PLAIN_FIELDS`]), exactly as its resolver
    /// gives it; `None` for any other field.
    fn plain_field(&self, name: &str) -> Option<Value>;

    /// The field of `at` (one of [`Node::BATCHED_FIELDS`]) for each of `nodes`: node `i` at field
    /// context `at[i]`. One result per node, an error with its path set, as its resolver and
    /// async-graphql would give it.
    fn resolve_batched<'a>(
        nodes: &'a [&'a Self],
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

/// The fields of `selection` if a list of `N` can resolve them a field at a time: bare fields,
/// plain or batched, with no directive, and no repeated response key on a batched field (whose
/// values async-graphql would merge).
fn bare_fields<N: Node>(selection: &SelectionSet) -> Option<Vec<&Positioned<Field>>> {
    let mut fields = Vec::with_capacity(selection.items.len());
    for item in &selection.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        if !field.node.directives.is_empty() {
            return None;
        }
        let name = field.node.name.node.as_str();
        let plain = name == "__typename" || N::PLAIN_FIELDS.contains(&name);
        if plain && !field.node.arguments.is_empty() {
            return None;
        }
        if !plain && !N::BATCHED_FIELDS.contains(&name) {
            return None;
        }
        fields.push(field);
    }
    let repeated_batched = fields.iter().enumerate().any(|(index, field)| {
        let key = field.node.response_key();
        N::BATCHED_FIELDS.contains(&field.node.name.node.as_str())
            && fields
                .iter()
                .enumerate()
                .any(|(other, f)| other != index && f.node.response_key().node == key.node)
    });
    (!repeated_batched).then_some(fields)
}

/// The objects of `nodes`, node `i` in the context `at[i]` of its selection set (which all share),
/// as values of `field`. One result per node, as async-graphql would resolve each object.
pub fn objects<'a, N: Node>(
    nodes: &'a [&'a N],
    at: &'a [ContextSelectionSet<'a>],
    field: &'a Positioned<Field>,
) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
    Box::pin(async move {
        let Some(first) = at.first() else {
            return Vec::new();
        };
        let Some(fields) = bare_fields::<N>(&first.item.node) else {
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
        let batched: Vec<Vec<Context<'_>>> = fields
            .iter()
            .filter(|field| N::BATCHED_FIELDS.contains(&field.node.name.node.as_str()))
            .map(|field| at.iter().map(|ctx| ctx.with_field(field)).collect())
            .collect();
        let mut values: Vec<_> = join_all(batched.iter().map(|at| N::resolve_batched(nodes, at)))
            .await
            .into_iter()
            .map(Vec::into_iter)
            .collect();

        let type_name = N::type_name();
        nodes
            .iter()
            .zip(at)
            .map(|(node, ctx)| {
                let mut batched = values.iter_mut();
                let mut object = IndexMap::with_capacity(fields.len());
                for field in &fields {
                    let value = match field.node.name.node.as_str() {
                        "__typename" => Value::String(type_name.clone().into_owned()),
                        name if N::BATCHED_FIELDS.contains(&name) => {
                            match batched.next().and_then(|values| values.next()) {
                                Some(Ok(value)) => value,
                                Some(Err(error)) => {
                                    ctx.add_error(error);
                                    continue;
                                }
                                None => Value::Null,
                            }
                        }
                        name => node.plain_field(name).unwrap_or_default(),
                    };
                    // A repeated key keeps its first value, as async-graphql's merge does for
                    // plain values.
                    object
                        .entry(field.node.response_key().node.clone())
                        .or_insert(value);
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

/// The list of `nodes`, the value of `field` in context `ctx`, as `resolve_list` would resolve it.
pub async fn list<N: Node>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    nodes: &[N],
) -> ServerResult<Value> {
    let at: Vec<_> = (0..nodes.len())
        .map(|index| ctx.with_index(index))
        .collect();
    let nodes: Vec<&N> = nodes.iter().collect();
    let mut list = Vec::with_capacity(nodes.len());
    for (value, ctx) in objects(&nodes, &at, field).await.into_iter().zip(&at) {
        list.push(value.map_err(|error| ctx.set_error_path(error))?);
    }
    Ok(Value::List(list))
}
