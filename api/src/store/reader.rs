//! Where one request's statements go.
//!
//! Behind a pooler that lends server connections per transaction (PgBouncer's
//! `pool_mode = transaction`), a statement outside a transaction may be parsed on one server
//! connection and executed on another: sqlx sends the two in separate round trips, and the
//! pooler is free to switch between them. Inside a transaction the pooler keeps one server
//! connection until `COMMIT`. So there a request reads in a transaction of its own, begun by its
//! first statement and ended by [`Reader::release`]; its writes run in their own transactions
//! anyway. With no such pooler every statement goes to the pool, as it comes.

use std::{pin::Pin, sync::Arc};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, TransactionError, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{RwLock, RwLockReadGuard};

/// A request's way to the database: the pool, or the request's own transaction on it (see the
/// module). Clones share the transaction. For reads: a write takes a transaction of its own
/// through [`TransactionTrait`], never the reading one.
#[derive(Clone)]
pub struct Reader {
    pool: DatabaseConnection,
    /// The request's transaction, when reads are pinned to one: none until the first read.
    pinned: Option<Arc<RwLock<Pinned>>>,
}

/// The request's transaction, if open, and how many have been begun.
#[derive(Default)]
struct Pinned {
    open: Option<DatabaseTransaction>,
    begun: u64,
}

impl Reader {
    /// Statements on `pool`; in one transaction per request when `per_transaction`.
    pub fn new(pool: DatabaseConnection, per_transaction: bool) -> Self {
        Self {
            pool,
            pinned: per_transaction.then(Arc::default),
        }
    }

    /// Ends the request's transaction, if one is open, by committing it (it has only read): its
    /// connection goes back to the pool, and a later read begins another. Reads in flight finish
    /// first.
    ///
    /// # Errors
    /// When the database fails to commit.
    pub async fn release(&self) -> Result<(), DbErr> {
        let Some(pinned) = &self.pinned else {
            return Ok(());
        };
        let open = pinned.write().await.open.take();
        match open {
            Some(txn) => txn.commit().await,
            None => Ok(()),
        }
    }

    /// The request's transaction, begun now if none is open, and its number.
    async fn transaction<'a>(
        &self,
        pinned: &'a RwLock<Pinned>,
    ) -> Result<(RwLockReadGuard<'a, DatabaseTransaction>, u64), DbErr> {
        let state = pinned.read().await;
        let begun = state.begun;
        if let Ok(open) = RwLockReadGuard::try_map(state, |state| state.open.as_ref()) {
            return Ok((open, begun));
        }
        let mut state = pinned.write().await;
        if state.open.is_none() {
            state.open = Some(self.pool.begin().await?);
            state.begun += 1;
        }
        let begun = state.begun;
        RwLockReadGuard::try_map(state.downgrade(), |state| state.open.as_ref())
            .map(|open| (open, begun))
            .map_err(|_| DbErr::Custom("the request's transaction ended while it began".into()))
    }

    /// After a statement of transaction number `begun` failed: PostgreSQL refuses every later
    /// statement of a transaction in which one failed, so it is rolled back, and the request's
    /// next statement begins another (a failed field fails alone, as without a pooler).
    async fn discard(&self, pinned: &RwLock<Pinned>, begun: u64) {
        let failed = {
            let mut state = pinned.write().await;
            if state.begun == begun {
                state.open.take()
            } else {
                None // already ended, and perhaps another begun
            }
        };
        if let Some(txn) = failed
            && let Err(err) = txn.rollback().await
        {
            tracing::debug!(error = %err, "rolling back a failed reading transaction failed");
        }
    }
}

/// Runs `$call` on the request's transaction when reads are pinned, else on the pool.
macro_rules! on_reader {
    ($reader:expr, |$conn:ident| $call:expr) => {
        match &$reader.pinned {
            None => {
                let $conn = &$reader.pool;
                $call
            }
            Some(pinned) => {
                let (open, begun) = $reader.transaction(pinned).await?;
                let result = {
                    let $conn = &*open;
                    $call
                };
                drop(open);
                if result.is_err() {
                    $reader.discard(pinned, begun).await;
                }
                result
            }
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Reader {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_reader!(self, |conn| conn.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        on_reader!(self, |conn| conn.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_reader!(self, |conn| conn.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_reader!(self, |conn| conn.query_all_raw(stmt).await)
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

/// A write's transaction begins on the pool, after the request's reading transaction ends: a
/// request holds one connection at a time, and the write is committed on its own.
#[async_trait::async_trait]
impl TransactionTrait for Reader {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.release().await?;
        self.pool.begin().await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.release().await?;
        self.pool
            .begin_with_config(isolation_level, access_mode)
            .await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.release().await?;
        self.pool.begin_with_options(options).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.release().await.map_err(TransactionError::Connection)?;
        self.pool.transaction(callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.release().await.map_err(TransactionError::Connection)?;
        self.pool
            .transaction_with_config(callback, isolation_level, access_mode)
            .await
    }
}
