//! Connection pools on `r2d2`, for both stores: a connection that failed goes
//! back to no pool.
//!
//! `r2d2` asks its manager whether a returned connection is broken; the
//! managers of `r2d2_sqlite` never say so, so a connection opened read-only (its
//! file was read-only for a moment) would keep failing every write after the
//! cause is gone. Here every connection carries a flag that [`run`] sets when a
//! call through it fails with a database error, and the pool drops flagged
//! connections instead of keeping them.

use crate::error::Error;
use scheduled_thread_pool::ScheduledThreadPool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A pooled connection and whether a call through it failed.
#[derive(Debug)]
pub(super) struct Tracked<C> {
    /// The connection.
    pub conn: C,
    /// Set after a database error: the pool drops the connection.
    pub failed: bool,
}

impl<C> Tracked<C> {
    pub(super) fn new(conn: C) -> Self {
        Tracked {
            conn,
            failed: false,
        }
    }
}

/// How a store opens connections; the pool's manager.
pub(super) trait Connect: Send + Sync + 'static {
    /// The connection type.
    type Conn: Send + 'static;
    /// Opens one connection.
    ///
    /// # Errors
    /// [`Error::Store`] naming what could not be reached.
    fn connect(&self) -> Result<Self::Conn, Error>;
    /// Whether a connection is unusable even without a failed call (its peer
    /// closed it).
    fn is_closed(&self, _conn: &mut Self::Conn) -> bool {
        false
    }
}

/// The `r2d2` manager over a [`Connect`].
#[derive(Debug)]
pub(super) struct Manager<M>(pub M);

/// `r2d2` wants a `std::error::Error` from its manager.
#[derive(Debug)]
pub(super) struct ConnectError(Error);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectError {}

impl<M: Connect> r2d2::ManageConnection for Manager<M> {
    type Connection = Tracked<M::Conn>;
    type Error = ConnectError;

    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        self.0.connect().map(Tracked::new).map_err(ConnectError)
    }

    /// Never asked: checkouts are not tested (a round trip per request); a
    /// failed call flags its connection instead.
    fn is_valid(&self, _conn: &mut Self::Connection) -> Result<(), Self::Error> {
        Ok(())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.failed || self.0.is_closed(&mut conn.conn)
    }
}

/// A pool of at most `max` connections, opened when a call needs one (never in
/// the background: a connection opened while the database was unusable, say
/// read-only, would wait in the pool for the first call after the cause is
/// gone, and fail it).
///
/// # Errors
/// [`Error::Store`] if the pool cannot be set up.
pub(super) fn build<M: Connect>(
    manager: M,
    max: u32,
    name: &str,
) -> Result<r2d2::Pool<Manager<M>>, Error> {
    r2d2::Pool::builder()
        .max_size(max)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .thread_pool(shared_thread_pool())
        .error_handler(Box::new(LogErrors))
        .build(Manager(manager))
        .map_err(|e| Error::Store(format!("{name}: {e}")))
}

/// One helper thread for every pool's background work (opening idle
/// connections, closing old ones), instead of three per pool.
fn shared_thread_pool() -> Arc<ScheduledThreadPool> {
    static POOL: OnceLock<Arc<ScheduledThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("r2d2-{}")
                .build(),
        )
    })
    .clone()
}

/// Background connection failures go to the log, not to stderr.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<ConnectError> for LogErrors {
    fn handle_error(&self, error: ConnectError) {
        tracing::warn!(error = %error, "opening a database connection failed");
    }
}

/// Runs `f` on a connection from `pool`; if it fails with a database error
/// ([`Error::Store`] or [`Error::Internal`]; not a conflict or a missing row),
/// the connection is closed instead of going back to the pool.
///
/// # Errors
/// [`Error::Store`] if no connection can be had within the pool's timeout, or
/// what `f` returns.
pub(super) fn run<M: Connect, T>(
    pool: &r2d2::Pool<Manager<M>>,
    f: impl FnOnce(&mut M::Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut conn = pool
        .get()
        .map_err(|e| Error::Store(format!("no database connection: {e}")))?;
    let result = f(&mut conn.conn);
    if matches!(result, Err(Error::Store(_) | Error::Internal(_))) {
        conn.failed = true;
    }
    result
}
