//! Persistent state behind a small trait: users, grants, devices, refresh-token
//! families and revoked token ids.
//!
//! [`SqliteStore`] (one SQLite file in WAL mode) is the only implementation of
//! [`Store`]; nothing outside this module knows SQL.

use crate::error::Error;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

/// What became of a refresh token presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the family's current one; the family now expects the new `jti`.
    Rotated,
    /// The token had already been rotated: the whole family is now revoked.
    Reused,
    /// The family was revoked before (logout, reuse, user removed).
    Revoked,
    /// No such family (never issued, or pruned after expiry).
    Unknown,
}

/// Storage operations the server needs. Implementations must be safe to call from
/// many threads; every call is short (a point query or a small transaction).
pub trait Store: Send + Sync + 'static {
    /// Adds a user with an Argon2id PHC hash.
    ///
    /// # Errors
    /// [`Error::Conflict`] if the username exists; [`Error::Store`] on database failure.
    fn add_user(&self, username: &str, phc: &str) -> Result<(), Error>;
    /// Removes a user, their grants, and revokes all their refresh families.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such user.
    fn remove_user(&self, username: &str) -> Result<(), Error>;
    /// The user's PHC hash, if the user exists.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn password_hash(&self, username: &str) -> Result<Option<String>, Error>;
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
    /// Registers a device.
    ///
    /// # Errors
    /// [`Error::Conflict`] if it exists.
    fn add_device(&self, id: &str, description: &str) -> Result<(), Error>;
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
    /// Starts a refresh family whose current token is `jti`.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn create_family(
        &self,
        family: &str,
        username: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), Error>;
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
    /// Whether an access token is dead: its `jti` revoked, its family revoked, or
    /// its user gone.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn access_revoked(&self, jti: &str, family: &str, username: &str) -> Result<bool, Error>;
    /// [`Store::access_revoked`] and [`Store::grants`] in one read: `None` if the
    /// access token is dead, else the user's grants. Asked on every authenticated
    /// request, so implementations may answer from a cache, but only from one that
    /// no committed change can leave stale.
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
    /// Deletes revocations and families that expired before `now`; returns the count.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    fn prune(&self, now: i64) -> Result<usize, Error>;
}

const SCHEMA_VERSION: i64 = 1;

const MIGRATION_1: &str = "
CREATE TABLE users (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE grants (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    device   TEXT NOT NULL,
    command  TEXT NOT NULL,
    PRIMARY KEY (username, device, command)
);
CREATE TABLE devices (
    id          TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE refresh_families (
    id          TEXT PRIMARY KEY NOT NULL,
    username    TEXT NOT NULL,
    current_jti TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX refresh_families_username ON refresh_families(username);
CREATE TABLE revoked_jti (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// How many idle connections the pool keeps.
const POOL_MAX_IDLE: usize = 16;
/// How many access tokens' sessions the cache holds before it starts over.
const SESSION_CACHE_MAX: usize = 16 * 1024;

/// The SQLite store: one database file in WAL mode and a small connection pool.
///
/// Reads are point queries on primary keys; in WAL mode readers never wait for the
/// writer, so they are cheap enough to run inline. Writes take the write lock with
/// a busy timeout, so callers on an async runtime run them on a blocking thread.
///
/// [`Store::session`], asked on every authenticated request, is answered from a
/// cache that is emptied whenever any connection, in this process or another, has
/// committed to the file since the last answer (the WAL-index header in the `-shm`
/// file changes with every commit): a logout, a removed user or a changed grant is
/// seen by the next request, exactly as without the cache, for the price of one
/// 96-byte `pread` instead of a read transaction with three index lookups and a
/// sort.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    /// Read outside the cache's lock, so concurrent requests do not queue on it.
    watch: ChangeWatch,
    sessions: Mutex<SessionCache>,
}

/// Answers of [`Store::session`] given since the database last changed.
#[derive(Debug)]
struct SessionCache {
    /// What the store's [`ChangeWatch`] saw when the entries were read. Every
    /// entry was read from the database after this stamp was current; a request
    /// that finds the same stamp knows nothing committed since.
    seen: Stamp,
    /// By access token `jti`.
    entries: HashMap<String, CachedSession>,
}

#[derive(Debug)]
struct CachedSession {
    family: String,
    username: String,
    grants: Option<Arc<[Grant]>>,
}

/// A database state stamp: equal stamps mean no commit in between.
type Stamp = [u8; WAL_INDEX_HEADER_LEN];

/// The two copies of the WAL-index header at the start of the `-shm` file
/// (<https://sqlite.org/walformat.html>, "The WAL-Index Header"). Every commit by
/// any connection rewrites them (the change counter, the last frame, the salts)
/// before the commit returns, so a read that finds them unchanged proves that no
/// transaction committed in between.
const WAL_INDEX_HEADER_LEN: usize = 96;

/// How the store notices commits by other connections and processes.
#[derive(Debug)]
struct ChangeWatch {
    /// A connection that never writes; it keeps the `-shm` file alive, and its
    /// `PRAGMA data_version` is the fallback when the header cannot be read.
    conn: Mutex<Connection>,
    /// The `-shm` file, read (never written) without taking SQLite's locks: one
    /// `pread` per request instead of a read transaction.
    shm: Option<std::fs::File>,
}

impl ChangeWatch {
    fn open(path: &Path) -> Result<ChangeWatch, Error> {
        let conn = connect(path)?;
        // The pragma opens the WAL index, so the `-shm` file now exists.
        let _: i64 = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        let mut shm_path = path.as_os_str().to_owned();
        shm_path.push("-shm");
        let shm = std::fs::File::open(shm_path).ok();
        Ok(ChangeWatch {
            conn: Mutex::new(conn),
            shm,
        })
    }

    /// The current stamp.
    fn stamp(&self) -> Result<Stamp, Error> {
        let mut stamp = [0u8; WAL_INDEX_HEADER_LEN];
        if let Some(shm) = &self.shm
            && read_at_start(shm, &mut stamp)
        {
            return Ok(stamp);
        }
        // No WAL index to read: ask SQLite (a read transaction). The first byte
        // marks which kind of stamp this is, so the two never compare equal.
        let version: i64 = self
            .conn
            .lock()
            .map_err(|_| poisoned())?
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        stamp.fill(0xff);
        if let Some(tail) = stamp.get_mut(1..9) {
            tail.copy_from_slice(&version.to_le_bytes());
        }
        Ok(stamp)
    }
}

/// Fills `buf` from the start of `file` without moving a cursor (shared readers).
#[cfg(unix)]
fn read_at_start(file: &std::fs::File, buf: &mut [u8]) -> bool {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, 0).is_ok()
}

/// Elsewhere the store always asks SQLite.
#[cfg(not(unix))]
fn read_at_start(_file: &std::fs::File, _buf: &mut [u8]) -> bool {
    false
}

impl SessionCache {
    /// Empties the cache if `stamp`, just read, differs from the one it was
    /// filled at. (A stamp older than `seen`, from a request that raced a commit,
    /// also empties it: needless but safe.)
    fn refresh(&mut self, stamp: &Stamp) {
        if *stamp != self.seen {
            self.entries.clear();
            self.seen = *stamp;
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl SqliteStore {
    /// Opens (creating and migrating on first use) the database at `path`.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be opened or migrated, or was written by a
    /// newer schema.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "database schema version {version} is newer than this server ({SCHEMA_VERSION})"
            )));
        }
        if version < 1 {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(MIGRATION_1)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        let watch = ChangeWatch::open(path)?;
        let sessions = SessionCache {
            seen: [0; WAL_INDEX_HEADER_LEN],
            entries: HashMap::new(),
        };
        Ok(SqliteStore {
            path: path.to_owned(),
            pool: Mutex::new(vec![conn]),
            watch,
            sessions: Mutex::new(sessions),
        })
    }

    fn connect(&self) -> Result<Connection, Error> {
        connect(&self.path)
    }

    /// The session straight from the database: one statement, so one read
    /// transaction (one round of WAL locking).
    fn read_session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Vec<Grant>>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM revoked_jti WHERE jti = ?1) \
                     OR EXISTS(SELECT 1 FROM refresh_families WHERE id = ?2 AND revoked = 1) \
                     OR NOT EXISTS(SELECT 1 FROM users WHERE username = ?3), \
                 g.device, g.command \
                 FROM (SELECT 1) LEFT JOIN grants AS g ON g.username = ?3 \
                 ORDER BY g.device, g.command",
            )?;
            let mut rows = stmt.query([jti, family, username])?;
            let mut grants: Vec<Grant> = Vec::new();
            while let Some(row) = rows.next()? {
                if row.get::<_, bool>(0)? {
                    return Ok(None);
                }
                let (Some(device), Some(command)) = (
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ) else {
                    continue;
                };
                match grants.last_mut() {
                    Some(g) if g.device == device => g.commands.push(command),
                    _ => grants.push(Grant {
                        device,
                        commands: vec![command],
                    }),
                }
            }
            Ok(Some(grants))
        })
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOL_MAX_IDLE
        {
            pool.push(conn);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, Error>) -> Result<T, Error> {
        let taken = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match taken {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = f(&mut conn);
        self.put(conn);
        result
    }
}

fn connect(path: &Path) -> Result<Connection, Error> {
    let conn =
        Connection::open(path).map_err(|e| Error::Store(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // With WAL, NORMAL loses at most the last transactions on power loss, never
    // corrupts; revocations are also short-lived by nature.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn poisoned() -> Error {
    Error::Internal("session cache lock poisoned".into())
}

/// A uniqueness violation becomes a 409 with `message`; any other error stays itself.
fn conflict_or(e: rusqlite::Error, message: impl FnOnce() -> String) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        Error::Conflict(message())
    } else {
        e.into()
    }
}

impl Store for SqliteStore {
    fn add_user(&self, username: &str, phc: &str) -> Result<(), Error> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![username, phc, now_secs()])
            .map_err(|e| conflict_or(e, || format!("user {username:?} already exists")))?;
            Ok(())
        })
    }

    fn remove_user(&self, username: &str) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE refresh_families SET revoked = 1 WHERE username = ?1",
                [username],
            )?;
            tx.execute("DELETE FROM grants WHERE username = ?1", [username])?;
            let n = tx.execute("DELETE FROM users WHERE username = ?1", [username])?;
            if n == 0 {
                return Err(Error::NotFound(format!("no user {username:?}")));
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn password_hash(&self, username: &str) -> Result<Option<String>, Error> {
        self.with(|c| {
            Ok(
                c.prepare_cached("SELECT password_hash FROM users WHERE username = ?1")?
                    .query_row([username], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn list_users(&self) -> Result<Vec<String>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT username FROM users ORDER BY username")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn grant(&self, username: &str, device: &str, commands: &[String]) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)",
                [username],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(Error::NotFound(format!("no user {username:?}")));
            }
            for command in commands {
                tx.execute(
                    "INSERT OR IGNORE INTO grants (username, device, command) VALUES (?1, ?2, ?3)",
                    params![username, device, command],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn revoke_grant(
        &self,
        username: &str,
        device: &str,
        commands: &[String],
    ) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            if commands.is_empty() {
                n = tx.execute(
                    "DELETE FROM grants WHERE username = ?1 AND device = ?2",
                    [username, device],
                )?;
            } else {
                for command in commands {
                    n += tx.execute(
                        "DELETE FROM grants WHERE username = ?1 AND device = ?2 AND command = ?3",
                        [username, device, command.as_str()],
                    )?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }

    fn grants(&self, username: &str) -> Result<Vec<Grant>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT device, command FROM grants WHERE username = ?1 ORDER BY device, command",
            )?;
            let mut rows = stmt.query([username])?;
            let mut grants: Vec<Grant> = Vec::new();
            while let Some(row) = rows.next()? {
                let device: String = row.get(0)?;
                let command: String = row.get(1)?;
                match grants.last_mut() {
                    Some(g) if g.device == device => g.commands.push(command),
                    _ => grants.push(Grant {
                        device,
                        commands: vec![command],
                    }),
                }
            }
            Ok(grants)
        })
    }

    fn add_device(&self, id: &str, description: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO devices (id, description, created_at) VALUES (?1, ?2, ?3)",
                params![id, description, now_secs()],
            )
            .map_err(|e| conflict_or(e, || format!("device {id:?} already exists")))?;
            Ok(())
        })
    }

    fn list_devices(&self) -> Result<Vec<Device>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT id, description FROM devices ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Device {
                    id: r.get(0)?,
                    description: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn device_exists(&self, id: &str) -> Result<bool, Error> {
        self.with(|c| {
            Ok(
                c.prepare_cached("SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1)")?
                    .query_row([id], |r| r.get(0))?,
            )
        })
    }

    fn create_family(
        &self,
        family: &str,
        username: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO refresh_families (id, username, current_jti, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![family, username, jti, expires_at])?;
            Ok(())
        })
    }

    fn rotate(
        &self,
        family: &str,
        presented_jti: &str,
        new_jti: &str,
        expires_at: i64,
    ) -> Result<Rotation, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, bool)> = tx
                .query_row(
                    "SELECT current_jti, revoked FROM refresh_families WHERE id = ?1",
                    [family],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let outcome = match row {
                None => Rotation::Unknown,
                Some((_, true)) => Rotation::Revoked,
                Some((current, false)) if current != presented_jti => {
                    tx.execute(
                        "UPDATE refresh_families SET revoked = 1 WHERE id = ?1",
                        [family],
                    )?;
                    Rotation::Reused
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE refresh_families SET current_jti = ?2, expires_at = ?3 WHERE id = ?1",
                        params![family, new_jti, expires_at],
                    )?;
                    Rotation::Rotated
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn logout(&self, family: &str, jti: &str, jti_expires_at: i64) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE refresh_families SET revoked = 1 WHERE id = ?1",
                [family],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO revoked_jti (jti, expires_at) VALUES (?1, ?2)",
                params![jti, jti_expires_at],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn access_revoked(&self, jti: &str, family: &str, username: &str) -> Result<bool, Error> {
        self.with(|c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM revoked_jti WHERE jti = ?1) \
                     OR EXISTS(SELECT 1 FROM refresh_families WHERE id = ?2 AND revoked = 1) \
                     OR NOT EXISTS(SELECT 1 FROM users WHERE username = ?3)",
            )?
            .query_row([jti, family, username], |r| r.get(0))?)
        })
    }

    fn session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Arc<[Grant]>>, Error> {
        let stamp = self.watch.stamp()?;
        {
            let mut cache = self.sessions.lock().map_err(|_| poisoned())?;
            cache.refresh(&stamp);
            if let Some(hit) = cache.entries.get(jti)
                && hit.family == family
                && hit.username == username
            {
                return Ok(hit.grants.clone());
            }
        }
        // Read after `stamp` was taken: at least as new as it. A commit in between
        // changes the stamp, so the next request empties the cache anyway.
        let grants = self.read_session(jti, family, username)?.map(Arc::from);
        let mut cache = self.sessions.lock().map_err(|_| poisoned())?;
        if cache.seen == stamp {
            if cache.entries.len() >= SESSION_CACHE_MAX {
                cache.entries.clear();
            }
            cache.entries.insert(
                jti.to_owned(),
                CachedSession {
                    family: family.to_owned(),
                    username: username.to_owned(),
                    grants: grants.clone(),
                },
            );
        }
        Ok(grants)
    }

    fn prune(&self, now: i64) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let a = tx.execute("DELETE FROM revoked_jti WHERE expires_at < ?1", [now])?;
            let b = tx.execute("DELETE FROM refresh_families WHERE expires_at < ?1", [now])?;
            tx.commit()?;
            Ok(a + b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database path in a fresh directory, removed when the guard drops.
    fn temp_db(name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix(&format!("latchkey-store-{name}-"))
            .tempdir()
            .unwrap();
        let path = dir.path().join("test.db");
        (dir, path)
    }

    #[test]
    fn users_grants_and_conflicts() {
        let s = SqliteStore::open(&temp_db("users").1).unwrap();
        s.add_user("alice", "$argon2id$x").unwrap();
        assert!(matches!(s.add_user("alice", "y"), Err(Error::Conflict(_))));
        s.add_user("bob'; DROP TABLE users; --", "h").unwrap();
        assert_eq!(s.list_users().unwrap().len(), 2);
        s.grant("alice", "door-*", &["open".into(), "close".into()])
            .unwrap();
        assert!(matches!(
            s.grant("nobody", "*", &["open".into()]),
            Err(Error::NotFound(_))
        ));
        let g = s.grants("alice").unwrap();
        assert_eq!(g.len(), 1);
        assert!(g[0].allows("door-1", "open"));
        assert!(!g[0].allows("door-1", "led"));
        assert!(!g[0].allows("gate-1", "open"));
        assert_eq!(
            s.revoke_grant("alice", "door-*", &["open".into()]).unwrap(),
            1
        );
        assert_eq!(
            s.grants("alice").unwrap()[0].commands,
            vec!["close".to_owned()]
        );
        s.remove_user("alice").unwrap();
        assert!(s.password_hash("alice").unwrap().is_none());
        assert!(s.grants("alice").unwrap().is_empty());
        assert!(matches!(s.remove_user("alice"), Err(Error::NotFound(_))));
    }

    #[test]
    fn rotation_detects_reuse_and_survives_reopen() {
        let (_dir, path) = temp_db("rotate");
        let s = SqliteStore::open(&path).unwrap();
        s.add_user("alice", "h").unwrap();
        s.create_family("f1", "alice", "j1", 100).unwrap();
        assert_eq!(s.rotate("f1", "j1", "j2", 200).unwrap(), Rotation::Rotated);
        assert!(!s.access_revoked("a1", "f1", "alice").unwrap());
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.rotate("f1", "j1", "j3", 200).unwrap(), Rotation::Reused);
        assert_eq!(s.rotate("f1", "j2", "j3", 200).unwrap(), Rotation::Revoked);
        assert!(s.access_revoked("a1", "f1", "alice").unwrap());
        assert_eq!(s.rotate("nope", "j1", "j2", 1).unwrap(), Rotation::Unknown);
    }

    #[test]
    fn logout_revokes_and_prune_forgets_expired() {
        let s = SqliteStore::open(&temp_db("logout").1).unwrap();
        s.add_user("alice", "h").unwrap();
        s.create_family("f1", "alice", "j1", 1_000).unwrap();
        s.logout("f1", "a1", 500).unwrap();
        assert!(s.access_revoked("a1", "other", "alice").unwrap());
        assert!(s.access_revoked("a2", "f1", "alice").unwrap());
        assert!(!s.access_revoked("a2", "f2", "alice").unwrap());
        assert!(s.access_revoked("a2", "f2", "ghost").unwrap());
        s.grant("alice", "door-1", &["open".into(), "close".into()])
            .unwrap();
        s.grant("alice", "*", &["status".into()]).unwrap();
        let g = s.session("a2", "f2", "alice").unwrap().unwrap();
        assert_eq!(*g, *s.grants("alice").unwrap());
        assert_eq!(g.len(), 2);
        assert_eq!(s.session("a1", "f2", "alice").unwrap(), None);
        assert_eq!(s.session("a2", "f1", "alice").unwrap(), None);
        assert_eq!(s.session("a2", "f2", "ghost").unwrap(), None);
        s.add_user("bob", "h").unwrap();
        assert_eq!(s.session("a2", "f2", "bob").unwrap(), Some(Arc::from([])));
        assert_eq!(s.prune(600).unwrap(), 1);
        assert!(!s.access_revoked("a1", "other", "alice").unwrap());
        assert_eq!(s.prune(2_000).unwrap(), 1);
    }

    /// Two stores on one file stand for two server processes (or the CLI): what one
    /// commits, the other's cached sessions see at the next request.
    #[test]
    fn cached_sessions_see_commits_from_other_connections() {
        let (_dir, path) = temp_db("watch");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        a.add_user("alice", "h").unwrap();
        a.grant("alice", "door-1", &["open".into()]).unwrap();
        let first = a.session("j1", "f1", "alice").unwrap().unwrap();
        assert_eq!(first[0].commands, vec!["open".to_owned()]);
        // Answered from the cache: the same allocation.
        let again = a.session("j1", "f1", "alice").unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));

        b.grant("alice", "door-1", &["close".into()]).unwrap();
        let grants = a.session("j1", "f1", "alice").unwrap().unwrap();
        assert_eq!(
            grants[0].commands,
            vec!["close".to_owned(), "open".to_owned()]
        );

        b.logout("f1", "j1", i64::MAX).unwrap();
        assert_eq!(a.session("j1", "f1", "alice").unwrap(), None);

        assert!(a.session("j2", "f2", "alice").unwrap().is_some());
        b.remove_user("alice").unwrap();
        assert_eq!(a.session("j2", "f2", "alice").unwrap(), None);
        // A cached answer is only for the family and user it was read for.
        a.add_user("bob", "h").unwrap();
        assert!(a.session("j3", "f3", "bob").unwrap().is_some());
        assert_eq!(a.session("j3", "f3", "alice").unwrap(), None);
    }

    /// Without a readable WAL index the stamp falls back to `PRAGMA data_version`,
    /// which also moves with every commit by another connection.
    #[test]
    fn the_fallback_stamp_moves_with_commits() {
        let (_dir, path) = temp_db("fallback");
        let s = SqliteStore::open(&path).unwrap();
        let mut watch = ChangeWatch::open(&path).unwrap();
        assert!(watch.shm.is_some(), "WAL mode creates the -shm file");
        let header = watch.stamp().unwrap();
        s.add_user("alice", "h").unwrap();
        assert_ne!(watch.stamp().unwrap(), header);
        watch.shm = None;
        let before = watch.stamp().unwrap();
        assert_eq!(watch.stamp().unwrap(), before);
        s.add_user("bob", "h").unwrap();
        assert_ne!(watch.stamp().unwrap(), before);
    }
}
