//! The accept loop: each connection is served by hyper-util's `auto` builder, HTTP/1.1 or HTTP/2 as the client speaks, on the
//! caller's tokio runtime, with the limits `axum::serve` leaves unset: a time
//! limit on the request head (which also closes idle keep-alive connections), a
//! bound on the head's size and field count, and a bound on concurrent HTTP/2
//! streams. Shutdown stops accepting, lets every request in flight finish (up to
//! [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE)) and closes idle connections.

use super::ClientAddr;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

/// Longest request head (request line and header fields) over HTTP/1.1, and
/// largest header list over HTTP/2, in bytes; past it hyper answers 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one HTTP/1.1 request; past it hyper answers 431.
pub const MAX_HEADERS: usize = 64;
/// Most concurrent streams (requests) on one HTTP/2 connection.
pub const MAX_STREAMS: u32 = 64;

/// hyper's connection settings. `timeout`: how long a request head may take to
/// arrive, from when the server starts waiting for it (so also how long an
/// idle HTTP/1.1 connection stays open); over HTTP/2, the keep-alive ping
/// interval and how long a ping may go unanswered.
fn builder(timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEAD).unwrap_or(u32::MAX))
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
    builder
}

/// Accepts connections on `listener` and serves `router` on each until `stop`
/// resolves; then closes idle connections and lets requests in flight finish
/// (up to [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE)).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let builder = Arc::new(builder(timeout));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(
                        stream,
                        peer,
                        router.clone(),
                        Arc::clone(&builder),
                        graceful.watcher(),
                    ));
                }
                // Out of descriptors and the like: pause rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    tracing::info!("shutting down");
    if tokio::time::timeout(crate::SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period; dropping them");
    }
}

/// Serves one connection until either side ends it or shutdown closes it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
) {
    // Answers are written whole; never hold one back for coalescing.
    let _ = stream.set_nodelay(true);
    let client = ClientAddr(Some(peer.ip()));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(client);
        router.clone().oneshot(request)
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}
