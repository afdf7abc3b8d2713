//! [`SqliteStore`]: one SQLite file in WAL mode, two connection pools (reads,
//! writes), the schema migrated on open.

use super::pool::{self, Connect, Manager};
use super::{
    AttemptLimit, AuditFilter, CommandRecord, Credentials, Device, Grant, Instance, Issuance,
    IssueLimit, Reservation, Rotation, Slot, Store, StoredKey, StoredRing, admit, checked_epoch,
    checked_seq, group_grants, issue_decision, no_device, now_secs,
};
use crate::error::Error;
use crate::lease;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::cell::Cell;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The schema, one step per version: step `i` takes `PRAGMA user_version` from
/// `i` to `i + 1`. Steps are only ever appended.
const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
];

/// Version 1: the first schema (users and grants by name).
pub(super) const MIGRATION_1: &str = "
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

/// Version 2: users get ids that are never reused (AUTOINCREMENT), and grants and
/// refresh families belong to the user row (deleted with it), so a session
/// never outlives its user nor passes to a new user of the same name; the
/// revocation counter; login attempts; the command-token audit. Families of
/// users already removed are dropped (they were revoked).
const MIGRATION_2: &str = "
CREATE TABLE users_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
INSERT INTO users_v2 (username, password_hash, created_at)
    SELECT username, password_hash, created_at FROM users ORDER BY rowid;
CREATE TABLE grants_v2 (
    user_id INTEGER NOT NULL REFERENCES users_v2(id) ON DELETE CASCADE,
    device  TEXT NOT NULL,
    command TEXT NOT NULL,
    PRIMARY KEY (user_id, device, command)
) WITHOUT ROWID;
INSERT INTO grants_v2 (user_id, device, command)
    SELECT u.id, g.device, g.command FROM grants AS g JOIN users_v2 AS u USING (username);
CREATE TABLE refresh_families_v2 (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users_v2(id) ON DELETE CASCADE,
    current_jti TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL
);
INSERT INTO refresh_families_v2 (id, user_id, current_jti, revoked, expires_at)
    SELECT f.id, u.id, f.current_jti, f.revoked, f.expires_at
    FROM refresh_families AS f JOIN users_v2 AS u USING (username);
DROP TABLE grants;
DROP TABLE refresh_families;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
ALTER TABLE grants_v2 RENAME TO grants;
ALTER TABLE refresh_families_v2 RENAME TO refresh_families;
CREATE INDEX refresh_families_user ON refresh_families(user_id);
CREATE TABLE revocation_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO revocation_counter (id, value) VALUES (1, 0);
CREATE TABLE login_attempts (
    key        TEXT PRIMARY KEY NOT NULL,
    window_end INTEGER NOT NULL,
    attempts   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE command_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    jti        TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    username   TEXT NOT NULL,
    device     TEXT NOT NULL,
    command    TEXT NOT NULL,
    arg        INTEGER,
    source     TEXT NOT NULL
);
";

/// Version 3: each device's command-token algorithm (NULL for devices
/// registered before: the key file's binding, else HS256), the last sequence
/// number issued for it and its trust epoch; the `seq` of each audited token,
/// and an index for counting a user's recent tokens per device.
const MIGRATION_3: &str = "
ALTER TABLE devices ADD COLUMN command_alg TEXT;
ALTER TABLE devices ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN trust_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE command_audit ADD COLUMN seq INTEGER;
CREATE INDEX command_audit_issuance ON command_audit(username, device, issued_at);
";

/// Version 4: the two key rings, private keys wrapped under the key file's KEK
/// (`kid` unique across both: one JWK Set publishes them), each ring ordered
/// by `position` (lowest signs), and the ring version.
const MIGRATION_4: &str = "
CREATE TABLE key_ring (
    kid      TEXT PRIMARY KEY NOT NULL,
    ring     TEXT NOT NULL CHECK (ring IN ('session', 'command')),
    alg      TEXT NOT NULL,
    created  INTEGER NOT NULL,
    position INTEGER NOT NULL,
    wrapped  BLOB NOT NULL
);
CREATE TABLE key_ring_version (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO key_ring_version (id, value) VALUES (1, 0);
";

/// Version 5: the serving instances, each with the revocation counter it
/// applied and a beat (`crate::lease`).
const MIGRATION_5: &str = "
CREATE TABLE server_instances (
    id   TEXT PRIMARY KEY NOT NULL,
    seen INTEGER NOT NULL,
    beat INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Moves the ring version. Every ring change also moves the revocation counter
/// ([`BUMP`], same transaction), which every serving instance applies before the
/// change returns (`crate::lease`), so each reloads the ring before it next
/// verifies or signs (`ring::LiveTokens`).
const BUMP_RING: &str =
    "UPDATE key_ring_version SET value = value + 1 WHERE id = 1 RETURNING value";

/// Connections for reads (opened read-only; run inline on executor threads).
const READ_POOL_MAX: u32 = 16;
/// Connections for writes (on blocking threads; SQLite runs one writer at a time).
const WRITE_POOL_MAX: u32 = 8;
/// How long a connection waits for another's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bumps the revocation counter; run in the transaction of the change, through
/// [`Tx::bump`].
const BUMP: &str = "UPDATE revocation_counter SET value = value + 1 WHERE id = 1 RETURNING value";

/// A write transaction that remembers whether it moved the revocation counter,
/// so that [`SqliteStore::transaction`] settles the change after it commits.
struct Tx<'c> {
    tx: Transaction<'c>,
    bumped: Cell<Option<i64>>,
}

impl<'c> Deref for Tx<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl Tx<'_> {
    /// Moves the revocation counter.
    fn bump(&self) -> Result<(), Error> {
        let value = self.tx.query_row(BUMP, [], |r| r.get(0))?;
        self.bumped.set(Some(value));
        Ok(())
    }
}

/// The SQLite store: one database file in WAL mode.
///
/// Reads are point queries on a pool of read-only connections; in WAL mode
/// readers never wait for the writer, so they are cheap enough to run inline
/// ([`Store::cheap_reads`]). Writes go through a second pool, so a queue of
/// writers waiting for SQLite's write lock never holds up a read. A connection
/// that failed is closed, not pooled again.
#[derive(Debug)]
pub struct SqliteStore {
    reads: r2d2::Pool<Manager<Opener>>,
    writes: r2d2::Pool<Manager<Opener>>,
}

/// Opens connections to one file, read-only or read-write.
#[derive(Debug)]
struct Opener {
    path: PathBuf,
    read_only: bool,
}

impl Connect for Opener {
    type Conn = Connection;

    fn connect(&self) -> Result<Connection, Error> {
        let flags = if self.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| Error::Store(format!("{}: {e}", self.path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // With WAL, NORMAL loses at most the last transactions on power loss, never
        // corrupts; revocations are also short-lived by nature.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }
}

impl SqliteStore {
    /// Opens (creating and migrating on first use) the database at `path`.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be opened or migrated, or was written by a
    /// newer schema.
    pub fn open(path: &Path) -> Result<Self, Error> {
        migrate(path)?;
        let name = path.display().to_string();
        let writes = pool::build(
            Opener {
                path: path.to_owned(),
                read_only: false,
            },
            WRITE_POOL_MAX,
            &name,
        )?;
        let reads = pool::build(
            Opener {
                path: path.to_owned(),
                read_only: true,
            },
            READ_POOL_MAX,
            &name,
        )?;
        Ok(SqliteStore { reads, writes })
    }

    fn read<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, Error>) -> Result<T, Error> {
        pool::run(&self.reads, f)
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, Error>) -> Result<T, Error> {
        pool::run(&self.writes, f)
    }

    /// `f` in one write transaction (taking the write lock at once); if it moved
    /// the revocation counter, returns once every serving instance applied it
    /// ([`lease::settle`]).
    fn transaction<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let (value, bumped) = self.write(|c| {
            let tx = Tx {
                tx: c.transaction_with_behavior(TransactionBehavior::Immediate)?,
                bumped: Cell::new(None),
            };
            let value = f(&tx)?;
            let bumped = tx.bumped.get();
            tx.tx.commit()?;
            Ok((value, bumped))
        })?;
        if let Some(counter) = bumped {
            lease::settle(self, counter);
        }
        Ok(value)
    }

    /// The session straight from the database: one statement, so one read
    /// transaction.
    fn read_session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Vec<Grant>>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT g.device, g.command \
                 FROM refresh_families AS f \
                 JOIN users AS u ON u.id = f.user_id \
                 LEFT JOIN grants AS g ON g.user_id = u.id \
                 WHERE f.id = ?2 AND f.revoked = 0 AND u.username = ?3 \
                   AND NOT EXISTS (SELECT 1 FROM revoked_jti WHERE jti = ?1) \
                 ORDER BY g.device, g.command",
            )?;
            let mut rows = stmt.query([jti, family, username])?;
            let mut alive = false;
            let mut pairs = Vec::new();
            while let Some(row) = rows.next()? {
                alive = true;
                if let (Some(device), Some(command)) = (row.get(0)?, row.get(1)?) {
                    pairs.push((device, command));
                }
            }
            Ok(alive.then(|| group_grants(pairs)))
        })
    }
}

/// Brings the file's schema to the newest version: every missing step in one
/// exclusive transaction, with foreign keys checked before it commits. A file
/// already at the newest version is only read (so a read-only file opens).
fn migrate(path: &Path) -> Result<(), Error> {
    let mut conn =
        Connection::open(path).map_err(|e| Error::Store(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let newest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let version = |c: &Connection| -> Result<i64, Error> {
        Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)
    };
    let found = version(&conn)?;
    if found > newest {
        return Err(Error::Store(format!(
            "database schema version {found} is newer than this server ({newest})"
        )));
    }
    if found == newest {
        return Ok(());
    }
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    // Off while tables are rebuilt (it cannot change inside a transaction);
    // `foreign_key_check` below holds the result to the constraints.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    // Another process may have migrated while this one waited for the lock.
    let found = version(&tx)?;
    for (step, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(found.try_into().unwrap_or(0))
    {
        tx.execute_batch(sql)
            .map_err(|e| Error::Store(format!("schema version {}: {e}", step + 1)))?;
    }
    let violations: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = violations {
        return Err(Error::Store(format!(
            "migration left a dangling reference in {table}"
        )));
    }
    tx.pragma_update(None, "user_version", newest)?;
    tx.commit()?;
    Ok(())
}

/// A uniqueness violation becomes a 409 with `message`; any other error stays itself.
fn conflict_or(e: rusqlite::Error, message: impl FnOnce() -> String) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        Error::Conflict(message())
    } else {
        e.into()
    }
}

/// Writes one audit row.
fn insert_record(c: &Connection, r: &CommandRecord, seq: Option<u64>) -> Result<(), Error> {
    let seq = seq.and_then(|s| i64::try_from(s).ok());
    c.prepare_cached(
        "INSERT INTO command_audit \
         (jti, issued_at, expires_at, username, device, command, arg, source, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        r.jti,
        r.issued_at,
        r.expires_at,
        r.username,
        r.device,
        r.command,
        r.arg,
        r.source,
        seq
    ])?;
    Ok(())
}

fn user_id(tx: &Connection, username: &str) -> Result<Option<i64>, Error> {
    Ok(tx
        .prepare_cached("SELECT id FROM users WHERE username = ?1")?
        .query_row([username], |r| r.get(0))
        .optional()?)
}

impl Store for SqliteStore {
    fn cheap_reads(&self) -> bool {
        true
    }

    fn add_user(&self, username: &str, phc: &str) -> Result<(), Error> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![username, phc, now_secs()])
            .map_err(|e| conflict_or(e, || format!("user {username:?} already exists")))?;
            Ok(())
        })
    }

    fn remove_user(&self, username: &str) -> Result<(), Error> {
        self.transaction(|tx| {
            // Grants and refresh families go with the row (ON DELETE CASCADE).
            let n = tx.execute("DELETE FROM users WHERE username = ?1", [username])?;
            if n == 0 {
                return Err(Error::NotFound(format!("no user {username:?}")));
            }
            tx.bump()?;
            Ok(())
        })
    }

    fn credentials(&self, username: &str) -> Result<Option<Credentials>, Error> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT id, password_hash FROM users WHERE username = ?1")?
                    .query_row([username], |r| {
                        Ok(Credentials {
                            user_id: r.get(0)?,
                            phc: r.get(1)?,
                        })
                    })
                    .optional()?,
            )
        })
    }

    fn list_users(&self) -> Result<Vec<String>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT username FROM users ORDER BY username")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn grant(&self, username: &str, device: &str, commands: &[String]) -> Result<(), Error> {
        self.transaction(|tx| {
            let id = user_id(tx, username)?
                .ok_or_else(|| Error::NotFound(format!("no user {username:?}")))?;
            for command in commands {
                tx.execute(
                    "INSERT OR IGNORE INTO grants (user_id, device, command) VALUES (?1, ?2, ?3)",
                    params![id, device, command],
                )?;
            }
            tx.bump()?;
            Ok(())
        })
    }

    fn revoke_grant(
        &self,
        username: &str,
        device: &str,
        commands: &[String],
    ) -> Result<usize, Error> {
        self.transaction(|tx| {
            let Some(id) = user_id(tx, username)? else {
                return Ok(0);
            };
            let mut n = 0;
            if commands.is_empty() {
                n = tx.execute(
                    "DELETE FROM grants WHERE user_id = ?1 AND device = ?2",
                    params![id, device],
                )?;
            } else {
                for command in commands {
                    n += tx.execute(
                        "DELETE FROM grants WHERE user_id = ?1 AND device = ?2 AND command = ?3",
                        params![id, device, command],
                    )?;
                }
            }
            if n > 0 {
                tx.bump()?;
            }
            Ok(n)
        })
    }

    fn grants(&self, username: &str) -> Result<Vec<Grant>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT g.device, g.command FROM grants AS g JOIN users AS u ON u.id = g.user_id \
                 WHERE u.username = ?1 ORDER BY g.device, g.command",
            )?;
            let rows = stmt.query_map([username], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(group_grants(rows.collect::<Result<Vec<_>, _>>()?))
        })
    }

    fn add_device(&self, id: &str, description: &str, command_alg: &str) -> Result<(), Error> {
        self.write(|c| {
            c.execute(
                "INSERT INTO devices (id, description, created_at, command_alg) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, description, now_secs(), command_alg],
            )
            .map_err(|e| conflict_or(e, || format!("device {id:?} already exists")))?;
            Ok(())
        })
    }

    fn set_command_alg(&self, id: &str, command_alg: &str) -> Result<(), Error> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE devices SET command_alg = ?2 WHERE id = ?1",
                params![id, command_alg],
            )?;
            if n == 0 {
                return Err(no_device(id));
            }
            Ok(())
        })
    }

    fn list_devices(&self) -> Result<Vec<Device>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, description, command_alg, trust_epoch FROM devices ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?))
            })?;
            rows.map(|row| {
                let (id, description, command_alg, epoch): (String, String, _, i64) = row?;
                let trust_epoch = checked_epoch(epoch, &id)?;
                Ok(Device {
                    id,
                    description,
                    command_alg,
                    trust_epoch,
                })
            })
            .collect()
        })
    }

    fn device_exists(&self, id: &str) -> Result<bool, Error> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1)")?
                    .query_row([id], |r| r.get(0))?,
            )
        })
    }

    fn start_session(
        &self,
        family: &str,
        user_id: i64,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, Error> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO refresh_families (id, user_id, current_jti, expires_at) \
                     SELECT ?1, id, ?3, ?4 FROM users WHERE id = ?2",
                )?
                .execute(params![family, user_id, jti, expires_at])?;
            Ok(n == 1)
        })
    }

    fn rotate(
        &self,
        family: &str,
        presented_jti: &str,
        new_jti: &str,
        expires_at: i64,
    ) -> Result<Rotation, Error> {
        self.transaction(|tx| {
            let row: Option<(String, bool)> = tx
                .query_row(
                    "SELECT current_jti, revoked FROM refresh_families WHERE id = ?1",
                    [family],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(match row {
                None => Rotation::Unknown,
                Some((_, true)) => Rotation::Revoked,
                Some((current, false)) if current != presented_jti => {
                    tx.execute(
                        "UPDATE refresh_families SET revoked = 1 WHERE id = ?1",
                        [family],
                    )?;
                    tx.bump()?;
                    Rotation::Reused
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE refresh_families SET current_jti = ?2, expires_at = ?3 WHERE id = ?1",
                        params![family, new_jti, expires_at],
                    )?;
                    Rotation::Rotated
                }
            })
        })
    }

    fn logout(&self, family: &str, jti: &str, jti_expires_at: i64) -> Result<(), Error> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE refresh_families SET revoked = 1 WHERE id = ?1",
                [family],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO revoked_jti (jti, expires_at) VALUES (?1, ?2)",
                params![jti, jti_expires_at],
            )?;
            tx.bump()?;
            Ok(())
        })
    }

    fn access_revoked(&self, jti: &str, family: &str, username: &str) -> Result<bool, Error> {
        Ok(self.read_session(jti, family, username)?.is_none())
    }

    fn session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Arc<[Grant]>>, Error> {
        Ok(self.read_session(jti, family, username)?.map(Arc::from))
    }

    fn revocation_counter(&self) -> Result<i64, Error> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM revocation_counter WHERE id = 1")?
                    .query_row([], |r| r.get(0))?,
            )
        })
    }

    fn reserve_attempts(
        &self,
        limits: &[AttemptLimit<'_>],
        now: i64,
        window: i64,
    ) -> Result<Reservation, Error> {
        self.transaction(|tx| {
            let mut plans = Vec::with_capacity(limits.len());
            let mut wait = 0i64;
            for limit in limits {
                let row: Option<(i64, i64)> = tx
                    .prepare_cached(
                        "SELECT window_end, attempts FROM login_attempts WHERE key = ?1",
                    )?
                    .query_row([limit.key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match admit(row, limit.max, now, window) {
                    Ok(plan) => plans.push((limit.key, plan)),
                    Err(left) => wait = wait.max(left),
                }
            }
            if plans.len() < limits.len() {
                return Ok(Reservation::Refused {
                    retry_after: u64::try_from(wait).unwrap_or(1).max(1),
                });
            }
            let mut slots = Vec::with_capacity(plans.len());
            for (key, (window_end, fresh)) in plans {
                if fresh {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO login_attempts (key, window_end, attempts) \
                         VALUES (?1, ?2, 1)",
                    )?
                    .execute(params![key, window_end])?;
                } else {
                    tx.prepare_cached(
                        "UPDATE login_attempts SET attempts = attempts + 1 WHERE key = ?1",
                    )?
                    .execute([key])?;
                }
                slots.push(Slot {
                    key: key.to_owned(),
                    window_end,
                });
            }
            Ok(Reservation::Granted(slots))
        })
    }

    fn settle_attempts(&self, release: &[Slot], forget: &[&str]) -> Result<(), Error> {
        self.transaction(|tx| {
            for slot in release {
                tx.prepare_cached(
                    "UPDATE login_attempts SET attempts = attempts - 1 \
                     WHERE key = ?1 AND window_end = ?2 AND attempts > 0",
                )?
                .execute(params![slot.key, slot.window_end])?;
            }
            for key in forget {
                tx.prepare_cached("DELETE FROM login_attempts WHERE key = ?1")?
                    .execute([key])?;
            }
            Ok(())
        })
    }

    fn issue_command(&self, r: &CommandRecord, limit: IssueLimit) -> Result<Issuance, Error> {
        // An immediate transaction holds the write lock from the start: the count,
        // the new `seq` and the audit row are one step for every process.
        self.transaction(|tx| {
            let (count, oldest): (i64, Option<i64>) = tx
                .prepare_cached(
                    "SELECT COUNT(*), MIN(issued_at) FROM command_audit \
                     WHERE username = ?1 AND device = ?2 AND issued_at > ?3",
                )?
                .query_row(
                    params![
                        r.username,
                        r.device,
                        r.issued_at.saturating_sub(limit.window)
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
            if let Some(retry_after) = issue_decision(count, oldest, r, limit) {
                return Ok(Issuance::Refused { retry_after });
            }
            let taken: Option<(i64, Option<String>)> = tx
                .prepare_cached(
                    "UPDATE devices SET seq = seq + 1 WHERE id = ?1 RETURNING seq, command_alg",
                )?
                .query_row([&r.device], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let (seq, command_alg) = taken.ok_or_else(|| no_device(&r.device))?;
            let seq = checked_seq(seq, &r.device)?;
            insert_record(tx, r, Some(seq))?;
            Ok(Issuance::Granted { seq, command_alg })
        })
    }

    fn next_trust_epoch(&self, id: &str) -> Result<u32, Error> {
        self.write(|c| {
            let epoch: Option<i64> = c
                .prepare_cached(
                    "UPDATE devices SET trust_epoch = trust_epoch + 1 WHERE id = ?1 \
                     AND trust_epoch < 4294967295 RETURNING trust_epoch",
                )?
                .query_row([id], |row| row.get(0))
                .optional()?;
            match epoch {
                Some(e) => checked_epoch(e, id),
                None if self.device_exists(id)? => Err(Error::Internal(format!(
                    "device {id:?}: the trust epoch is at its largest"
                ))),
                None => Err(no_device(id)),
            }
        })
    }

    fn record_command(&self, r: &CommandRecord) -> Result<(), Error> {
        self.write(|c| insert_record(c, r, r.seq))
    }

    fn command_records(&self, filter: &AuditFilter) -> Result<Vec<CommandRecord>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT jti, issued_at, expires_at, username, device, command, arg, source, seq \
                 FROM (SELECT * FROM command_audit \
                       WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR device = ?2) \
                       ORDER BY id DESC LIMIT ?3) \
                 ORDER BY id",
            )?;
            let rows =
                stmt.query_map(params![filter.username, filter.device, filter.limit], |r| {
                    let seq: Option<i64> = r.get(8)?;
                    Ok(CommandRecord {
                        seq: seq.and_then(|s| u64::try_from(s).ok()),
                        jti: r.get(0)?,
                        issued_at: r.get(1)?,
                        expires_at: r.get(2)?,
                        username: r.get(3)?,
                        device: r.get(4)?,
                        command: r.get(5)?,
                        arg: r.get(6)?,
                        source: r.get(7)?,
                    })
                })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn prune(&self, now: i64) -> Result<usize, Error> {
        self.transaction(|tx| {
            let revoked = tx.execute("DELETE FROM revoked_jti WHERE expires_at < ?1", [now])?;
            let families =
                tx.execute("DELETE FROM refresh_families WHERE expires_at < ?1", [now])?;
            let attempts =
                tx.execute("DELETE FROM login_attempts WHERE window_end <= ?1", [now])?;
            if families > 0 {
                tx.bump()?;
            }
            Ok(revoked + families + attempts)
        })
    }

    fn key_ring(&self) -> Result<StoredRing, Error> {
        self.read(|c| {
            let tx = c.transaction()?;
            let version = ring_version(&tx)?;
            let keys = tx
                .prepare_cached(
                    "SELECT ring, kid, alg, created, wrapped FROM key_ring \
                     ORDER BY ring, position",
                )?
                .query_map([], |r| {
                    Ok(StoredKey {
                        ring: r.get(0)?,
                        kid: r.get(1)?,
                        alg: r.get(2)?,
                        created: r.get(3)?,
                        wrapped: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(StoredRing { version, keys })
        })
    }

    fn key_ring_version(&self) -> Result<i64, Error> {
        self.read(|c| ring_version(c))
    }

    fn add_ring_key(&self, key: &StoredKey) -> Result<i64, Error> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO key_ring (kid, ring, alg, created, position, wrapped) \
                 VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MIN(position), 0) - 1 \
                 FROM key_ring WHERE ring = ?2), ?5)",
                params![key.kid, key.ring, key.alg, key.created, key.wrapped],
            )
            .map_err(|e| conflict_or(e, || format!("a key {:?} exists", key.kid)))?;
            {
                tx.bump()?;
                Ok(tx.query_row(BUMP_RING, [], |r| r.get(0))?)
            }
        })
    }

    fn retire_ring_key(&self, ring: &str, kid: &str) -> Result<i64, Error> {
        self.transaction(|tx| {
            let n = tx.execute(
                "DELETE FROM key_ring WHERE ring = ?1 AND kid = ?2",
                params![ring, kid],
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!("no {ring} key {kid:?}")));
            }
            {
                tx.bump()?;
                Ok(tx.query_row(BUMP_RING, [], |r| r.get(0))?)
            }
        })
    }

    fn import_key_ring(&self, keys: &[StoredKey]) -> Result<bool, Error> {
        self.transaction(|tx| {
            let empty: bool =
                tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM key_ring)", [], |r| {
                    r.get(0)
                })?;
            if !empty {
                return Ok(false);
            }
            for (position, key) in (0i64..).zip(keys) {
                tx.execute(
                    "INSERT INTO key_ring (kid, ring, alg, created, position, wrapped) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key.kid,
                        key.ring,
                        key.alg,
                        key.created,
                        position,
                        key.wrapped
                    ],
                )
                .map_err(|e| conflict_or(e, || format!("two keys {:?}", key.kid)))?;
            }
            tx.bump()?;
            tx.query_row(BUMP_RING, [], |r| r.get::<_, i64>(0))?;
            Ok(true)
        })
    }

    fn register_instance(&self, id: &str, seen: i64) -> Result<(), Error> {
        self.write(|c| {
            c.prepare_cached("INSERT INTO server_instances (id, seen, beat) VALUES (?1, ?2, 0)")?
                .execute(params![id, seen])
                .map_err(|e| conflict_or(e, || format!("instance {id:?} already registered")))?;
            Ok(())
        })
    }

    fn report_instance(&self, id: &str, seen: i64) -> Result<bool, Error> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE server_instances SET seen = max(seen, ?2), beat = beat + 1 \
                     WHERE id = ?1",
                )?
                .execute(params![id, seen])?;
            Ok(n == 1)
        })
    }

    fn instances(&self) -> Result<Vec<Instance>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, seen, beat FROM server_instances")?;
            let rows = stmt.query_map([], |r| {
                Ok(Instance {
                    id: r.get(0)?,
                    seen: r.get(1)?,
                    beat: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn forget_instance(&self, id: &str, beat: i64) -> Result<bool, Error> {
        self.write(|c| {
            let n = c
                .prepare_cached("DELETE FROM server_instances WHERE id = ?1 AND beat = ?2")?
                .execute(params![id, beat])?;
            Ok(n == 1)
        })
    }
}

/// The ring version, read on `c`.
fn ring_version(c: &Connection) -> Result<i64, Error> {
    Ok(
        c.prepare_cached("SELECT value FROM key_ring_version WHERE id = 1")?
            .query_row([], |r| r.get(0))?,
    )
}
