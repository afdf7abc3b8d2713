//! [`LiveTokens`]: the token service over key rings that change under a running
//! server: the rings live in the store, shared by every instance and the CLI.
//!
//! The guarantee: a rotation or retirement committed by any instance or the CLI
//! is in force on every instance before it next verifies or signs with the ring.
//! Every ring change moves the store's ring version and, in the same
//! transaction, the revocation counter, which every authenticated request
//! checks anyway ([`crate::sessions`]: every instance has applied the change
//! before it returns). So a request that verifies an access token takes that
//! counter; when it moved since the ring was
//! last checked, the ring version is read and the ring reloaded if that moved
//! too ([`LiveTokens::at_counter`]): no store read is added to a request while
//! nothing changes. What signs (login, refresh, command tokens) and the JWK Set
//! read the ring version itself first ([`LiveTokens::fresh`]).

use std::sync::{Arc, PoisonError, RwLock};

use crate::error::Error;
use crate::keys::{Kek, KeySet};
use crate::store::Store;
use crate::tokens::{Lifetimes, TokenService};

/// Where changed rings are read from.
struct Source {
    store: Arc<dyn Store>,
    /// The key file's keys (master secret, device bindings); its rings are replaced
    /// by the store's on every load.
    base: KeySet,
    kek: Kek,
}

/// The service in force and the store positions it was checked at.
struct Current {
    /// The ring version the service was built from.
    version: i64,
    /// The highest revocation counter the ring was checked against.
    checked_at: i64,
    service: Arc<TokenService>,
}

/// The token service, reloaded from the store when the shared rings change.
pub struct LiveTokens {
    source: Option<Source>,
    lifetimes: Lifetimes,
    current: RwLock<Current>,
}

impl std::fmt::Debug for LiveTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTokens")
            .field("shared", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl LiveTokens {
    /// A service over fixed keys, never reloaded (`--dev-keys`, tests).
    #[must_use]
    pub fn fixed(service: TokenService) -> Self {
        LiveTokens {
            source: None,
            lifetimes: Lifetimes::default(),
            current: RwLock::new(Current {
                version: 0,
                checked_at: i64::MAX,
                service: Arc::new(service),
            }),
        }
    }

    /// A service over the rings in `store`, under the master secret and device
    /// bindings of `base` (the key file's keys), loaded now.
    ///
    /// # Errors
    /// As [`KeySet::with_stored_rings`] and [`TokenService::new`]; [`Error::Store`].
    pub fn shared(
        store: Arc<dyn Store>,
        base: KeySet,
        lifetimes: Lifetimes,
    ) -> Result<Self, Error> {
        let source = Source {
            kek: base.kek(),
            base,
            store,
        };
        let counter = source.store.revocation_counter()?;
        let (version, service) = load(&source, lifetimes)?;
        Ok(LiveTokens {
            source: Some(source),
            lifetimes,
            current: RwLock::new(Current {
                version,
                checked_at: counter,
                service: Arc::new(service),
            }),
        })
    }

    /// The service as last loaded, without a store read: for what the ring's
    /// freshness does not decide (lifetimes, command expiry).
    #[must_use]
    pub fn loaded(&self) -> Arc<TokenService> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current.service)
    }

    /// The service for a request that read the revocation counter `counter` after
    /// it arrived: the ring is checked (one read of its version) only when that
    /// counter is past the one it was last checked at, and reloaded when it moved.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure; a ring that does not load.
    pub async fn at_counter(self: &Arc<Self>, counter: i64) -> Result<Arc<TokenService>, Error> {
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.checked_at >= counter {
                return Ok(Arc::clone(&current.service));
            }
        }
        self.refresh(Some(counter)).await
    }

    /// The service after a read of the ring version that started after this call
    /// did: for signing and for the published JWK Set.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure; a ring that does not load.
    pub async fn fresh(self: &Arc<Self>) -> Result<Arc<TokenService>, Error> {
        self.refresh(None).await
    }

    async fn refresh(self: &Arc<Self>, counter: Option<i64>) -> Result<Arc<TokenService>, Error> {
        let Some(source) = &self.source else {
            return Ok(self.loaded());
        };
        if source.store.cheap_reads() {
            return self.refresh_blocking(counter);
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.refresh_blocking(counter))
            .await
            .map_err(|e| Error::Internal(format!("key ring read: {e}")))?
    }

    fn refresh_blocking(&self, counter: Option<i64>) -> Result<Arc<TokenService>, Error> {
        let Some(source) = &self.source else {
            return Ok(self.loaded());
        };
        let version = source.store.key_ring_version()?;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if version > current.version {
            let (loaded_version, service) = load(source, self.lifetimes)?;
            current.version = loaded_version;
            current.service = Arc::new(service);
            tracing::info!(
                version = loaded_version,
                "key rings reloaded from the store"
            );
        }
        if let Some(counter) = counter {
            current.checked_at = current.checked_at.max(counter);
        }
        Ok(Arc::clone(&current.service))
    }
}

/// The service over the rings in `source`'s store now, and their version.
fn load(source: &Source, lifetimes: Lifetimes) -> Result<(i64, TokenService), Error> {
    let ring = source.store.key_ring()?;
    let keys = source.base.with_stored_rings(&ring, &source.kek)?;
    Ok((ring.version, TokenService::new(&keys, lifetimes)?))
}
