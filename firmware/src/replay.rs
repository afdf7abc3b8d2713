//! A bounded cache of used token ids (`jti`), kept until the token expires.
//!
//! Ids are stored as the first 16 bytes of SHA-256 of the raw `jti` text, so any
//! length fits a fixed slot. When every slot holds an unexpired id the cache
//! refuses new ones (fails closed) instead of forgetting one.

use heapless::Vec;
use sha2::{Digest, Sha256};

use latchkey_protocol::Reason;

/// How many unexpired ids the device remembers.
pub const REPLAY_CAPACITY: usize = 32;

/// One used id: what the device remembers, and what `state` persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The first 16 bytes of SHA-256 of the raw `jti` text.
    pub id: [u8; 16],
    /// Unix seconds after which the token can no longer be accepted (exp + leeway).
    pub until: u64,
}

/// Used `jti`s with their expiry.
#[derive(Debug, Default)]
pub struct ReplayCache<const N: usize = REPLAY_CAPACITY> {
    entries: Vec<Entry, N>,
}

impl<const N: usize> ReplayCache<N> {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Records `jti` as used until `until` (unix seconds), at time `now`.
    ///
    /// # Errors
    /// [`Reason::Replayed`] if `jti` is already recorded; [`Reason::ReplayCacheFull`]
    /// if every slot holds an id that has not expired at `now`. A refused call
    /// changes nothing: not even expired ids are dropped, because `now` may be a
    /// refused token's own `iat`, later than the device clock that stays.
    pub fn check_and_insert(&mut self, jti: &[u8], until: u64, now: u64) -> Result<(), Reason> {
        let id = fingerprint(jti);
        let live = |e: &&Entry| e.until >= now;
        if self.entries.iter().filter(live).any(|e| e.id == id) {
            return Err(Reason::Replayed);
        }
        if self.entries.iter().filter(live).count() >= N {
            return Err(Reason::ReplayCacheFull);
        }
        self.entries.retain(|e| e.until >= now);
        self.entries
            .push(Entry { id, until })
            .map_err(|_| Reason::ReplayCacheFull)
    }

    /// A cache holding `entries` (as read back from flash); entries beyond the
    /// first `N` are left out.
    pub fn from_entries(entries: &[Entry]) -> Self {
        let mut cache = Self::new();
        for e in entries.iter().take(N) {
            // Cannot fail: at most `N` are taken.
            let _ = cache.entries.push(*e);
        }
        cache
    }

    /// The ids held, oldest first (expired ones included until the next insert).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// How many ids are held (expired ones included until the next insert).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no id is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn fingerprint(jti: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(jti);
    let mut id = [0u8; 16];
    for (d, s) in id.iter_mut().zip(digest.iter()) {
        *d = *s;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_id_is_refused_until_it_expires() {
        let mut c = ReplayCache::<4>::new();
        assert_eq!(c.check_and_insert(b"a", 100, 50), Ok(()));
        assert_eq!(c.check_and_insert(b"a", 100, 60), Err(Reason::Replayed));
        assert_eq!(c.check_and_insert(b"a", 100, 100), Err(Reason::Replayed));
        // Once past `until`, the entry is dropped (the token itself is expired by then).
        assert_eq!(c.check_and_insert(b"a", 200, 101), Ok(()));
    }

    #[test]
    fn full_cache_fails_closed_and_frees_slots_as_ids_expire() {
        let mut c = ReplayCache::<2>::new();
        assert_eq!(c.check_and_insert(b"a", 100, 0), Ok(()));
        assert_eq!(c.check_and_insert(b"b", 200, 0), Ok(()));
        assert_eq!(
            c.check_and_insert(b"c", 300, 50),
            Err(Reason::ReplayCacheFull)
        );
        // A refused insert changed nothing: `c` is still new, `a` still replayed.
        assert_eq!(c.check_and_insert(b"a", 100, 50), Err(Reason::Replayed));
        assert_eq!(c.len(), 2);
        assert_eq!(c.check_and_insert(b"c", 300, 150), Ok(()));
        assert_eq!(c.check_and_insert(b"b", 200, 150), Err(Reason::Replayed));
    }

    #[test]
    fn a_refused_call_drops_nothing_even_when_judged_later() {
        let mut c = ReplayCache::<2>::new();
        assert_eq!(c.check_and_insert(b"a", 100, 0), Ok(()));
        assert_eq!(c.check_and_insert(b"b", 500, 0), Ok(()));
        // Judged at 200 (a refused token's `iat`): `b` is a replay; `a` stays held.
        assert_eq!(c.check_and_insert(b"b", 500, 200), Err(Reason::Replayed));
        assert_eq!(c.len(), 2);
        assert_eq!(c.check_and_insert(b"a", 100, 50), Err(Reason::Replayed));
    }

    #[test]
    fn distinct_ids_do_not_collide() {
        let mut c = ReplayCache::<3>::new();
        assert!(c.is_empty());
        for id in [&b"x"[..], b"xx", b""] {
            assert_eq!(c.check_and_insert(id, 10, 0), Ok(()));
        }
        assert_eq!(c.len(), 3);
    }
}
