//! Lists resolved a field at a time for all their items, instead of an object at a time.
//!
//! async-graphql resolves each object of a list on its own: a boxed future per field, polled in a
//! `FuturesUnordered` and merged into an `IndexMap`, and a DataLoader call per object for each
//! relation. For a nested page that was most of the server's work (BENCHMARKS.md). Here, when the
//! items of a list select only bare fields (no fragment, no directive, no response key given
//! twice to a relation) with the arguments their type declares ([`fields`]), each field is resolved
//! for the whole list at once: a column is copied, a relation is loaded with one `load_many` for
//! every item, and the related objects are resolved the same way, a level at a time. Any other
//! selection resolves through async-graphql, object by object.
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
//! `tests/tests/api/lists.rs` compares both paths on chosen queries, and
//! `tests/tests/api/fields.rs` on generated ones. Valid while the schema has no extensions, which
//! would observe each field (`graphql::Service::new`).

use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
};
use futures_util::future::{BoxFuture, join_all};

use super::{
    fields::{self, Fields, Read, Resolve, ResolveAll},
    json::JsonLists,
};

/// How one response key of the objects of a list is filled.
pub(super) enum Slot<N> {
    /// The type's name.
    Typename,
    /// A copy of a column.
    Column(Read<N>),
    /// The values of the field resolved for all objects with this index, one per object.
    All(usize),
}

/// How a list of `N` resolves a selection a field at a time.
pub(super) struct Plan<'s, N> {
    /// The fields resolved for all objects at once, and how.
    all: Vec<(&'s Positioned<Field>, ResolveAll<N>)>,
    /// An object with every response key, in the order of the selection, and no values yet:
    /// each object starts as a copy of it, so that no key is hashed again.
    pub(super) template: IndexMap<Name, Value>,
    /// How each key of `template` is filled.
    pub(super) slots: Vec<Slot<N>>,
}

impl<N: Fields> Plan<'_, N> {
    /// The plan of `selection` when it holds only bare fields of `N`'s [`Fields::FIELDS`] with
    /// the arguments declared there, no directive, and no repeated response key on a field
    /// resolved for all objects (whose values async-graphql would merge); `None` otherwise.
    pub(super) fn of(selection: &SelectionSet) -> Option<Plan<'_, N>> {
        let mut plan = Plan {
            all: Vec::new(),
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
            } else {
                let declared = N::field(name)?;
                let known = |(argument, _): &(Positioned<Name>, _)| {
                    declared.arguments.contains(&argument.node.as_str())
                };
                if !field.node.arguments.iter().all(known) {
                    return None;
                }
                match declared.resolve {
                    Resolve::Column(read) => Slot::Column(read),
                    Resolve::All(resolve) => {
                        plan.all.push((field, resolve));
                        Slot::All(plan.all.len() - 1)
                    }
                    Resolve::Resolver => {
                        plan.all.push((field, fields::by_resolver::<N>));
                        Slot::All(plan.all.len() - 1)
                    }
                }
            };
            let copied = !matches!(slot, Slot::All(_));
            let key = &field.node.response_key().node;
            match plan.template.get_index_of(key) {
                // A repeated key keeps its first value, as async-graphql's merge does for
                // plain values.
                Some(first) if copied && !matches!(plan.slots[first], Slot::All(_)) => {}
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
pub fn objects<'a, N: Fields>(
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

        // Each field for all nodes; the fields concurrently, so that their loaders share a
        // standstill (`batching`) as the executor's fields would.
        let all_at: Vec<Vec<Context<'_>>> = plan
            .all
            .iter()
            .map(|(field, _)| at.iter().map(|ctx| ctx.with_field(field)).collect())
            .collect();
        let mut values: Vec<_> = join_all(
            plan.all
                .iter()
                .zip(&all_at)
                .map(|((_, resolve), at)| resolve(nodes, at)),
        )
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
                        Slot::Column(read) => read(node).to_value(),
                        Slot::All(field) => match values[*field].next() {
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

/// The list of `nodes`, the value of `field` in context `ctx`, as `resolve_list` would resolve it.
pub async fn list<N: Fields>(
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
