//! Password hashing off the async executor, and throttling of failed logins.

use crate::error::Error;
use crate::store::{AttemptLimit, Reservation, Slot, Store};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1), which are
/// the `argon2` crate's defaults; spelled out so a dependency update cannot
/// silently change them.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Hashes a password into an Argon2id PHC string (blocking, ~20-50 ms).
///
/// # Errors
/// [`Error::Internal`] if hashing fails (practically never).
pub fn hash_password(password: &str) -> Result<String, Error> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing: {e}")))
}

/// Checks a password against a PHC string (blocking). A malformed hash is a mismatch.
#[must_use]
pub fn check_password(password: &str, phc: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs password checks on a few dedicated threads, at most `concurrency` at a
/// time, so a login flood queues here instead of occupying the executor that
/// serves tokens. On Linux the hashing threads run at nice 10: when token checks
/// and hashes compete for the cores, token checks win.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    jobs: std::sync::mpsc::Sender<Job>,
    dummy: Arc<str>,
}

/// Nice value of the hashing threads.
pub const HASH_NICE: i32 = 10;

fn spawn_hashers(count: usize) -> Result<std::sync::mpsc::Sender<Job>, Error> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..count {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                #[cfg(target_os = "linux")]
                {
                    // On Linux, PRIO_PROCESS with who = 0 is the calling thread.
                    if let Err(e) = rustix::process::setpriority_process(None, HASH_NICE) {
                        tracing::warn!(error = %e, "could not lower the hashing thread's priority");
                    }
                }
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // every sender dropped: shut down
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("hashing thread: {e}")))?;
    }
    Ok(tx)
}

impl PasswordChecker {
    /// A checker running at most `concurrency` hashes at once on as many
    /// dedicated threads; a request waiting longer than `queue_timeout` for a
    /// slot is refused with 429.
    ///
    /// # Errors
    /// [`Error::Internal`] if the dummy hash or the threads cannot be made.
    pub fn new(concurrency: usize, queue_timeout: Duration) -> Result<Self, Error> {
        let concurrency = concurrency.max(1);
        Ok(PasswordChecker {
            permits: Arc::new(Semaphore::new(concurrency)),
            queue_timeout,
            jobs: spawn_hashers(concurrency)?,
            // Unknown users are checked against this, so they cost the same time.
            dummy: hash_password("latchkey dummy password for timing")?.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Throttled { retry_after: 1 })?
            .map_err(|_| Error::Internal("hashing semaphore closed".into()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _permit = permit;
            let _ = tx.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("hashing threads gone".into()))?;
        rx.await
            .map_err(|_| Error::Internal("hashing job dropped".into()))
    }

    /// Checks `password` against `phc`, or against a dummy hash when the user does
    /// not exist (same work, same time, always false).
    ///
    /// # Errors
    /// [`Error::Throttled`] when no hashing slot frees up in time.
    pub async fn check(&self, password: String, phc: Option<String>) -> Result<bool, Error> {
        let exists = phc.is_some();
        let dummy = Arc::clone(&self.dummy);
        let ok = self
            .run(move || check_password(&password, phc.as_deref().unwrap_or(&dummy)))
            .await?;
        Ok(ok && exists)
    }

    /// Hashes a new password on a hashing thread under the same bound.
    ///
    /// # Errors
    /// As [`hash_password`], or [`Error::Throttled`].
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move || hash_password(&password)).await?
    }
}

/// Failed-login limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed per username within `window`.
    pub per_user: u32,
    /// Failures allowed per client address within `window`.
    pub per_address: u32,
    /// Length of the fixed window.
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_user: 5,
            per_address: 20,
            window: Duration::from_secs(60),
        }
    }
}

/// A login's reserved attempts: kept as failures if the password was wrong,
/// handed back through [`Throttle::succeeded`] or [`Throttle::abandoned`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Attempt {
    user: Slot,
    address: Option<Slot>,
}

/// Limits failed logins per username and per client address in fixed windows,
/// counted in the store, so that every server instance on the database counts
/// the same attempts. An attempt is reserved before the password is hashed:
/// while a key's window holds its limit of failures and attempts in flight,
/// logins for it are refused with 429 and nothing is hashed.
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: ThrottleLimits,
}

impl Throttle {
    /// A throttle with these limits.
    #[must_use]
    pub fn new(limits: ThrottleLimits) -> Self {
        Throttle { limits }
    }

    /// Reserves one attempt for `username` and one for `address`, or neither.
    ///
    /// # Errors
    /// [`Error::Throttled`] with the seconds left in the fullest window;
    /// [`Error::Store`] on database failure.
    pub fn reserve(
        &self,
        store: &dyn Store,
        username: &str,
        address: Option<std::net::IpAddr>,
        now: i64,
    ) -> Result<Attempt, Error> {
        let user_key = format!("u:{username}");
        let address_key = address.map(|a| format!("a:{a}"));
        let mut limits = vec![AttemptLimit {
            key: &user_key,
            max: self.limits.per_user,
        }];
        if let Some(key) = &address_key {
            limits.push(AttemptLimit {
                key,
                max: self.limits.per_address,
            });
        }
        let window = i64::try_from(self.limits.window.as_secs()).unwrap_or(i64::MAX);
        match store.reserve_attempts(&limits, now, window)? {
            Reservation::Refused { retry_after } => Err(Error::Throttled { retry_after }),
            Reservation::Granted(slots) => {
                let mut slots = slots.into_iter();
                let (Some(user), address) = (slots.next(), slots.next()) else {
                    return Err(Error::Internal("the store reserved no attempt".into()));
                };
                Ok(Attempt { user, address })
            }
        }
    }

    /// After a successful login: the user's failures are forgotten, and the
    /// attempt does not count against the address.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    pub fn succeeded(&self, store: &dyn Store, attempt: &Attempt) -> Result<(), Error> {
        let release: Vec<Slot> = attempt.address.iter().cloned().collect();
        store.settle_attempts(&release, &[attempt.user.key.as_str()])
    }

    /// When the password was never checked (no hashing slot, an error): the
    /// attempt counts for neither key.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    pub fn abandoned(&self, store: &dyn Store, attempt: &Attempt) -> Result<(), Error> {
        let mut release = vec![attempt.user.clone()];
        release.extend(attempt.address.iter().cloned());
        store.settle_attempts(&release, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let phc = hash_password("pw").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(check_password("pw", &phc));
        assert!(!check_password("pW", &phc));
        assert!(!check_password("pw", "not a hash"));
    }

    #[test]
    fn throttle_reserves_per_user_and_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let t = Throttle::new(ThrottleLimits {
            per_user: 2,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        let ip: std::net::IpAddr = [127, 0, 0, 9].into();
        let now = 1_000;
        // Two wrong passwords for alice: kept as failures.
        let _ = t.reserve(&store, "alice", Some(ip), now).unwrap();
        let _ = t.reserve(&store, "alice", Some(ip), now).unwrap();
        assert!(matches!(
            t.reserve(&store, "alice", None, now + 5),
            Err(Error::Throttled { retry_after: 55 })
        ));
        // The address has one attempt left; bob takes it.
        let bob = t.reserve(&store, "bob", Some(ip), now).unwrap();
        assert!(t.reserve(&store, "carol", Some(ip), now).is_err());
        assert!(t.reserve(&store, "carol", None, now).is_ok());
        // Bob's login never ran: the address gets its attempt back.
        t.abandoned(&store, &bob).unwrap();
        let carol = t.reserve(&store, "carol", Some(ip), now).unwrap();
        // Carol got in: her attempt is not a failure of the address either.
        t.succeeded(&store, &carol).unwrap();
        let _ = t.reserve(&store, "dave", Some(ip), now).unwrap();
        // A new window starts over.
        assert!(t.reserve(&store, "alice", Some(ip), now + 60).is_ok());
    }

    #[tokio::test]
    async fn a_full_hashing_queue_answers_429_instead_of_waiting_forever() {
        let c = PasswordChecker::new(1, Duration::from_millis(1)).unwrap();
        let phc = hash_password("pw").unwrap();
        let busy = {
            let c = c.clone();
            let phc = phc.clone();
            tokio::spawn(async move { c.check("pw".into(), Some(phc)).await })
        };
        // Let the first check take the only slot (an OWASP Argon2id hash takes well over
        // the 5 + 1 ms this waits, on any CPU).
        tokio::time::sleep(Duration::from_millis(5)).await;
        let refused = c.check("pw".into(), Some(phc)).await;
        assert_eq!(refused, Err(Error::Throttled { retry_after: 1 }));
        assert_eq!(busy.await.unwrap(), Ok(true));
    }

    #[tokio::test]
    async fn unknown_users_never_pass_and_known_ones_do() {
        let c = PasswordChecker::new(1, Duration::from_secs(30)).unwrap();
        let phc = hash_password("right").unwrap();
        assert!(c.check("right".into(), Some(phc.clone())).await.unwrap());
        assert!(!c.check("wrong".into(), Some(phc)).await.unwrap());
        assert!(
            !c.check("latchkey dummy password for timing".into(), None)
                .await
                .unwrap()
        );
    }
}
