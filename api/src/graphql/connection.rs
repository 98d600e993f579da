//! Relay cursor connections (`API.md` § Pagination): `edges`, `nodes`, `pageInfo`, and a
//! `totalCount` that runs its statement only when selected.

use std::borrow::Cow;

use async_graphql::{Context, Object, OutputType, SimpleObject, TypeName};

use super::ContextExt;
use crate::{
    error::ApiResult,
    store::{self, Ordering, Page, SortField, Window, author::AuthorFilter, book::BookFilter},
};

/// A GraphQL type that lists come in.
pub trait Node: OutputType + Clone {
    /// The type's name; its list types are `<NAME>Connection` and `<NAME>Edge`.
    const NAME: &'static str;
}

/// Where a connection's `totalCount` comes from, computed only when selected.
#[derive(Debug, Clone)]
pub enum TotalCount {
    /// All authors matching a filter.
    Authors(AuthorFilter),
    /// All books matching a filter.
    Books(BookFilter),
    /// The books of one author matching a filter, counted for all authors at once by a loader.
    BooksOfAuthor(i64, BookFilter),
}

impl TotalCount {
    async fn resolve(&self, ctx: &Context<'_>) -> ApiResult<u64> {
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

/// A page of a list, with the cursors to fetch the pages around it.
pub struct Connection<N> {
    edges: Vec<Edge<N>>,
    page_info: PageInfo,
    total_count: TotalCount,
}

impl<N: Node> Connection<N> {
    /// The connection of `page`, read through `window` in `ordering`.
    pub fn new<F: SortField>(
        page: Page<F::Model>,
        window: &Window,
        ordering: &Ordering<F>,
        total_count: TotalCount,
        node: impl Fn(F::Model) -> N,
    ) -> Self {
        let edges: Vec<Edge<N>> = page
            .rows
            .into_iter()
            .map(|row| Edge {
                cursor: ordering.cursor_of(&row),
                node: node(row),
            })
            .collect();
        // Relay: reading forwards, there is a previous page when we started after a cursor; reading
        // backwards, there is a next page when we started before one.
        let (has_next_page, has_previous_page) = if window.from_end {
            (window.before.is_some(), page.has_more)
        } else {
            (page.has_more, window.after.is_some())
        };
        let page_info = PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Self {
            edges,
            page_info,
            total_count,
        }
    }
}

/// A page of a list, in the Relay cursor-connection format.
#[Object(name_type)]
impl<N: Node> Connection<N> {
    /// The items of this page with their cursors.
    async fn edges(&self) -> &[Edge<N>] {
        &self.edges
    }

    /// The items of this page, without cursors.
    async fn nodes(&self) -> Vec<N> {
        self.edges.iter().map(|edge| edge.node.clone()).collect()
    }

    /// Where this page lies in the whole list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many items the whole list holds, across all pages; counted only when selected.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        self.total_count.resolve(ctx).await
    }
}

impl<N: Node> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::NAME).into()
    }
}

/// An item of a list and the cursor that points at it.
pub struct Edge<N> {
    cursor: String,
    node: N,
}

/// An item of a list and its cursor.
#[Object(name_type)]
impl<N: Node> Edge<N> {
    /// Pass it as `after` (or `before`) to fetch the items that follow (or precede) this one.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The item.
    async fn node(&self) -> &N {
        &self.node
    }
}

impl<N: Node> TypeName for Edge<N> {
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
