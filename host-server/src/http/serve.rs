//! The accept loop: each connection (plain TCP, or TLS through rustls) is served
//! by hyper-util's `auto` builder, HTTP/1.1 or HTTP/2 as the client speaks, on the
//! caller's tokio runtime, with the limits `axum::serve` leaves unset: a time
//! limit on the request head (which also closes idle keep-alive connections), a
//! bound on the head's size and field count, a bound on concurrent HTTP/2
//! streams, and a time limit on a write that cannot go on (a client that stops
//! taking answers). Shutdown stops accepting, lets every request in flight finish (up to
//! [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE)) and closes idle connections.

use super::ClientAddr;
use crate::error::Error;
use crate::keys;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::ServiceExt as _;

/// Longest request head (request line and header fields) over HTTP/1.1, and
/// largest header list over HTTP/2, in bytes; past it hyper answers 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one HTTP/1.1 request; past it hyper answers 431.
pub const MAX_HEADERS: usize = 64;
/// Most concurrent streams (requests) on one HTTP/2 connection.
pub const MAX_STREAMS: u32 = 64;

/// The certificate chain and private key of `serve --tls-cert --tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), mode 0600 or stricter.
    pub key: PathBuf,
}

/// The TLS acceptor for `files`: rustls with the `ring` provider, TLS 1.2 and
/// 1.3, ALPN `h2` then `http/1.1`.
///
/// # Errors
/// [`Error::Config`] naming the file that is missing, unreadable, readable by
/// others, or holds no usable certificate or key.
pub fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    keys::require_private(&files.key)?;
    let cert = files.cert.display();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| Error::Config(format!("--tls-cert {cert}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "--tls-cert {cert}: no CERTIFICATE in the file"
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| Error::Config(format!("--tls-key {}: {e}", files.key.display())))?;
    // ring rather than aws-lc-rs: it builds much faster here. rustls 0.23.48
    // deprecates it for having no post-quantum key exchange (X25519MLKEM768);
    // the classical groups (X25519, P-256, P-384) remain.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("--tls-cert {cert} with its key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

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
    tls: Option<TlsAcceptor>,
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
                        tls.clone(),
                        Arc::clone(&builder),
                        graceful.watcher(),
                        timeout,
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

/// Serves one connection: the TLS handshake first (within `timeout`) if there
/// is an acceptor, then HTTP until either side ends it or shutdown closes it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    timeout: Duration,
) {
    // Answers are written whole; never hold one back for coalescing.
    let _ = stream.set_nodelay(true);
    let client = ClientAddr(Some(peer.ip()));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(client);
        router.clone().oneshot(request)
    });
    let stream = WriteDeadline::new(stream, timeout);
    let served = match tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            watcher.watch(conn).await
        }
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn).await
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// A connection whose writes may not stall longer than `limit`: once a write,
/// flush or shutdown has waited that long for the client to take bytes, it fails
/// (`TimedOut`) and hyper drops the connection. hyper has no write timeout of its
/// own; without this a client that sends requests and never reads the answers
/// would hold its connection, and the task serving it, forever.
struct WriteDeadline<IO> {
    io: IO,
    limit: Duration,
    /// Armed when a write first waits; disarmed when one makes progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<IO> WriteDeadline<IO> {
    fn new(io: IO, limit: Duration) -> Self {
        WriteDeadline {
            io,
            limit,
            stalled: None,
        }
    }

    /// After the wrapped call returned `poll`: `Pending` arms (or checks) the
    /// deadline, anything else disarms it.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no bytes of the answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for WriteDeadline<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.guard(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.guard(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.guard(cx, poll)
    }
}
