//! The subscriptions: committed changes, as the hub of this instance hands them out
//! (docs/reference.md § Subscriptions).

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{Context, Enum, ID, Object, Subscription};
use futures_util::{Stream, StreamExt, stream::BoxStream};
use tokio::sync::broadcast;

use super::{author::Author, book::Book, inputs::parse_id, missing};
use crate::{
    error::{ApiError, ApiResult},
    live::{self, Change, Signal},
};

/// What happened to a row.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    /// The row was inserted.
    Created,
    /// At least one of its columns changed.
    Updated,
    /// The row was deleted: by itself, or a book with its author.
    Deleted,
}

impl From<live::ChangeKind> for ChangeKind {
    fn from(kind: live::ChangeKind) -> Self {
        match kind {
            live::ChangeKind::Created => Self::Created,
            live::ChangeKind::Updated => Self::Updated,
            live::ChangeKind::Deleted => Self::Deleted,
        }
    }
}

/// A committed change to a book.
pub struct BookChange {
    kind: ChangeKind,
    book_id: i64,
    author_id: i64,
    book: Option<entity::book::Model>,
}

/// A committed change to a book.
#[Object]
impl BookChange {
    /// What happened to the book.
    async fn kind(&self) -> ChangeKind {
        self.kind
    }

    /// The book's ID.
    async fn book_id(&self) -> ID {
        ID(self.book_id.to_string())
    }

    /// The ID of the book's author; for a book moved to another author, the new one.
    async fn author_id(&self) -> ID {
        ID(self.author_id.to_string())
    }

    /// The book as the commit left it, whatever happened after; null when deleted. Its author is
    /// read when asked for, as it is then.
    async fn book(&self) -> Option<Book> {
        self.book.clone().map(Book)
    }
}

/// A committed change to an author.
pub struct AuthorChange {
    kind: ChangeKind,
    author_id: i64,
    author: Option<entity::author::Model>,
}

/// A committed change to an author.
#[Object]
impl AuthorChange {
    /// What happened to the author.
    async fn kind(&self) -> ChangeKind {
        self.kind
    }

    /// The author's ID.
    async fn author_id(&self) -> ID {
        ID(self.author_id.to_string())
    }

    /// The author as the commit left it, whatever happened after; null when deleted. Their books
    /// are read when asked for, as they are then.
    async fn author(&self) -> Option<Author> {
        self.author.clone().map(Author::new)
    }
}

/// The signals of the hub for one subscription, taken by its one root field: they are
/// subscribed to when the subscription is registered, so no change committed after that is
/// missed while its first response is being prepared.
pub struct Signals {
    receiver: Mutex<Option<broadcast::Receiver<Signal>>>,
    started: Arc<AtomicBool>,
}

impl Signals {
    /// The signals of `receiver`; `started` is set when the subscription takes them, its
    /// arguments accepted.
    pub fn new(receiver: broadcast::Receiver<Signal>, started: Arc<AtomicBool>) -> Self {
        Self {
            receiver: Mutex::new(Some(receiver)),
            started,
        }
    }

    fn take(ctx: &Context<'_>) -> ApiResult<impl Stream<Item = Signal> + Send + 'static + use<>> {
        let signals = ctx
            .data::<Self>()
            .map_err(|_| missing("the subscription's signals"))?;
        signals.started.store(true, Ordering::Release);
        let receiver = signals
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| missing("the subscription's signals"))?;
        Ok(live::signals(receiver))
    }
}

/// Every subscription of the API.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Every subscription of the API. Changes arrive once their transaction has committed, once
/// each, in commit order; an error with code `EVENTS_MISSED` says some may have been lost (the
/// server's connection to the database dropped, or this subscription fell behind), and the
/// client should refetch what it shows.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every committed change to a book; with authorId, only the changes that concern that author.
    async fn book_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only the books of this author, such as \"42\"; a book moved to or \
                          from them included."
        )]
        author_id: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, ApiResult<BookChange>>> {
        let author = author_id.map(|id| parse_id("authorId", &id)).transpose()?;
        Ok(each(Signals::take(ctx)?, move |change| match change {
            Change::Book {
                kind,
                id,
                author_id,
                moved_from,
                row,
            } if author
                .is_none_or(|author| *author_id == author || *moved_from == Some(author)) =>
            {
                Some(BookChange {
                    kind: (*kind).into(),
                    book_id: *id,
                    author_id: *author_id,
                    book: row.as_ref().map(Into::into),
                })
            }
            _ => None,
        }))
    }

    /// Every committed change to an author; with id, only that author's.
    async fn author_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this author, such as \"42\".")] id: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, ApiResult<AuthorChange>>> {
        let wanted = id.map(|id| parse_id("id", &id)).transpose()?;
        Ok(each(Signals::take(ctx)?, move |change| match change {
            Change::Author { kind, id, row } if wanted.is_none_or(|wanted| wanted == *id) => {
                Some(AuthorChange {
                    kind: (*kind).into(),
                    author_id: *id,
                    author: row.as_ref().map(Into::into),
                })
            }
            _ => None,
        }))
    }
}

/// One item per change that `pick` keeps, in order, and an `EVENTS_MISSED` error where changes
/// may have been lost.
fn each<T: Send + 'static>(
    signals: impl Stream<Item = Signal> + Send + 'static,
    pick: impl Fn(&Change) -> Option<T> + Send + 'static,
) -> BoxStream<'static, ApiResult<T>> {
    signals
        .flat_map(move |signal| {
            let items: Vec<ApiResult<T>> = match signal {
                Signal::Missed => vec![Err(ApiError::EventsMissed)],
                Signal::Changes(changes) => changes.iter().filter_map(&pick).map(Ok).collect(),
            };
            futures_util::stream::iter(items)
        })
        .boxed()
}
