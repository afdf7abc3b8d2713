//! [`PostgresStore`]: one PostgreSQL database that several server instances
//! share, through the synchronous `postgres` client and an `r2d2` pool.

use super::pool::{self, Connect, Manager};
use super::{
    AttemptLimit, AuditFilter, CommandRecord, Credentials, Device, Grant, Instance, Issuance,
    IssueLimit, Reservation, Rotation, Slot, Store, StoredKey, StoredRing, admit, checked_epoch,
    checked_seq, group_grants, issue_decision, no_device, now_secs,
};
use crate::error::Error;
use crate::lease;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The schema, one step per version, applied in order and recorded in
/// `latchkey_schema`. Steps are only ever appended.
const MIGRATIONS: &[&str] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4];

/// Version 1: the same tables as SQLite's version 2. Text that is sorted is
/// compared bytewise (`COLLATE "C"`), as SQLite does.
const MIGRATION_1: &str = r#"
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE grants (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device  TEXT COLLATE "C" NOT NULL,
    command TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, device, command)
);
CREATE TABLE devices (
    id          TEXT COLLATE "C" PRIMARY KEY,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE refresh_families (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    current_jti TEXT NOT NULL,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX refresh_families_user ON refresh_families(user_id);
CREATE TABLE revoked_jti (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE revocation_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO revocation_counter (id, value) VALUES (1, 0);
CREATE TABLE login_attempts (
    key        TEXT PRIMARY KEY,
    window_end BIGINT NOT NULL,
    attempts   INTEGER NOT NULL
);
CREATE TABLE command_audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti        TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    username   TEXT NOT NULL,
    device     TEXT NOT NULL,
    command    TEXT NOT NULL,
    arg        SMALLINT,
    source     TEXT NOT NULL
);
"#;

/// Version 2: as SQLite's version 3, each device's command-token algorithm
/// (NULL for devices registered before), last issued sequence number and trust
/// epoch; the `seq` of each audited token; an index for counting a user's
/// recent tokens per device.
const MIGRATION_2: &str = r#"
ALTER TABLE devices ADD COLUMN command_alg TEXT;
ALTER TABLE devices ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN trust_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE command_audit ADD COLUMN seq BIGINT;
CREATE INDEX command_audit_issuance ON command_audit(username, device, issued_at);
"#;

/// Version 3: as SQLite's version 4, the two key rings (private keys wrapped
/// under the key file's KEK, `kid` unique across both, ordered by `position`)
/// and the ring version.
const MIGRATION_3: &str = r#"
CREATE TABLE key_ring (
    kid      TEXT PRIMARY KEY,
    ring     TEXT NOT NULL CHECK (ring IN ('session', 'command')),
    alg      TEXT NOT NULL,
    created  BIGINT NOT NULL,
    position BIGINT NOT NULL,
    wrapped  BYTEA NOT NULL
);
CREATE TABLE key_ring_version (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO key_ring_version (id, value) VALUES (1, 0);
"#;

/// Version 4: as SQLite's version 5, the serving instances, each with the
/// revocation counter it applied and a beat (`crate::lease`).
const MIGRATION_4: &str = r#"
CREATE TABLE server_instances (
    id   TEXT PRIMARY KEY,
    seen BIGINT NOT NULL,
    beat BIGINT NOT NULL
);
"#;

/// Moves the ring version; run in the transaction of the change.
const BUMP_RING: &str =
    "UPDATE key_ring_version SET value = value + 1 WHERE id = 1 RETURNING value";

/// The advisory lock migrations run under ("latchkey" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579;
/// Connections per instance.
const POOL_MAX: u32 = 16;
/// How long a connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bumps the revocation counter; run in the transaction of the change, through
/// [`Q::bump`].
const BUMP: &str = "UPDATE revocation_counter SET value = value + 1 WHERE id = 1 RETURNING value";

/// The PostgreSQL store. Every call runs on a pooled connection and blocks on
/// the network, so the API runs all of them on blocking threads.
///
/// What several instances must agree on is decided in the database: rotation
/// locks the family's row (`SELECT ... FOR UPDATE`), login attempts are
/// reserved under row locks taken in key order, sessions belong to their user
/// row (`ON DELETE CASCADE`), and every change that can end a session bumps the
/// revocation counter and returns once every serving instance applied it
/// (`crate::lease`).
#[derive(Debug)]
pub struct PostgresStore {
    pool: r2d2::Pool<Manager<Opener>>,
}

#[derive(Debug)]
struct Opener {
    config: postgres::Config,
}

/// A connection and its prepared statements.
pub(super) struct PgConn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").finish_non_exhaustive()
    }
}

impl Connect for Opener {
    type Conn = PgConn;

    fn connect(&self) -> Result<PgConn, Error> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| Error::Store(format!("connecting to PostgreSQL: {e}")))?;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
        })
    }

    fn is_closed(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Store(e.to_string())
    }
}

fn is(e: &postgres::Error, state: &SqlState) -> bool {
    e.code() == Some(state)
}

/// Statements prepared once per connection, run through a client or a
/// transaction.
struct Q<'a, C> {
    c: &'a mut C,
    cache: &'a mut HashMap<&'static str, Statement>,
    /// The revocation counter this transaction moved it to, if it did.
    bumped: Option<i64>,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Q<'_, C> {
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, Error> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    fn exec(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, Error> {
        let s = self.stmt(sql)?;
        Ok(self.c.execute(&s, params)?)
    }

    fn opt(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Option<Row>, Error> {
        let s = self.stmt(sql)?;
        Ok(self.c.query_opt(&s, params)?)
    }

    fn all(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Vec<Row>, Error> {
        let s = self.stmt(sql)?;
        Ok(self.c.query(&s, params)?)
    }

    /// Moves the revocation counter (in a transaction: see
    /// [`PostgresStore::transaction`]).
    fn bump(&mut self) -> Result<(), Error> {
        match self.opt(BUMP, &[])? {
            Some(row) => {
                self.bumped = Some(row.try_get(0)?);
                Ok(())
            }
            None => Err(Error::Store("the revocation counter row is missing".into())),
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`,
    /// without TLS) and migrates it to the newest schema under an advisory lock,
    /// so instances starting together do not race.
    ///
    /// # Errors
    /// [`Error::Store`] if the database cannot be reached or migrated, or was
    /// written by a newer server.
    pub fn open(url: &str) -> Result<Self, Error> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| Error::Store(format!("bad PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("latchkey-server");
        }
        let opener = Opener { config };
        let mut first = opener.connect()?;
        migrate(&mut first.client)?;
        drop(first);
        Ok(PostgresStore {
            pool: pool::build(opener, POOL_MAX, "PostgreSQL")?,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Q<'_, Client>) -> Result<T, Error>) -> Result<T, Error> {
        pool::run(&self.pool, |conn| {
            f(&mut Q {
                c: &mut conn.client,
                cache: &mut conn.statements,
                bumped: None,
            })
        })
    }

    /// `f` in one transaction; if it moved the revocation counter, returns once
    /// every serving instance applied it ([`lease::settle`]).
    fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Q<'_, postgres::Transaction<'_>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (value, bumped) = pool::run(&self.pool, |conn| {
            let mut tx = conn.client.transaction()?;
            let mut q = Q {
                c: &mut tx,
                cache: &mut conn.statements,
                bumped: None,
            };
            let value = f(&mut q)?;
            let bumped = q.bumped;
            tx.commit()?;
            Ok((value, bumped))
        })?;
        if let Some(counter) = bumped {
            lease::settle(self, counter);
        }
        Ok(value)
    }

    fn read_session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Vec<Grant>>, Error> {
        self.with(|q| {
            let rows = q.all(
                "SELECT g.device, g.command \
                 FROM refresh_families AS f \
                 JOIN users AS u ON u.id = f.user_id \
                 LEFT JOIN grants AS g ON g.user_id = u.id \
                 WHERE f.id = $2 AND NOT f.revoked AND u.username = $3 \
                   AND NOT EXISTS (SELECT 1 FROM revoked_jti WHERE jti = $1) \
                 ORDER BY g.device, g.command",
                &[&jti, &family, &username],
            )?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut pairs = Vec::with_capacity(rows.len());
            for row in rows {
                if let (Some(device), Some(command)) = (row.try_get(0)?, row.try_get(1)?) {
                    pairs.push((device, command));
                }
            }
            Ok(Some(group_grants(pairs)))
        })
    }
}

/// Applies the missing steps of [`MIGRATIONS`] in one transaction that first
/// takes [`MIGRATION_LOCK`]: a second instance starting at the same time waits,
/// then finds the schema current.
fn migrate(client: &mut Client) -> Result<(), Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS latchkey_schema (\
             version    INTEGER PRIMARY KEY, \
             applied_at BIGINT NOT NULL)",
    )?;
    let found: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM latchkey_schema", &[])?
        .try_get(0)?;
    let newest = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if found > newest {
        return Err(Error::Store(format!(
            "database schema version {found} is newer than this server ({newest})"
        )));
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql)
            .map_err(|e| Error::Store(format!("schema version {version}: {e}")))?;
        tx.execute(
            "INSERT INTO latchkey_schema (version, applied_at) VALUES ($1, $2)",
            &[&version, &now_secs()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Writes one audit row.
fn insert_record<C: GenericClient>(
    q: &mut Q<'_, C>,
    r: &CommandRecord,
    seq: Option<u64>,
) -> Result<(), Error> {
    let arg = r.arg.map(i16::from);
    let seq = seq.and_then(|s| i64::try_from(s).ok());
    q.exec(
        "INSERT INTO command_audit \
         (jti, issued_at, expires_at, username, device, command, arg, source, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &r.jti,
            &r.issued_at,
            &r.expires_at,
            &r.username,
            &r.device,
            &r.command,
            &arg,
            &r.source,
            &seq,
        ],
    )?;
    Ok(())
}

fn user_id<C: GenericClient>(q: &mut Q<'_, C>, username: &str) -> Result<Option<i64>, Error> {
    match q.opt("SELECT id FROM users WHERE username = $1", &[&username])? {
        Some(row) => Ok(Some(row.try_get(0)?)),
        None => Ok(None),
    }
}

/// A uniqueness violation becomes a 409 with `message`; any other error stays itself.
fn conflict_or(e: postgres::Error, message: impl FnOnce() -> String) -> Error {
    if is(&e, &SqlState::UNIQUE_VIOLATION) {
        Error::Conflict(message())
    } else {
        e.into()
    }
}

impl Store for PostgresStore {
    fn add_user(&self, username: &str, phc: &str) -> Result<(), Error> {
        self.with(|q| {
            let s = q.stmt(
                "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)",
            )?;
            q.c.execute(&s, &[&username, &phc, &now_secs()])
                .map_err(|e| conflict_or(e, || format!("user {username:?} already exists")))?;
            Ok(())
        })
    }

    fn remove_user(&self, username: &str) -> Result<(), Error> {
        self.transaction(|q| {
            // Grants and refresh families go with the row (ON DELETE CASCADE).
            let n = q.exec("DELETE FROM users WHERE username = $1", &[&username])?;
            if n == 0 {
                return Err(Error::NotFound(format!("no user {username:?}")));
            }
            q.bump()?;
            Ok(())
        })
    }

    fn credentials(&self, username: &str) -> Result<Option<Credentials>, Error> {
        self.with(|q| {
            match q.opt(
                "SELECT id, password_hash FROM users WHERE username = $1",
                &[&username],
            )? {
                Some(row) => Ok(Some(Credentials {
                    user_id: row.try_get(0)?,
                    phc: row.try_get(1)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn list_users(&self) -> Result<Vec<String>, Error> {
        self.with(|q| {
            q.all("SELECT username FROM users ORDER BY username", &[])?
                .iter()
                .map(|r| r.try_get(0).map_err(Error::from))
                .collect()
        })
    }

    fn grant(&self, username: &str, device: &str, commands: &[String]) -> Result<(), Error> {
        self.transaction(|q| {
            let id = user_id(q, username)?
                .ok_or_else(|| Error::NotFound(format!("no user {username:?}")))?;
            for command in commands {
                q.exec(
                    "INSERT INTO grants (user_id, device, command) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&id, &device, command],
                )?;
            }
            q.bump()?;
            Ok(())
        })
    }

    fn revoke_grant(
        &self,
        username: &str,
        device: &str,
        commands: &[String],
    ) -> Result<usize, Error> {
        self.transaction(|q| {
            let Some(id) = user_id(q, username)? else {
                return Ok(0);
            };
            let mut n = 0;
            if commands.is_empty() {
                n = q.exec(
                    "DELETE FROM grants WHERE user_id = $1 AND device = $2",
                    &[&id, &device],
                )?;
            } else {
                for command in commands {
                    n += q.exec(
                        "DELETE FROM grants WHERE user_id = $1 AND device = $2 AND command = $3",
                        &[&id, &device, command],
                    )?;
                }
            }
            if n > 0 {
                q.bump()?;
            }
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn grants(&self, username: &str) -> Result<Vec<Grant>, Error> {
        self.with(|q| {
            let rows = q.all(
                "SELECT g.device, g.command FROM grants AS g JOIN users AS u ON u.id = g.user_id \
                 WHERE u.username = $1 ORDER BY g.device, g.command",
                &[&username],
            )?;
            let pairs = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<(String, String)>, postgres::Error>>()?;
            Ok(group_grants(pairs))
        })
    }

    fn add_device(&self, id: &str, description: &str, command_alg: &str) -> Result<(), Error> {
        self.with(|q| {
            let s = q.stmt(
                "INSERT INTO devices (id, description, created_at, command_alg) \
                 VALUES ($1, $2, $3, $4)",
            )?;
            q.c.execute(&s, &[&id, &description, &now_secs(), &command_alg])
                .map_err(|e| conflict_or(e, || format!("device {id:?} already exists")))?;
            Ok(())
        })
    }

    fn set_command_alg(&self, id: &str, command_alg: &str) -> Result<(), Error> {
        self.with(|q| {
            let n = q.exec(
                "UPDATE devices SET command_alg = $2 WHERE id = $1",
                &[&id, &command_alg],
            )?;
            if n == 0 {
                return Err(no_device(id));
            }
            Ok(())
        })
    }

    fn list_devices(&self) -> Result<Vec<Device>, Error> {
        self.with(|q| {
            q.all(
                "SELECT id, description, command_alg, trust_epoch FROM devices ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let trust_epoch = checked_epoch(r.try_get(3)?, &id)?;
                Ok(Device {
                    description: r.try_get(1)?,
                    command_alg: r.try_get(2)?,
                    trust_epoch,
                    id,
                })
            })
            .collect()
        })
    }

    fn device_exists(&self, id: &str) -> Result<bool, Error> {
        self.with(|q| {
            Ok(q.opt("SELECT 1 FROM devices WHERE id = $1", &[&id])?
                .is_some())
        })
    }

    fn start_session(
        &self,
        family: &str,
        user_id: i64,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, Error> {
        self.with(|q| {
            let s = q.stmt(
                "INSERT INTO refresh_families (id, user_id, current_jti, expires_at) \
                 SELECT $1, id, $3, $4 FROM users WHERE id = $2",
            )?;
            match q.c.execute(&s, &[&family, &user_id, &jti, &expires_at]) {
                Ok(n) => Ok(n == 1),
                // The user row was deleted by a transaction that committed after
                // this one read it.
                Err(e) if is(&e, &SqlState::FOREIGN_KEY_VIOLATION) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn rotate(
        &self,
        family: &str,
        presented_jti: &str,
        new_jti: &str,
        expires_at: i64,
    ) -> Result<Rotation, Error> {
        self.transaction(|q| {
            let row = q.opt(
                "SELECT current_jti, revoked FROM refresh_families WHERE id = $1 FOR UPDATE",
                &[&family],
            )?;
            let row: Option<(String, bool)> = match row {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            };
            Ok(match row {
                None => Rotation::Unknown,
                Some((_, true)) => Rotation::Revoked,
                Some((current, false)) if current != presented_jti => {
                    q.exec(
                        "UPDATE refresh_families SET revoked = TRUE WHERE id = $1",
                        &[&family],
                    )?;
                    q.bump()?;
                    Rotation::Reused
                }
                Some(_) => {
                    q.exec(
                        "UPDATE refresh_families SET current_jti = $2, expires_at = $3 WHERE id = $1",
                        &[&family, &new_jti, &expires_at],
                    )?;
                    Rotation::Rotated
                }
            })
        })
    }

    fn logout(&self, family: &str, jti: &str, jti_expires_at: i64) -> Result<(), Error> {
        self.transaction(|q| {
            q.exec(
                "UPDATE refresh_families SET revoked = TRUE WHERE id = $1",
                &[&family],
            )?;
            q.exec(
                "INSERT INTO revoked_jti (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&jti, &jti_expires_at],
            )?;
            q.bump()?;
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
        self.with(
            |q| match q.opt("SELECT value FROM revocation_counter WHERE id = 1", &[])? {
                Some(row) => Ok(row.try_get(0)?),
                None => Err(Error::Store("the revocation counter row is missing".into())),
            },
        )
    }

    fn reserve_attempts(
        &self,
        limits: &[AttemptLimit<'_>],
        now: i64,
        window: i64,
    ) -> Result<Reservation, Error> {
        // Rows are locked in key order, so two reservations never wait on each other
        // in a cycle; the slots come back in the order of `limits`.
        let mut order: Vec<usize> = (0..limits.len()).collect();
        order.sort_by(|&a, &b| limits[a].key.cmp(limits[b].key));
        self.transaction(|q| {
            for &i in &order {
                q.exec(
                    "INSERT INTO login_attempts (key, window_end, attempts) VALUES ($1, 0, 0) \
                     ON CONFLICT (key) DO NOTHING",
                    &[&limits[i].key],
                )?;
            }
            let mut rows = vec![None; limits.len()];
            for &i in &order {
                let row = q.opt(
                    "SELECT window_end, attempts FROM login_attempts WHERE key = $1 FOR UPDATE",
                    &[&limits[i].key],
                )?;
                rows[i] = match row {
                    Some(r) => Some((r.try_get::<_, i64>(0)?, i64::from(r.try_get::<_, i32>(1)?))),
                    None => None,
                };
            }
            let mut plans = Vec::with_capacity(limits.len());
            let mut wait = 0i64;
            for (limit, row) in limits.iter().zip(rows) {
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
                    q.exec(
                        "UPDATE login_attempts SET window_end = $2, attempts = 1 WHERE key = $1",
                        &[&key, &window_end],
                    )?;
                } else {
                    q.exec(
                        "UPDATE login_attempts SET attempts = attempts + 1 WHERE key = $1",
                        &[&key],
                    )?;
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
        self.transaction(|q| {
            for slot in release {
                q.exec(
                    "UPDATE login_attempts SET attempts = attempts - 1 \
                     WHERE key = $1 AND window_end = $2 AND attempts > 0",
                    &[&slot.key, &slot.window_end],
                )?;
            }
            for key in forget {
                q.exec("DELETE FROM login_attempts WHERE key = $1", &[key])?;
            }
            Ok(())
        })
    }

    fn issue_command(&self, r: &CommandRecord, limit: IssueLimit) -> Result<Issuance, Error> {
        self.transaction(|q| {
            // The device's row lock orders every issuance for the device, on any
            // instance; the count below, a statement after it, sees the audit
            // rows of every transaction that held the lock before.
            if q.opt(
                "SELECT 1 FROM devices WHERE id = $1 FOR UPDATE",
                &[&r.device],
            )?
            .is_none()
            {
                return Err(no_device(&r.device));
            }
            let since = r.issued_at.saturating_sub(limit.window);
            let row = q
                .opt(
                    "SELECT COUNT(*), MIN(issued_at) FROM command_audit \
                     WHERE username = $1 AND device = $2 AND issued_at > $3",
                    &[&r.username, &r.device, &since],
                )?
                .ok_or_else(|| Error::Store("COUNT returned no row".into()))?;
            if let Some(retry_after) = issue_decision(row.try_get(0)?, row.try_get(1)?, r, limit) {
                return Ok(Issuance::Refused { retry_after });
            }
            let row = q
                .opt(
                    "UPDATE devices SET seq = seq + 1 WHERE id = $1 RETURNING seq, command_alg",
                    &[&r.device],
                )?
                .ok_or_else(|| no_device(&r.device))?;
            let seq = checked_seq(row.try_get(0)?, &r.device)?;
            insert_record(q, r, Some(seq))?;
            Ok(Issuance::Granted {
                seq,
                command_alg: row.try_get(1)?,
            })
        })
    }

    fn next_trust_epoch(&self, id: &str) -> Result<u32, Error> {
        self.with(|q| {
            let row = q.opt(
                "UPDATE devices SET trust_epoch = trust_epoch + 1 \
                 WHERE id = $1 AND trust_epoch < 4294967295 RETURNING trust_epoch",
                &[&id],
            )?;
            match row {
                Some(r) => checked_epoch(r.try_get(0)?, id),
                None if q
                    .opt("SELECT 1 FROM devices WHERE id = $1", &[&id])?
                    .is_some() =>
                {
                    Err(Error::Internal(format!(
                        "device {id:?}: the trust epoch is at its largest"
                    )))
                }
                None => Err(no_device(id)),
            }
        })
    }

    fn record_command(&self, r: &CommandRecord) -> Result<(), Error> {
        self.with(|q| insert_record(q, r, r.seq))
    }

    fn command_records(&self, filter: &AuditFilter) -> Result<Vec<CommandRecord>, Error> {
        let limit = i64::from(filter.limit);
        self.with(|q| {
            q.all(
                "SELECT jti, issued_at, expires_at, username, device, command, arg, source, seq \
                 FROM (SELECT * FROM command_audit \
                       WHERE ($1::TEXT IS NULL OR username = $1) \
                         AND ($2::TEXT IS NULL OR device = $2) \
                       ORDER BY id DESC LIMIT $3) AS newest \
                 ORDER BY id",
                &[&filter.username, &filter.device, &limit],
            )?
            .iter()
            .map(|r| {
                let arg: Option<i16> = r.try_get(6)?;
                let seq: Option<i64> = r.try_get(8)?;
                Ok(CommandRecord {
                    seq: seq.and_then(|s| u64::try_from(s).ok()),
                    jti: r.try_get(0)?,
                    issued_at: r.try_get(1)?,
                    expires_at: r.try_get(2)?,
                    username: r.try_get(3)?,
                    device: r.try_get(4)?,
                    command: r.try_get(5)?,
                    arg: arg.and_then(|a| u8::try_from(a).ok()),
                    source: r.try_get(7)?,
                })
            })
            .collect()
        })
    }

    fn prune(&self, now: i64) -> Result<usize, Error> {
        self.transaction(|q| {
            let revoked = q.exec("DELETE FROM revoked_jti WHERE expires_at < $1", &[&now])?;
            let families = q.exec(
                "DELETE FROM refresh_families WHERE expires_at < $1",
                &[&now],
            )?;
            let attempts = q.exec("DELETE FROM login_attempts WHERE window_end <= $1", &[&now])?;
            if families > 0 {
                q.bump()?;
            }
            Ok(usize::try_from(revoked + families + attempts).unwrap_or(usize::MAX))
        })
    }

    fn key_ring(&self) -> Result<StoredRing, Error> {
        self.transaction(|q| {
            let version = ring_version(q)?;
            let keys = q
                .all(
                    "SELECT ring, kid, alg, created, wrapped FROM key_ring \
                     ORDER BY ring, position",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(StoredKey {
                        ring: r.try_get(0)?,
                        kid: r.try_get(1)?,
                        alg: r.try_get(2)?,
                        created: r.try_get(3)?,
                        wrapped: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(StoredRing { version, keys })
        })
    }

    fn key_ring_version(&self) -> Result<i64, Error> {
        self.with(ring_version)
    }

    fn add_ring_key(&self, key: &StoredKey) -> Result<i64, Error> {
        self.transaction(|q| {
            // One ring change at a time: the position below is read, then written.
            q.exec(
                "SELECT value FROM key_ring_version WHERE id = 1 FOR UPDATE",
                &[],
            )?;
            let s = q.stmt(
                "INSERT INTO key_ring (kid, ring, alg, created, position, wrapped) \
                 VALUES ($1, $2, $3, $4, (SELECT COALESCE(MIN(position), 0) - 1 \
                 FROM key_ring WHERE ring = $2), $5)",
            )?;
            q.c.execute(
                &s,
                &[&key.kid, &key.ring, &key.alg, &key.created, &key.wrapped],
            )
            .map_err(|e| conflict_or(e, || format!("a key {:?} exists", key.kid)))?;
            bump_ring(q)
        })
    }

    fn retire_ring_key(&self, ring: &str, kid: &str) -> Result<i64, Error> {
        self.transaction(|q| {
            let n = q.exec(
                "DELETE FROM key_ring WHERE ring = $1 AND kid = $2",
                &[&ring, &kid],
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!("no {ring} key {kid:?}")));
            }
            bump_ring(q)
        })
    }

    fn import_key_ring(&self, keys: &[StoredKey]) -> Result<bool, Error> {
        self.transaction(|q| {
            // Instances importing at once: the first takes the row, the others
            // then find the ring full.
            q.exec(
                "SELECT value FROM key_ring_version WHERE id = 1 FOR UPDATE",
                &[],
            )?;
            if q.opt("SELECT 1 FROM key_ring LIMIT 1", &[])?.is_some() {
                return Ok(false);
            }
            let s = q.stmt(
                "INSERT INTO key_ring (kid, ring, alg, created, position, wrapped) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )?;
            for (position, key) in (0i64..).zip(keys) {
                q.c.execute(
                    &s,
                    &[
                        &key.kid,
                        &key.ring,
                        &key.alg,
                        &key.created,
                        &position,
                        &key.wrapped,
                    ],
                )
                .map_err(|e| conflict_or(e, || format!("two keys {:?}", key.kid)))?;
            }
            bump_ring(q)?;
            Ok(true)
        })
    }

    fn register_instance(&self, id: &str, seen: i64) -> Result<(), Error> {
        self.with(|q| {
            let s = q.stmt("INSERT INTO server_instances (id, seen, beat) VALUES ($1, $2, 0)")?;
            q.c.execute(&s, &[&id, &seen])
                .map_err(|e| conflict_or(e, || format!("instance {id:?} already registered")))?;
            Ok(())
        })
    }

    fn report_instance(&self, id: &str, seen: i64) -> Result<bool, Error> {
        self.with(|q| {
            let n = q.exec(
                "UPDATE server_instances SET seen = GREATEST(seen, $2), beat = beat + 1 \
                 WHERE id = $1",
                &[&id, &seen],
            )?;
            Ok(n == 1)
        })
    }

    fn instances(&self) -> Result<Vec<Instance>, Error> {
        self.with(|q| {
            q.all("SELECT id, seen, beat FROM server_instances", &[])?
                .into_iter()
                .map(|row| {
                    Ok(Instance {
                        id: row.try_get(0)?,
                        seen: row.try_get(1)?,
                        beat: row.try_get(2)?,
                    })
                })
                .collect()
        })
    }

    fn forget_instance(&self, id: &str, beat: i64) -> Result<bool, Error> {
        self.with(|q| {
            let n = q.exec(
                "DELETE FROM server_instances WHERE id = $1 AND beat = $2",
                &[&id, &beat],
            )?;
            Ok(n == 1)
        })
    }
}

/// The ring version, read through `q`.
fn ring_version<C: GenericClient>(q: &mut Q<'_, C>) -> Result<i64, Error> {
    match q.opt("SELECT value FROM key_ring_version WHERE id = 1", &[])? {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(Error::Store("the key ring version row is missing".into())),
    }
}

/// Moves the ring version in the transaction of `q` and returns the new one; moves
/// the revocation counter too, which every serving instance applies before the
/// change returns (`crate::lease`), so each reloads the ring before it next
/// verifies or signs (`ring::LiveTokens`).
fn bump_ring<C: GenericClient>(q: &mut Q<'_, C>) -> Result<i64, Error> {
    q.bump()?;
    match q.opt(BUMP_RING, &[])? {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(Error::Store("the key ring version row is missing".into())),
    }
}
