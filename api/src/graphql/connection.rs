//! Relay cursor connections (docs/reference.md § Pagination): `edges`, `nodes`, `pageInfo`, and
//! a `totalCount` that runs its statement only when selected.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    Context, ContextSelectionSet, Object, OutputType, Positioned, ServerResult, SimpleObject,
    TypeName, Value, parser::types::Field, registry::Registry,
};
use futures_util::future::BoxFuture;

use super::{
    ContextExt,
    fields::{self, Fields, Relation, field_error},
    json::JsonLists,
    lists,
    loaders::Interned,
    relations::TotalCountOf,
};
use crate::{
    error::ApiResult,
    store::{self, Ordering, Page, SortField, Window, author::AuthorFilter, book::BookFilter},
};

/// A GraphQL type that lists come in.
pub trait Node: Fields {
    /// The type's name; its list types are `<NAME>Connection` and `<NAME>Edge`.
    const NAME: &'static str;
}

/// The `nodes` of a connection, a `[N!]!`, resolved a field at a time for all its items
/// ([`lists`]).
pub struct Nodes<'a, N>(&'a [N]);

impl<N: Node> OutputType for Nodes<'_, N> {
    fn type_name() -> Cow<'static, str> {
        <&[N] as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <&[N] as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <&[N] as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        lists::list(ctx, field, self.0).await
    }
}

/// The `nodes` of all the connections of a list resolve as one list, their `totalCount`s load
/// together; `edges` and `pageInfo` resolve connection by connection.
impl<N: Node> Fields for Connection<N> {
    const FIELDS: &'static [fields::Field<Self>] = &[
        fields::Field::resolver("edges", &[]),
        fields::Field::batched("nodes", nodes_of_all),
        fields::Field::resolver("pageInfo", &[]),
        fields::Field::relation::<TotalCountOf>("totalCount"),
    ];
}

/// The `nodes` of every connection of `connections`, connection `i` at field context `at[i]`: the
/// items of all of them resolved as one list. One result per connection, as its `nodes` field
/// would give it.
fn nodes_of_all<'a, N: Node>(
    connections: &'a [&'a Connection<N>],
    at: &'a [Context<'a>],
) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
    Box::pin(nodes_of(connections, at))
}

async fn nodes_of<N: Node>(
    connections: &[&Connection<N>],
    at: &[Context<'_>],
) -> Vec<ServerResult<Value>> {
    let Some(first) = at.first() else {
        return Vec::new();
    };
    let field = first.item;
    if let Some(lists) = JsonLists::of(&first.with_selection_set(&field.node.selection_set)) {
        return connections
            .iter()
            .zip(at)
            .map(|(connection, ctx)| {
                lists
                    .write(&connection.nodes)
                    .map_err(|error| field_error(ctx, error))
            })
            .collect();
    }
    let list_at: Vec<_> = at
        .iter()
        .map(|ctx| ctx.with_selection_set(&field.node.selection_set))
        .collect();
    let item_at: Vec<_> = list_at
        .iter()
        .zip(connections)
        .flat_map(|(ctx, connection)| {
            (0..connection.nodes.len()).map(move |index| ctx.with_index(index))
        })
        .collect();
    let items: Vec<&N> = connections
        .iter()
        .flat_map(|connection| &connection.nodes)
        .collect();
    let mut values = lists::objects(&items, &item_at, field)
        .await
        .into_iter()
        .zip(&item_at);
    connections
        .iter()
        .map(|connection| lists::list_of(values.by_ref().take(connection.nodes.len())))
        .collect()
}

/// Where a connection's `totalCount` comes from, computed only when selected.
#[derive(Debug, Clone)]
pub enum TotalCount {
    /// All authors matching a filter.
    Authors(AuthorFilter),
    /// All books matching a filter.
    Books(BookFilter),
    /// The books of one author matching a filter, counted for all authors at once by a loader.
    BooksOfAuthor(i64, Interned<BookFilter>),
}

impl TotalCount {
    /// The count.
    pub async fn resolve(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            Self::Authors(filter) => store::author::count(ctx.db()?, filter).await,
            Self::Books(filter) => store::book::count(ctx.db()?, filter).await,
            Self::BooksOfAuthor(author_id, filter) => Ok(ctx
                .loaders()?
                .book_counts
                .load_one((*author_id, filter.clone()))
                .await?
                .unwrap_or(0)),
        }
    }
}

/// Computes the opaque cursor of one node of a connection.
type CursorFn<N> = Arc<dyn Fn(&N) -> String + Send + Sync>;

/// A page of a list, with the cursors to fetch the pages around it. Cursors are computed only
/// for the edges and page bounds a query selects.
pub struct Connection<N> {
    nodes: Vec<N>,
    cursor: CursorFn<N>,
    has_next_page: bool,
    has_previous_page: bool,
    total_count: TotalCount,
}

impl<N: Node> Connection<N> {
    /// The connection of `page`, read through `window` in `ordering`; `key` gives the row a node
    /// stands for.
    pub fn new<F: SortField>(
        page: Page<F::Model>,
        window: &Window,
        ordering: &Ordering<F>,
        total_count: TotalCount,
        node: impl Fn(F::Model) -> N,
        key: fn(&N) -> &F::Model,
    ) -> Self {
        // Relay: reading forwards, there is a previous page when we started after a cursor; reading
        // backwards, there is a next page when we started before one.
        let (has_next_page, has_previous_page) = if window.from_end {
            (window.before.is_some(), page.has_more)
        } else {
            (page.has_more, window.after.is_some())
        };
        let ordering = ordering.clone();
        Self {
            nodes: page.rows.into_iter().map(node).collect(),
            cursor: Arc::new(move |node: &N| ordering.cursor_of(key(node))),
            has_next_page,
            has_previous_page,
            total_count,
        }
    }

    /// Where its `totalCount` comes from.
    pub fn total(&self) -> &TotalCount {
        &self.total_count
    }
}

/// A page of a list, in the Relay cursor-connection format.
#[Object(name_type)]
impl<N: Node> Connection<N> {
    /// The items of this page with their cursors.
    async fn edges(&self) -> Vec<Edge<'_, N>> {
        self.nodes
            .iter()
            .map(|node| Edge {
                node,
                cursor: &self.cursor,
            })
            .collect()
    }

    /// The items of this page, without cursors.
    async fn nodes(&self) -> Nodes<'_, N> {
        Nodes(&self.nodes)
    }

    /// Where this page lies in the whole list.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.nodes.first().map(|node| (self.cursor)(node)),
            end_cursor: self.nodes.last().map(|node| (self.cursor)(node)),
        }
    }

    /// How many items the whole list holds, across all pages; counted only when selected.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        TotalCountOf::one(ctx, (), self).await
    }
}

impl<N: Node> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::NAME).into()
    }
}

/// An item of a list and the cursor that points at it.
pub struct Edge<'a, N> {
    node: &'a N,
    cursor: &'a CursorFn<N>,
}

/// An item of a list and its cursor.
#[Object(name_type)]
impl<N: Node> Edge<'_, N> {
    /// Pass it as `after` (or `before`) to fetch the items that follow (or precede) this one.
    async fn cursor(&self) -> String {
        (self.cursor)(self.node)
    }

    /// The item.
    async fn node(&self) -> &N {
        self.node
    }
}

impl<N: Node> TypeName for Edge<'_, N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::NAME).into()
    }
}

/// Where a page lies in its list (Relay `PageInfo`).
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether items follow this page. Reading backwards with `before`, this is true.
    pub has_next_page: bool,
    /// Whether items precede this page. Reading forwards with `after`, this is true.
    pub has_previous_page: bool,
    /// The cursor of the first item of this page, if any.
    pub start_cursor: Option<String>,
    /// The cursor of the last item of this page, if any.
    pub end_cursor: Option<String>,
}
