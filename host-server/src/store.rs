//! Persistent state behind a small synchronous trait: users, grants, devices
//! (with each one's command-token algorithm, last issued sequence number and
//! trust epoch), refresh-token families, revoked token ids, login attempts and
//! the audit of issued command tokens; the two key rings, their private keys
//! wrapped under the key file's key-encryption key, with a version that moves
//! with every change to them.
//!
//! Two implementations of [`Store`]: [`SqliteStore`] (one file, the embedded
//! default) and [`PostgresStore`] (one database that several server instances
//! share). [`open`] picks one from a [`Database`]. Nothing outside this module
//! knows SQL.
//!
//! Every change that can end or narrow a session (a logout, a reused refresh
//! token, a removed user, a grant added or removed, expired families pruned)
//! bumps a counter kept in the database in the same transaction
//! ([`Store::revocation_counter`]): [`crate::sessions`] reads it for every
//! request and keeps the answers of [`Store::session`] until it moves, so a
//! change committed by any process on the same database is seen by the next
//! request.

mod pg;
mod pool;
mod sqlite;

pub use pg::PostgresStore;
pub use sqlite::SqliteStore;

use crate::error::Error;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// One grant: the commands a user may send to the devices a pattern matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// `*` (every device), `prefix*`, or an exact device id.
    pub device: String,
    /// Command names, or `*` for every command.
    pub commands: Vec<String>,
}

impl Grant {
    /// Whether this grant covers `device`.
    #[must_use]
    pub fn matches_device(&self, device: &str) -> bool {
        match self.device.strip_suffix('*') {
            Some(prefix) => device.starts_with(prefix),
            None => self.device == device,
        }
    }

    /// Whether this grant allows `command` on `device`.
    #[must_use]
    pub fn allows(&self, device: &str, command: &str) -> bool {
        self.matches_device(device) && self.commands.iter().any(|c| c == "*" || c == command)
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device id (the `aud` of its command tokens).
    pub id: String,
    /// Free text for operators.
    pub description: String,
    /// The JWS name of its command tokens' algorithm (`EdDSA`, `HS256`, ...);
    /// `None` for a device registered before the store kept it (the key file's
    /// binding, else HS256, decides).
    pub command_alg: Option<String>,
    /// The last trust epoch a statement was signed for (0: none yet).
    pub trust_epoch: u32,
}

/// What became of a refresh token presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the family's current one; the family now expects the new `jti`.
    Rotated,
    /// The token had already been rotated: the whole family is now revoked.
    Reused,
    /// The family was revoked before (logout, reuse).
    Revoked,
    /// No such family (never issued, its user removed, or pruned after expiry).
    Unknown,
}

/// A user's row as a login sees it: the row's id ties the session the login
/// starts to this very row, not to whoever has the name later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The row's id, never reused (a user removed and added again gets a new one).
    pub user_id: i64,
    /// The Argon2id PHC hash.
    pub phc: String,
}

/// One throttle key and the attempts it may have in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit<'a> {
    /// E.g. `u:alice` or `a:127.0.0.1`.
    pub key: &'a str,
    /// Attempts allowed in one window.
    pub max: u32,
}

/// An attempt counted against one key, in the window that ends at `window_end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The throttle key.
    pub key: String,
    /// Unix seconds at which the window the slot was taken in ends.
    pub window_end: i64,
}

/// The answer of [`Store::reserve_attempts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// One slot taken for every key.
    Granted(Vec<Slot>),
    /// A key is at its limit; nothing was taken.
    Refused {
        /// Seconds until the fullest window ends (at least 1).
        retry_after: u64,
    },
}

/// The audit record of one issued command token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRecord {
    /// The token's `jti`.
    pub jti: String,
    /// Unix seconds (`iat`).
    pub issued_at: i64,
    /// Unix seconds (`exp`).
    pub expires_at: i64,
    /// Who asked for it (`sub`).
    pub username: String,
    /// The device (`aud`).
    pub device: String,
    /// The command (`scope`).
    pub command: String,
    /// The argument bound into the token (`led`'s level).
    pub arg: Option<u8>,
    /// `api` (`POST /devices/{id}/commands`) or `cli` (`token issue`).
    pub source: String,
    /// The device's sequence number bound into the token (`seq`); `None` for
    /// records written before tokens carried one, and in the record handed to
    /// [`Store::issue_command`], which takes the next one.
    pub seq: Option<u64>,
}

/// How many command tokens one user may get for one device within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueLimit {
    /// Tokens allowed per (user, device) within the window.
    pub max: u32,
    /// The sliding window, in seconds: tokens issued after `now - window` count.
    pub window: i64,
}

impl IssueLimit {
    /// The contract's limit: [`latchkey_protocol::MAX_TOKENS_PER_USER`] within
    /// [`latchkey_protocol::MAX_LIFETIME`] seconds.
    pub const CONTRACT: IssueLimit = IssueLimit {
        max: latchkey_protocol::MAX_TOKENS_PER_USER,
        window: latchkey_protocol::MAX_LIFETIME as i64,
    };
}

/// The answer of [`Store::issue_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuance {
    /// The token may be signed: its sequence number, recorded in its audit row.
    Granted {
        /// The device's next `seq`, never handed out before.
        seq: u64,
        /// The device's algorithm as the store keeps it (see [`Device::command_alg`]).
        command_alg: Option<String>,
    },
    /// The user is at the limit for this device; nothing was taken or recorded.
    Refused {
        /// Seconds until the oldest counted token leaves the window (at least 1).
        retry_after: u64,
    },
}

/// One key of a ring as the store keeps it: its private half wrapped under the
/// key file's KEK ([`crate::keys::Kek::wrap`]), never in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// `session` or `command`.
    pub ring: String,
    /// Its `kid`, unique across both rings (one JWK Set publishes both).
    pub kid: String,
    /// Its algorithm's JWS name.
    pub alg: String,
    /// When it was made, Unix seconds.
    pub created: i64,
    /// The nonce, ciphertext and tag.
    pub wrapped: Vec<u8>,
}

/// Both rings as one read saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRing {
    /// The ring version: it only grows, and moves with every change to a ring.
    pub version: i64,
    /// Every key, each ring's newest first (the order a [`crate::keys::KeySet`]
    /// keeps: the first signs).
    pub keys: Vec<StoredKey>,
}

/// A serving instance's row (see [`crate::lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance's random id.
    pub id: String,
    /// The highest revocation counter the instance reported it applied.
    pub seen: i64,
    /// Moves with every report: an instance that stopped reporting stopped beating.
    pub beat: i64,
}

/// Which audit records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this user's.
    pub username: Option<String>,
    /// Only this device's.
    pub device: Option<String>,
    /// At most this many, the newest (listed oldest first).
    pub limit: u32,
}

/// Storage operations the server needs. Implementations must be safe to call from
/// many threads; every call is short (a point query or a small transaction), but
/// may wait for the database, and a change that moves the revocation counter
/// also waits for the serving instances to apply it (at most
/// [`crate::lease::LEASE`]): callers on an async runtime run them on a blocking
/// thread, except reads where [`Store::cheap_reads`] says otherwise.
pub trait Store: Send + Sync + 'static {
    /// Whether reads ([`Store::session`], [`Store::credentials`],
    /// [`Store::device_exists`]) are cheap enough to run on an executor thread:
    /// local point queries that never wait for a writer.
    fn cheap_reads(&self) -> bool {
        false
    }
    /// Adds a user with an Argon2id PHC hash.
    ///
    /// # Errors
    /// [`Error::Conflict`] if the username exists; [`Error::Store`] on database failure.
    fn add_user(&self, username: &str, phc: &str) -> Result<(), Error>;
    /// Removes a user with their grants and refresh families (so every session
    /// they had ends).
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such user.
    fn remove_user(&self, username: &str) -> Result<(), Error>;
    /// The user's row id and PHC hash, if the user exists.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn credentials(&self, username: &str) -> Result<Option<Credentials>, Error>;
    /// The user's PHC hash, if the user exists.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn password_hash(&self, username: &str) -> Result<Option<String>, Error> {
        Ok(self.credentials(username)?.map(|c| c.phc))
    }
    /// All usernames, sorted.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn list_users(&self) -> Result<Vec<String>, Error>;
    /// Adds commands to a user's grant for a device pattern.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such user.
    fn grant(&self, username: &str, device: &str, commands: &[String]) -> Result<(), Error>;
    /// Removes commands (all of them if `commands` is empty) from a user's grant.
    /// Returns how many were removed.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn revoke_grant(
        &self,
        username: &str,
        device: &str,
        commands: &[String],
    ) -> Result<usize, Error>;
    /// The user's grants, sorted by device pattern.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn grants(&self, username: &str) -> Result<Vec<Grant>, Error>;
    /// Registers a device whose command tokens use `command_alg` (a JWS name).
    ///
    /// # Errors
    /// [`Error::Conflict`] if it exists.
    fn add_device(&self, id: &str, description: &str, command_alg: &str) -> Result<(), Error>;
    /// Changes the algorithm of a device's command tokens.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such device.
    fn set_command_alg(&self, id: &str, command_alg: &str) -> Result<(), Error>;
    /// One device, if registered.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn device(&self, id: &str) -> Result<Option<Device>, Error> {
        Ok(self.list_devices()?.into_iter().find(|d| d.id == id))
    }
    /// All devices, sorted by id.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn list_devices(&self) -> Result<Vec<Device>, Error>;
    /// Whether a device is registered.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn device_exists(&self, id: &str) -> Result<bool, Error>;
    /// Starts a refresh family whose current token is `jti`, owned by the user row
    /// `user_id`, if that row still exists. Returns `false` (and starts nothing) if
    /// it does not: the user was removed after the login read their credentials.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn start_session(
        &self,
        family: &str,
        user_id: i64,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, Error>;
    /// Starts a refresh family for the user now named `username`.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such user.
    fn create_family(
        &self,
        family: &str,
        username: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), Error> {
        let no_user = || Error::NotFound(format!("no user {username:?}"));
        let user = self.credentials(username)?.ok_or_else(no_user)?;
        if self.start_session(family, user.user_id, jti, expires_at)? {
            Ok(())
        } else {
            Err(no_user())
        }
    }
    /// Atomically checks that `presented_jti` is the family's current token and moves
    /// it on to `new_jti`; a stale token revokes the family (theft detection).
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn rotate(
        &self,
        family: &str,
        presented_jti: &str,
        new_jti: &str,
        expires_at: i64,
    ) -> Result<Rotation, Error>;
    /// Revokes a refresh family and one access token id (logout).
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn logout(&self, family: &str, jti: &str, jti_expires_at: i64) -> Result<(), Error>;
    /// Whether an access token is dead: its `jti` revoked, or its family revoked,
    /// unknown, or not owned by a user named `username`.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn access_revoked(&self, jti: &str, family: &str, username: &str) -> Result<bool, Error>;
    /// [`Store::access_revoked`] and [`Store::grants`] in one read: `None` if the
    /// access token is dead, else the grants of its family's user. Straight from
    /// the database; [`crate::sessions`] caches the answers.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Arc<[Grant]>>, Error> {
        if self.access_revoked(jti, family, username)? {
            return Ok(None);
        }
        self.grants(username).map(|g| Some(g.into()))
    }
    /// The revocation counter: it only grows, and it moves with every committed
    /// change that can end or narrow a session; such a change returns only once
    /// every serving instance applied it ([`crate::lease::settle`]). Read by
    /// every instance's watcher every few milliseconds, and for a request whose
    /// instance holds no lease, so it should be one point query.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn revocation_counter(&self) -> Result<i64, Error>;
    /// Takes one login attempt for every key in `limits`, all or none, before the
    /// password is checked: refused while any key has `max` attempts in its
    /// current window (fixed windows of `window` seconds, starting at the first
    /// attempt). Atomic across every process on the database.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn reserve_attempts(
        &self,
        limits: &[AttemptLimit<'_>],
        now: i64,
        window: i64,
    ) -> Result<Reservation, Error>;
    /// Gives back the attempts `release` took (if their windows are still
    /// current) and forgets every attempt counted for the keys in `forget`.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn settle_attempts(&self, release: &[Slot], forget: &[&str]) -> Result<(), Error>;
    /// Takes the device's next sequence number for a command token and records
    /// the token (`record`, whose `seq` is ignored) with it, in one transaction,
    /// unless `record.username` already has `limit.max` tokens for
    /// `record.device` issued after `record.issued_at - limit.window`. Atomic
    /// across every process on the database: no `seq` is handed out twice, and
    /// concurrent requests never pass the limit.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the device is not registered; [`Error::Internal`]
    /// if its sequence would pass [`latchkey_protocol::MAX_SEQ`];
    /// [`Error::Store`] on database failure.
    fn issue_command(&self, record: &CommandRecord, limit: IssueLimit) -> Result<Issuance, Error>;
    /// Moves the device's trust epoch up by one and returns the new epoch, for
    /// the next trust statement.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such device; [`Error::Internal`] past
    /// `u32::MAX`; [`Error::Store`] on database failure.
    fn next_trust_epoch(&self, id: &str) -> Result<u32, Error>;
    /// Records an issued command token.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn record_command(&self, record: &CommandRecord) -> Result<(), Error>;
    /// The newest audit records that pass `filter`, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn command_records(&self, filter: &AuditFilter) -> Result<Vec<CommandRecord>, Error>;
    /// Deletes revocations, families and throttle windows that expired before
    /// `now`; returns the count. Audit records are kept.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn prune(&self, now: i64) -> Result<usize, Error>;
    /// Both rings and their version, in one read transaction.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn key_ring(&self) -> Result<StoredRing, Error>;
    /// The ring version alone: one point query.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn key_ring_version(&self) -> Result<i64, Error>;
    /// Puts `key` first in its ring and moves the ring version, in one
    /// transaction; returns the new version.
    ///
    /// # Errors
    /// [`Error::Conflict`] if a key of either ring has its `kid`;
    /// [`Error::Store`] on database failure.
    fn add_ring_key(&self, key: &StoredKey) -> Result<i64, Error>;
    /// Removes the key `kid` from `ring` and moves the ring version, in one
    /// transaction; returns the new version.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the ring has no such key; [`Error::Store`] on
    /// database failure.
    fn retire_ring_key(&self, ring: &str, kid: &str) -> Result<i64, Error>;
    /// Stores `keys` (each ring's signing key first) if both rings are empty,
    /// and moves the ring version, in one transaction; returns whether it did.
    ///
    /// # Errors
    /// [`Error::Conflict`] for two keys with one `kid`; [`Error::Store`] on
    /// database failure.
    fn import_key_ring(&self, keys: &[StoredKey]) -> Result<bool, Error>;
    /// Adds the row of serving instance `id`, having applied counter `seen`.
    ///
    /// # Errors
    /// [`Error::Conflict`] if the id is taken; [`Error::Store`] on database failure.
    fn register_instance(&self, id: &str, seen: i64) -> Result<(), Error>;
    /// Raises instance `id`'s `seen` to `seen` and moves its beat; `false` if
    /// its row is gone.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn report_instance(&self, id: &str, seen: i64) -> Result<bool, Error>;
    /// Every instance's row, in one read.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn instances(&self) -> Result<Vec<Instance>, Error>;
    /// Deletes instance `id`'s row if its beat is still `beat`; returns whether
    /// it did.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn forget_instance(&self, id: &str, beat: i64) -> Result<bool, Error>;
}

/// Where the data lives: an SQLite file, or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (created and migrated on first use).
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Database {
    /// A `postgres://` or `postgresql://` URL is PostgreSQL; anything else is the
    /// path of an SQLite file.
    #[must_use]
    pub fn parse(text: &str) -> Database {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Database::Postgres(text.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(text))
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

/// Shows a URL without its password (it may reach a log).
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&redacted(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&redacted(url)).finish(),
        }
    }
}

/// `url` with the password of its user-info part replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens (creating and migrating on first use) the store `db` names.
///
/// # Errors
/// [`Error::Store`] if the database cannot be reached or migrated, or was written
/// by a newer server.
pub fn open(db: &Database) -> Result<Arc<dyn Store>, Error> {
    Ok(match db {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        Database::Postgres(url) => Arc::new(PostgresStore::open(url)?),
    })
}

/// Rows of `(device, command)` sorted by device, grouped into grants.
fn group_grants(rows: impl IntoIterator<Item = (String, String)>) -> Vec<Grant> {
    let mut grants: Vec<Grant> = Vec::new();
    for (device, command) in rows {
        match grants.last_mut() {
            Some(g) if g.device == device => g.commands.push(command),
            _ => grants.push(Grant {
                device,
                commands: vec![command],
            }),
        }
    }
    grants
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The decision of [`Store::issue_command`] once the device's row is locked:
/// `count` tokens of the user's in the window, the oldest issued at `oldest`.
fn issue_decision(
    count: i64,
    oldest: Option<i64>,
    record: &CommandRecord,
    limit: IssueLimit,
) -> Option<u64> {
    if count < i64::from(limit.max) {
        return None;
    }
    let leaves = oldest
        .unwrap_or(record.issued_at)
        .saturating_add(limit.window);
    Some(
        u64::try_from(leaves.saturating_sub(record.issued_at))
            .unwrap_or(1)
            .max(1),
    )
}

/// A sequence number read from the database, checked against the contract's range.
fn checked_seq(seq: i64, device: &str) -> Result<u64, Error> {
    u64::try_from(seq)
        .ok()
        .filter(|s| (1..=latchkey_protocol::MAX_SEQ).contains(s))
        .ok_or_else(|| {
            Error::Internal(format!(
                "device {device:?}: sequence number {seq} out of range"
            ))
        })
}

/// A trust epoch read from the database, checked to fit the verdict's `u32`.
fn checked_epoch(epoch: i64, device: &str) -> Result<u32, Error> {
    u32::try_from(epoch).map_err(|_| {
        Error::Internal(format!(
            "device {device:?}: trust epoch {epoch} out of range"
        ))
    })
}

fn no_device(id: &str) -> Error {
    Error::NotFound(format!("no device {id:?}"))
}

/// What a reservation decides for one key, given its row (`window_end`,
/// `attempts`), if any: `Err(seconds left)` when the key is full, else the end
/// of the window the new attempt counts in and whether that window is new.
fn admit(row: Option<(i64, i64)>, max: u32, now: i64, window: i64) -> Result<(i64, bool), i64> {
    match row {
        Some((end, attempts)) if end > now => {
            if attempts >= i64::from(max) {
                Err(end.saturating_sub(now))
            } else {
                Ok((end, false))
            }
        }
        _ => Ok((now.saturating_add(window.max(1)), true)),
    }
}

#[cfg(test)]
pub(crate) mod tests;
