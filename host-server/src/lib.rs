//! Latchkey's login and token-issuance server.
//!
//! A person logs in (`POST /login`) and gets a short-lived access token and a
//! rotating refresh token; with the access token they ask for command tokens for
//! devices (`POST /devices/{id}/commands`), signed with the device's own key.
//! Every token is signed and verified with `latchkey-core`.
//!
//! [`app`] is the axum `Router` of the API over an [`AppState`]; [`serve`] runs
//! it on hyper (HTTP/1.1 and HTTP/2, plain or TLS).
//!
//! ```no_run
//! # async fn run() -> Result<(), latchkey_server::Error> {
//! use latchkey_server::{Config, serve};
//! let config = Config { dev_keys: true, ..Config::default() };
//! serve(config, |addr| println!("listening on http://{addr}")).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod bridge;
pub mod error;
pub mod http;
pub mod keys;
pub mod lease;
pub mod metrics;
pub mod openapi;
pub mod ring;
pub mod sessions;
pub mod store;
pub mod tokens;

pub use api::{AppState, Shared};
pub use error::Error;
pub use http::app;
pub use http::serve::TlsFiles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often expired revocations and refresh families are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Server configuration (from the CLI).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// The database: an SQLite file or a PostgreSQL URL.
    pub db: store::Database,
    /// Key file (created with random keys, mode 0600, if absent).
    pub keys: PathBuf,
    /// Use the DEVELOPMENT ONLY keys instead of the key file.
    pub dev_keys: bool,
    /// Device bridges: `(device id, "HOST:PORT")`.
    pub devices: Vec<(String, String)>,
    /// Token lifetimes.
    pub lifetimes: tokens::Lifetimes,
    /// Password hashes running at once.
    pub hash_concurrency: usize,
    /// Longest wait for a hashing slot before a login is refused with 429.
    pub hash_queue_timeout: Duration,
    /// Failed-login limits.
    pub throttle: auth::ThrottleLimits,
    /// How long a request may take: its head must arrive within it (so an idle
    /// keep-alive connection is closed after as long), and the whole request,
    /// body and handling, must be answered within it (408 if not).
    pub request_timeout: Duration,
    /// Serve TLS with this certificate and key (else plain TCP).
    pub tls: Option<TlsFiles>,
    /// The root public key (a JWK file) that trust statements must be signed
    /// by before `POST /devices/{id}/trust` sends them; the development root
    /// key with [`Config::dev_keys`]. Without either, trust delivery is off.
    pub root_public_key: Option<PathBuf>,
    /// Take the revocation counter from the instance's lease while it holds
    /// ([`lease`]); `false` reads it for every authenticated request. The lease
    /// assumes the process's monotonic clock runs while the process is stopped
    /// (true for a stopped or descheduled process, not for a virtual machine
    /// whose clock is frozen while it is paused).
    pub lease: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: store::Database::Sqlite(PathBuf::from("latchkey.db")),
            keys: PathBuf::from("latchkey-keys.json"),
            dev_keys: false,
            devices: Vec::new(),
            lifetimes: tokens::Lifetimes::default(),
            hash_concurrency: default_hash_concurrency(),
            hash_queue_timeout: Duration::from_secs(10),
            throttle: auth::ThrottleLimits::default(),
            request_timeout: Duration::from_secs(30),
            tls: None,
            root_public_key: None,
            lease: true,
        }
    }
}

/// One fewer hash than cores (at least one), so token checks always have a core.
#[must_use]
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// One tokio worker thread per core (`serve --http-threads`).
#[must_use]
pub fn default_http_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl AppState {
    /// Opens the store and keys and builds the shared state.
    ///
    /// # Errors
    /// [`Error::Config`] or [`Error::Store`] naming what could not be loaded.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let store = store::open(&config.db)?;
        if config.dev_keys {
            let keys = keys::KeySet::load(&config.keys, true)?;
            return Self::new(store, &keys, config);
        }
        // The rings from the store (the key file's imported first if the store has
        // none), reloaded whenever any instance or the CLI changes them.
        keys::KeySet::load_shared(&config.keys, false, store.as_ref())?;
        let base = keys::KeySet::load(&config.keys, false)?;
        let tokens = ring::LiveTokens::shared(Arc::clone(&store), base, config.lifetimes)?;
        Self::with_tokens(store, tokens, config)
    }

    /// Builds the shared state from an opened store and keys.
    ///
    /// # Errors
    /// [`Error::Config`] if a key is unusable.
    pub fn new(
        store: Arc<dyn store::Store>,
        keys: &keys::KeySet,
        config: &Config,
    ) -> Result<Self, Error> {
        let tokens = ring::LiveTokens::fixed(tokens::TokenService::new(keys, config.lifetimes)?);
        Self::with_tokens(store, tokens, config)
    }

    /// Builds the shared state from an opened store and a token service.
    ///
    /// # Errors
    /// [`Error::Config`] if the root public key is unusable.
    pub fn with_tokens(
        store: Arc<dyn store::Store>,
        tokens: ring::LiveTokens,
        config: &Config,
    ) -> Result<Self, Error> {
        Ok(AppState::from_parts(api::Shared {
            sessions: sessions::Sessions::new(Arc::clone(&store)),
            store,
            tokens: Arc::new(tokens),
            passwords: auth::PasswordChecker::new(
                config.hash_concurrency,
                config.hash_queue_timeout,
            )?,
            throttle: auth::Throttle::new(config.throttle),
            bridge: bridge::Bridge::new(config.devices.clone()),
            metrics: metrics::Metrics::default(),
            request_timeout: config.request_timeout,
            root_key: root_public_key(config)?,
        }))
    }
}

/// The root public key trust statements are checked against: the development
/// one with [`Config::dev_keys`], else the JWK in [`Config::root_public_key`].
fn root_public_key(config: &Config) -> Result<Option<latchkey_core::Key>, Error> {
    let bad = |e: &dyn std::fmt::Display| Error::Config(format!("root public key: {e}"));
    if config.dev_keys {
        return keys::RootKey::development()
            .public_key()
            .map(Some)
            .map_err(|e| bad(&e));
    }
    let Some(path) = &config.root_public_key else {
        return Ok(None);
    };
    let jwk = std::fs::read(path).map_err(|e| bad(&format!("{}: {e}", path.display())))?;
    latchkey_core::Key::from_jwk(&jwk, Some(latchkey_core::Algorithm::EdDsa))
        .map(Some)
        .map_err(|e| bad(&format!("{}: {e} (an Ed25519 public JWK)", path.display())))
}

/// Binds, calls `on_bound` with the bound address, and serves [`app`] until
/// Ctrl-C or SIGTERM, then closes idle connections and lets the requests in
/// flight finish (up to [`SHUTDOWN_GRACE`]). Connections are served on the
/// caller's tokio runtime (its worker threads are the server's threads), over
/// TLS when [`Config::tls`] is set. Expired revocations are pruned at start and
/// every [`PRUNE_EVERY`].
///
/// # Errors
/// [`Error::Config`] if the address cannot be bound or the state or the TLS
/// files cannot be loaded.
pub async fn serve(config: Config, on_bound: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    let tls = config
        .tls
        .as_ref()
        .map(http::serve::tls_acceptor)
        .transpose()?;
    // Off the executor: PostgreSQL's client blocks on its own runtime.
    let loading = config.clone();
    let state = tokio::task::spawn_blocking(move || AppState::from_config(&loading))
        .await
        .map_err(|e| Error::Internal(format!("opening the store: {e}")))??;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| Error::Config(format!("cannot bind {}: {e}", config.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("local address: {e}")))?;
    // Requests take the revocation counter from the instance's lease while it
    // holds, instead of a store read each (see `lease`).
    let watcher = if config.lease {
        let watcher = lease::Watcher::start(Arc::clone(&state.store), lease::Timing::DEFAULT)?;
        state.sessions.use_lease(watcher.lease());
        Some(watcher)
    } else {
        None
    };
    let store = Arc::clone(&state.store);
    let pruning = tokio::spawn(async move {
        loop {
            let s = Arc::clone(&store);
            let now = tokens::unix_now()
                .saturating_sub(i64::try_from(tokens::SERVER_LEEWAY).unwrap_or(0));
            match tokio::task::spawn_blocking(move || s.prune(now)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(pruned = n, "pruned expired revocations"),
                Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed"),
                _ => {}
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    });
    on_bound(addr);
    tracing::info!(%addr, tls = tls.is_some(), "serving");
    http::serve::accept_loop(
        listener,
        app(state),
        tls,
        config.request_timeout,
        shutdown(),
    )
    .await;
    pruning.abort();
    // The lease lapses and the instance's row goes, off the executor.
    drop(tokio::task::spawn_blocking(move || drop(watcher)).await);
    Ok(())
}

/// How long a shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}
