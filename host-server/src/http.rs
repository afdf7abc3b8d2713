//! The HTTP connection loop: one single-threaded tokio runtime per thread
//! ("lane"), connections handed to the lanes in turn, axum's router under
//! hyper's HTTP/1.1 connection driver.
//!
//! A connection's requests run start to finish on one thread: no work stealing
//! and no cross-thread wake-ups between reading a request and writing its answer.
//! On this project's 2-core machine that served ~11% more `GET /me` per second
//! than tokio's multi-threaded scheduler under the same router (BENCHMARKS.md).
//! A request that blocks (password hashing, store writes) already runs off the
//! lane (hashing threads, `spawn_blocking`), so one slow request does not hold
//! up the others on its lane.

use crate::Error;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A client has this long to send a request's headers (slow-header clients
/// cannot hold connections open for free).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

type Handover = (std::net::TcpStream, SocketAddr);

/// The lanes' inboxes and their "finished" signals.
pub(crate) struct Lanes {
    inboxes: Vec<mpsc::UnboundedSender<Handover>>,
    finished: Vec<oneshot::Receiver<()>>,
    next: usize,
}

impl Lanes {
    /// Starts `threads` lanes (at least one) serving `router`.
    pub(crate) fn start(router: &Router, threads: usize) -> Result<Lanes, Error> {
        let mut lanes = Lanes {
            inboxes: Vec::new(),
            finished: Vec::new(),
            next: 0,
        };
        for i in 0..threads.max(1) {
            let (inbox, rx) = mpsc::unbounded_channel();
            let (done, finished) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Config(format!("tokio runtime: {e}")))?;
            let router = router.clone();
            std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || {
                    runtime.block_on(lane(router, rx));
                    let _ = done.send(());
                })
                .map_err(|e| Error::Config(format!("starting HTTP thread: {e}")))?;
            lanes.inboxes.push(inbox);
            lanes.finished.push(finished);
        }
        Ok(lanes)
    }

    /// Gives an accepted connection to the next lane.
    pub(crate) fn hand_over(&mut self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        // Answers are written whole; never hold one back for coalescing.
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            return;
        };
        self.next = self.next.wrapping_add(1);
        if let Some(inbox) = self.inboxes.get(self.next % self.inboxes.len()) {
            // A lane only stops when its inbox closes, so this cannot fail.
            let _ = inbox.send((stream, peer));
        }
    }

    /// Closes the inboxes and waits until every lane has let its requests in flight
    /// finish (each waits at most [`crate::SHUTDOWN_GRACE`]).
    pub(crate) async fn finish(self) {
        drop(self.inboxes);
        for finished in self.finished {
            let _ = finished.await;
        }
    }
}

/// Serves the connections that arrive in `inbox` until it closes, then shuts
/// them down gracefully: idle ones at once, busy ones after their answer.
async fn lane(router: Router, mut inbox: mpsc::UnboundedReceiver<Handover>) {
    let graceful = GracefulShutdown::new();
    while let Some((stream, peer)) = inbox.recv().await {
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            continue;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // What axum's `into_make_service_with_connect_info` would add: the
            // client address, for the login throttle.
            req.extensions_mut().insert(ConnectInfo(peer));
            tower_service::Service::call(&mut router.clone(), req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(crate::SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period; dropping them");
    }
}
